"""Subscriptions: who gets which new practices, how often, through which channel.

Validation speaks Chinese because its messages go straight back to the person filling the form.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.digest.clock import iso
from service.digest.tokens import new_secret
from service.mining.practice import TOPICS

FREQUENCIES = {"daily": "每日", "weekly": "每周"}
WEEKDAYS = "一二三四五六日"
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_ITEMS = 50
# RFC 5321: a forward path holds at most 256 octets, so an address is at most 254 characters.
MAX_EMAIL_CHARS = 254
MAX_WEBHOOK_CHARS = 2000
MAX_ITEM_CHARS = {"topics": 20, "tags": 20, "orgs": 60}
# Control characters (NUL included) never belong in a tag, a unit's name or a search.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SubscriptionError(ValueError):
    """Invalid subscription input; ``message`` is Chinese and says what to change."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SubscriptionNotFound(LookupError):
    """No subscription with that id."""


@dataclass
class Subscription:
    """A stored subscription."""

    id: int
    email: str | None
    webhook_url: str | None
    topics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    query: str = ""
    frequency: str = "weekly"
    send_at: str = "08:30"
    weekday: int = 1
    active: bool = True
    last_slot_at: str | None = None
    created_at: str = ""
    updated_at: str = ""
    # Random, stored with the subscription; bound into its unsubscribe token (service.digest.tokens).
    unsubscribe_secret: str = field(default="", repr=False)
    owner_id: int | None = None
    # False until the recipient follows the confirmation mail (a subscription for another's address).
    confirmed: bool = True

    @property
    def channel(self) -> str:
        """``email`` or ``webhook``."""
        return "email" if self.email else "webhook"

    @property
    def recipient(self) -> str:
        return self.email or self.webhook_url or ""

    def describe(self) -> str:
        """A short Chinese line: what this subscription follows."""
        parts = []
        if self.topics:
            parts.append("主题：" + "、".join(self.topics))
        if self.tags:
            parts.append("标签：" + "、".join(self.tags))
        if self.orgs:
            parts.append("单位：" + "、".join(self.orgs))
        if self.query:
            parts.append(f"检索：{self.query}")
        return "；".join(parts) or "全部新增经验做法"

    def schedule_text(self) -> str:
        if self.frequency == "daily":
            return f"每日 {self.send_at}"
        return f"每周{WEEKDAYS[self.weekday - 1]} {self.send_at}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "webhook_url": self.webhook_url,
            "channel": self.channel,
            "topics": self.topics,
            "tags": self.tags,
            "orgs": self.orgs,
            "query": self.query,
            "frequency": self.frequency,
            "send_at": self.send_at,
            "weekday": self.weekday,
            "active": self.active,
            "description": self.describe(),
            "schedule": self.schedule_text(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "confirmed": self.confirmed,
        }


# ---------------------------------------------------------------- validation

EDITABLE = ("email", "webhook_url", "topics", "tags", "orgs", "query", "frequency", "send_at", "weekday", "active")


def validate(payload: Any, current: Subscription | None = None) -> dict[str, Any]:
    """Check a create (``current`` None) or update payload; return the normalised field values.

    Raises :class:`SubscriptionError` with a Chinese message on the first problem found.
    """
    if not isinstance(payload, dict):
        raise SubscriptionError("请求内容应为 JSON 对象，例如 {\"email\": \"a@b.cn\", \"topics\": [\"思想建设\"]}")
    unknown = sorted(set(payload) - set(EDITABLE))
    if unknown:
        raise SubscriptionError(f"无法识别的字段：{'、'.join(unknown)}；可用字段：{'、'.join(EDITABLE)}", unknown[0])
    values: dict[str, Any] = {}
    if "email" in payload:
        values["email"] = _email(payload["email"])
    if "webhook_url" in payload:
        values["webhook_url"] = _webhook(payload["webhook_url"])
    for name, label in (("topics", "主题"), ("tags", "标签"), ("orgs", "单位")):
        if name in payload:
            values[name] = _string_list(payload[name], name, label)
    if values.get("orgs"):
        values["orgs"] = normalise_orgs(values["orgs"])
    for topic in values.get("topics", []):
        if topic not in TOPICS:
            raise SubscriptionError(f"未知主题“{topic}”；可选主题：{'、'.join(TOPICS)}", "topics")
    if "query" in payload:
        query = payload["query"] if payload["query"] is not None else ""
        if not isinstance(query, str) or len(query) > 200:
            raise SubscriptionError("检索词应为不超过 200 字的文字", "query")
        if CONTROL_RE.search(query):
            raise SubscriptionError("检索词中含有控制字符（如换行、NUL），请删去后再提交", "query")
        values["query"] = query.strip()
    if "frequency" in payload:
        frequency = payload["frequency"]
        if frequency not in FREQUENCIES:
            raise SubscriptionError("发送频率只能是 daily（每日）或 weekly（每周）", "frequency")
        values["frequency"] = frequency
    if "send_at" in payload:
        send_at = payload["send_at"]
        match = TIME_RE.match(send_at) if isinstance(send_at, str) else None
        if not match:
            raise SubscriptionError("发送时间应为“时:分”格式，例如 08:30", "send_at")
        values["send_at"] = f"{int(match.group(1)):02d}:{match.group(2)}"
    if "weekday" in payload:
        weekday = payload["weekday"]
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise SubscriptionError("每周发送日应为 1（周一）到 7（周日）之间的整数", "weekday")
        values["weekday"] = weekday
    if "active" in payload:
        if not isinstance(payload["active"], bool):
            raise SubscriptionError("active 应为 true（启用）或 false（暂停）", "active")
        values["active"] = payload["active"]

    email = values.get("email", current.email if current else None)
    webhook = values.get("webhook_url", current.webhook_url if current else None)
    if not email and not webhook:
        raise SubscriptionError("请填写接收邮箱（email）或推送地址（webhook_url）其中之一", "email")
    if email and webhook:
        raise SubscriptionError("邮箱（email）和推送地址（webhook_url）只能填写一个；如需两种方式请分别订阅", "email")
    if current is None:
        values.setdefault("frequency", "weekly")
        values.setdefault("send_at", "08:30")
    return values


_org_finder: list = []


def normalise_orgs(orgs: list[str]) -> list[str]:
    """Unit names in the form mining stores them (市政府办 → 市政府办公室), so filters match."""
    if not _org_finder:
        from service.mining.orgs import OrgFinder

        _org_finder.append(OrgFinder())
    out = [_org_finder[0].normalise(name) or name for name in orgs]
    return list(dict.fromkeys(out))


def _email(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and len(value.strip()) > MAX_EMAIL_CHARS:
        raise SubscriptionError(f"邮箱地址过长（{len(value.strip())} 个字符），最多 {MAX_EMAIL_CHARS} 个字符", "email")
    if isinstance(value, str) and CONTROL_RE.search(value):
        raise SubscriptionError("邮箱地址中含有控制字符（如 NUL、换行），请检查后重新填写", "email")
    if not isinstance(value, str) or not EMAIL_RE.match(value.strip()):
        raise SubscriptionError(f"邮箱地址“{value}”格式不正确，例如 dangjian@example.gov.cn", "email")
    return value.strip()


def _webhook(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and len(value.strip()) > MAX_WEBHOOK_CHARS:
        raise SubscriptionError(f"推送地址（webhook_url）过长，最多 {MAX_WEBHOOK_CHARS} 个字符", "webhook_url")
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value.strip()):
        raise SubscriptionError("推送地址（webhook_url）应以 http:// 或 https:// 开头", "webhook_url")
    return value.strip()


def _string_list(value: Any, name: str, label: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，、;；\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SubscriptionError(f"{label}（{name}）应为文字列表，例如 [\"思想建设\"]", name)
    if len(value) > MAX_ITEMS * 4:
        raise SubscriptionError(f"{label}最多 {MAX_ITEMS} 个", name)
    items = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(items) > MAX_ITEMS:
        raise SubscriptionError(f"{label}最多 {MAX_ITEMS} 个", name)
    limit = MAX_ITEM_CHARS[name]
    for item in items:
        if CONTROL_RE.search(item):
            raise SubscriptionError(f"{label}中含有控制字符（如 NUL、换行），请删去后再提交", name)
        if len(item) > limit:
            raise SubscriptionError(f"{label}“{item[:limit]}…”过长，每个最多 {limit} 个字", name)
    return items


# ---------------------------------------------------------------- storage


def _from_row(row: sqlite3.Row) -> Subscription:
    return Subscription(
        id=row["id"],
        email=row["email"],
        webhook_url=row["webhook_url"],
        topics=json.loads(row["topics_json"]),
        tags=json.loads(row["tags_json"]),
        orgs=json.loads(row["orgs_json"]),
        query=row["query"],
        frequency=row["frequency"],
        send_at=row["send_at"],
        weekday=row["weekday"],
        active=bool(row["active"]),
        last_slot_at=row["last_slot_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        unsubscribe_secret=row["unsubscribe_secret"],
        owner_id=row["owner_id"],
        confirmed=bool(row["confirmed"]),
    )


def create(
    conn: sqlite3.Connection, payload: Any, now: datetime, owner_id: int | None = None, confirmed: bool = True
) -> Subscription:
    """Validate and store a new subscription; its first digest covers what arrives from ``now`` on.

    Unconfirmed, it stays inactive until :func:`confirm`.
    """
    v = validate(payload)
    stamp = iso(now)
    cur = conn.execute(
        "INSERT INTO subscriptions(email, webhook_url, topics_json, tags_json, orgs_json, query, frequency,"
        " send_at, weekday, active, last_slot_at, created_at, updated_at, unsubscribe_secret, owner_id, confirmed)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            v.get("email"),
            v.get("webhook_url"),
            json.dumps(v.get("topics", []), ensure_ascii=False),
            json.dumps(v.get("tags", []), ensure_ascii=False),
            json.dumps(v.get("orgs", []), ensure_ascii=False),
            v.get("query", ""),
            v["frequency"],
            v["send_at"],
            v.get("weekday", 1),
            int(v.get("active", True) and confirmed),
            stamp,  # slots before creation are never due
            stamp,
            stamp,
            new_secret(),
            owner_id,
            int(confirmed),
        ),
    )
    return get(conn, cur.lastrowid)


def get(conn: sqlite3.Connection, subscription_id: int) -> Subscription:
    row = conn.execute("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
    if row is None:
        raise SubscriptionNotFound(subscription_id)
    return _from_row(row)


def list_all(
    conn: sqlite3.Connection, email: str | None = None, active_only: bool = False, owner_id: int | None = None
) -> list[Subscription]:
    """Subscriptions, newest first, optionally of one e-mail address or one owner."""
    sql, args = "SELECT * FROM subscriptions WHERE 1=1", []
    if owner_id is not None:
        sql += " AND owner_id = ?"
        args.append(owner_id)
    if email:
        sql += " AND lower(email) = lower(?)"
        args.append(email.strip())
    if active_only:
        sql += " AND active = 1"
    return [_from_row(r) for r in conn.execute(sql + " ORDER BY id DESC", args)]


def update(conn: sqlite3.Connection, subscription_id: int, payload: Any, now: datetime) -> Subscription:
    """Apply a partial update (pause/resume is ``{"active": false|true}``)."""
    current = get(conn, subscription_id)
    v = validate(payload, current)
    if v.get("active") and not current.confirmed:
        raise SubscriptionError("该订阅尚未经收件人确认，收件人点击确认邮件中的链接后才会启用", "active")
    if not v:
        return current
    columns = {
        "email": v.get("email"),
        "webhook_url": v.get("webhook_url"),
        "topics_json": json.dumps(v["topics"], ensure_ascii=False) if "topics" in v else None,
        "tags_json": json.dumps(v["tags"], ensure_ascii=False) if "tags" in v else None,
        "orgs_json": json.dumps(v["orgs"], ensure_ascii=False) if "orgs" in v else None,
        "query": v.get("query"),
        "frequency": v.get("frequency"),
        "send_at": v.get("send_at"),
        "weekday": v.get("weekday"),
        "active": int(v["active"]) if "active" in v else None,
    }
    given = {
        col: val
        for col, val in columns.items()
        if (col.removesuffix("_json") in v) or col in v
    }
    sets = ", ".join(f"{col} = ?" for col in given)
    conn.execute(
        f"UPDATE subscriptions SET {sets}, updated_at = ? WHERE id = ?",
        [*given.values(), iso(now), subscription_id],
    )
    return get(conn, subscription_id)


def delete(conn: sqlite3.Connection, subscription_id: int) -> None:
    """Remove a subscription and its digest history."""
    if conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,)).rowcount == 0:
        raise SubscriptionNotFound(subscription_id)


def confirm(conn: sqlite3.Connection, subscription_id: int, now: datetime) -> Subscription:
    """The recipient agreed: the subscription is confirmed and starts sending from ``now`` on."""
    stamp = iso(now)
    conn.execute(
        "UPDATE subscriptions SET confirmed = 1, active = 1, last_slot_at = ?, updated_at = ? WHERE id = ?",
        (stamp, stamp, subscription_id),
    )
    return get(conn, subscription_id)


def await_confirmation(conn: sqlite3.Connection, subscription_id: int) -> Subscription:
    """Hold a subscription, inactive, until its (new) recipient confirms it."""
    conn.execute("UPDATE subscriptions SET confirmed = 0, active = 0 WHERE id = ?", (subscription_id,))
    return get(conn, subscription_id)


def deactivate(conn: sqlite3.Connection, subscription_id: int, now: datetime) -> Subscription:
    """Unsubscribe: stop sending but keep the record and its history."""
    conn.execute(
        "UPDATE subscriptions SET active = 0, updated_at = ? WHERE id = ?", (iso(now), subscription_id)
    )
    return get(conn, subscription_id)
