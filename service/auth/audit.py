"""The audit log: who did what, when, to what, from which address. Append-only (see schema.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.auth.accounts import now_iso

ACTIONS = (
    "login", "login_failed", "upload", "delete", "retry", "tag", "export", "subscription", "digest_run", "user",
)
ACTION_LABELS = {
    "login": "登录", "login_failed": "登录失败", "upload": "上传", "delete": "删除", "retry": "重试",
    "tag": "标签", "export": "导出", "subscription": "订阅", "digest_run": "发送摘要", "user": "账号",
}
# Back-off: this many failed sign-ins of one name (or from one address, times four) within the window
# lock further attempts until the window has passed since the last failure.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    action: str | None = None
    since: str | None = None  # ISO date or time, inclusive
    until: str | None = None  # ISO date (the whole day) or time, inclusive


def record(
    conn: sqlite3.Connection, user: str | None, action: str, target: str | None = None,
    detail: str | None = None, ip: str | None = None,
) -> None:
    """Append one entry."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    conn.execute(
        "INSERT INTO audit_log(at, user, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)",
        (now_iso(), user, action, target, (detail or "")[:MAX_DETAIL_CHARS] or None, ip),
    )


def entries(conn: sqlite3.Connection, filters: AuditFilter, limit: int = 200, offset: int = 0) -> tuple[list[dict], int]:
    """Entries newest first, and how many match."""
    where, args = ["1=1"], []
    if filters.user:
        where.append("user = ? COLLATE NOCASE")
        args.append(filters.user)
    if filters.action:
        where.append("action = ?")
        args.append(filters.action)
    if filters.since:
        where.append("at >= ?")
        args.append(filters.since)
    if filters.until:
        # A bare date includes the whole day.
        where.append("at < ?" if len(filters.until) == 10 else "at <= ?")
        args.append(_next_day(filters.until) if len(filters.until) == 10 else filters.until)
    sql = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM audit_log WHERE {sql}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT at, user, action, target, detail, ip FROM audit_log WHERE {sql} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return [dict(r) for r in rows], total


def _next_day(day: str) -> str:
    return (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat()


def locked_out(conn: sqlite3.Connection, name: str, ip: str | None) -> bool:
    """True when recent failed sign-ins for ``name`` (since its last success) or from ``ip`` call for a pause."""
    since = (datetime.now(UTC) - FAILURE_WINDOW).replace(microsecond=0).isoformat()
    last_ok = conn.execute(
        "SELECT MAX(at) FROM audit_log WHERE user = ? COLLATE NOCASE AND action = 'login'", (name,)
    ).fetchone()[0]
    by_name = conn.execute(
        "SELECT COUNT(*) FROM audit_log WHERE user = ? COLLATE NOCASE AND action = 'login_failed' AND at >= ?",
        (name, max(since, last_ok or "")),
    ).fetchone()[0]
    by_ip = conn.execute(
        "SELECT COUNT(*) FROM audit_log WHERE ip = ? AND action = 'login_failed' AND at >= ?", (ip, since)
    ).fetchone()[0] if ip else 0
    return by_name >= MAX_FAILURES or by_ip >= MAX_FAILURES * 4


def as_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "action_label": ACTION_LABELS.get(r["action"], r["action"])} for r in rows]
