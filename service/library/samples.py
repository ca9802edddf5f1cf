"""The sample corpus, queued for ingestion on the first start of an empty library.

The national government work reports (``gwr-national__*``) are left out: they are long State
Council reports, not Party-building experience materials, and would fill the library with
directives that drown the units' own practices. ``jingyan ingest corpus/samples`` adds them
on purpose if wanted.
"""

from __future__ import annotations

from pathlib import Path

from service.config import REPO_ROOT
from service.library.library import Library
from service.library.store import count_documents
from service.library.uploads import expand

SAMPLES_DIR = REPO_ROOT / "corpus" / "samples"
EXCLUDED_PREFIXES = ("gwr-national__",)


def sample_files(directory: Path = SAMPLES_DIR) -> list[Path]:
    """The sample files to load, the seed first so the first search has something to find."""
    if not directory.is_dir():
        return []
    files = [
        p for p in sorted(directory.iterdir()) if p.is_file() and not p.name.startswith(EXCLUDED_PREFIXES)
    ]
    return sorted(files, key=lambda p: (not p.name.startswith("seed__"), p.name))


def queue_sample_corpus(library: Library, directory: Path = SAMPLES_DIR) -> int:
    """Queue the samples if the library has never held anything; returns how many were queued."""
    conn = library.db.conn()
    if count_documents(conn) or conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]:
        return 0
    queued = 0
    for path in sample_files(directory):
        for arrival in expand(path.name, path.read_bytes(), library.settings):
            library.queue.submit(arrival)
            queued += 1
    return queued
