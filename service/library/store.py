"""The library's repository: originals kept by content hash, documents and practices in SQLite.

Writes happen inside an explicit transaction opened with :func:`transaction`, so a document and
its practices become visible together or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.intake.document import Document
from service.library import schema
from service.library.db import connect
from service.mining.practice import Practice


def utc_now() -> str:
    """ISO timestamp in UTC, the format every ``*_at`` column uses."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls everything back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """One SQLite file, one connection per thread (sqlite3 connections must not be shared mid-transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection opened through this object."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class BlobStore:
    """Original bytes under ``root/ab/abcdef…`` named by their sha256, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> Path:
        """Store ``data`` once; a crash mid-write never leaves a truncated original behind."""
        path = self.path_for(sha256)
        if path.exists() and path.stat().st_size == len(data):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def get(self, sha256: str) -> bytes | None:
        path = self.path_for(sha256)
        return path.read_bytes() if path.exists() else None

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


@dataclass
class DocumentFilters:
    """What ``GET /api/documents`` can narrow by."""

    kind: str | None = None
    org: str | None = None
    year: int | None = None
    status: str | None = None  # near_duplicate | original
    q: str | None = None  # substring of the title or filename


FORMAT_MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "txt": "text/plain; charset=utf-8",
}


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the library's own tables up to date."""
    return schema.migrate(conn)


def find_document_by_sha(conn: sqlite3.Connection, sha256: str) -> int | None:
    row = conn.execute("SELECT id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
    return int(row[0]) if row else None


def insert_document(
    conn: sqlite3.Connection,
    doc: Document,
    *,
    sha256: str,
    filename: str,
    size: int,
    near_duplicate_of: int | None = None,
    similarity: float | None = None,
) -> int:
    """Insert one parsed document (caller's transaction) and return its id."""
    fmt = doc.source.format if doc.source else None
    cur = conn.execute(
        "INSERT INTO documents(sha256, filename, format, size, title, kind, org, date, year, text,"
        " structure_json, near_duplicate_of, similarity, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            sha256,
            filename,
            fmt,
            size,
            doc.title,
            doc.kind,
            doc.org,
            doc.date,
            year_of(doc.date),
            doc.text,
            json.dumps(doc.to_dict(), ensure_ascii=False),
            near_duplicate_of,
            similarity,
            utc_now(),
        ),
    )
    return int(cur.lastrowid)


def insert_practices(conn: sqlite3.Connection, document_id: int, practices: list[Practice]) -> list[int]:
    """Insert a document's practices with their units and tags (caller's transaction)."""
    now = utc_now()
    ids: list[int] = []
    for ordinal, p in enumerate(practices):
        cur = conn.execute(
            "INSERT INTO practices(document_id, ordinal, text, name, topic, kind, orgs_json, mentions_json,"
            " keywords_json, section_json, span_start, span_end, confidence, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document_id,
                ordinal,
                p.text,
                p.name,
                p.topic,
                p.kind,
                _dumps(p.orgs),
                _dumps(p.mentions),
                _dumps(p.keywords),
                _dumps(p.section),
                p.span[0],
                p.span[1],
                float(p.confidence),
                now,
            ),
        )
        pid = int(cur.lastrowid)
        ids.append(pid)
        conn.executemany(
            "INSERT OR IGNORE INTO practice_orgs(practice_id, org) VALUES (?, ?)", [(pid, o) for o in p.orgs]
        )
        conn.executemany(
            "INSERT OR IGNORE INTO practice_tags(practice_id, tag) VALUES (?, ?)", [(pid, t) for t in p.tags]
        )
    return ids


def delete_document(conn: sqlite3.Connection, document_id: int) -> None:
    """Delete a document; practices, units and tags follow by cascade (caller's transaction)."""
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))


def year_of(date: str | None) -> int | None:
    """The year of an ISO-ish date (``2020``, ``2020-05``, ``2020-05-01``)."""
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def document_row(conn: sqlite3.Connection, document_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()


def document_summary(row: sqlite3.Row, practice_count: int | None = None) -> dict[str, Any]:
    """The list view of a document (no text, no structure)."""
    out = {
        "id": row["id"],
        "filename": row["filename"],
        "format": row["format"],
        "size": row["size"],
        "sha256": row["sha256"],
        "title": row["title"],
        "kind": row["kind"],
        "org": row["org"],
        "date": row["date"],
        "year": row["year"],
        "near_duplicate_of": row["near_duplicate_of"],
        "similarity": row["similarity"],
        "created_at": row["created_at"],
    }
    if practice_count is not None:
        out["practice_count"] = practice_count
    return out


def list_documents(
    conn: sqlite3.Connection, filters: DocumentFilters, limit: int = 20, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Documents newest first, each with its practice count, and the total matching ``filters``."""
    where: list[str] = []
    args: list[Any] = []
    if filters.kind:
        where.append("d.kind = ?")
        args.append(filters.kind)
    if filters.org:
        where.append("d.org = ?")
        args.append(filters.org)
    if filters.year is not None:
        where.append("d.year = ?")
        args.append(filters.year)
    if filters.status == "near_duplicate":
        where.append("d.near_duplicate_of IS NOT NULL")
    elif filters.status == "original":
        where.append("d.near_duplicate_of IS NULL")
    if filters.q:
        where.append("(d.title LIKE ? OR d.filename LIKE ?)")
        args += [f"%{filters.q}%", f"%{filters.q}%"]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM documents d {clause}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT d.*, (SELECT COUNT(*) FROM practices p WHERE p.document_id = d.id) AS practice_count"
        f" FROM documents d {clause} ORDER BY d.id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    return [document_summary(r, r["practice_count"]) for r in rows], int(total)


def get_document(
    conn: sqlite3.Connection, document_id: int, practice_limit: int | None = None, practice_offset: int = 0
) -> dict[str, Any] | None:
    """A document with its text, section tree and practices (all, or one page of them in text order).

    ``practice_count`` is always the document's total, so a caller can page through the rest.
    """
    row = document_row(conn, document_id)
    if row is None:
        return None
    practices = practices_of_document(conn, document_id, practice_limit, practice_offset)
    count = conn.execute("SELECT COUNT(*) FROM practices WHERE document_id = ?", (document_id,)).fetchone()[0]
    out = document_summary(row, count)
    structure = json.loads(row["structure_json"] or "{}")
    out["text"] = row["text"]
    out["paragraphs"] = structure.get("paragraphs", [])
    out["sections"] = structure.get("sections", [])
    out["warnings"] = structure.get("warnings", [])
    out["source"] = structure.get("source")
    out["practices"] = practices
    return out


def practice_dict(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """A stored practice in the shape mining produced it, plus its ids."""
    tags = [
        r[0]
        for r in conn.execute(
            "SELECT tag FROM practice_tags WHERE practice_id = ? AND removed = 0 ORDER BY rowid", (row["id"],)
        )
    ]
    return {
        "id": row["id"],
        "document_id": row["document_id"],
        "ordinal": row["ordinal"],
        "orgs": json.loads(row["orgs_json"]),
        "mentions": json.loads(row["mentions_json"]),
        "text": row["text"],
        "name": row["name"],
        "topic": row["topic"],
        "kind": row["kind"],
        "span": [row["span_start"], row["span_end"]],
        "section": json.loads(row["section_json"]),
        "tags": tags,
        "keywords": json.loads(row["keywords_json"]),
        "confidence": row["confidence"],
        "group_id": row["group_id"],
        "created_at": row["created_at"],
    }


def practices_of_document(
    conn: sqlite3.Connection, document_id: int, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """The practices of a document in text order; ``limit``/``offset`` take one page of them."""
    rows = conn.execute(
        "SELECT * FROM practices WHERE document_id = ? ORDER BY ordinal LIMIT ? OFFSET ?",
        (document_id, -1 if limit is None else limit, offset),
    ).fetchall()
    return [practice_dict(conn, r) for r in rows]


def practice_starts(conn: sqlite3.Connection, document_id: int) -> list[int]:
    """Where each practice of a document starts in its text, in order (for paging the text)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT span_start FROM practices WHERE document_id = ? ORDER BY span_start", (document_id,)
        )
    ]


def practice_marks(conn: sqlite3.Connection, document_id: int, start: int, end: int) -> list[dict[str, Any]]:
    """The practices whose span overlaps ``[start, end)`` of the document's text: id, span, topic, units."""
    return [
        {"id": r["id"], "span": [r["span_start"], r["span_end"]], "topic": r["topic"],
         "orgs": json.loads(r["orgs_json"])}
        for r in conn.execute(
            "SELECT id, span_start, span_end, topic, orgs_json FROM practices"
            " WHERE document_id = ? AND span_end > ? AND span_start < ? ORDER BY span_start",
            (document_id, start, end),
        )
    ]


def get_practice(conn: sqlite3.Connection, practice_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM practices WHERE id = ?", (practice_id,)).fetchone()
    return practice_dict(conn, row) if row else None


def get_practices(conn: sqlite3.Connection, practice_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Practices by id (missing ids are simply absent)."""
    out: dict[int, dict[str, Any]] = {}
    for pid in practice_ids:
        p = get_practice(conn, pid)
        if p is not None:
            out[pid] = p
    return out


def document_brief(conn: sqlite3.Connection, document_id: int) -> dict[str, Any] | None:
    """What a search result shows of its document (``near_duplicate_of`` lets pages fold copies together)."""
    row = conn.execute(
        "SELECT id, filename, title, org, date, kind, year, near_duplicate_of FROM documents WHERE id = ?",
        (document_id,),
    ).fetchone()
    return dict(row) if row else None


def count_documents(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
