"""The assembled library: database, originals, search index, grouper, job queue and worker.

The web app, the CLI and the bench build one :class:`Library` and share its parts, so the
embedding model is loaded once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from service.config import Settings
from service.intake.readers.ocr import preload as preload_recognition
from service.library import dedupe, schema
from service.library.groups import PracticeGrouper
from service.library.ingest import Ingestor
from service.library.jobs import JobQueue, Worker
from service.library.search import PracticeIndex
from service.library.store import BlobStore, Database

log = logging.getLogger(__name__)


def database_path(settings: Settings) -> Path:
    """``data_dir/jingyan.sqlite`` unless a ``sqlite:///`` URL says otherwise."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return Path(settings.data_dir) / "jingyan.sqlite"


def load_embedder(settings: Settings) -> Any | None:
    """The sentence embedder, or ``None`` (keyword search only) when the model was not built."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from service.mining.embed import Embedder

    try:
        return Embedder.load(settings.model_dir)
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
        self.worker = Worker(self.queue, self.ingestor.run_job)
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
        """Start the ingestion worker (it first re-queues jobs a killed process left running).

        The page-recognition libraries load alongside, so the first scanned upload does not wait for them.
        """
        threading.Thread(target=preload_recognition, name="jingyan-ocr-preload", daemon=True).start()
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.db.close()
