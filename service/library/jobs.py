"""Ingestion jobs: a queue in the ``jobs`` table and the worker that drains it.

Every state change is a row update, so ``/api/jobs`` always shows the truth. A running job holds
a *lease*: its worker's name (host and process id) and a time it is renewed before. Only jobs
whose worker is gone (the process no longer exists, or the lease ran out) go back to ``queued``,
so a second worker starting never takes the work of a live one. A file that fails is marked
``failed`` with its reason and the worker moves on.

Who runs the jobs is the caller's choice: the in-process :class:`Worker` polls the table, while
with a broker each queued job is also *dispatched* (one Celery message naming the job) and a
Celery worker claims it by id with :meth:`JobQueue.take`. The row stays the truth either way, so a
message delivered twice, or for a job another worker already holds, does nothing.

The queue is fair: the worker runs two lanes. One takes jobs in arrival order; the other takes
only small files, so a report of two million characters never holds up a two-page note sent
after it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from service.intake.errors import IntakeError
from service.library.store import BlobStore, Database, find_document_by_sha, transaction, utc_now
from service.library.uploads import Arrival

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")
MAX_INTERRUPTIONS = 3
# A worker renews its leases every LEASE_S / 6; a lease not renewed for LEASE_S is given up.
LEASE_S = 90.0
# Files up to this size also go to the small-file lane.
SMALL_JOB_BYTES = 512 * 1024


def worker_name(pid: int | None = None) -> str:
    """How a worker process signs its leases: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def _process_gone(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer runs (a zombie counts as gone)."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host: only its lease time can tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False

JOB_FIELDS = (
    "id",
    "filename",
    "sha256",
    "status",
    "stage",
    "progress",
    "error",
    "error_code",
    "document_id",
    "duplicate",
    "created_at",
    "updated_at",
)


def job_dict(row: sqlite3.Row) -> dict[str, Any]:
    """The public view of a job."""
    return {k: row[k] for k in JOB_FIELDS}


class JobQueue:
    """Creating, claiming and updating jobs; originals are stored before their job exists."""

    def __init__(self, db: Database, blobs: BlobStore, dispatch: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.changed = threading.Event()  # set when a job is queued, so the worker wakes at once
        # Called with the id of every job that becomes queued (a Celery message with a broker).
        self.dispatch = dispatch

    def _queued(self, job_ids: list[str]) -> None:
        """Wake the in-process worker and tell the broker, if any, about newly queued jobs."""
        self.changed.set()
        if self.dispatch is None:
            return
        for job_id in job_ids:
            try:
                self.dispatch(job_id)
            except Exception:  # the job stays queued: the workers' sweep or the next start of serve sends it again
                log.exception("could not hand job %s to the broker", job_id)

    def dispatch_queued(self) -> int:
        """Dispatch every queued job again (on start, for jobs queued while the broker was out of reach).

        A job already in the broker's queue gets a second message, which finds it taken and does nothing.
        """
        rows = self.db.conn().execute("SELECT id FROM jobs WHERE status='queued' ORDER BY created_at, rowid")
        ids = [r["id"] for r in rows]
        self._queued(ids)
        return len(ids)

    def submit(self, arrival: Arrival) -> dict[str, Any]:
        """Keep the file and create its job.

        Refused at the door → ``failed`` with the reason; bytes already in the library → ``done``
        and linked to that document as an exact duplicate; otherwise ``queued``.
        """
        sha = hashlib.sha256(arrival.data).hexdigest()
        # Over-size files are not kept: storing them is what the limit prevents.
        keep = arrival.error_code not in ("too_large", "zip_too_large")
        path = self.blobs.put(sha, arrival.data) if keep else ""
        conn = self.db.conn()
        job_id = uuid.uuid4().hex
        now = utc_now()
        with transaction(conn):
            existing = find_document_by_sha(conn, sha) if arrival.error_code is None else None
            if arrival.error_code is not None:
                status, progress, duplicate = "failed", 1.0, None
            elif existing is not None:
                status, progress, duplicate = "done", 1.0, "exact"
            else:
                status, progress, duplicate = "queued", 0.0, None
            conn.execute(
                "INSERT INTO jobs(id, filename, sha256, blob_path, size, status, stage, progress, error_code, error,"
                " document_id, duplicate, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    arrival.filename,
                    sha,
                    str(path),
                    len(arrival.data),
                    status,
                    None if status == "queued" else status,
                    progress,
                    arrival.error_code,
                    arrival.error,
                    existing,
                    duplicate,
                    now,
                    now,
                ),
            )
        if status == "queued":
            self._queued([job_id])
        return self.get(job_id) or {}

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return job_dict(row) if row else None

    def row(self, job_id: str) -> sqlite3.Row | None:
        return self.db.conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def list(
        self, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Most recent first."""
        conn = self.db.conn()
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        total = conn.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [job_dict(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        rows = self.db.conn().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {s: 0 for s in STATUSES} | {r[0]: r[1] for r in rows}

    def retry(self, job_id: str) -> dict[str, Any] | None:
        """Queue a failed job again (its original was kept). Returns ``None`` if it cannot be retried."""
        row = self.row(job_id)
        if row is None or row["status"] != "failed" or not self.blobs.path_for(row["sha256"]).exists():
            return None
        conn = self.db.conn()
        conn.execute(
            "UPDATE jobs SET status='queued', stage=NULL, progress=0, error=NULL, error_code=NULL, interruptions=0,"
            " updated_at=? WHERE id = ? AND status = 'failed'",
            (utc_now(), job_id),
        )
        self._queued([job_id])
        return self.get(job_id)

    def resume_interrupted(self, now: float | None = None) -> int:
        """Jobs whose worker is gone go back to the queue; their work was never committed.

        A job is taken back when its lease names a process of this host that no longer exists, or
        when the lease was not renewed in time; a live worker's jobs are left alone. A job
        interrupted ``MAX_INTERRUPTIONS`` times is failed instead, so a file that brings the worker
        down is not retried forever. Returns how many jobs were queued again.
        """
        conn = self.db.conn()
        now = time.time() if now is None else now
        rows = conn.execute("SELECT id, lease_owner, lease_until FROM jobs WHERE status='running'").fetchall()
        orphans = [
            r["id"]
            for r in rows
            if not r["lease_owner"] or (r["lease_until"] or 0) < now or _process_gone(r["lease_owner"])
        ]
        return self._requeue(orphans)

    def release(self, owner: str) -> int:
        """Queue again the running jobs of ``owner``, a worker known to have died."""
        rows = self.db.conn().execute(
            "SELECT id FROM jobs WHERE status='running' AND lease_owner=?", (owner,)
        ).fetchall()
        return self._requeue([r["id"] for r in rows])

    def _requeue(self, job_ids: list[str]) -> int:
        if not job_ids:
            return 0
        conn = self.db.conn()
        stamp = utc_now()
        queued: list[str] = []
        with transaction(conn):
            for job_id in job_ids:
                # Checked again inside the transaction: the job may have finished meanwhile.
                row = conn.execute(
                    "SELECT interruptions FROM jobs WHERE id=? AND status='running'", (job_id,)
                ).fetchone()
                if row is None:
                    continue
                if row["interruptions"] + 1 >= MAX_INTERRUPTIONS:
                    conn.execute(
                        "UPDATE jobs SET status='failed', stage='failed', progress=1, error_code='interrupted',"
                        " error=?, interruptions=interruptions+1, lease_owner=NULL, lease_until=NULL, updated_at=?"
                        " WHERE id=?",
                        (
                            f"处理此文件时服务已连续中断 {MAX_INTERRUPTIONS} 次，已停止自动重试；"
                            "请检查文件（可拆分或另存后上传），或点击“重新处理”再试",
                            stamp,
                            job_id,
                        ),
                    )
                else:
                    conn.execute(
                        "UPDATE jobs SET status='queued', stage=NULL, progress=0, interruptions=interruptions+1,"
                        " lease_owner=NULL, lease_until=NULL, updated_at=? WHERE id=?",
                        (stamp, job_id),
                    )
                    queued.append(job_id)
        if queued:
            self._queued(queued)
        return len(queued)

    def claim_next(
        self, job_id: str | None = None, *, owner: str | None = None, max_size: int | None = None
    ) -> sqlite3.Row | None:
        """Take the oldest queued job (or ``job_id`` if still queued), mark it running and lease it to ``owner``.

        ``max_size`` restricts the choice to files of at most that many bytes (the small-file lane).
        """
        conn = self.db.conn()
        owner = owner or worker_name()
        with transaction(conn):
            if job_id is not None:
                row = conn.execute("SELECT * FROM jobs WHERE status='queued' AND id=?", (job_id,)).fetchone()
            elif max_size is not None:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE status='queued' AND size <= ? ORDER BY created_at, rowid LIMIT 1",
                    (max_size,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE status='queued' ORDER BY created_at, rowid LIMIT 1"
                ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status='running', stage='queued', progress=0, lease_owner=?, lease_until=?,"
                " updated_at=? WHERE id=?",
                (owner, time.time() + LEASE_S, utc_now(), row["id"]),
            )
        return self.row(row["id"])

    def queued_before(self, stamp: str) -> list[str]:
        """Ids of the jobs queued, and not touched since, at or before ``stamp`` (an ``updated_at`` value)."""
        rows = self.db.conn().execute(
            "SELECT id FROM jobs WHERE status='queued' AND updated_at <= ? ORDER BY created_at, rowid", (stamp,)
        )
        return [r["id"] for r in rows]

    def take(self, job_id: str, owner: str) -> sqlite3.Row | None:
        """Claim ``job_id`` for ``owner`` as a broker's message asks; ``None`` when there is nothing to do.

        A job still marked running under a worker that is gone is taken back first (counting as an
        interruption); one that is done, failed or held by a live worker is left as it is, which is
        what makes a redelivered message harmless.
        """
        row = self.row(job_id)
        if row is None or row["status"] in ("done", "failed"):
            return None
        if row["status"] == "running":
            self.resume_interrupted()
        return self.claim_next(job_id, owner=owner)

    def renew(self, owner: str) -> int:
        """Extend the leases of ``owner``'s running jobs (its heartbeat). Returns how many it holds."""
        cur = self.db.conn().execute(
            "UPDATE jobs SET lease_until=? WHERE status='running' AND lease_owner=?", (time.time() + LEASE_S, owner)
        )
        return cur.rowcount

    def progress(self, job_id: str, stage: str, progress: float) -> None:
        """Show which stage a running job is in (outside any transaction: readers see it at once)."""
        self.db.conn().execute(
            "UPDATE jobs SET stage=?, progress=?, updated_at=? WHERE id=?",
            (stage, progress, utc_now(), job_id),
        )

    def fail(self, job_id: str, code: str, message: str) -> None:
        self.db.conn().execute(
            "UPDATE jobs SET status='failed', stage='failed', progress=1, error_code=?, error=?, lease_owner=NULL,"
            " lease_until=NULL, updated_at=? WHERE id=?",
            (code, message, utc_now(), job_id),
        )

    @staticmethod
    def finish(conn: sqlite3.Connection, job_id: str, document_id: int, duplicate: str | None) -> None:
        """Mark a job done inside the caller's transaction, together with the document it produced."""
        conn.execute(
            "UPDATE jobs SET status='done', stage='done', progress=1, error=NULL, error_code=NULL,"
            " document_id=?, duplicate=?, lease_owner=NULL, lease_until=NULL, updated_at=? WHERE id=?",
            (document_id, duplicate, utc_now(), job_id),
        )


JobHandler = Callable[[sqlite3.Row], None]


def run_one(queue: JobQueue, handler: JobHandler, job: sqlite3.Row) -> None:
    """Run ``handler`` on a claimed job; anything it raises fails that job only."""
    try:
        handler(job)
    except IntakeError as exc:
        log.info("job %s (%s) refused: %s", job["id"], job["filename"], exc)
        queue.fail(job["id"], exc.code, exc.user_line())
    except Exception as exc:  # one bad file must never stop the queue
        log.exception("job %s (%s) failed", job["id"], job["filename"])
        queue.fail(
            job["id"],
            "internal",
            f"处理该文件时出错，请重试或联系管理员（技术原因：{type(exc).__name__}: {exc}）",
        )


class LeaseKeeper:
    """A thread renewing ``owner``'s leases and taking back the jobs of workers that died, every LEASE_S / 6.

    It takes back dead workers' jobs once as it starts, so a worker starting after a crash resumes
    them. ``sweep``, when given, runs on every tick too (a Celery worker re-sends stranded jobs).
    """

    def __init__(
        self,
        queue: JobQueue,
        owner: str,
        interval_s: float = LEASE_S / 6,
        sweep: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self.owner = owner
        self.interval_s = interval_s
        self.sweep = sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.queue.resume_interrupted()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jingyan-lease", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.queue.renew(self.owner)
                self.queue.resume_interrupted()
            except sqlite3.Error:
                log.exception("could not renew job leases")
            if self.sweep is not None:
                try:
                    self.sweep()
                except Exception:  # a broker out of reach for a moment: the next tick tries again
                    log.exception("job sweep failed")


class Worker:
    """The threads that drain the queue: one lane in arrival order, one for small files only.

    A :class:`LeaseKeeper` beside them renews the leases of the running jobs and takes back jobs of
    workers that died.
    """

    def __init__(
        self,
        queue: JobQueue,
        handler: JobHandler,
        poll_s: float = 2.0,
        small_job_bytes: int | None = SMALL_JOB_BYTES,
        owner: str | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.poll_s = poll_s
        self.lanes: list[int | None] = [None] if small_job_bytes is None else [None, small_job_bytes]
        self.owner = owner or worker_name()
        self.leases = LeaseKeeper(queue, self.owner)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = [False] * len(self.lanes)
        self.idle = threading.Event()

    def start(self) -> None:
        self.leases.start()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"jingyan-ingest-{i}", daemon=True)
            for i in range(len(self.lanes))
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current jobs, then stop (a job cut short is resumed on the next start anyway)."""
        self._stop.set()
        self.queue.changed.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self.leases.stop()

    def _loop(self, lane: int) -> None:
        max_size = self.lanes[lane]
        while not self._stop.is_set():
            try:
                job = self.queue.claim_next(owner=self.owner, max_size=max_size)
            except sqlite3.Error:
                log.exception("could not claim a job")
                job = None
            if job is None:
                self._busy[lane] = False
                if not any(self._busy):
                    self.idle.set()
                self.queue.changed.wait(self.poll_s)
                self.queue.changed.clear()
                continue
            self._busy[lane] = True
            self.idle.clear()
            run_one(self.queue, self.handler, job)
