"""Ingestion jobs: a queue in the ``jobs`` table and one in-process worker thread.

Every state change is a row update, so ``/api/jobs`` always shows the truth. Jobs left
``running`` by a killed process go back to ``queued`` on start; a file that fails is marked
``failed`` with its reason and the worker moves on.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from typing import Any

from service.intake.errors import IntakeError
from service.library.store import BlobStore, Database, find_document_by_sha, transaction, utc_now
from service.library.uploads import Arrival

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")
MAX_INTERRUPTIONS = 3

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

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.changed = threading.Event()  # set when a job is queued, so the worker wakes at once

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
                "INSERT INTO jobs(id, filename, sha256, blob_path, status, stage, progress, error_code, error,"
                " document_id, duplicate, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    arrival.filename,
                    sha,
                    str(path),
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
            self.changed.set()
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
        self.changed.set()
        return self.get(job_id)

    def resume_interrupted(self) -> int:
        """Jobs a killed process left ``running`` go back to the queue; their work was never committed.

        A job interrupted ``MAX_INTERRUPTIONS`` times is failed instead, so a file that brings the
        service down is not retried forever. Returns how many jobs were queued again.
        """
        conn = self.db.conn()
        now = utc_now()
        with transaction(conn):
            conn.execute("UPDATE jobs SET interruptions = interruptions + 1 WHERE status='running'")
            conn.execute(
                "UPDATE jobs SET status='failed', stage='failed', progress=1, error_code='interrupted', error=?,"
                " updated_at=? WHERE status='running' AND interruptions >= ?",
                (
                    f"处理此文件时服务已连续中断 {MAX_INTERRUPTIONS} 次，已停止自动重试；"
                    "请检查文件（可拆分或另存后上传），或点击“重新处理”再试",
                    now,
                    MAX_INTERRUPTIONS,
                ),
            )
            cur = conn.execute(
                "UPDATE jobs SET status='queued', stage=NULL, progress=0, updated_at=? WHERE status='running'", (now,)
            )
        return cur.rowcount

    def claim_next(self, job_id: str | None = None) -> sqlite3.Row | None:
        """Take the oldest queued job (or ``job_id`` if still queued) and mark it running."""
        conn = self.db.conn()
        with transaction(conn):
            if job_id is None:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE status='queued' ORDER BY created_at, rowid LIMIT 1"
                ).fetchone()
            else:
                row = conn.execute("SELECT * FROM jobs WHERE status='queued' AND id=?", (job_id,)).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status='running', stage='queued', progress=0, updated_at=? WHERE id=?",
                (utc_now(), row["id"]),
            )
        return self.row(row["id"])

    def progress(self, job_id: str, stage: str, progress: float) -> None:
        """Show which stage a running job is in (outside any transaction: readers see it at once)."""
        self.db.conn().execute(
            "UPDATE jobs SET stage=?, progress=?, updated_at=? WHERE id=?",
            (stage, progress, utc_now(), job_id),
        )

    def fail(self, job_id: str, code: str, message: str) -> None:
        self.db.conn().execute(
            "UPDATE jobs SET status='failed', stage='failed', progress=1, error_code=?, error=?, updated_at=?"
            " WHERE id=?",
            (code, message, utc_now(), job_id),
        )

    @staticmethod
    def finish(conn: sqlite3.Connection, job_id: str, document_id: int, duplicate: str | None) -> None:
        """Mark a job done inside the caller's transaction, together with the document it produced."""
        conn.execute(
            "UPDATE jobs SET status='done', stage='done', progress=1, error=NULL, error_code=NULL,"
            " document_id=?, duplicate=?, updated_at=? WHERE id=?",
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


class Worker:
    """The background thread that drains the queue, one job at a time."""

    def __init__(self, queue: JobQueue, handler: JobHandler, poll_s: float = 2.0) -> None:
        self.queue = queue
        self.handler = handler
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()

    def start(self) -> None:
        self.queue.resume_interrupted()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jingyan-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current job, then stop (a job cut short is resumed on the next start anyway)."""
        self._stop.set()
        self.queue.changed.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.queue.claim_next()
            except sqlite3.Error:
                log.exception("could not claim a job")
                job = None
            if job is None:
                self.idle.set()
                self.queue.changed.wait(self.poll_s)
                self.queue.changed.clear()
                continue
            self.idle.clear()
            run_one(self.queue, self.handler, job)
