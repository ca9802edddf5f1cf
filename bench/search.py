"""Search speed: ``python -m bench.search`` prints index build time and query latency p50/p95.

A synthetic library of 10k and 100k practices is generated in a temporary SQLite file by varying
the sample corpus' clauses: units, places and numbers are swapped so no two practices read the
same. Embedding 100k texts would take hours on two cores, so each clause is embedded once and its
variants get that vector plus a little Gaussian noise (renormalised): the matrix has the size and
neighbourhood structure of a real one. Query latency *includes* the query embedding by the model;
it is measured with the LRU cache of query vectors cold (every query new) and warm (repeated). The
process's resident memory (now and peak) is printed after each size.

Both encoders run in one pass: the old path (torch fp32) and the service's path (ONNX int8); the
library's vectors come from the first one named in ``--encoders``. Besides wall times the bench prints
CPU milliseconds per first-seen query, which a shared machine does not inflate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.intake import parse_file
from service.library.db import connect
from service.library.groups import PracticeGrouper
from service.library.pg_db import scratch_database
from service.library.pg_search import PgPracticeIndex, connect_pg
from service.library.schema import migrate as migrate_library
from service.library.search import IndexedPractice, PracticeIndex, SearchFilters
from service.library.search_eval import QUERIES, VectorCache, clause_entries, eval_files, load_queries
from service.mining.practice import TOPICS

PLACES = "安康 汉中 宝鸡 咸阳 渭南 延安 榆林 商洛 铜川 丽江 钦州 滕州 犍为 金华 玉树 崇仁 井冈山 石景山 黄浦 普陀".split()
UNITS = (
    "市委办公室 市人大常委会机关 市政府办公室 市纪委监委 市委组织部 市委宣传部 市发改委 市教育局 市公安局 市民政局"
    " 市司法局 市财政局 市人社局 市自然资源局 市生态环境局 市住建局 市交通局 市水利局 市农业农村局 市商务局"
    " 市文广局 市卫健委 市应急局 市审计局 市国资委 市市场监管局 市体育局 市统计局 市医保局 市林业局"
).split()
KINDS = ("讲话", "总结", "交流材料", "经验材料", "报道")
_UNIT = re.compile(r"市[\u4e00-\u9fff]{1,5}?(?:局|委|办|部|院|室)")
_NUMBER = re.compile(r"\d+")


def vary(text: str, rng: random.Random) -> tuple[str, list[str]]:
    """A variant of ``text`` with other units, places and numbers; returns it and the units it names."""
    units: list[str] = []

    def unit(_m: re.Match[str]) -> str:
        u = rng.choice(UNITS)
        units.append(u)
        return u

    text = _UNIT.sub(unit, text)
    text = _NUMBER.sub(lambda m: str(rng.randint(1, 10 ** len(m.group()))), text)
    for place in PLACES:
        if place in text:
            text = text.replace(place, rng.choice(PLACES))
    return f"{rng.choice(PLACES)}{text}", units or [rng.choice(UNITS)]


def base_clauses(index: PracticeIndex, cache: Path) -> tuple[list[tuple[str, list[str], str]], np.ndarray]:
    """The corpus clauses (text, section, title) and one embedding each."""
    clauses = []
    for path in eval_files():
        doc = parse_file(path)
        clauses += [(e.text, e.section, doc.title) for e in clause_entries(doc) if len(e.text) >= 12]
    items = [_item(0, 0, text, [], section, title, "其他", None) for text, section, title in clauses]
    vectors = VectorCache(cache)
    out = vectors.embed(index, items)
    vectors.save()
    return clauses, out


def _item(pid: int, doc_id: int, text: str, orgs: list[str], section: list[str], title: str, kind: str,
          year: int | None, topic: str = "思想建设") -> IndexedPractice:
    return IndexedPractice(
        id=pid, document_id=doc_id, text=text, name=None, orgs=orgs, topic=topic, tags=[], kind="practice",
        section=section, keywords=[], doc_title=title, doc_kind=kind, year=year,
    )


def build(path: Path, index: PracticeIndex, n: int, clauses, base: np.ndarray, per_doc: int = 100,
          seed: int = 7, index_conn: Any = None) -> dict[str, float]:
    """Write ``n`` synthetic practices into a fresh library at ``path``; returns build timings.

    ``index_conn`` is the index's own database (PostgreSQL) when it is not the library file.
    """
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    conn = connect(path)
    migrate_library(conn)
    index.migrate(conn if index_conn is None else index_conn)
    PracticeGrouper().migrate(conn)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    t_store = t_index = 0.0
    made = 0
    doc_no = 0
    while made < n:
        doc_no += 1
        year = rng.randint(2015, 2025)
        kind = rng.choice(KINDS)
        title = f"{rng.choice(PLACES)}{year}年机关党建工作{kind}"
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        doc_id = conn.execute(
            "INSERT INTO documents(sha256, filename, format, size, title, kind, year, text, created_at)"
            " VALUES (?, ?, 'txt', 0, ?, ?, ?, '', ?)",
            (f"synthetic-{doc_no}", f"synthetic-{doc_no}.txt", title, kind, year, now),
        ).lastrowid
        items, rows = [], []
        for ordinal in range(min(per_doc, n - made)):
            k = rng.randrange(len(clauses))
            text, units = vary(clauses[k][0], rng)
            topic = TOPICS[k % len(TOPICS)]
            pid = conn.execute(
                "INSERT INTO practices(document_id, ordinal, text, topic, kind, orgs_json, mentions_json, keywords_json,"
                " section_json, span_start, span_end, confidence, created_at)"
                " VALUES (?, ?, ?, ?, 'practice', ?, '[]', '[]', ?, 0, ?, 0.5, ?)",
                (doc_id, ordinal, text, topic, json.dumps(units, ensure_ascii=False),
                 json.dumps(clauses[k][1], ensure_ascii=False), len(text), now),
            ).lastrowid
            conn.executemany("INSERT OR IGNORE INTO practice_orgs(practice_id, org) VALUES (?, ?)",
                             [(pid, u) for u in set(units)])
            items.append(_item(pid, doc_id, text, units, clauses[k][1], title, kind, year, topic))
            vec = base[k] + noise.normal(0, 0.01, base.shape[1]).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        t1 = time.perf_counter()
        if index_conn is None:
            index.add(conn, items, np.vstack(rows))
        else:
            with index_conn.transaction():
                index.add(index_conn, items, np.vstack(rows))
        conn.execute("COMMIT")
        t2 = time.perf_counter()
        t_store += t1 - t0
        t_index += t2 - t1
        made += len(items)
    conn.close()
    return {"store_s": t_store, "index_s": t_index}


def latencies(conn, index: PracticeIndex, queries: list[str], filters: SearchFilters,
              cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per query; CPU milliseconds of this process are appended to ``cpu`` if given."""
    out = []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        index.search(conn, q, filters, limit=10)
        out.append((time.perf_counter() - t) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1000)
    return out


def resident_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line[:5]] = int(line.split()[1]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="检索速度基准：建索引耗时与查询延迟 p50/p95")
    parser.add_argument("--sizes", default="10000,100000", help="合成库规模，逗号分隔")
    parser.add_argument("--cache", help="语料句向量缓存 .npz（默认放在临时目录）")
    parser.add_argument("--encoders", default="onnx,torch",
                        help="比较的编码器，逗号分隔：onnx（int8，服务默认）、torch（fp32 原路径）；库向量取第一个")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql：索引建在临时 PostgreSQL 数据库（JINGYAN_PG_ADMIN_URL），检索走 PgPracticeIndex")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from service.mining.embed import load_encoder

    threadpool_limits(1)  # one BLAS thread, as ``jingyan serve`` runs searches
    encoders = {}
    for name in [x.strip() for x in args.encoders.split(",") if x.strip()]:
        t = time.perf_counter()
        encoders[name] = load_encoder(encoder=name)
        print(f"模型加载（{name}）：{time.perf_counter() - t:.1f} 秒")
    embedder = next(iter(encoders.values()))
    queries = [q["query"] for q in load_queries(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "vectors.npz"
        t = time.perf_counter()
        clauses, base = base_clauses(PracticeIndex(embedder), cache)
        print(f"语料句子 {len(clauses)} 条，向量 {time.perf_counter() - t:.1f} 秒")
        for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
            path = Path(tmp) / f"bench-{n}.sqlite"
            with contextlib.ExitStack() as stack:
                if args.backend == "postgresql":
                    url = stack.enter_context(scratch_database("jingyan_bench"))
                    conn = stack.enter_context(connect_pg(url))
                    make = PgPracticeIndex
                else:
                    conn = None
                    make = PracticeIndex
                run_size(n, path, make, conn, embedder, encoders, queries, clauses, base)
    return 0


def run_size(n: int, path: Path, make: Any, index_conn: Any, embedder: Any, encoders: dict, queries: list[str],
             clauses: list, base: np.ndarray) -> None:
    """Build a library of ``n`` practices and print the latencies of each kind of search on it."""
    index = make(embedder)
    t = time.perf_counter()
    timing = build(path, index, n, clauses, base, index_conn=index_conn)
    total = time.perf_counter() - t
    print(f"\n== {n} 条做法（{'PostgreSQL' if index_conn is not None else 'SQLite'}）：建库 {total:.1f} 秒"
          f"（写入 {timing['store_s']:.1f} 秒，索引分词与向量入库 {timing['index_s']:.1f} 秒）")
    conn = connect(path) if index_conn is None else index_conn
    index = make(embedder)  # fresh: SQLite's matrix loads lazily
    t = time.perf_counter()
    index.search(conn, "学习制度", SearchFilters())
    print(f"首次检索：{time.perf_counter() - t:.2f} 秒")
    cold_by: dict[str, tuple[list[float], list[float]]] = {}
    for name, encoder in encoders.items():
        fresh = make(encoder)
        fresh.search(conn, "学习制度", SearchFilters())  # same warm library, empty query cache
        cpu: list[float] = []
        cold_by[name] = (latencies(conn, fresh, queries, SearchFilters(), cpu), cpu)
    cold = latencies(conn, index, queries, SearchFilters())
    warm = latencies(conn, index, queries, SearchFilters())
    org = latencies(conn, index, queries, SearchFilters(org=UNITS[0]))
    lexical = latencies(conn, make(None), queries, SearchFilters())
    browse = latencies(conn, index, [""] * 20, SearchFilters(year=2020))
    for name, values in (
        ("混合检索，查询向量未缓存（含模型编码）", cold),
        ("混合检索，查询向量已缓存（LRU）", warm),
        ("混合检索 + 单位筛选（已缓存）", org),
        ("仅关键词（无模型）", lexical),
        ("浏览（空查询 + 年份筛选）", browse),
    ):
        print(f"  {name:<28} p50 {pct(values, 50):7.1f} ms   p95 {pct(values, 95):7.1f} ms   (n={len(values)})")
    for name, (wall, cpu) in cold_by.items():
        print(f"  首次查询（{name} 编码器）{'':<14} p50 {pct(wall, 50):7.1f} ms   p95 {pct(wall, 95):7.1f} ms   "
              f"CPU p50 {pct(cpu, 50):6.1f} ms  p95 {pct(cpu, 95):6.1f} ms   (n={len(wall)})")
    rss, peak = resident_mb()
    print(f"  本进程内存：RSS {rss:.0f} MB，峰值 {peak:.0f} MB（模型{'、'.join(encoders)}，{n} 条向量与检索缓存）")
    print(f"  负载 {' '.join(f'{x:.1f}' for x in os.getloadavg())}（{os.cpu_count()} 核，共享机器时墙钟时间偏高）")
    if index_conn is None:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
