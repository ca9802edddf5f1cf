"""SQLite connections and per-component schema migrations.

Each component (``library``, ``search``, ``digest`` …) owns its tables and an ordered list of
migration scripts; ``schema_migrations`` records how far each component has got, so components
evolve independently and a database is upgraded in place on start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the library database with the settings every caller relies on.

    WAL lets readers (search, pages) proceed while the worker writes; foreign keys make
    ``DELETE FROM documents`` take its practices along.
    """
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # SQLite's default 2 MB page cache makes every fused search re-read the FTS and practice pages
    # it touches; at 100k practices that alone cost a third of the query time. No memory map: every
    # connection (one per request thread) mapped the file anew, and the pages each one touched
    # counted again in the resident size (300 MB of a 60 MB library in the web process under load);
    # with the page cache alone searches at 100k practices took the same CPU.
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA mmap_size = 0")
    return conn


def apply_migrations(conn: sqlite3.Connection, component: str, scripts: Sequence[str]) -> int:
    """Run the scripts of ``component`` not yet applied, each in its own transaction.

    Returns the component's schema version afterwards.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute("SELECT version FROM schema_migrations WHERE component = ?", (component,)).fetchone()
    version = row[0] if row else 0
    for number, script in enumerate(scripts[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(component, version) VALUES (?, ?) "
                "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                (component, number),
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (handles triggers' inner semicolons)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
