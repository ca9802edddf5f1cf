"""Server-side render time of the search page over a 10,000-practice library.

    python -m bench.pages [--practices 10000] [--data DIR] [--no-model] [--rounds 3]

1. Builds the library once (kept in ``--data``, default ``data/bench-pages``, and reused when it
   already holds enough practices): every sample in ``corpus/samples`` is parsed and mined for
   real, then stored again and again as new documents (another year, another file) through the
   library's own store and search-index calls until the target count is reached. Up to
   ``--distinct`` different practices are embedded once each and their vectors reused by their
   copies, so the vector matrix and the FTS tables are full-size.
2. Starts the real app in-process (the same ``create_app`` as ``jingyan serve``) and requests
   ``/search`` for a set of staff queries, with and without filters and on later pages.
3. Prints p50/p95 of the full server-side response time (routing, search, facets, rendering),
   overall and split into repeated queries and first-seen ones (those also embed the query).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.fixtures import bench_headers
from service.config import REPO_ROOT, Settings

SAMPLES = REPO_ROOT / "corpus" / "samples"
QUERIES = [
    "学习制度", "三会一课", "主题党日", "党员积分管理", "网格化管理", "志愿服务", "疫情防控",
    "廉政风险", "谈心谈话", "读书活动", "结对共建", "为民办实事", "乡村振兴", "党建品牌",
    "考核机制", "台账清单", "老党员发挥作用", "知识竞赛", "调查研究", "减轻基层负担",
]
FILTERS = [{}, {"topic": "思想建设"}, {"kind": "practice"}, {"year": "2019"}, {"page": "3"}]


def build(settings: Settings, target: int, use_model: bool, distinct: int) -> int:
    """Fill ``settings.data_dir`` with at least ``target`` practices; returns how many it holds."""
    from service import mining
    from service.intake import parse_file
    from service.library import store
    from service.library.library import Library, load_embedder
    from service.library.search import IndexedPractice
    from service.library.store import transaction

    library = Library(settings, load_embedder(settings) if use_model else None)
    conn = library.db.conn()
    have = int(conn.execute("SELECT COUNT(*) FROM practices").fetchone()[0])
    if have >= target:
        library.close()
        return have
    started = time.perf_counter()
    mined = []
    for path in sorted(SAMPLES.glob("*.txt")):
        doc = parse_file(path, settings)
        practices = mining.extract(doc)
        if practices:
            mined.append((path, doc, practices))
    found = sum(len(p) for _, _, p in mined)
    # Embedding is the slow part: keep at most ``distinct`` different practices, spread over all documents.
    share = max(1, distinct // len(mined))
    mined = [(path, doc, practices[:share]) for path, doc, practices in mined]
    per_round = sum(len(p) for _, _, p in mined)
    print(f"mined {found} practices from {len(mined)} sample documents in {time.perf_counter() - started:.1f}s;"
          f" using {per_round} distinct ones", flush=True)

    def items_of(doc, practices, year: int | None) -> list[IndexedPractice]:
        return [
            IndexedPractice(0, 0, p.text, p.name, list(p.orgs), p.topic, list(p.tags), p.kind, list(p.section),
                            list(p.keywords), doc.title or "", doc.kind or "", year)
            for p in practices
        ]

    vectors = [library.index.embed(items_of(doc, ps, None)) for _, doc, ps in mined]
    print(f"embedded in {time.perf_counter() - started:.1f}s (model: {'yes' if library.embedder else 'no'})", flush=True)
    copy = have // max(per_round, 1)
    while have < target:
        for (path, doc, practices), vecs in zip(mined, vectors, strict=True):
            year = 2012 + copy % 12
            doc.date = f"{year}-06-30"
            data = f"{copy}:{path.name}".encode()
            items = items_of(doc, practices, year)
            with transaction(conn):
                doc_id = store.insert_document(conn, doc, sha256=hashlib.sha256(data).hexdigest(),
                                               filename=f"{year}-{path.name}", size=path.stat().st_size)
                ids = store.insert_practices(conn, doc_id, practices)
                for item, pid in zip(items, ids, strict=True):
                    item.id, item.document_id = pid, doc_id
                library.index.add(conn, items, vecs)
            have += len(ids)
            if have >= target:
                break
        copy += 1
    print(f"library of {have} practices built in {time.perf_counter() - started:.1f}s")
    library.close()
    return have


def measure(settings: Settings, use_model: bool, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds per ``GET /search`` through the real app: (first request of each query, the rest).

    The first request of a query also embeds it (the index caches query vectors), so it is reported apart.
    """
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.library.library import load_embedder

    settings.load_sample_corpus = False
    app = create_app(settings, embedder=load_embedder(settings) if use_model else None)
    cold: list[float] = []
    warm: list[float] = []
    with TestClient(app, headers=bench_headers(settings.data_dir)) as client:
        client.get("/search", params={"q": "党建"})  # warm-up: jieba, synonym table, vector matrix
        cold_done: dict[str, bool] = {}
        for _ in range(rounds):
            for q in QUERIES:
                for extra in FILTERS:
                    url = "/search?" + urlencode({"q": q, **extra})
                    t0 = time.perf_counter()
                    r = client.get(url)
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert r.status_code == 200, (url, r.status_code)
                    (cold if not extra and not cold_done.get(q) else warm).append(elapsed)
                    cold_done[q] = True
    return cold, warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--practices", type=int, default=10_000)
    ap.add_argument("--data", default=str(REPO_ROOT / "data" / "bench-pages"))
    ap.add_argument("--no-model", action="store_true", help="keyword search only")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--distinct", type=int, default=1500, help="different practices (each embedded once)")
    args = ap.parse_args()
    settings = Settings.from_env()
    settings.data_dir = Path(args.data)
    use_model = not args.no_model
    if not use_model:
        # create_app loads the model when given none; a missing model means keyword search only.
        settings.model_dir = Path(args.data) / "no-model"
    held = build(settings, args.practices, use_model, args.distinct)
    cold, warm = measure(settings, use_model, args.rounds)
    print(f"/search server-side render over {held} practices:")
    for label, times in (("all requests", cold + warm), ("query seen before", warm), ("new query (embeds it)", cold)):
        q = statistics.quantiles(times, n=20)
        print(f"  {label:<22} n={len(times):<4} p50 {statistics.median(times):.0f} ms, p95 {q[18]:.0f} ms,"
              f" max {max(times):.0f} ms")


if __name__ == "__main__":
    main()
