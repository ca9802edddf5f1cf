"""CLI of the search component: ``jingyan eval-search`` prints search quality on the labelled queries."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def _eval_search(args: argparse.Namespace) -> int:
    from service.library.db import connect
    from service.library.search import PracticeIndex, RankerWeights
    from service.library.search_eval import (
        QUERIES,
        build_library,
        eval_files,
        evaluate,
        format_ablations,
        format_summary,
        load_queries,
        run_ablations,
    )

    embedder = None
    if not args.lexical_only:
        from service.config import Settings
        from service.mining.embed import load_encoder

        try:
            embedder = load_encoder(Settings.from_env(), args.encoder)
        except Exception as exc:  # the model folder is missing: say how to build it
            print(f"无法加载语义模型，请先运行 python -m models.build；或加 --lexical-only 只评测关键词检索。（{exc}）",
                  file=sys.stderr)
            return 2
    weights = RankerWeights(
        words=args.w_words, grams=args.w_grams, vectors=args.w_vectors, expand=not args.no_expand,
        use_grams=not args.no_grams,
    )
    index = PracticeIndex(embedder, weights=weights)
    queries = load_queries(Path(args.queries) if args.queries else QUERIES)
    if args.backend != "sqlite":
        return _compare_backends(args, index, queries)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "eval.sqlite"
        if not db.exists():
            cache = Path(args.vectors_cache) if args.vectors_cache else None
            stats = build_library(db, index, eval_files(), mode=args.mode, cache=cache)
            print(f"已建库：{stats['entries']} 条（{args.mode}），用时 {stats['seconds']:.1f} 秒，"
                  f"其中向量 {stats['embed_seconds']:.1f} 秒", file=sys.stderr)
        conn = connect(db)
        if args.groups:
            _print_grouping(conn, db)
            conn.close()
            return 0
        if args.ablate:
            print(format_ablations(run_ablations(conn, embedder, queries)))
            conn.close()
            return 0
        if args.floor:
            _print_floor(conn, embedder, queries)
            conn.close()
            return 0
        result = evaluate(conn, index, queries)
        conn.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(format_summary(result["summary"]))
    if args.verbose:
        for q in result["queries"]:
            mark = "✓" if q["recall"] == 1 else ("½" if q["recall"] > 0 else "✗")
            print(f"{mark} {q['type']:<10} {q['split']:<8} 首个命中 {q['first'] or '-':>3}  {q['query']}")
    return 0


def _compare_backends(args: argparse.Namespace, index, queries: list) -> int:  # noqa: ANN001
    """Build the library once into SQLite and a scratch PostgreSQL database; score both on the same queries."""
    from service.library.db import connect
    from service.library.pg_db import scratch_database
    from service.library.pg_search import PgPracticeIndex, connect_pg
    from service.library.search_eval import build_library, eval_files, evaluate, format_comparison

    if args.db or args.groups or args.ablate or args.floor:
        print("--backend postgresql 每次新建评测库，不能与 --db、--groups、--ablate、--floor 同用", file=sys.stderr)
        return 2
    pg = PgPracticeIndex(index.embedder, weights=index.weights, synonyms=index.synonyms)
    pg._query_cache = index._query_cache  # one encoding per query serves both
    with tempfile.TemporaryDirectory() as tmp, scratch_database("jingyan_eval") as url:
        pg_conn = connect_pg(url)
        pg.migrate(pg_conn)
        db = Path(tmp) / "eval.sqlite"
        cache = Path(args.vectors_cache) if args.vectors_cache else None
        stats = build_library(db, index, eval_files(), mode=args.mode, cache=cache, also=[(pg, pg_conn)])
        print(f"已建库：{stats['entries']} 条（{args.mode}），SQLite 与 PostgreSQL 各一份，用时 {stats['seconds']:.1f} 秒",
              file=sys.stderr)
        conn = connect(db)
        results = {"sqlite": evaluate(conn, index, queries), "postgresql": evaluate(conn, pg, queries, index_conn=pg_conn)}
        conn.close()
        pg_conn.close()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    print(format_comparison(results["sqlite"]["summary"], results["postgresql"]["summary"]))
    if args.verbose:
        pg_queries = {q["query"]: q for q in results["postgresql"]["queries"]}
        for q in results["sqlite"]["queries"]:
            other = pg_queries[q["query"]]
            if (q["recall"], q["first"]) != (other["recall"], other["first"]):
                print(f"  {q['type']:<10} {q['split']:<8} 首个命中 SQLite {q['first'] or '-':>3} "
                      f"PostgreSQL {other['first'] or '-':>3}  {q['query']}")
    return 0


def _print_floor(conn, embedder, queries) -> None:  # noqa: ANN001
    """Results per query and relevant practices kept, per relevance-floor setting and split."""
    from service.library.search import RankerWeights
    from service.library.search_eval import evaluate_floor

    default = RankerWeights()
    print("相关度下限：每次检索返回条数 / 相关做法保留比例（按划分）")
    keys = ("floor_margin", "floor_cosine", "floor_vector_max", "floor_coverage", "floor_context")
    for row in evaluate_floor(conn, embedder, queries):
        st = {k: getattr(default, k) for k in keys} | row["setting"]
        name = ("不设下限" if st.get("floor") is False else
                f"余量 {st['floor_margin']:.2f} 余弦 {st['floor_cosine']:.2f} 向量至多 {st['floor_vector_max']}"
                f" 覆盖 {st['floor_coverage']:.1f} 上下文 {st['floor_context']:.1f}")
        is_default = st.get("floor") is not False and all(st[k] == getattr(default, k) for k in keys)
        cells = "  ".join(f"{k} {v['results']:6.1f} 条 保留 {v['kept']:.3f}" for k, v in row.items() if k != "setting")
        print(f"  {name:<42}{cells}{'  ←默认' if is_default else ''}")


def _print_grouping(conn, db: Path) -> None:
    """Pairwise precision/recall of practice groups on corpus/queries/groups.jsonl over a threshold sweep."""
    from service.library.groups import PracticeGrouper
    from service.library.search_eval import evaluate_grouping, evaluate_incremental

    default = PracticeGrouper()
    thresholds = [round(default.threshold + d, 2) for d in (-0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03)]
    for split, sweep in (("train", True), ("heldout", False)):
        # the threshold sweep is read on train groups only; held-out groups are scored at the default
        print(f"做法分组 {split}（{default.linkage} 连接，整体重建）：阈值 × 关键词权重 → 成对精确率/召回率/F1")
        grid = thresholds if sweep else [default.threshold]
        weights = [0.0, default.keyword_weight] if sweep else [default.keyword_weight]
        for row in evaluate_grouping(conn, grid, weights, split=split):
            mark = " ←默认" if (row["threshold"], row["keyword_weight"]) == (default.threshold, default.keyword_weight) else ""
            print(f"  阈值 {row['threshold']:.2f}  关键词 {row['keyword_weight']:.2f}  P {row['precision']:.3f}  "
                  f"R {row['recall']:.3f}  F1 {row['f1']:.3f}  组数 {row['groups']}（多成员 {row['multi']}）{mark}")
        inc = evaluate_incremental(db, default.threshold, default.keyword_weight, split=split)
        print(f"  逐篇入库（assign，默认参数）：P {inc['precision']:.3f}  R {inc['recall']:.3f}  F1 {inc['f1']:.3f}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-search", help="在标注查询集上评测检索质量（recall@10、MRR）")
    p.add_argument("--mode", choices=["clauses", "practices"], default="clauses",
                   help="索引单位：按句切分（clauses）或挖掘出的做法（practices）")
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                   help="postgresql：同一评测库再建一份到临时 PostgreSQL 数据库（JINGYAN_PG_ADMIN_URL），两种后端并列评测")
    p.add_argument("--db", help="评测库文件（已存在则直接复用，省去重新计算向量）")
    p.add_argument("--vectors-cache", help="向量缓存 .npz 文件（按文本复用，换索引方式时免去重算）")
    p.add_argument("--queries", help="查询集 JSONL（默认 corpus/queries/queries.jsonl）")
    p.add_argument("--encoder", choices=["onnx", "torch"], default=None,
                   help="语义编码器：onnx（int8，默认）或 torch（fp32 原路径）；默认取 JINGYAN_ENCODER")
    p.add_argument("--lexical-only", action="store_true", help="不加载语义模型，只用关键词检索")
    p.add_argument("--no-expand", action="store_true", help="不做同义词扩展")
    p.add_argument("--no-grams", action="store_true", help="不用字二元组排序器")
    p.add_argument("--w-words", type=float, default=1.0, help="词 BM25 排序器权重")
    p.add_argument("--w-grams", type=float, default=1.0, help="字二元组 BM25 排序器权重")
    p.add_argument("--w-vectors", type=float, default=1.0, help="向量排序器权重")
    p.add_argument("--groups", action="store_true", help="评测做法分组（corpus/queries/groups.jsonl）")
    p.add_argument("--floor", action="store_true", help="评测相关度下限：返回条数与相关做法保留比例")
    p.add_argument("--ablate", action="store_true", help="逐步评测：各排序器单独与组合、同义词扩展的效果")
    p.add_argument("--json", action="store_true", help="以 JSON 输出全部结果")
    p.add_argument("-v", "--verbose", action="store_true", help="逐条列出查询结果")
    p.set_defaults(func=_eval_search)
