"""Near-duplicate documents: MinHash over character 5-gram shingles of the clean text.

A submission re-typed, re-exported to another format or lightly edited has a different sha256
but nearly the same shingles. Each document keeps a 128-value MinHash signature (table owned by
the ``dedupe`` component); a new document is compared to all of them at once, and the best
candidate is confirmed with the exact Jaccard of the two shingle sets.
"""

from __future__ import annotations

import sqlite3
import unicodedata
import zlib

import numpy as np

from service.library.db import apply_migrations

COMPONENT = "dedupe"
MIGRATIONS = [
    """
    CREATE TABLE document_signatures (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        minhash     BLOB NOT NULL              -- NUM_PERM little-endian uint32
    );
    """
]

SHINGLE = 5
NUM_PERM = 128
THRESHOLD = 0.8
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20240601)  # fixed: signatures must agree across processes and restarts
_A = _rng.integers(1, _PRIME, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, NUM_PERM, dtype=np.uint64)


def migrate(conn: sqlite3.Connection) -> int:
    return apply_migrations(conn, COMPONENT, MIGRATIONS)


def normalise(text: str) -> str:
    """Only letters and digits survive, width-folded: re-typing changes spaces and punctuation first."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch.isalnum())


def shingles(text: str) -> set[int]:
    """CRC32 of every character 5-gram of the normalised text."""
    t = normalise(text)
    if len(t) < SHINGLE:
        return {zlib.crc32(t.encode())} if t else set()
    return {zlib.crc32(t[i : i + SHINGLE].encode()) for i in range(len(t) - SHINGLE + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature (uint32[NUM_PERM]) of ``text``."""
    sh = shingles(text)
    if not sh:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    out = np.empty(NUM_PERM, dtype=np.uint32)
    # One permutation at a time keeps memory flat on long reports; products wrap mod 2^64, which is
    # still a fixed pseudo-random hash family, all MinHash needs.
    for i in range(NUM_PERM):
        out[i] = np.min(((x * _A[i] + _B[i]) % _PRIME) & 0xFFFFFFFF)
    return out


def jaccard(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def find_near_duplicate(
    conn: sqlite3.Connection, text: str, sig: np.ndarray, threshold: float = THRESHOLD
) -> tuple[int, float] | None:
    """The stored document most similar to ``text`` if their Jaccard is at least ``threshold``."""
    rows = conn.execute("SELECT document_id, minhash FROM document_signatures").fetchall()
    if not rows:
        return None
    ids = np.array([r[0] for r in rows])
    sigs = np.stack([np.frombuffer(r[1], dtype="<u4") for r in rows])
    estimates = (sigs == sig[None, :]).mean(axis=1)
    mine = shingles(text)
    # Estimates carry ~±0.05 noise at 128 permutations: confirm the few plausible ones exactly.
    for idx in np.argsort(-estimates)[:3]:
        if estimates[idx] < threshold - 0.15:
            break
        other = conn.execute("SELECT text FROM documents WHERE id = ?", (int(ids[idx]),)).fetchone()
        if other is None:
            continue
        score = jaccard(mine, shingles(other[0] or ""))
        if score >= threshold:
            return int(ids[idx]), round(score, 4)
    return None


def store_signature(conn: sqlite3.Connection, document_id: int, sig: np.ndarray) -> None:
    """Remember a document's signature (caller's transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO document_signatures(document_id, minhash) VALUES (?, ?)",
        (document_id, sig.astype("<u4").tobytes()),
    )
