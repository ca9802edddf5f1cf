"""Practice embeddings: SQLite blobs on disk, one brute-force numpy matrix in memory.

A 100k × 384 float32 matrix is 150 MB and a full dot product takes a few milliseconds, so no
approximate index is needed. The matrix is loaded lazily per database file and kept in step with
``add``/``remove`` in place. Every write also stores a random *generation* token in the database:
when a transaction is rolled back, or another process wrote, the token no longer matches the one
in memory and the matrix is simply reloaded.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from dataclasses import dataclass, field

import numpy as np


@dataclass
class VectorMatrix:
    """The in-memory copy of ``practice_vectors`` for one database."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    doc_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    generation: str = ""
    _pos: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row(self, practice_id: int) -> np.ndarray | None:
        """The vector of one practice, or None when it has none."""
        i = self._pos.get(int(practice_id))
        return None if i is None else self.matrix[i]

    def _reindex(self) -> None:
        self._pos = {int(pid): i for i, pid in enumerate(self.ids.tolist())}


def _db_key(conn: sqlite3.Connection) -> str:
    """The main database's file name (``:memory:`` databases are keyed per connection)."""
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return row[2] or f":memory:{id(conn)}"
    return f":memory:{id(conn)}"


def _read_generation(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM search_state WHERE key = 'vectors_generation'").fetchone()
    return row[0] if row else ""


def _write_generation(conn: sqlite3.Connection) -> str:
    token = secrets.token_hex(8)
    conn.execute(
        "INSERT INTO search_state(key, value) VALUES ('vectors_generation', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (token,),
    )
    return token


class VectorStore:
    """Stores practice vectors in ``practice_vectors`` and serves the in-memory matrix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, VectorMatrix] = {}

    def matrix(self, conn: sqlite3.Connection) -> VectorMatrix:
        """The current matrix for ``conn``'s database, reloaded when the generation moved on."""
        key = _db_key(conn)
        generation = _read_generation(conn)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.generation == generation:
                return cached
            loaded = self._load(conn, generation)
            self._cache[key] = loaded
            return loaded

    def _load(self, conn: sqlite3.Connection, generation: str) -> VectorMatrix:
        # Rows are copied one by one into a preallocated matrix: holding all blobs at once first
        # would double the memory a 100k-practice library needs (and the allocator keeps it).
        n = conn.execute("SELECT COUNT(*) FROM practice_vectors").fetchone()[0]
        first = conn.execute("SELECT vector FROM practice_vectors LIMIT 1").fetchone()
        if not n or first is None:
            return VectorMatrix(generation=generation)
        ids = np.empty(n, dtype=np.int64)
        doc_ids = np.empty(n, dtype=np.int64)
        matrix = np.empty((n, len(first[0]) // 4), dtype=np.float32)
        count = 0
        for i, (pid, did, blob) in enumerate(
            conn.execute("SELECT practice_id, document_id, vector FROM practice_vectors ORDER BY practice_id")
        ):
            ids[i], doc_ids[i] = pid, did
            matrix[i] = np.frombuffer(blob, dtype=np.float32)
            count = i + 1
        vm = VectorMatrix(ids=ids[:count], doc_ids=doc_ids[:count], matrix=matrix[:count], generation=generation)
        vm._reindex()
        return vm

    def add(self, conn: sqlite3.Connection, ids: list[int], doc_ids: list[int], vectors: np.ndarray) -> None:
        """Store vectors (inside the caller's transaction) and append them to the cached matrix."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        before = _read_generation(conn)
        conn.executemany(
            "INSERT OR REPLACE INTO practice_vectors(practice_id, document_id, vector) VALUES (?, ?, ?)",
            [(int(i), int(d), v.tobytes()) for i, d, v in zip(ids, doc_ids, vectors, strict=True)],
        )
        after = _write_generation(conn)
        key = _db_key(conn)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or cached.generation != before:
                return  # not loaded (or stale): the next search loads from disk
            keep = ~np.isin(cached.ids, np.asarray(ids, dtype=np.int64))
            dim = vectors.shape[1]
            # New practices replace nothing: skip the masked copy, which at 100k rows is another 150 MB.
            if not len(cached):
                base = np.zeros((0, dim), dtype=np.float32)
            else:
                base = cached.matrix if keep.all() else cached.matrix[keep]
            cached.ids = np.concatenate([cached.ids[keep], np.asarray(ids, dtype=np.int64)])
            cached.doc_ids = np.concatenate([cached.doc_ids[keep], np.asarray(doc_ids, dtype=np.int64)])
            cached.matrix = np.vstack([base, vectors])
            cached.generation = after
            cached._reindex()

    def remove_document(self, conn: sqlite3.Connection, document_id: int) -> None:
        """Delete a document's vectors (inside the caller's transaction) and drop their rows in memory."""
        before = _read_generation(conn)
        conn.execute("DELETE FROM practice_vectors WHERE document_id = ?", (document_id,))
        after = _write_generation(conn)
        key = _db_key(conn)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or cached.generation != before:
                return
            keep = cached.doc_ids != document_id
            cached.ids = cached.ids[keep]
            cached.doc_ids = cached.doc_ids[keep]
            cached.matrix = cached.matrix[keep] if len(keep) else cached.matrix
            cached.generation = after
            cached._reindex()
