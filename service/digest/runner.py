"""One digest run: recover interrupted sends, create the digests that are due, deliver them.

Exactly once, nothing lost:
- A digest row (period, practice ids) is created in the same transaction that marks the
  subscription's schedule slot as handled, so two runners never create the same digest.
- Before anything leaves the machine the digest is claimed (``pending``/``failed`` → ``sending``)
  by one conditional UPDATE; only the runner whose UPDATE changed the row sends it.
- A row left in ``sending`` by a crash is resolved conservatively: it is never resent (the SMTP
  server or webhook may already have accepted it), but marked ``failed`` without a retry. Its
  practices are not lost: the next digest's period starts at the last SUCCESSFUL digest, so
  they travel with it.
- A failed send is retried with exponential backoff; when a newer digest is created meanwhile it
  covers the same period and more, so the older one is marked ``superseded``.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.config import Settings
from service.digest import subscriptions as subs
from service.digest.clock import Clock, SystemClock, iso, parse_iso
from service.digest.deliver import DeliveryError, build_email, post_webhook, send_email
from service.digest.render import RenderedDigest, render
from service.digest.scheduler import digest_timezone, latest_slot
from service.digest.select import (
    QuerySearch,
    digest_practice_ids,
    lexical_search,
    period_start,
    select_practice_ids,
)
from service.digest.tokens import unsubscribe_url
from service.library.export import load_export_practices

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)  # a send times out after 30 s; a claim this old belongs to a dead process
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 10
INTERRUPTED = "发送过程中断（服务停止或崩溃），无法确认是否已送达；为避免重复不再自动重发，其中的经验做法将随下一期摘要发送"


@dataclass
class RunReport:
    """What one run did (or, for a dry run, would do)."""

    dry_run: bool = False
    created: list[dict[str, Any]] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "sent": self.sent,
            "failed": self.failed,
            "recovered": self.recovered,
        }


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after the 1st, 2nd, 3rd … failed attempt, at most six hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


class DigestRunner:
    """Creates and delivers digests; safe to call from the ticker, the API and the CLI at once."""

    def __init__(
        self,
        settings: Settings,
        connect: Callable[[], sqlite3.Connection],
        clock: Clock | None = None,
        search: QuerySearch | None = None,
    ):
        self.settings = settings
        self.connect = connect
        self.clock = clock or SystemClock()
        self.search = search
        self.tz = digest_timezone(settings)
        self._lock = threading.Lock()  # one run at a time per process; claims guard across processes

    # ------------------------------------------------------------ public

    def run(self, force: bool = False, dry_run: bool = False) -> RunReport:
        """Send what is due now; ``force`` treats every active subscription as due."""
        with self._lock:
            conn = self.connect()
            try:
                now = self.clock.now()
                if dry_run:
                    return self._plan(conn, now, force)
                report = RunReport()
                report.recovered = self.recover_interrupted(conn, now)
                report.created = self._create_due(conn, now, force)
                for digest_id in self._due_digests(conn, now):
                    self._send(conn, digest_id, now, report)
                return report
            finally:
                conn.close()

    def preview(self, conn: sqlite3.Connection, sub: subs.Subscription) -> dict[str, Any]:
        """The next digest's content as if it were sent now; nothing is recorded or sent."""
        now = self.clock.now()
        start = period_start(conn, sub)
        ids = select_practice_ids(conn, sub, start, now, self.search)
        practices = load_export_practices(conn, ids, self.settings.base_url)
        return self._render(sub, practices, start, now, None, with_docx=False).payload

    def recover_interrupted(self, conn: sqlite3.Connection, now: datetime) -> list[int]:
        """Close claims older than :data:`LEASE` as failed without retry (see module docstring)."""
        stale = iso(now - LEASE)
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM digests WHERE status = 'sending' AND claimed_at <= ?", (stale,)
                )
            ]
            for digest_id in ids:
                conn.execute(
                    "UPDATE digests SET status = 'failed', last_error = ?, next_attempt_at = NULL, updated_at = ?"
                    " WHERE id = ? AND status = 'sending'",
                    (INTERRUPTED, iso(now), digest_id),
                )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        return ids

    # ------------------------------------------------------------ creating

    def _is_due(self, sub: subs.Subscription, now: datetime, force: bool) -> bool:
        if force:
            return True
        handled = parse_iso(sub.last_slot_at) if sub.last_slot_at else parse_iso(sub.created_at)
        return latest_slot(sub, now, self.tz) > handled

    def _plan(self, conn: sqlite3.Connection, now: datetime, force: bool) -> RunReport:
        report = RunReport(dry_run=True)
        for sub in subs.list_all(conn, active_only=True):
            if not self._is_due(sub, now, force):
                continue
            ids = select_practice_ids(conn, sub, period_start(conn, sub), now, self.search)
            if ids:
                report.created.append(
                    {"digest_id": None, "subscription_id": sub.id, "recipient": sub.recipient, "practice_ids": ids}
                )
        report.failed = [
            {"digest_id": r["id"], "next_attempt_at": r["next_attempt_at"], "error": r["last_error"]}
            for r in conn.execute(
                "SELECT id, next_attempt_at, last_error FROM digests WHERE status IN ('pending', 'failed')"
                " AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?",
                (iso(now),),
            )
        ]
        return report

    def _create_due(self, conn: sqlite3.Connection, now: datetime, force: bool) -> list[dict[str, Any]]:
        created = []
        for candidate in subs.list_all(conn, active_only=True):
            if not self._is_due(candidate, now, force):
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._create_one(conn, candidate.id, now, force)
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
            if row:
                created.append(row)
        return created

    def _create_one(self, conn: sqlite3.Connection, sub_id: int, now: datetime, force: bool) -> dict | None:
        """Inside the caller's transaction: re-check, mark the slot handled, record the digest."""
        try:
            sub = subs.get(conn, sub_id)
        except subs.SubscriptionNotFound:
            return None
        if not sub.active or not self._is_due(sub, now, force):
            return None  # another runner handled it meanwhile
        in_flight = conn.execute(
            "SELECT 1 FROM digests WHERE subscription_id = ? AND status = 'sending'", (sub.id,)
        ).fetchone()
        if in_flight:
            return None  # its outcome decides the next period; look again on the next tick
        slot = latest_slot(sub, now, self.tz)
        handled = parse_iso(sub.last_slot_at) if sub.last_slot_at else slot
        conn.execute(
            "UPDATE subscriptions SET last_slot_at = ? WHERE id = ?", (iso(max(slot, handled)), sub.id)
        )
        start = period_start(conn, sub)
        ids = select_practice_ids(conn, sub, start, now, self.search)
        if not ids:
            return None  # nothing new: no empty mails
        stamp = iso(now)
        conn.execute(
            "UPDATE digests SET status = 'superseded', next_attempt_at = NULL, updated_at = ?"
            " WHERE subscription_id = ? AND status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL",
            (stamp, sub.id),
        )
        cur = conn.execute(
            "INSERT INTO digests(subscription_id, channel, period_start, period_end, status, attempts,"
            " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            (sub.id, sub.channel, iso(start), stamp, stamp, stamp, stamp),
        )
        conn.executemany(
            "INSERT INTO digest_items(digest_id, practice_id) VALUES (?, ?)", [(cur.lastrowid, i) for i in ids]
        )
        return {"digest_id": cur.lastrowid, "subscription_id": sub.id, "recipient": sub.recipient, "practice_ids": ids}

    # ------------------------------------------------------------ sending

    def _due_digests(self, conn: sqlite3.Connection, now: datetime) -> list[int]:
        return [
            r[0]
            for r in conn.execute(
                "SELECT id FROM digests WHERE status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL"
                " AND next_attempt_at <= ? ORDER BY id",
                (iso(now),),
            )
        ]

    def _claim(self, conn: sqlite3.Connection, digest_id: int, now: datetime) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = conn.execute(
                "UPDATE digests SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?"
                " WHERE id = ? AND status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL"
                " AND next_attempt_at <= ?",
                (iso(now), iso(now), digest_id, iso(now)),
            ).rowcount
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        return changed == 1

    def _send(self, conn: sqlite3.Connection, digest_id: int, now: datetime, report: RunReport) -> None:
        if not self._claim(conn, digest_id, now):
            return  # someone else has it
        row = conn.execute("SELECT * FROM digests WHERE id = ?", (digest_id,)).fetchone()
        try:
            sub = subs.get(conn, row["subscription_id"])
            if not sub.active:
                self._close(conn, digest_id, now, "cancelled", "订阅已暂停或退订，未发送")
                return
            practices = load_export_practices(conn, digest_practice_ids(conn, digest_id), self.settings.base_url)
            if not practices:
                self._close(conn, digest_id, now, "cancelled", "所含经验做法已被删除，未发送")
                return
            start, end = parse_iso(row["period_start"]), parse_iso(row["period_end"])
            rendered = self._render(sub, practices, start, end, digest_id)
            self._deliver(sub, rendered)
        except Exception as exc:  # any failure must leave the row retryable, never stuck in 'sending'
            attempts = row["attempts"]
            if isinstance(exc, DeliveryError):
                message, detail = str(exc), exc.detail
            else:
                message, detail = "生成或发送摘要时出错", f"{type(exc).__name__}: {exc}"
            retry = iso(now + backoff(attempts)) if attempts < MAX_ATTEMPTS else None
            conn.execute(
                "UPDATE digests SET status = 'failed', last_error = ?, error_detail = ?, next_attempt_at = ?,"
                " updated_at = ? WHERE id = ? AND status = 'sending'",
                (message, detail, retry, iso(now), digest_id),
            )
            report.failed.append({"digest_id": digest_id, "error": message, "next_attempt_at": retry})
            return
        conn.execute(
            "UPDATE digests SET status = 'sent', sent_at = ?, last_error = NULL, next_attempt_at = NULL,"
            " updated_at = ? WHERE id = ? AND status = 'sending'",
            (iso(self.clock.now()), iso(self.clock.now()), digest_id),
        )
        report.sent.append(digest_id)

    def _close(self, conn: sqlite3.Connection, digest_id: int, now: datetime, status: str, note: str) -> None:
        conn.execute(
            "UPDATE digests SET status = ?, last_error = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            (status, note, iso(now), digest_id),
        )

    def _render(self, sub, practices, start, end, digest_id, with_docx: bool = True) -> RenderedDigest:
        link = unsubscribe_url(self.settings.base_url, sub.id, sub.unsubscribe_secret, self.settings.secret_key)
        return render(sub, practices, start, end, link, self.tz, digest_id, with_docx)

    def _deliver(self, sub: subs.Subscription, rendered: RenderedDigest) -> None:
        if sub.email:
            link = rendered.payload["unsubscribe_url"]
            send_email(self.settings, build_email(self.settings, sub.email, rendered, link))
        else:
            post_webhook(sub.webhook_url or "", rendered.payload, self.settings.webhook_allow_private)


def runner_for(settings: Settings) -> DigestRunner:
    """The runner of the library ``settings`` name, as the web process, its scheduler and Celery workers use it.

    Each run opens its own connection; saved queries are answered by a lexical index built on first use.
    """
    from service.library.db import connect
    from service.library.library import database_path

    @functools.cache
    def lexical_index():
        # Built on first use: saved queries are rare and the index loads the synonym table.
        from service.library.search import PracticeIndex

        return PracticeIndex(None)

    path = database_path(settings)
    return DigestRunner(settings, connect=lambda: connect(path), search=lexical_search(lexical_index))


def run_due(runner: DigestRunner) -> RunReport:
    """One scheduled tick: send what is due and log it. The in-process scheduler and Celery beat's task both call it."""
    report = runner.run()
    if report.sent or report.failed:
        log.info("digests: %d sent, %d failed", len(report.sent), len(report.failed))
    return report


def list_digests(
    conn: sqlite3.Connection, subscription_id: int | None = None, status: str | None = None, limit: int = 100,
    owner_id: int | None = None, technical: bool = False,
) -> list[dict[str, Any]]:
    """Past digests, newest first, with their status and practice count.

    ``owner_id`` keeps one user's subscriptions; ``technical`` adds each failure's technical cause
    (``error_detail``: addresses, socket errors), for administrators only.
    """
    sql = (
        "SELECT d.*, s.email, s.webhook_url, (SELECT COUNT(*) FROM digest_items i WHERE i.digest_id = d.id) AS count"
        " FROM digests d JOIN subscriptions s ON s.id = d.subscription_id WHERE 1=1"
    )
    args: list[Any] = []
    if subscription_id is not None:
        sql += " AND d.subscription_id = ?"
        args.append(subscription_id)
    if status:
        sql += " AND d.status = ?"
        args.append(status)
    if owner_id is not None:
        sql += " AND s.owner_id = ?"
        args.append(owner_id)
    sql += " ORDER BY d.id DESC LIMIT ?"
    args.append(limit)
    out = []
    for r in conn.execute(sql, args):
        out.append(
            {
                "id": r["id"],
                "subscription_id": r["subscription_id"],
                "recipient": r["email"] or r["webhook_url"],
                "channel": r["channel"],
                "period_start": r["period_start"],
                "period_end": r["period_end"],
                "status": r["status"],
                "attempts": r["attempts"],
                "last_error": r["last_error"],
                "next_attempt_at": r["next_attempt_at"],
                "sent_at": r["sent_at"],
                "created_at": r["created_at"],
                "count": r["count"],
                "practice_ids": digest_practice_ids(conn, r["id"]),
                **({"error_detail": r["error_detail"]} if technical else {}),
            }
        )
    return out
