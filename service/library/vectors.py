"""Practice embeddings: SQLite blobs on disk, one brute-force numpy matrix in memory.

A 100k × 384 float32 matrix is 150 MB and a full dot product takes a few milliseconds, so no
approximate index is needed. The matrix is loaded lazily per database file. Every write also
stores a random *generation* token in the database: when a transaction is rolled back, or
another process (the ingestion worker) wrote, the token no longer matches the one in memory and
the matrix is reloaded.

Readers never see a half-updated matrix: a :class:`VectorMatrix` is an immutable snapshot (ids,
documents and vectors together) and writers publish a new one by swapping a single reference.
A search takes that reference once and ranks against it, whatever is published meanwhile.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

# Databases whose matrix is kept: the service has one; tests open many in-memory ones.
MAX_CACHED_DATABASES = 4


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class VectorMatrix:
    """One consistent, read-only copy of ``practice_vectors`` for one database."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    doc_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    generation: str = ""
    _pos: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.doc_ids) == self.matrix.shape[0]):
            raise ValueError(f"{len(self.ids)} ids, {len(self.doc_ids)} documents, {self.matrix.shape[0]} vectors")
        for array in (self.ids, self.doc_ids, self.matrix):
            _frozen(array)
        if len(self.ids) and not self._pos:
            object.__setattr__(self, "_pos", MappingProxyType({int(p): i for i, p in enumerate(self.ids.tolist())}))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row(self, practice_id: int) -> np.ndarray | None:
        """The vector of one practice, or None when it has none."""
        i = self._pos.get(int(practice_id))
        return None if i is None else self.matrix[i]

    def replaced(self, ids: list[int], doc_ids: list[int], vectors: np.ndarray, generation: str) -> VectorMatrix:
        """A new snapshot with ``ids`` added (or their vectors replaced)."""
        new_ids = np.asarray(ids, dtype=np.int64)
        keep = ~np.isin(self.ids, new_ids)
        if not len(self):
            base = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        else:
            # new practices replace nothing: skip the masked copy (another 150 MB at 100k rows)
            base = self.matrix if keep.all() else self.matrix[keep]
        return VectorMatrix(
            ids=np.concatenate([self.ids[keep], new_ids]),
            doc_ids=np.concatenate([self.doc_ids[keep], np.asarray(doc_ids, dtype=np.int64)]),
            matrix=np.vstack([base, vectors]),
            generation=generation,
        )

    def without_document(self, document_id: int, generation: str) -> VectorMatrix:
        """A new snapshot without the vectors of ``document_id``."""
        keep = self.doc_ids != document_id
        return VectorMatrix(
            ids=self.ids[keep].copy(),
            doc_ids=self.doc_ids[keep].copy(),
            matrix=self.matrix[keep] if len(self) else self.matrix.copy(),
            generation=generation,
        )


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
    """Stores practice vectors in ``practice_vectors`` and serves the in-memory snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the two dicts below, never held while loading
        self._snapshots: OrderedDict[str, VectorMatrix] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}

    def matrix(self, conn: sqlite3.Connection) -> VectorMatrix:
        """The current snapshot for ``conn``'s database, reloaded when the generation moved on.

        While one thread reloads after another process wrote, the others keep answering from
        the previous snapshot instead of queueing behind the load.
        """
        key = _db_key(conn)
        generation = _read_generation(conn)
        with self._lock:
            current = self._snapshots.get(key)
            loading = self._loading.setdefault(key, threading.Lock())
        if current is not None and current.generation == generation:
            return current
        if not loading.acquire(blocking=current is None):
            return current  # type: ignore[return-value]  # someone else is loading: the old one is whole
        try:
            with self._lock:
                current = self._snapshots.get(key)
            if current is not None and current.generation == generation:
                return current
            loaded = self._load(conn, generation)
            self._publish(key, loaded)
            return loaded
        finally:
            loading.release()

    def _publish(self, key: str, snapshot: VectorMatrix) -> None:
        with self._lock:
            self._snapshots[key] = snapshot
            self._snapshots.move_to_end(key)
            while len(self._snapshots) > MAX_CACHED_DATABASES:
                old, _ = self._snapshots.popitem(last=False)
                self._loading.pop(old, None)

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
            if i >= n:
                break  # rows written after the count: the next generation check loads them
            ids[i], doc_ids[i] = pid, did
            matrix[i] = np.frombuffer(blob, dtype=np.float32)
            count = i + 1
        return VectorMatrix(ids=ids[:count], doc_ids=doc_ids[:count], matrix=matrix[:count], generation=generation)

    def _cached(self, key: str, generation: str) -> VectorMatrix | None:
        with self._lock:
            current = self._snapshots.get(key)
        return current if current is not None and current.generation == generation else None

    def add(self, conn: sqlite3.Connection, ids: list[int], doc_ids: list[int], vectors: np.ndarray) -> None:
        """Store vectors (inside the caller's transaction) and publish a snapshot with them appended."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        before = _read_generation(conn)
        conn.executemany(
            "INSERT OR REPLACE INTO practice_vectors(practice_id, document_id, vector) VALUES (?, ?, ?)",
            [(int(i), int(d), v.tobytes()) for i, d, v in zip(ids, doc_ids, vectors, strict=True)],
        )
        after = _write_generation(conn)
        key = _db_key(conn)
        current = self._cached(key, before)
        if current is not None:  # otherwise not loaded (or stale): the next search loads from disk
            self._publish(key, current.replaced(ids, doc_ids, vectors, after))

    def remove_document(self, conn: sqlite3.Connection, document_id: int) -> None:
        """Delete a document's vectors (inside the caller's transaction) and publish a snapshot without them."""
        before = _read_generation(conn)
        conn.execute("DELETE FROM practice_vectors WHERE document_id = ?", (document_id,))
        after = _write_generation(conn)
        key = _db_key(conn)
        current = self._cached(key, before)
        if current is not None:
            self._publish(key, current.without_document(document_id, after))
