"""Server-side time of a very long document's page and of its API read.

    python -m bench.document_page [--chars 1950000] [--rounds 5]

Stores one document of about ``--chars`` characters (the seed speech copied) through the library's
own store calls, every sentence of it a practice, then starts the real app in-process and times
``/documents/{id}`` (first, middle and last page, and the page of the last practice) and
``/api/documents/{id}``. Prints the practice count, the page count and p50/max per request.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import tempfile
import time
from pathlib import Path

from service.config import REPO_ROOT, Settings

SEED = REPO_ROOT / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"


def build(settings: Settings, chars: int) -> tuple[int, list[int]]:
    """Store the long document; returns its id and its practice ids."""
    from service.intake import parse_bytes
    from service.library import store
    from service.library.library import Library
    from service.library.search_eval import clause_entries
    from service.mining.practice import Practice

    seed = SEED.read_bytes()
    copies = max(1, chars // len(seed.decode()))
    data = seed * copies
    doc = parse_bytes(data, "长篇报告.txt", settings, isolate=False)
    practices = [
        Practice(orgs=["市委办公室"], mentions=[], text=e.text, name=None, topic="思想建设", kind="practice",
                 span=e.span, section=e.section)
        for e in clause_entries(doc)
    ]
    library = Library(settings)
    conn = library.db.conn()
    with store.transaction(conn):
        document_id = store.insert_document(
            conn, doc, sha256=hashlib.sha256(data).hexdigest(), filename="长篇报告.txt", size=len(data)
        )
        ids = store.insert_practices(conn, document_id, practices)
    library.close()
    print(f"stored {len(doc.text):,} characters, {len(ids):,} practices", flush=True)
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
        with TestClient(create_app(settings)) as client:
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
