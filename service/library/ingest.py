"""One job, end to end: original bytes → Document → practices → vectors → one write transaction.

The slow steps (parse, mine, embed) run outside any transaction; the document, its practices,
units, tags, index entries, group assignment and the job's ``done`` all commit together, so no
half-written document is ever visible and a killed process simply redoes the job.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from service import mining
from service.config import Settings
from service.intake import IntakeError, parse_bytes
from service.intake.document import Document
from service.library import dedupe, store
from service.library.groups import PracticeGrouper
from service.library.jobs import JobQueue
from service.library.search import IndexedPractice, PracticeIndex
from service.library.store import BlobStore, transaction
from service.mining.practice import Practice


@dataclass
class IngestResult:
    """What happened to one file."""

    document_id: int
    duplicate: str | None  # None | "exact" | "near"
    practices: int
    near_duplicate_of: int | None = None
    similarity: float | None = None


class Ingestor:
    """Turns a stored original into a library document; used by the worker and by ``jingyan ingest``."""

    def __init__(
        self,
        settings: Settings,
        blobs: BlobStore,
        index: PracticeIndex,
        grouper: PracticeGrouper,
        queue: JobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.blobs = blobs
        self.index = index
        self.grouper = grouper
        self.queue = queue

    def run_job(self, job: sqlite3.Row) -> None:
        """The worker's handler: ingest the job's original and record the outcome on the job."""
        assert self.queue is not None
        data = self.blobs.get(job["sha256"])
        if data is None:
            raise IntakeError(
                "missing_original", "原文件已不在库中，请重新上传", f"blob {job['sha256']} not found"
            )
        self.ingest(
            self.queue.db.conn(),
            data,
            job["filename"],
            sha256=job["sha256"],
            job_id=job["id"],
        )

    def ingest(
        self,
        conn: sqlite3.Connection,
        data: bytes,
        filename: str,
        *,
        sha256: str,
        job_id: str | None = None,
    ) -> IngestResult:
        """Parse, mine, embed and store one file; raises :class:`IntakeError` for unreadable files."""
        existing = store.find_document_by_sha(conn, sha256)
        if existing is not None:
            return self._exact_duplicate(conn, existing, job_id)

        self._stage(job_id, "parsing", 0.1)

        def recognised(done: int, total: int) -> None:
            # Page recognition is most of the time a scan takes: show it page by page.
            self._stage(job_id, f"ocr {done}/{total}", 0.1 + 0.25 * done / total)

        doc = parse_bytes(data, filename, self.settings, progress=recognised)

        self._stage(job_id, "mining", 0.35)
        # The extractor embeds each practice once: its topic reads the vector and search stores it.
        practices = mining.extract(doc, self.index.embedder)

        self._stage(job_id, "embedding", 0.6)
        year = store.year_of(doc.date)
        items = [indexed_practice(p, 0, doc, year) for p in practices]
        # with an encoder every practice carries its vector; without one search is lexical only
        vectors = np.stack([p.vector for p in practices]) if items and self.index.embedder is not None else None
        signature = dedupe.signature(doc.text)

        self._stage(job_id, "indexing", 0.9)
        with transaction(conn):
            # Another job may have stored the same bytes while this one was parsing.
            existing = store.find_document_by_sha(conn, sha256)
            if existing is not None:
                if job_id:
                    JobQueue.finish(conn, job_id, existing, "exact")
                return IngestResult(existing, "exact", 0)
            near = dedupe.find_near_duplicate(conn, doc.text, signature)
            document_id = store.insert_document(
                conn,
                doc,
                sha256=sha256,
                filename=filename,
                size=len(data),
                near_duplicate_of=near[0] if near else None,
                similarity=near[1] if near else None,
            )
            ids = store.insert_practices(conn, document_id, practices)
            for item, pid in zip(items, ids, strict=True):
                item.id = pid
                item.document_id = document_id
            dedupe.store_signature(conn, document_id, signature)
            if ids:
                self.index.add(conn, items, vectors)
                self.grouper.assign(conn, ids)
            duplicate = "near" if near else None
            if job_id:
                JobQueue.finish(conn, job_id, document_id, duplicate)
        return IngestResult(
            document_id,
            duplicate,
            len(ids),
            near_duplicate_of=near[0] if near else None,
            similarity=near[1] if near else None,
        )

    def _exact_duplicate(
        self, conn: sqlite3.Connection, document_id: int, job_id: str | None
    ) -> IngestResult:
        if job_id:
            with transaction(conn):
                JobQueue.finish(conn, job_id, document_id, "exact")
        return IngestResult(document_id, "exact", 0)

    def _stage(self, job_id: str | None, stage: str, progress: float) -> None:
        if job_id and self.queue is not None:
            self.queue.progress(job_id, stage, progress)


def delete_document(
    conn: sqlite3.Connection, index: PracticeIndex, grouper: PracticeGrouper, blobs: BlobStore, document_id: int
) -> bool:
    """Remove a document, its practices, their groups' share and index entries; the original goes too."""
    with transaction(conn):
        row = conn.execute("SELECT sha256 FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            return False
        grouper.remove_document(conn, document_id)  # needs the vectors, so before the index drops them
        index.remove_document(conn, document_id)
        store.delete_document(conn, document_id)
    blobs.delete(row["sha256"])
    return True


def indexed_practice(p: Practice, document_id: int, doc: Document, year: int | None) -> IndexedPractice:
    """What the search index is given for one practice (ids are filled in once stored)."""
    return IndexedPractice(
        id=0,
        document_id=document_id,
        text=p.text,
        name=p.name,
        orgs=list(p.orgs),
        topic=p.topic,
        tags=list(p.tags),
        kind=p.kind,
        section=list(p.section),
        keywords=list(p.keywords),
        doc_title=doc.title or "",
        doc_kind=doc.kind or "",
        year=year,
    )
