"""Time as an injectable dependency, so schedules can be tested without waiting for a week."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, dry runs at a chosen time)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (must be timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        with self._lock:
            self._now = when

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        with self._lock:
            self._now += delta
            return self._now


def iso(when: datetime) -> str:
    """ISO UTC timestamp as stored in the database."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso`; naive timestamps are taken as UTC."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)
