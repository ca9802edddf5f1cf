"""Fixtures for search: a real SQLite library built from corpus/samples through intake, mining and the model."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.intake import parse_file
from service.library.db import connect
from service.library.groups import PracticeGrouper
from service.library.schema import migrate as migrate_library
from service.library.search import IndexedPractice, PracticeIndex
from service.library.search_eval import SAMPLES, practice_entries, store_document
from service.mining.embed import Embedder

SEED = "seed__000_d56bd712dbae6b12.txt"
# The seed speech plus three grassroots reports: project sites (天津), residential compounds with
# 吹哨报到 (滕州) and the elderly volunteer teams (犍为).
LIBRARY_FILES = (SEED, "pb-lotjol__06.txt", "pb-lotjol__07.txt", "pb-lotjol__08.txt")


@dataclass
class BuiltLibrary:
    """A library database on disk and what went into it."""

    path: Path
    items: dict[str, list[IndexedPractice]]  # file name → its indexed practices
    vectors: dict[int, object]  # practice id → vector, to re-add without the model


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The fp32 model: the ranking and grouping thresholds these tests protect were tuned on its vectors."""
    return Embedder.load()


@pytest.fixture(scope="session")
def built_library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> BuiltLibrary:
    """The sample documents ingested as the library does it: store, embed, index, group."""
    path = tmp_path_factory.mktemp("library") / "library.sqlite"
    conn = connect(path)
    migrate_library(conn)
    index = PracticeIndex(embedder)
    grouper = PracticeGrouper()
    index.migrate(conn)
    grouper.migrate(conn)
    items: dict[str, list[IndexedPractice]] = {}
    vectors: dict[int, object] = {}
    for name in LIBRARY_FILES:
        doc = parse_file(SAMPLES / name)
        entries = practice_entries(doc)
        conn.execute("BEGIN IMMEDIATE")
        stored = store_document(conn, doc, name, entries)
        conn.execute("COMMIT")
        vecs = index.embed(stored)
        conn.execute("BEGIN IMMEDIATE")
        index.add(conn, stored, vecs)
        grouper.assign(conn, [it.id for it in stored])
        conn.execute("COMMIT")
        items[name] = stored
        vectors.update({it.id: v for it, v in zip(stored, vecs, strict=True)})
    conn.close()
    return BuiltLibrary(path, items, vectors)


@pytest.fixture
def library(built_library: BuiltLibrary, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A private copy of the built library, so a test may delete and regroup freely."""
    copy = tmp_path / "copy.sqlite"
    src = connect(built_library.path)
    src.execute("VACUUM INTO ?", (str(copy),))
    src.close()
    conn = connect(copy)
    yield conn
    conn.close()


@pytest.fixture
def index(embedder: Embedder) -> PracticeIndex:
    return PracticeIndex(embedder)


def practice_id(conn: sqlite3.Connection, filename: str, phrase: str) -> int:
    """The id of the one practice of ``filename`` whose text holds ``phrase``."""
    rows = conn.execute(
        "SELECT p.id FROM practices p JOIN documents d ON d.id = p.document_id WHERE d.filename = ? AND p.text LIKE ?",
        (filename, f"%{phrase}%"),
    ).fetchall()
    assert len(rows) == 1, f"{phrase!r} in {len(rows)} practices of {filename}"
    return rows[0][0]


def document_id(conn: sqlite3.Connection, filename: str) -> int:
    return conn.execute("SELECT id FROM documents WHERE filename = ?", (filename,)).fetchone()[0]


def hit_files(conn: sqlite3.Connection, ids: list[int]) -> list[str]:
    """The file name of each hit, in order."""
    out = []
    for pid in ids:
        out.append(
            conn.execute(
                "SELECT d.filename FROM practices p JOIN documents d ON d.id = p.document_id WHERE p.id = ?", (pid,)
            ).fetchone()[0]
        )
    return out
