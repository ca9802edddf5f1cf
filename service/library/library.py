"""The assembled library: database, originals, search index, grouper, job queue and worker.

The web app, the CLI and the bench build one :class:`Library` and share its parts, so the
embedding model is loaded once per process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from service.config import Settings
from service.intake.guard import start_parser_server
from service.library import dedupe, schema
from service.library.groups import PracticeGrouper
from service.library.ingest import Ingestor
from service.library.jobs import JobQueue, Worker
from service.library.search import PracticeIndex
from service.library.store import BlobStore, Database
from service.library.worker_process import WorkerSupervisor

log = logging.getLogger(__name__)


def database_path(settings: Settings) -> Path:
    """``data_dir/jingyan.sqlite`` unless a ``sqlite:///`` URL says otherwise."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return Path(settings.data_dir) / "jingyan.sqlite"


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

    def __init__(self, settings: Settings, embedder: Any | None = None) -> None:
        self.settings = settings
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.db = Database(database_path(settings))
        self.blobs = BlobStore(Path(settings.data_dir) / "originals")
        self.embedder = embedder
        self.index = PracticeIndex(embedder)
        self.grouper = PracticeGrouper()
        self.queue = JobQueue(self.db, self.blobs)
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

        Either first re-queues the jobs of workers that are gone.
        """
        if self.settings.worker_process:
            self.supervisor = WorkerSupervisor(self.settings, self.queue)
            self.supervisor.start()
        else:
            start_parser_server()
            self.worker.start()

    def worker_state(self) -> dict[str, Any]:
        """Where ingestion runs, for ``/api/health``."""
        if self.supervisor is None:
            return {"mode": "thread", "pid": os.getpid(), "restarts": 0}
        return {"mode": "process", "pid": self.supervisor.pid, "restarts": self.supervisor.restarts}

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        else:
            self.worker.stop()
        self.db.close()
