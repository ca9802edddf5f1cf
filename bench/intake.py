"""Intake speed: pages/s for PDF, MB/s for DOCX and TXT, whole parse, one process.

Run ``python -m bench.intake``. Word-exported PDFs and DOCX are generated from the corpus TXT
files (python-docx, then LibreOffice) into a cache directory; the browser-printed PDFs are the
real ones in ``corpus/samples``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.fixtures import SAMPLES, build_corpus_fixtures
from service.intake import parse_bytes


def measure(paths: list[Path], rounds: int) -> tuple[float, int, int]:
    """Parse every file ``rounds`` times in-process; return (seconds, pages, bytes) per round."""
    blobs = [(p.name, p.read_bytes()) for p in paths]
    pages = 0
    for name, data in blobs:  # warm-up, and the page count
        pages += parse_bytes(data, name, isolate=False).source.pages or 0
    start = time.perf_counter()
    for _ in range(rounds):
        for name, data in blobs:
            parse_bytes(data, name, isolate=False)
    seconds = (time.perf_counter() - start) / rounds
    return seconds, pages, sum(len(d) for _n, d in blobs)


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "jingyan-bench-intake")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fixtures = build_corpus_fixtures(args.cache)
    sets = {
        "PDF (Word/LibreOffice export)": [f["pdf"] for f in fixtures.values()],
        "PDF (browser print, corpus)": sorted(SAMPLES.glob("*.pdf")),
        "DOCX (python-docx, corpus)": [f["docx"] for f in fixtures.values()],
        "TXT (corpus)": [f["txt"] for f in fixtures.values()],
    }
    print(f"{'set':32} {'files':>5} {'pages':>6} {'MB':>7} {'s':>7}  rate")
    for label, paths in sets.items():
        seconds, pages, size = measure(paths, args.rounds)
        mb = size / 1e6
        rate = f"{pages / seconds:7.1f} pages/s" if label.startswith("PDF") else f"{mb / seconds:7.2f} MB/s"
        print(f"{label:32} {len(paths):5d} {pages:6d} {mb:7.2f} {seconds:7.3f}  {rate}")


if __name__ == "__main__":
    main()
