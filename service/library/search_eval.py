"""Search quality on the labelled query set ``corpus/queries/queries.jsonl``.

Builds a throw-away library from the sample documents — one entry per clause (a simple sentence
split, with the same context fields a mined practice has) or the mined practices when mining is
available — runs every query and prints recall@10 and MRR per query type and split.

A hit is relevant when its text contains the query's labelled phrase and it comes from the
labelled file.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.config import REPO_ROOT
from service.intake import parse_file
from service.intake.document import Document
from service.library.db import connect
from service.library.schema import migrate as migrate_library
from service.library.search import IndexedPractice, PracticeIndex, SearchFilters

SAMPLES = REPO_ROOT / "corpus" / "samples"
QUERIES = REPO_ROOT / "corpus" / "queries" / "queries.jsonl"

# A sentence ends after 。！？； and any closing quotes or brackets that follow it.
_SENTENCE_END = re.compile(r"(?:(?<=[。！？；!?;])(?![”’」』）)\"'])|(?<=[。！？；!?;][”’」』）)\"']))")


@dataclass
class Entry:
    """One searchable unit before it is stored: a clause or a mined practice."""

    text: str
    span: tuple[int, int]
    section: list[str]
    name: str | None = None
    orgs: list[str] | None = None
    topic: str = "其他"
    kind: str = "practice"
    keywords: list[str] | None = None
    tags: list[str] | None = None
    mentions: list[str] | None = None
    confidence: float = 0.5


def eval_files() -> list[Path]:
    """Every labelled sample document: the queries' and the groups' documents, with the others as distractors."""
    from service.mining.evaluate import load_labelled

    return [d.path for d in load_labelled()]


def clause_entries(doc: Document, min_chars: int = 8) -> list[Entry]:
    """One entry per sentence of every paragraph (very short sentences join the next one)."""
    out: list[Entry] = []
    for path, para in doc.iter_paragraphs():
        start = para.span[0]
        pending_start: int | None = None
        pos = 0
        for piece in _SENTENCE_END.split(para.text):
            if not piece:
                continue
            s, e = pos, pos + len(piece)
            pos = e
            if pending_start is None:
                pending_start = s
            if len(piece.strip()) < min_chars and e < len(para.text):
                continue
            text = para.text[pending_start:e]
            if text.strip():
                out.append(Entry(text=text, span=(start + pending_start, start + e), section=list(path)))
            pending_start = None
    return out


def practice_entries(doc: Document) -> list[Entry]:
    """The mined practices of ``doc`` (requires the mining component)."""
    from service.mining import extract

    return [
        Entry(
            text=p.text,
            span=tuple(p.span),
            section=list(p.section),
            name=p.name,
            orgs=list(p.orgs),
            topic=p.topic,
            kind=p.kind,
            keywords=list(p.keywords),
            tags=list(p.tags),
            mentions=list(p.mentions),
            confidence=p.confidence,
        )
        for p in extract(doc)
    ]


def store_document(conn: sqlite3.Connection, doc: Document, filename: str, entries: list[Entry]) -> list[IndexedPractice]:
    """Write a document and its entries into the library tables; return them as IndexedPractice."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    year = int(doc.date[:4]) if doc.date and doc.date[:4].isdigit() else None
    sha = doc.source.sha256 if doc.source else filename
    cur = conn.execute(
        "INSERT INTO documents(sha256, filename, format, size, title, kind, org, date, year, text, created_at)"
        " VALUES (?, ?, 'txt', ?, ?, ?, ?, ?, ?, ?, ?)",
        (sha, filename, len(doc.text.encode()), doc.title, doc.kind, doc.org, doc.date, year, doc.text, now),
    )
    document_id = int(cur.lastrowid)
    items: list[IndexedPractice] = []
    for ordinal, e in enumerate(entries):
        orgs = e.orgs or []
        cur = conn.execute(
            "INSERT INTO practices(document_id, ordinal, text, name, topic, kind, orgs_json, mentions_json,"
            " keywords_json, section_json, span_start, span_end, confidence, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document_id, ordinal, e.text, e.name, e.topic, e.kind, json.dumps(orgs, ensure_ascii=False),
                json.dumps(e.mentions or [], ensure_ascii=False), json.dumps(e.keywords or [], ensure_ascii=False),
                json.dumps(e.section, ensure_ascii=False), e.span[0], e.span[1], e.confidence, now,
            ),
        )
        pid = int(cur.lastrowid)
        conn.executemany("INSERT OR IGNORE INTO practice_orgs(practice_id, org) VALUES (?, ?)", [(pid, o) for o in orgs])
        conn.executemany(
            "INSERT OR IGNORE INTO practice_tags(practice_id, tag) VALUES (?, ?)", [(pid, t) for t in e.tags or []]
        )
        items.append(
            IndexedPractice(
                id=pid, document_id=document_id, text=e.text, name=e.name, orgs=orgs, topic=e.topic,
                tags=list(e.tags or []), kind=e.kind, section=e.section, keywords=list(e.keywords or []),
                doc_title=doc.title, doc_kind=doc.kind, year=year,
            )
        )
    return items


class VectorCache:
    """Passage vectors by embedded text, kept in an ``.npz`` file so re-indexing for an experiment skips the model."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            data = np.load(path, allow_pickle=False)
            self.vectors = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def embed(self, index: PracticeIndex, items: list[IndexedPractice]) -> np.ndarray | None:
        from service.library.search import embedding_text

        if index.embedder is None or not items:
            return None
        texts = [embedding_text(it) for it in items]
        missing = [i for i, t in enumerate(texts) if t not in self.vectors]
        if missing:
            fresh = index.embed([items[i] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                self.vectors[texts[i]] = v
        return np.vstack([self.vectors[t] for t in texts])

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        texts = list(self.vectors)
        np.savez(self.path, texts=np.array(texts), vectors=np.vstack([self.vectors[t] for t in texts]))


def build_library(
    db_path: Path,
    index: PracticeIndex,
    files: Iterable[Path],
    mode: str = "clauses",
    cache: Path | None = None,
    also: Iterable[tuple[PracticeIndex, Any]] = (),
) -> dict[str, Any]:
    """Parse ``files``, store their clauses or practices and index them; returns timing figures.

    ``cache`` names an ``.npz`` file of passage vectors reused across runs (the model is the slow part).
    ``also`` gives more ``(index, connection)`` pairs that index the same practices and vectors (the
    PostgreSQL index, compared side by side with SQLite's).
    """
    also = list(also)
    vector_cache = VectorCache(cache)
    conn = connect(db_path)
    migrate_library(conn)
    index.migrate(conn)
    t_embed = 0.0
    n = 0
    t0 = time.perf_counter()
    for path in files:
        doc = parse_file(path)
        entries = practice_entries(doc) if mode == "practices" else clause_entries(doc)
        conn.execute("BEGIN IMMEDIATE")
        items = store_document(conn, doc, path.name, entries)
        conn.execute("COMMIT")
        t1 = time.perf_counter()
        vectors = vector_cache.embed(index, items)
        t_embed += time.perf_counter() - t1
        conn.execute("BEGIN IMMEDIATE")
        index.add(conn, items, vectors)
        conn.execute("COMMIT")
        for other, other_conn in also:
            with other_conn.transaction():
                other.add(other_conn, items, vectors)
        n += len(items)
    conn.close()
    vector_cache.save()
    return {"entries": n, "seconds": time.perf_counter() - t0, "embed_seconds": t_embed}


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    """The labelled queries, one JSON object a line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(
    conn: sqlite3.Connection, index: PracticeIndex, queries: list[dict[str, Any]], k: int = 10, index_conn: Any = None
) -> dict:
    """recall@k and MRR per (type, split) and overall, plus the per-query first relevant rank.

    ``index_conn`` is the index's own connection when it is not the library's (PostgreSQL).
    """
    filenames = {r[0]: r[1] for r in conn.execute("SELECT id, filename FROM documents")}
    per_query = []
    for q in queries:
        page = index.search(conn if index_conn is None else index_conn, q["query"], SearchFilters(), limit=k)
        ids = [h.practice_id for h in page.hits]
        rows = {
            r[0]: (filenames[r[1]], r[2])
            for r in conn.execute(
                "SELECT id, document_id, text FROM practices WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        }
        found = []
        for rel in q["relevant"]:
            rank = next(
                (i + 1 for i, pid in enumerate(ids) if rows[pid][0] == rel["file"] and rel["phrase"] in rows[pid][1]),
                None,
            )
            found.append(rank)
        hits = sum(r is not None for r in found)
        first = min((r for r in found if r is not None), default=None)
        per_query.append(
            {"query": q["query"], "type": q["type"], "split": q["split"], "recall": hits / len(found),
             "rr": 1.0 / first if first else 0.0, "first": first}
        )
    summary: dict[str, dict[str, float]] = {}
    for key in ["all", *sorted({f"{p['type']}/{p['split']}" for p in per_query}),
                *sorted({p["type"] for p in per_query})]:
        sel = [p for p in per_query if key == "all" or key in (p["type"], f"{p['type']}/{p['split']}")]
        summary[key] = {
            "n": len(sel),
            "recall@10": float(np.mean([p["recall"] for p in sel])) if sel else 0.0,
            "mrr": float(np.mean([p["rr"] for p in sel])) if sel else 0.0,
        }
    return {"summary": summary, "queries": per_query}


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """A small table: one row per type/split."""
    lines = [f"{'类型/划分':<22}{'n':>4}{'recall@10':>11}{'MRR':>8}"]
    for key, s in summary.items():
        lines.append(f"{key:<24}{s['n']:>4}{s['recall@10']:>11.3f}{s['mrr']:>8.3f}")
    return "\n".join(lines)


def format_comparison(sqlite: dict[str, dict[str, float]], postgresql: dict[str, dict[str, float]]) -> str:
    """The two backends side by side, one row per type/split, with PostgreSQL's difference."""
    lines = [f"{'类型/划分':<22}{'n':>4}{'SQLite R@10':>13}{'MRR':>7}{'PostgreSQL R@10':>17}{'MRR':>7}{'ΔR@10':>8}{'ΔMRR':>8}"]
    for key, a in sqlite.items():
        b = postgresql.get(key, {"recall@10": 0.0, "mrr": 0.0})
        lines.append(
            f"{key:<24}{a['n']:>4}{a['recall@10']:>13.3f}{a['mrr']:>7.3f}{b['recall@10']:>17.3f}{b['mrr']:>7.3f}"
            f"{b['recall@10'] - a['recall@10']:>+8.3f}{b['mrr'] - a['mrr']:>+8.3f}"
        )
    return "\n".join(lines)


# Each step of the ranking, measured alone and combined (same library, same queries).
ABLATIONS: list[tuple[str, dict[str, Any]]] = [
    ("BM25 词（jieba 搜索模式，仅正文）", {"grams": 0, "vectors": 0, "expand": False, "context_weight": 0.0}),
    ("BM25 词 + 上下文列", {"grams": 0, "vectors": 0, "expand": False}),
    ("BM25 字二元组", {"words": 0, "vectors": 0, "expand": False}),
    ("e5 向量", {"words": 0, "grams": 0, "expand": False}),
    ("RRF 词 + 向量", {"grams": 0, "expand": False, "coverage_power": 0}),
    ("RRF 词 + 字二元组", {"vectors": 0, "expand": False, "coverage_power": 0}),
    ("RRF 词 + 字二元组 + 向量", {"expand": False, "coverage_power": 0}),
    ("+ 同义词扩展", {"coverage_power": 0}),
    ("+ 覆盖度加权（默认）", {}),
    ("默认，但不用字二元组", {"grams": 0}),
]


def run_ablations(conn: sqlite3.Connection, embedder: Any, queries: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """Evaluate every ablation configuration; returns (name, summary) pairs."""
    from service.library.search import RankerWeights

    out = []
    shared: PracticeIndex | None = None
    for name, overrides in ABLATIONS:
        if embedder is None and overrides.get("vectors", 1) != 0 and overrides.get("words", 1) == 0:
            continue
        index = PracticeIndex(embedder, weights=RankerWeights(**overrides))
        if shared is not None:  # the same query vectors serve every configuration
            index._query_cache = shared._query_cache
        shared = shared or index
        out.append((name, evaluate(conn, index, queries)["summary"]))
    return out


def format_ablations(rows: list[tuple[str, dict]]) -> str:
    """One line per configuration: recall@10 / MRR for lexical and paraphrase queries, dev and held-out."""
    keys = ["lexical/dev", "lexical/heldout", "paraphrase/dev", "paraphrase/heldout", "all"]
    head = f"{'配置':<28}" + "".join(f"{k:>22}" for k in keys)
    lines = [head, " " * 28 + "".join(f"{'R@10':>14}{'MRR':>8}" for _ in keys)]
    for name, summary in rows:
        cells = "".join(
            f"{summary.get(k, {}).get('recall@10', 0):>14.3f}{summary.get(k, {}).get('mrr', 0):>8.3f}" for k in keys
        )
        lines.append(f"{name:<28}{cells}")
    return "\n".join(lines)


GROUPS = REPO_ROOT / "corpus" / "queries" / "groups.jsonl"


def labelled_members(conn: sqlite3.Connection, path: Path = GROUPS, split: str | None = None) -> dict[int, str]:
    """Practice id → gold group label, for every labelled member (of ``split``) found in the library."""
    rows = conn.execute("SELECT p.id, d.filename, p.text FROM practices p JOIN documents d ON d.id = p.document_id")
    rows = rows.fetchall()
    gold: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        group = json.loads(line)
        if split is not None and group.get("split") != split:
            continue
        for m in group["members"]:
            for pid, filename, text in rows:
                if filename == m["file"] and m["phrase"] in text:
                    gold[pid] = group["label"]
                    break
    return gold


def pair_scores(gold: dict[int, str], predicted: dict[int, int]) -> dict[str, float]:
    """Pairwise precision / recall / F1 of a clustering over the labelled practices."""
    ids = sorted(i for i in gold if i in predicted)
    tp = fp = fn = 0
    for a_i, a in enumerate(ids):
        for b in ids[a_i + 1 :]:
            same_gold = gold[a] == gold[b]
            same_pred = predicted[a] == predicted[b]
            tp += same_gold and same_pred
            fp += same_pred and not same_gold
            fn += same_gold and not same_pred
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def evaluate_grouping(
    conn: sqlite3.Connection, thresholds: list[float], keyword_weights: list[float], split: str | None = None
) -> list[dict[str, float]]:
    """Cluster the whole library at each setting (``rebuild``'s algorithm, nothing written) and score it
    on the labelled groups of ``split``."""
    from service.library.groups import PracticeGrouper, _sources, _vectors, _words

    gold = labelled_members(conn, split=split)
    ids = [r[0] for r in conn.execute("SELECT practice_id FROM practice_vectors ORDER BY practice_id")]
    vectors = _vectors(conn, ids)
    words = _words(conn, ids)
    sources = _sources(conn, ids)
    matrix = np.vstack([vectors[i] for i in ids])
    out = []
    for kw in keyword_weights:
        for th in thresholds:
            labels = PracticeGrouper(threshold=th, keyword_weight=kw).cluster(
                matrix, [words.get(i, set()) for i in ids], [sources.get(i) for i in ids]
            )
            predicted = dict(zip(ids, labels.tolist(), strict=True))
            sizes = np.bincount(labels)
            out.append({"threshold": th, "keyword_weight": kw, **pair_scores(gold, predicted),
                        "groups": int(len(sizes)), "multi": int((sizes > 1).sum())})
    return out


def evaluate_incremental(
    conn_path: Path, threshold: float, keyword_weight: float, split: str | None = None
) -> dict[str, float]:
    """Score ``assign`` as ingestion uses it: documents arrive one by one into an empty grouping."""
    from service.library.groups import PracticeGrouper

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite"
        src = connect(conn_path)
        src.execute("VACUUM INTO ?", (str(copy),))
        src.close()
        conn = connect(copy)
        conn.execute("UPDATE practices SET group_id = NULL")
        conn.execute("DELETE FROM practice_groups")
        grouper = PracticeGrouper(threshold=threshold, keyword_weight=keyword_weight)
        for (doc,) in conn.execute("SELECT id FROM documents ORDER BY id").fetchall():
            ids = [r[0] for r in conn.execute("SELECT id FROM practices WHERE document_id = ? ORDER BY id", (doc,))]
            grouper.assign(conn, ids)
        predicted = {r[0]: r[1] for r in conn.execute("SELECT id, group_id FROM practices")}
        scores = pair_scores(labelled_members(conn, split=split), predicted)
        conn.close()
    return scores


FLOOR_GRID = [
    {"floor": False},
    *({"floor_margin": m, "floor_cosine": a, "floor_vector_max": k}
      for m in (0.02, 0.03, 0.04) for a in (0.84, 0.86) for k in (10, 20, 40)),
    *({"floor_coverage": c, "floor_context": x} for c in (0.6, 0.7, 0.8) for x in (1.0, 0.5, 0.0)),
]


def evaluate_floor(conn: sqlite3.Connection, embedder: Any, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each relevance-floor setting: results kept per query, and the share of relevant practices kept
    anywhere in the list (the floor must not drop answers), per split."""
    from service.library.search import RankerWeights

    filenames = {r[0]: r[1] for r in conn.execute("SELECT id, filename FROM documents")}
    texts = {r[0]: (filenames[r[1]], r[2]) for r in conn.execute("SELECT id, document_id, text FROM practices")}
    shared: PracticeIndex | None = None
    out = []
    for setting in FLOOR_GRID:
        index = PracticeIndex(embedder, weights=RankerWeights(**setting))
        if shared is not None:
            index._query_cache = shared._query_cache
        shared = shared or index
        row: dict[str, Any] = {"setting": setting}
        for split in sorted({q["split"] for q in queries}):
            counts, kept = [], []
            for q in (q for q in queries if q["split"] == split):
                page = index.search(conn, q["query"], SearchFilters(), limit=1000)
                ids = [h.practice_id for h in page.hits]
                counts.append(page.total)
                for rel in q["relevant"]:
                    kept.append(any(texts[p][0] == rel["file"] and rel["phrase"] in texts[p][1] for p in ids))
            row[split] = {"results": float(np.mean(counts)), "kept": float(np.mean(kept))}
        out.append(row)
    return out
