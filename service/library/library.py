"""The assembled library: database, originals, search index, grouper, job queue and worker.

The web app, the CLI and the bench build one :class:`Library` and share its parts, so the
embedding model is loaded once per process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.config import Settings, StartRefused
from service.intake.guard import start_parser_server
from service.library import dedupe, schema
from service.library.groups import PracticeGrouper
from service.library.ingest import Ingestor
from service.library.jobs import JobQueue, Worker
from service.library.search import PracticeIndex
from service.library.store import BlobStore, Database
from service.library.worker_process import WorkerSupervisor

log = logging.getLogger(__name__)


class StorageUnavailable(StartRefused):
    """The configured database cannot be used: start-up stops with this message instead of using another one."""


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database_path(settings: Settings) -> Path:
    """``data_dir/jingyan.sqlite`` unless a ``sqlite:///`` URL says otherwise.

    Any other URL raises :class:`StorageUnavailable`: silently using a SQLite file instead of the
    database an operator named would split the library in two without anyone noticing.
    """
    url = settings.database_url.strip()
    if not url:
        return Path(settings.data_dir) / "jingyan.sqlite"
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    raise StorageUnavailable(
        f"无法使用 JINGYAN_DATABASE_URL={redact(url)}：目前只支持 SQLite"
        "（留空即使用数据目录中的 jingyan.sqlite，或写作 sqlite:///文件路径）；PostgreSQL 后端尚未实现。"
        "服务不会改用其他数据库，请修改该设置后再启动。"
    )


def check_database(settings: Settings) -> Path:
    """The database path after opening it once; :class:`StorageUnavailable` when it cannot be opened or read."""
    path = database_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        raise StorageUnavailable(
            f"无法打开数据库 {path}（{type(exc).__name__}: {exc}）。请检查 JINGYAN_DATABASE_URL 或 JINGYAN_DATA_DIR "
            "所指的位置是否存在、可写且是 SQLite 数据库文件。"
        ) from exc
    return path


def load_embedder(settings: Settings) -> Any | None:
    """The sentence encoder ``settings.encoder`` names, or ``None`` (keyword search only) when it was not built."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from service.mining.embed import load_encoder

    try:
        return load_encoder(settings)
    except Exception as exc:  # keyword search alone still serves
        log.warning("嵌入模型未加载，仅使用关键词检索（%s）。请运行 python -m models.build", exc)
        return None


class Library:
    """Everything the library needs at run time, opened against one data directory."""

    def __init__(
        self, settings: Settings, embedder: Any | None = None, dispatch: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.db = Database(check_database(settings))
        self.blobs = BlobStore(Path(settings.data_dir) / "originals")
        self.embedder = embedder
        self.index = PracticeIndex(embedder)
        self.grouper = PracticeGrouper()
        if dispatch is None and settings.broker_url:
            from service.broker.app import TaskDispatch

            dispatch = TaskDispatch(settings)
        self.queue = JobQueue(self.db, self.blobs, dispatch)
        self.ingestor = Ingestor(settings, self.blobs, self.index, self.grouper, self.queue)
        self.worker = Worker(self.queue, self.ingestor.run_job, small_job_bytes=settings.small_job_bytes)
        self.supervisor: WorkerSupervisor | None = None
        self._migrate()

    def _migrate(self) -> None:
        conn = self.db.conn()
        schema.migrate(conn)
        dedupe.migrate(conn)
        self.index.migrate(conn)
        self.grouper.migrate(conn)

    def set_embedder(self, embedder: Any | None) -> None:
        """Use ``embedder`` for indexing and queries from now on (the model loads after the database opens)."""
        self.embedder = embedder
        self.index = PracticeIndex(embedder)
        self.ingestor.index = self.index

    def start(self) -> None:
        """Start ingesting: a supervised worker process when ``settings.worker_process``, else threads here
        beside the parser server their parse children fork from.

        Either first re-queues the jobs of workers that are gone. With a broker (``self.queue.dispatch``
        set) ``jingyan worker`` processes ingest instead: nothing starts here, and the jobs still queued
        are sent to the broker again in case they were queued while it was out of reach.
        """
        if self.queue.dispatch is not None:
            sent = self.queue.dispatch_queued()
            if sent:
                log.info("%d queued jobs sent to the broker", sent)
        elif self.settings.worker_process:
            self.supervisor = WorkerSupervisor(self.settings, self.queue)
            self.supervisor.start()
        else:
            start_parser_server()
            self.worker.start()

    def worker_state(self) -> dict[str, Any]:
        """Where ingestion runs, for ``/api/health``."""
        if self.queue.dispatch is not None:
            return {"mode": "celery", "broker": redact(self.settings.broker_url)}
        if self.supervisor is None:
            return {"mode": "thread", "pid": os.getpid(), "restarts": 0}
        return {"mode": "process", "pid": self.supervisor.pid, "restarts": self.supervisor.restarts}

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        elif self.queue.dispatch is None:
            self.worker.stop()
        self.db.close()
