"""When digests are due, and the in-process ticker that sends them without anyone pressing a button.

A plain daemon thread waking every minute, rather than APScheduler: every fact the schedule needs
(each subscription's slot, the last slot handled, each digest's retry time) already lives in the
database, so the ticker only has to call :meth:`DigestRunner.run`; a second job store would be a
second source of truth. ``Event.wait`` makes it stop promptly, and the clock stays injectable.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.config import Settings
from service.digest.subscriptions import Subscription

if TYPE_CHECKING:
    from service.digest.runner import DigestRunner

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = Settings.digest_timezone
TICK_S = 60.0


def digest_timezone(settings: Settings) -> ZoneInfo:
    """The zone ``send_at`` is read in (``JINGYAN_DIGEST_TIMEZONE``, default Asia/Shanghai)."""
    name = settings.digest_timezone
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"摘要时区 JINGYAN_DIGEST_TIMEZONE={name!r} 无法识别，请使用如 Asia/Shanghai 的时区名") from exc


def scheduler_enabled(settings: Settings) -> bool:
    """The embedded default runs the ticker; ``JINGYAN_DIGEST_SCHEDULER=0`` turns it off, and with a
    broker ``jingyan beat`` schedules digests instead."""
    return settings.digest_scheduler and not settings.broker_url


def latest_slot(sub: Subscription, now: datetime, tz: ZoneInfo) -> datetime:
    """The most recent scheduled send time at or before ``now`` (aware, UTC)."""
    local = now.astimezone(tz)
    hour, minute = (int(x) for x in sub.send_at.split(":"))
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if sub.frequency == "weekly":
        slot -= timedelta(days=(local.isoweekday() - sub.weekday) % 7)
        if slot > local:
            slot -= timedelta(days=7)
    elif slot > local:
        slot -= timedelta(days=1)
    return slot.astimezone(UTC)


def next_slot(sub: Subscription, now: datetime, tz: ZoneInfo) -> datetime:
    """The next scheduled send time strictly after ``now`` (aware, UTC)."""
    step = timedelta(days=7 if sub.frequency == "weekly" else 1)
    slot = latest_slot(sub, now, tz).astimezone(tz)
    # Add in local wall-clock time so a send_at of 08:30 stays 08:30 across offset changes.
    return (slot + step).astimezone(UTC)


class DigestScheduler:
    """Calls ``runner.run()`` every ``interval_s`` seconds in a daemon thread."""

    def __init__(self, runner: DigestRunner, interval_s: float = TICK_S):
        self.runner = runner
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jingyan-digest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _loop(self) -> None:
        from service.digest.runner import run_due

        while not self._stop.wait(self.interval_s):
            try:
                run_due(self.runner)
            except Exception:  # keep ticking: one broken run must not stop every later digest
                log.exception("digest run failed")
