"""Server-side time of a very long document's page and of its API read.

    python -m bench.document_page [--chars 1950000] [--rounds 5]

Stores one document of about ``--chars`` characters (the seed speech copied) through the library's
own store calls, every sentence of it a practice, then starts the real app in-process and times
``/documents/{id}`` (first, middle and last page, and the page of the last practice) and
``/api/documents/{id}``. Prints the practice count, the page count and p50/max per request.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from bench.fixtures import SEED, bench_headers, store_long_report
from service.config import Settings


def build(settings: Settings, chars: int) -> tuple[int, list[int]]:
    """Store the long document; returns its id and its practice ids."""
    copies = max(1, chars // len(SEED.read_text(encoding="utf-8")))
    document_id, ids, length = store_long_report(settings, copies)
    print(f"stored {length:,} characters, {len(ids):,} practices", flush=True)
    return document_id, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=1_950_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from service.api.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", load_sample_corpus=False, model_dir=Path(tmp) / "none",
                            digest_scheduler=False)
        document_id, ids = build(settings, args.chars)
        app = create_app(settings)
        with TestClient(app, headers=bench_headers(settings.data_dir)) as client:
            first = client.get(f"/documents/{document_id}").text
            found = re.search(r"分 (\d+) 页显示", first)
            pages = int(found.group(1)) if found else 1
            print(f"{pages} pages", flush=True)
            urls = {
                "page 1": f"/documents/{document_id}",
                "middle page": f"/documents/{document_id}?page={max(1, pages // 2)}",
                "last page": f"/documents/{document_id}?page={pages}",
                "page of last practice": f"/documents/{document_id}?practice={ids[-1]}",
                "API read": f"/api/documents/{document_id}",
            }
            for label, url in urls.items():
                times = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, response.text[:200]
                print(f"{label:>22}: p50 {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")


if __name__ == "__main__":
    main()
