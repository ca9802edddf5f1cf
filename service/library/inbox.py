"""A watched folder: files and .zip archives dropped in are ingested, then moved out of the way.

A file is taken once it has stopped growing (same size and modification time for ``settle_s``),
so a copy still in progress is never read half-way. Its jobs go to the ordinary queue; when they
have all finished the file moves to ``processed/`` — or to ``failed/`` with a ``.原因.txt`` file
beside it naming what went wrong. A file stays in the folder until its jobs finish, and a job is
found again by the file's content, so after a restart nothing is ingested twice.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.library.uploads import Arrival, expand

if TYPE_CHECKING:
    from service.library.library import Library

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
REASON_SUFFIX = ".原因.txt"
# Names that editors, browsers and copy tools give files that are still being written.
_PARTIAL = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp")


@dataclass
class _Watched:
    size: int
    mtime_ns: int
    since: float
    jobs: list[str] = field(default_factory=list)


class Inbox:
    """Watch ``folder`` and feed what lands there to ``library``'s job queue.

    >>> inbox = Inbox(Path("/srv/收件箱"), library)   # doctest: +SKIP
    >>> inbox.start()        # a background thread; or call run_once() in a loop
    """

    def __init__(self, folder: Path, library: Library, settle_s: float = 1.0, poll_s: float = 1.0) -> None:
        self.folder = Path(folder)
        self.library = library
        self.settle_s = settle_s
        self.poll_s = poll_s
        self._watched: dict[Path, _Watched] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for sub in (PROCESSED, FAILED):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Watch in a background thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jingyan-inbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> list[tuple[str, str]]:
        """One pass: submit files that have settled, move files whose jobs have finished.

        Returns ``(file name, "processed" | "failed")`` for every file moved in this pass.
        """
        now = time.monotonic()
        present = set()
        for path in self._candidates():
            present.add(path)
            try:
                stat = path.stat()
            except OSError:
                continue
            seen = self._watched.get(path)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                if seen is not None and seen.jobs:
                    log.warning("收件箱文件 %s 在处理中被改写，将重新导入", path.name)
                self._watched[path] = _Watched(stat.st_size, stat.st_mtime_ns, now)
                continue
            if not seen.jobs and now - seen.since >= self.settle_s:
                seen.jobs = self._submit(path)
        for gone in set(self._watched) - present:
            del self._watched[gone]
        moved = []
        for path, seen in list(self._watched.items()):
            if seen.jobs:
                outcome = self._finish(path, seen.jobs)
                if outcome is not None:
                    del self._watched[path]
                    moved.append((path.name, outcome))
        return moved

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for name, outcome in self.run_once():
                    log.info("收件箱：%s → %s/", name, outcome)
            except Exception:  # one unreadable folder entry must not stop the watcher
                log.exception("inbox pass failed")
            self._stop.wait(self.poll_s)

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(self.folder.iterdir())
        except OSError:
            return []
        return [
            p
            for p in entries
            if p.is_file()
            and not p.name.startswith((".", "~$"))
            and not p.name.lower().endswith(_PARTIAL)
        ]

    def _submit(self, path: Path) -> list[str]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            arrivals = [Arrival(path.name, b"", "unreadable", f"无法读取文件，请确认权限（{exc}）")]
        else:
            arrivals = expand(path.name, data, self.library.settings)
        return [self._job_for(arrival) for arrival in arrivals]

    def _job_for(self, arrival: Arrival) -> str:
        """The job of an arrival: one queued, running or done for the same bytes and name, else a new one."""
        if arrival.error_code is None:
            sha = hashlib.sha256(arrival.data).hexdigest()
            row = self.library.db.conn().execute(
                "SELECT id FROM jobs WHERE sha256 = ? AND filename = ? AND status != 'failed'"
                " ORDER BY created_at DESC LIMIT 1",
                (sha, arrival.filename),
            ).fetchone()
            if row is not None:
                return str(row["id"])
        return str(self.library.queue.submit(arrival)["id"])

    def _finish(self, path: Path, job_ids: list[str]) -> str | None:
        jobs: list[dict[str, Any]] = [self.library.queue.get(j) or {"status": "failed"} for j in job_ids]
        if any(j["status"] in ("queued", "running") for j in jobs):
            return None
        failed = [j for j in jobs if j["status"] == "failed"]
        outcome = FAILED if failed else PROCESSED
        target = _free_name(self.folder / outcome / path.name)
        try:
            shutil.move(str(path), str(target))
        except OSError:
            log.exception("could not move %s to %s", path, target)
            return None
        if failed:
            lines = [f"{j.get('filename') or path.name}：{j.get('error') or '处理失败'}" for j in failed]
            target.with_name(target.name + REASON_SUFFIX).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return outcome


def _free_name(target: Path) -> Path:
    """``target``, or ``name (2).ext`` … when a file of that name was moved there before."""
    n = 2
    candidate = target
    while candidate.exists():
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        n += 1
    return candidate
