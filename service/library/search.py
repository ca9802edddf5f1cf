"""Hybrid practice search: BM25 over jieba words and character bigrams, e5 vectors, fused by rank.

Three rankers look at every query:

* ``words``   — FTS5 BM25 over jieba search-mode tokens of the practice text plus its context
  (name, units, section headings, document title, keywords, tags);
* ``grams``   — FTS5 BM25 over character bigrams of the practice text and name (a paraphrase
  such as 老同志发挥余热 shares characters with its target long before it shares words);
* ``vectors`` — cosine similarity of e5 embeddings, brute force over an in-memory matrix.

Their ranked lists are merged by weighted reciprocal rank fusion. Filters restrict every ranker
before ranking, so a filtered search ranks only what the filter lets through.

Example::

    index = PracticeIndex(load_encoder())
    index.migrate(conn)
    vectors = index.embed(items)                 # slow: outside the write transaction
    conn.execute("BEGIN IMMEDIATE"); index.add(conn, items, vectors); conn.execute("COMMIT")
    page = index.search(conn, "学习制度", SearchFilters(topic="思想建设"))
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from service.library import tokenize
from service.library.db import apply_migrations
from service.library.synonyms import SynonymTable
from service.library.vectors import VectorMatrix, VectorStore, _db_key, _read_generation
from service.mining.practice import passage_text

if TYPE_CHECKING:
    from service.mining.embed import Embedder
    from service.mining.onnx_embed import OnnxEmbedder

COMPONENT = "search"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE search_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE practice_words USING fts5(
        body, context, document_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE VIRTUAL TABLE practice_grams USING fts5(
        body, document_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE TABLE practice_vectors (
        practice_id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL,
        vector      BLOB NOT NULL
    );
    CREATE INDEX practice_vectors_document ON practice_vectors(document_id);
    CREATE TABLE practice_groups (
        id         INTEGER PRIMARY KEY,
        label      TEXT NOT NULL DEFAULT '',
        size       INTEGER NOT NULL DEFAULT 0,
        vector_sum BLOB,                       -- sum of the members' vectors; direction = centroid
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX practice_groups_size ON practice_groups(size DESC);
    CREATE VIRTUAL TABLE practice_words_vocab USING fts5vocab(practice_words, 'row');
    """,
    """
    CREATE VIRTUAL TABLE practice_grams_vocab USING fts5vocab(practice_grams, 'row');
    """,
]


def migrate_schema(conn: sqlite3.Connection) -> int:
    """Create or upgrade every table of the search component (index, vectors, groups)."""
    return apply_migrations(conn, COMPONENT, MIGRATIONS)


@dataclass
class IndexedPractice:
    """What the library hands to the index for each stored practice."""

    id: int
    document_id: int
    text: str
    name: str | None
    orgs: list[str]
    topic: str
    tags: list[str]
    kind: str
    section: list[str]
    keywords: list[str]
    doc_title: str
    doc_kind: str
    year: int | None


@dataclass
class SearchFilters:
    """Restrictions applied before ranking; ``None`` means "any"."""

    topic: str | None = None
    org: str | None = None
    kind: str | None = None
    year: int | None = None
    doc_kind: str | None = None
    tag: str | None = None
    document_id: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass
class Hit:
    """One result: the practice, its fused score and the terms to highlight in its text."""

    practice_id: int
    score: float
    highlights: list[str]


@dataclass
class SearchPage:
    """A page of hits, the number of matches and facet counts over all filtered matches."""

    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]


@dataclass
class RankerWeights:
    """Weights of the three rankers in reciprocal rank fusion, and how deep each one looks."""

    words: float = 1.0
    grams: float = 1.0
    vectors: float = 1.0
    rrf_k: float = 60.0
    depth: int = 200
    context_weight: float = 0.5  # BM25 weight of the context column against the practice text
    expand: bool = True  # synonym expansion: a fourth ranker over the query words plus their expansions
    expansion: float = 0.7
    expand_vector_query: bool = False
    whole_expansions: bool = True  # look expansions up as whole terms, not their pieces
    coverage_power: float = 2.0  # lexical rankers weighted by (query IDF share of their best hits) ** this; 0 = off
    coverage_depth: int = 3
    max_df: float = 0.05  # in libraries past 40k practices, terms in more than this share are not looked up  # also append the expansions to the text the model embeds
    use_grams: bool = True
    # Relevance floor: a hit answers the query when its words and context hold ``floor_coverage`` of the
    # query's IDF mass (a synonym standing for its trigger's words), or it is among the ``floor_vector_max``
    # nearest of the library, within ``floor_margin`` of the best and above ``floor_cosine``.
    # Calibrated on the dev queries (``jingyan eval-search --mode practices --floor``).
    floor: bool = True
    floor_coverage: float = 0.7
    floor_context: float = 0.5  # what a query word found only in the hit's context (title, headings) counts
    floor_margin: float = 0.03
    floor_cosine: float = 0.84
    floor_vector_max: int = 20


FACETS = ("topic", "org", "year", "kind", "doc_kind")
_BITS = 60  # term tests packed into one SQLite integer by the relevance floor


def _one_torch_thread() -> None:
    """Encode queries on one core, leaving the other to SQLite; torch keeps this setting per thread.

    One short query gains little from a second thread, and two threads fighting the lexical
    rankers for two cores doubled the p95 latency in ``bench.search``. Only the torch encoder needs
    this (the ONNX one always runs a query on one thread), so torch is never imported for it.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


class PracticeIndex:
    """The search component's index over the library's practices (see LIBRARY_CONTRACT)."""

    def __init__(
        self,
        embedder: Embedder | OnnxEmbedder | None,
        weights: RankerWeights | None = None,
        synonyms: SynonymTable | None = None,
        query_cache_size: int = 1024,
        verdict_cache_size: int = 128,
    ) -> None:
        self.embedder = embedder
        self.weights = weights or RankerWeights()
        self.synonyms = synonyms if synonyms is not None else SynonymTable.load()
        tokenize.add_words(self.synonyms.terms())
        self.vectors = VectorStore()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self._df_cache: dict[tuple[str, str], int] = {}
        self._df_generation: tuple[str, str] | None = None
        self._browse_cache: dict[tuple, tuple[int, dict[str, dict[str, int]]]] = {}
        self._verdicts: OrderedDict[tuple, dict[int, bool]] = OrderedDict()
        self._verdict_cache_size = verdict_cache_size
        # The query is embedded while the lexical rankers run: torch and SQLite both release the GIL.
        self._encoder = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="query-encoder", initializer=_one_torch_thread
        )

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, conn: sqlite3.Connection) -> None:
        """Create or upgrade the search tables (idempotent)."""
        migrate_schema(conn)

    # -- writing ------------------------------------------------------------------------------

    def embed(self, items: list[IndexedPractice]) -> np.ndarray | None:
        """Passage embeddings of ``items`` (slow: call outside the write transaction); None without a model."""
        if self.embedder is None or not items:
            return None
        return self.embedder.encode([embedding_text(it) for it in items], query=False)

    def add(self, conn: sqlite3.Connection, items: list[IndexedPractice], vectors: np.ndarray | None) -> None:
        """Index ``items`` inside the caller's open transaction (re-adding an id replaces it)."""
        if not items:
            return
        ids = [it.id for it in items]
        conn.executemany("DELETE FROM practice_words WHERE rowid = ?", [(i,) for i in ids])
        conn.executemany("DELETE FROM practice_grams WHERE rowid = ?", [(i,) for i in ids])
        conn.executemany(
            "INSERT INTO practice_words(rowid, body, context, document_id) VALUES (?, ?, ?, ?)",
            [
                (it.id, " ".join(tokenize.words(it.text)), " ".join(tokenize.words(context_text(it))), it.document_id)
                for it in items
            ],
        )
        conn.executemany(
            "INSERT INTO practice_grams(rowid, body, document_id) VALUES (?, ?, ?)",
            [(it.id, " ".join(tokenize.bigrams(gram_text(it))), it.document_id) for it in items],
        )
        if vectors is not None:
            if len(vectors) != len(items):
                raise ValueError(f"{len(items)} practices but {len(vectors)} vectors")
            self.vectors.add(conn, ids, [it.document_id for it in items], vectors)

    def remove_document(self, conn: sqlite3.Connection, document_id: int) -> None:
        """Drop every practice of a document from the index (inside the caller's transaction)."""
        conn.execute("DELETE FROM practice_words WHERE document_id = ?", (document_id,))
        conn.execute("DELETE FROM practice_grams WHERE document_id = ?", (document_id,))
        self.vectors.remove_document(conn, document_id)

    # -- reading ------------------------------------------------------------------------------

    def search(
        self, conn: sqlite3.Connection, q: str, filters: SearchFilters | None = None, limit: int = 10, offset: int = 0
    ) -> SearchPage:
        """Ranked practices for ``q`` within ``filters``; ``q == ""`` browses newest first."""
        filters = filters or SearchFilters()
        q = (q or "").strip()
        if not q:
            return self._browse(conn, filters, limit, offset)
        plan = self.plan(q)
        if not plan.words and not plan.grams:
            # Only punctuation or function words (``*``, ``"``, 的): nothing to look for.
            return SearchPage(hits=[], total=0, facets={name: {} for name in FACETS})
        ranked = self._rank(conn, plan, filters)
        ids = [pid for pid, _ in ranked]
        page = ranked[offset : offset + limit]
        texts = self._texts_of(conn, [pid for pid, _ in page])
        hits = [Hit(pid, score, highlight_terms(plan.highlight_terms, texts.get(pid, ""))) for pid, score in page]
        return SearchPage(hits=hits, total=len(ids), facets=self._facets_of(conn, ids))

    def plan(self, q: str) -> QueryPlan:
        """Terms each ranker will use for ``q`` (the query's words, its bigrams and synonym expansions)."""
        expansions = self.synonyms.expand(q) if self.weights.expand else []
        words = tokenize.words(q)
        expanded_words: list[str] = []
        for phrase in expansions:
            # The whole expansion only when the segmenter keeps it whole (dictionary terms are
            # added at start-up); its pieces (党员 from 离退休党员) would match everything.
            pieces = [phrase.lower()] if self.weights.whole_expansions else [phrase.lower(), *tokenize.words(phrase)]
            for w in pieces:
                if w not in words and w not in expanded_words and w not in tokenize.STOPWORDS:
                    expanded_words.append(w)
        grams = tokenize.bigrams(q)
        highlight = [w for w in dict.fromkeys([*words, *expansions]) if len(w) > 1 or len(words) == 1]
        return QueryPlan(q, words, expanded_words, grams, expansions, highlight)

    def _rank(self, conn: sqlite3.Connection, plan: QueryPlan, filters: SearchFilters) -> list[tuple[int, float]]:
        """Fuse the rankers' lists into one ``[(practice_id, score)]`` best first."""
        w = self.weights
        where, params = self._filter(filters)
        n = self._size(conn)
        lists: list[tuple[float, list[int]]] = []
        pending: Future[Any] | None = None
        if self.embedder is not None and w.vectors > 0:
            text = plan.query
            if w.expand_vector_query and plan.expansions:
                text = f"{plan.query} {' '.join(plan.expansions)}"
            pending = self._start_vectors(conn, text, filters)
        bm25_weights = (1.0, w.context_weight)
        if plan.words and w.words > 0:
            stats = self._stats(conn, "practice_words", plan.words, n)
            ranking = self._fts(conn, "practice_words", stats.searchable(w.max_df), where, params, bm25_weights)
            lists.append((w.words * self._trust(conn, stats, ranking), ranking))
        if plan.expanded_words and w.expansion > 0:
            stats = self._stats(conn, "practice_words", plan.words + plan.expanded_words, n)
            ranking = self._fts(conn, "practice_words", stats.searchable(w.max_df), where, params, bm25_weights)
            lists.append((w.expansion, ranking))
        if w.use_grams and plan.grams and w.grams > 0:
            stats = self._stats(conn, "practice_grams", plan.grams, n)
            ranking = self._fts(conn, "practice_grams", stats.searchable(w.max_df), where, params, (1.0,))
            lists.append((w.grams * self._trust(conn, stats, ranking), ranking))
        vouched: set[int] = set()
        if pending is not None:
            if w.floor and not pending.done():
                # While the query is still being encoded, test the lexical hits against the floor: every one
                # of them is in the fused list, and the verdicts are memoised, so the test after fusion only
                # looks at hits that the vectors alone brought.
                self._answers(conn, plan, list(dict.fromkeys(pid for _, ranking in lists for pid in ranking)), set(), n)
            vector_ids, vouched = self._vector_ranking(conn, pending.result(), where, params)
            lists.append((w.vectors, vector_ids))
        ranked = fuse(lists, w.rrf_k)
        if not w.floor:
            return ranked
        answers = self._answers(conn, plan, [pid for pid, _ in ranked], vouched, n)
        return [(pid, score) for pid, score in ranked if pid in answers]

    def _answers(self, conn: sqlite3.Connection, plan: QueryPlan, ids: list[int], vouched: set[int], n: int) -> set[int]:
        """The hits that answer the query (see ``RankerWeights.floor``): fused rankings reach every practice
        that shares one common word or sits anywhere in the vector space, and a count of those means nothing.

        Every test is a property of the hit alone (its words, its rank among all practices by meaning), so
        a filtered search answers with exactly the unfiltered answers that pass the filter."""
        keep = {pid for pid in ids if pid in vouched}
        idf = self._stats(conn, "practice_words", plan.words, n).idf() if plan.words else {}
        total = sum(idf.values())
        rest = [pid for pid in ids if pid not in keep]
        if not rest or not total:
            return keep
        # A hit's verdict holds until the index changes: repeated and paged queries, and the same
        # query under another filter, test only hits not seen before.
        w = self.weights
        key = (*self._generation(conn), n, plan.query, w.expand, w.floor_coverage, w.floor_context)
        with self._cache_lock:
            verdicts = self._verdicts.get(key)
            if verdicts is None:
                verdicts = self._verdicts[key] = {}
                while len(self._verdicts) > self._verdict_cache_size:
                    self._verdicts.popitem(last=False)
            else:
                self._verdicts.move_to_end(key)
            known = {pid: verdicts[pid] for pid in rest if pid in verdicts}
        keep.update(pid for pid, verdict in known.items() if verdict)
        rest = [pid for pid in rest if pid not in known]
        if not rest:
            return keep
        terms = list(idf)
        # a synonym in the hit stands for the query words of its trigger (精文减会 covers 减负): a hit
        # holding any of a trigger's expansions as a whole indexed word has that trigger's query words
        triggers: list[tuple[int, list[str]]] = []
        for trigger, more in self.synonyms.expansions.items() if w.expand else ():
            if trigger not in plan.query:
                continue
            stands_for = set(tokenize.words(trigger)) | {trigger.lower()}
            mask = sum(1 << i for i, term in enumerate(terms) if term in stands_for)
            # an indexed word never holds a space, so such an expansion can never be one
            words = [e for e in {e.lower() for e in more} if e and not any(c.isspace() for c in e)]
            if mask and words:
                triggers.append((mask, words))
        rows = self._floor_bits(conn, rest, terms, triggers)
        width = len(terms) + len(triggers)
        word_bits = (1 << len(terms)) - 1

        def words_held(bits: int) -> int:
            have = bits & word_bits
            for j, (mask, _) in enumerate(triggers):
                if bits >> (len(terms) + j) & 1:
                    have |= mask
            return have

        def mass(have: int) -> float:
            return sum(v for i, v in enumerate(idf.values()) if have >> i & 1)

        passes: dict[tuple[int, int], bool] = {}
        found_verdicts: dict[int, bool] = {}
        for pid, found in rows:
            own = words_held(found & ((1 << width) - 1))
            around = words_held(found >> width) & ~own
            verdict = passes.get((own, around))
            if verdict is None:
                share = (mass(own) + w.floor_context * mass(around)) / total
                verdict = passes[(own, around)] = share >= w.floor_coverage
            found_verdicts[pid] = verdict
        with self._cache_lock:
            verdicts.update(found_verdicts)
        keep.update(pid for pid, verdict in found_verdicts.items() if verdict)
        return keep

    def _stats(self, conn: sqlite3.Connection, table: str, terms: list[str], n: int) -> _TermStats:
        """Document frequencies of ``terms``, memoised until the index changes.

        fts5vocab counts documents by walking a term's posting list, which costs milliseconds for
        common terms in a large library; the counts only move when practices are added or removed.
        """
        generation = self._generation(conn)
        with self._cache_lock:
            if self._df_generation != generation:
                self._df_cache.clear()
                self._df_generation = generation
            missing = [t for t in dict.fromkeys(terms) if (table, t) not in self._df_cache]
        if missing:
            found = self._document_frequencies(conn, table, missing)
            with self._cache_lock:
                if len(self._df_cache) > 50_000:
                    self._df_cache.clear()
                for t in missing:
                    self._df_cache[(table, t)] = found.get(t, 0)
        with self._cache_lock:
            df = {t: self._df_cache.get((table, t), 0) for t in terms}
        return _TermStats(table, terms, n, df)

    def _trust(self, conn: sqlite3.Connection, stats: _TermStats, ranking: list[int]) -> float:
        """How far to trust a lexical ranker for this query: the share of the query's IDF mass its best hits hold.

        A query whose words all occur in a practice (吹哨报到) gets full weight; a paraphrase whose
        best lexical match shares only generic words (党组织 for 工地上建党组织) leaves the ranking
        mostly to the vectors instead of letting two correlated lexical lists outvote them.
        """
        if self.weights.coverage_power <= 0 or not ranking:
            return 1.0 if ranking else 0.0
        idf = stats.idf()
        total = sum(idf.values()) or 1.0
        best = 0.0
        for body in self._indexed_texts(conn, stats.table, ranking[: self.weights.coverage_depth]):
            have = set(body.split())
            best = max(best, sum(v for t, v in idf.items() if t in have) / total)
        return best**self.weights.coverage_power

    # -- storage: what a backend answers (SQLite here; service.library.pg_search for PostgreSQL) --------

    def _generation(self, conn: sqlite3.Connection) -> tuple[str, str]:
        """The database and its index generation: memoised statistics and verdicts hold while it stays."""
        return _db_key(conn), _read_generation(conn)

    def _size(self, conn: sqlite3.Connection) -> int:
        """How many practices the index holds (BM25's N)."""
        return conn.execute("SELECT COUNT(*) FROM practice_vectors").fetchone()[0] or _count_practices(conn)

    def _filter(self, filters: SearchFilters) -> tuple[str, list[Any]]:
        """The filters as SQL of this backend and its parameters."""
        return _filter_sql(filters)

    def _start_vectors(self, conn: sqlite3.Connection, text: str, filters: SearchFilters) -> Future[Any]:
        """Start encoding (and here, scoring) the query on the encoder thread; see :meth:`_vector_ranking`."""
        return self._encoder.submit(self._vector_scores, self.vectors.matrix(conn), text, filters.is_empty())

    def _document_frequencies(self, conn: sqlite3.Connection, table: str, terms: list[str]) -> dict[str, int]:
        """How many practices hold each of ``terms`` in ``table`` (absent terms may be left out)."""
        return {
            r[0]: int(r[1])
            for r in conn.execute(
                f"SELECT v.term, v.doc FROM json_each(?) j CROSS JOIN {table}_vocab v ON v.term = j.value",
                (json.dumps(terms, ensure_ascii=False),),
            )
        }

    def _indexed_texts(self, conn: sqlite3.Connection, table: str, ids: list[int]) -> list[str]:
        """The indexed terms of ``ids`` in ``table``, space-separated (words with their context)."""
        columns = "body || ' ' || context" if table == "practice_words" else "body"
        return [
            r[0]
            for r in conn.execute(
                f"SELECT {columns} FROM {table} WHERE rowid IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
            )
        ]

    def _floor_bits(
        self, conn: sqlite3.Connection, ids: list[int], terms: list[str], triggers: list[tuple[int, list[str]]]
    ) -> list[tuple[int, int]]:
        """Each hit's floor tests as one integer, bit for bit as :func:`floor_bits` computes them."""
        # SQLite tests every hit for every term in one pass and returns one bit per query word found
        # in its text (报到 inside 吹哨报到 counts, whatever pieces the segmenter emitted when it was
        # indexed) and one per trigger whose expansion is one of its words: first in the practice's
        # own words (b), then in those and its context (s); Python sums the IDF shares.
        tests: list[str] = []
        args: list[Any] = []
        for col in ("b", "s"):
            tests += [f"instr({col}, ?) > 0" for _ in terms]
            args += terms
            for _, more in triggers:
                tests.append("(" + " OR ".join(f"instr({col}, ?) > 0" for _ in more) + ")")
                args += [f" {e} " for e in more]
        # SQLite integers hold 64 bits: one column per 60 tests
        columns = [
            " | ".join(f"(({test}) << {i})" for i, test in enumerate(tests[start : start + _BITS]))
            for start in range(0, len(tests), _BITS)
        ]
        # MATERIALIZED: each hit's text is joined once, not once per test
        rows = conn.execute(
            "WITH hit(id, b, s) AS MATERIALIZED (SELECT id, ' ' || c0 || ' ', ' ' || c0 || ' ' || c1 || ' ' "
            f"FROM practice_words_content WHERE id IN (SELECT value FROM json_each(?))) SELECT id, {', '.join(columns)} FROM hit",
            [json.dumps(ids), *args],
        )
        return [(pid, sum(part << (_BITS * k) for k, part in enumerate(parts))) for pid, *parts in rows]

    def _texts_of(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
        return _texts(conn, ids)

    def _facets_of(self, conn: sqlite3.Connection, ids: list[int]) -> dict[str, dict[str, int]]:
        return _facets_for_ids(conn, ids)

    def _fts(
        self,
        conn: sqlite3.Connection,
        table: str,
        terms: list[str],
        where: str,
        params: list[Any],
        weights: tuple[float, ...],
    ) -> list[int]:
        match = tokenize.fts_query(terms)
        if not match:
            return []
        bm25 = f"bm25({table}, {', '.join(str(float(x)) for x in weights)})"
        if where == "1":
            # No filter: let FTS5 rank on its own (no per-match join), the common case.
            sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY {bm25} LIMIT ?"
            return [r[0] for r in conn.execute(sql, [match, self.weights.depth])]
        sql = (
            f"SELECT f.rowid FROM {table} f JOIN practices p ON p.id = f.rowid "
            f"JOIN documents d ON d.id = p.document_id "
            f"WHERE {table} MATCH ? AND {where} ORDER BY {bm25} LIMIT ?"
        )
        return [r[0] for r in conn.execute(sql, [match, *params, self.weights.depth])]

    def query_vector(self, q: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache (repeated and paged queries skip the model)."""
        with self._cache_lock:
            cached = self._query_cache.get(q)
            if cached is not None:
                self._query_cache.move_to_end(q)
                return cached
        assert self.embedder is not None
        vec = np.asarray(self.embedder.encode([q], query=True), dtype=np.float32)[0]
        with self._cache_lock:
            self._query_cache[q] = vec
            while len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vec

    def _vector_scores(self, vm: VectorMatrix, text: str, unfiltered: bool) -> _VectorScores:
        """Encode the query and score it against every practice; run on the encoder thread while the
        lexical rankers query SQLite, since both the model and the matrix product release the GIL.

        Also finds the practices whose meaning alone answers the query: among the ``floor_vector_max``
        nearest of the whole library, within ``floor_margin`` of the best and above ``floor_cosine``
        (e5 cosines crowd together). Without a filter the ranking is the library's ``depth`` nearest,
        whose head is those ``floor_vector_max``."""
        w = self.weights
        query_vec = self.query_vector(text)
        if not len(vm):
            return _VectorScores(vm, None, [], set())
        scores = vm.matrix @ query_vec
        ranking: list[int] = []
        near: list[int] = []
        near_scores: list[float] = []
        if unfiltered:
            ranking, ranked_scores = _top_ids(vm.ids, scores, max(w.depth, w.floor_vector_max))
            near, near_scores = ranking[: w.floor_vector_max], ranked_scores[: w.floor_vector_max]
            ranking = ranking[: w.depth]
        elif w.floor:
            near, near_scores = _top_ids(vm.ids, scores, w.floor_vector_max)
        vouched: set[int] = set()
        if w.floor:
            bar = max(w.floor_cosine, near_scores[0] - w.floor_margin) if near_scores else 1.0
            vouched = {pid for pid, c in zip(near, near_scores, strict=True) if c >= bar}
        return _VectorScores(vm, None if unfiltered else scores, ranking, vouched)

    def _vector_ranking(
        self, conn: sqlite3.Connection, scored: _VectorScores, where: str, params: list[Any]
    ) -> tuple[list[int], set[int]]:
        """The ``depth`` nearest practices within the filters, best first, and the practices whose meaning
        alone answers the query (see :meth:`_vector_scores`)."""
        if scored.scores is None:
            return scored.ranking, scored.vouched
        allowed = _filtered_ids(conn, where, params)
        scores = np.where(np.isin(scored.matrix.ids, allowed), scored.scores, -np.inf)
        ids, _ = _top_ids(scored.matrix.ids, scores, self.weights.depth)
        return ids, scored.vouched

    def similar(
        self, conn: sqlite3.Connection, practice_id: int, limit: int = 10, other_documents: bool = True
    ) -> list[Hit]:
        """Practices most like ``practice_id`` by embedding (ties broken by shared bigrams), other documents by default."""
        row = conn.execute("SELECT document_id, text FROM practices WHERE id = ?", (practice_id,)).fetchone()
        if row is None:
            return []
        document_id, text = row[0], row[1]
        vm = self.vectors.matrix(conn)
        vec = vm.row(practice_id)
        if vec is None:
            return self._similar_lexical(conn, practice_id, document_id, text, limit, other_documents)
        scores = vm.matrix @ vec
        scores = np.where(vm.ids == practice_id, -np.inf, scores)
        if other_documents:
            scores = np.where(vm.doc_ids == document_id, -np.inf, scores)
        pool, _ = _top_ids(vm.ids, scores, max(limit * 4, 20))
        if not pool:
            return []
        by_id = dict(zip(vm.ids.tolist(), scores.tolist(), strict=True))
        texts = _texts(conn, pool)
        mine = set(tokenize.bigrams(text))
        words = set(tokenize.words(text))
        ranked = []
        for pid in pool:
            if pid not in texts:
                continue
            theirs = set(tokenize.bigrams(texts[pid]))
            overlap = len(mine & theirs) / max(1, len(mine | theirs))
            ranked.append((pid, by_id[pid] + 0.05 * overlap))
        ranked.sort(key=lambda kv: (-kv[1], kv[0]))
        return [
            Hit(pid, float(score), sorted(words & set(tokenize.words(texts[pid])), key=len, reverse=True)[:8])
            for pid, score in ranked[:limit]
        ]

    def _similar_lexical(
        self, conn: sqlite3.Connection, practice_id: int, document_id: int, text: str, limit: int, other_documents: bool
    ) -> list[Hit]:
        terms = tokenize.words(text)
        where = "p.id != ?" + (" AND p.document_id != ?" if other_documents else "")
        params: list[Any] = [practice_id, document_id] if other_documents else [practice_id]
        ids = self._fts(conn, "practice_words", terms, where, params, weights=(1.0, self.weights.context_weight))
        texts = _texts(conn, ids[:limit])
        words = set(terms)
        return [
            Hit(pid, 1.0 / (rank + 1), sorted(words & set(tokenize.words(texts.get(pid, ""))), key=len, reverse=True)[:8])
            for rank, pid in enumerate(ids[:limit])
        ]

    def _browse(self, conn: sqlite3.Connection, filters: SearchFilters, limit: int, offset: int) -> SearchPage:
        where, params = _filter_sql(filters)
        total, facets = self._browse_counts(conn, where, params)
        rows = conn.execute(
            f"SELECT p.id FROM {_source(where)} WHERE {where} "
            "ORDER BY p.created_at DESC, p.document_id DESC, p.ordinal ASC, p.id ASC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        hits = [Hit(r[0], 0.0, []) for r in rows]
        return SearchPage(hits=hits, total=total, facets=facets)

    def _browse_counts(
        self, conn: sqlite3.Connection, where: str, params: list[Any]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facets of a browse, memoised until anything in the database changes.

        Counting every practice of a 100k library takes a fraction of a second, and browsing pages
        through the same filter repeatedly. ``data_version`` moves when another connection commits
        and ``total_changes`` when this one writes, so a cached answer is never stale.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        key = (_db_key(conn), id(conn), version, conn.total_changes, where, json.dumps(params, ensure_ascii=False))
        with self._cache_lock:
            hit = self._browse_cache.get(key)
        if hit is not None:
            return hit
        total = conn.execute(f"SELECT COUNT(*) FROM {_source(where)} WHERE {where}", params).fetchone()[0]
        value = (total, _facets_where(conn, where, params))
        with self._cache_lock:
            if len(self._browse_cache) > 256:
                self._browse_cache.clear()
            self._browse_cache[key] = value
        return value


@dataclass
class _VectorScores:
    """The query's cosine to every row of one matrix snapshot, or, without a filter, just its ranking."""

    matrix: VectorMatrix
    scores: np.ndarray | None
    ranking: list[int]
    vouched: set[int]


@dataclass
class QueryPlan:
    """How a query is looked up: its words, synonym expansions, bigrams and the terms to highlight."""

    query: str
    words: list[str]
    expanded_words: list[str]
    grams: list[str]
    expansions: list[str] = field(default_factory=list)
    highlight_terms: list[str] = field(default_factory=list)


class _TermStats:
    """Document frequencies of a query's terms in one FTS table (from its fts5vocab twin)."""

    def __init__(self, table: str, terms: list[str], n: int, df: dict[str, int]) -> None:
        self.table = table
        self.terms = list(dict.fromkeys(terms))
        self.n = max(n, 1)
        self.df = df

    def idf(self) -> dict[str, float]:
        """BM25's idf of every query term (a term found nowhere weighs the most)."""
        return {t: math.log(1 + (self.n - self.df.get(t, 0) + 0.5) / (self.df.get(t, 0) + 0.5)) for t in self.terms}

    def searchable(self, max_df: float) -> list[str]:
        """Terms worth an FTS lookup: absent terms cost nothing, and in a large library a term in more than
        ``max_df`` of all practices (党员, 工作) adds almost no BM25 signal but makes FTS score tens of
        thousands of rows — drop it while rarer terms remain."""
        present = [t for t in self.terms if self.df.get(t, 0) > 0]
        limit = max(max_df * self.n, 2000)
        rare = [t for t in present if self.df[t] <= limit]
        return rare or sorted(present, key=lambda t: self.df[t])[:2]


def fuse(lists: list[tuple[float, list[int]]], rrf_k: float) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of ``(weight, ranking)`` lists into ``[(practice_id, score)]``, best first."""
    scores: dict[int, float] = {}
    for weight, ranking in lists:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + weight / (rrf_k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def floor_bits(body: str, context: str, terms: list[str], triggers: list[tuple[int, list[str]]]) -> int:
    """The relevance floor's tests on one hit's indexed words (``body``) and context, one bit each.

    Bit ``i`` for query word ``terms[i]`` found in the body's text (报到 inside 吹哨报到 counts), then one
    per trigger one of whose expansions is a whole body word; then the same tests over body and context.
    """
    found = 0
    bit = 0
    for text in (f" {body} ", f" {body} {context} "):
        for term in terms:
            found |= (term in text) << bit
            bit += 1
        for _, more in triggers:
            found |= any(f" {e} " in text for e in more) << bit
            bit += 1
    return found


def _count_practices(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM practices").fetchone()[0]


def embedding_text(item: IndexedPractice) -> str:
    """The passage the model embeds (:func:`passage_text`: name and units in front of the text)."""
    return passage_text(item.name, item.orgs, item.text)


def context_text(item: IndexedPractice) -> str:
    """Everything around the practice that a searcher may name: practice name, units, headings, title, keywords."""
    return " ".join([item.name or "", *item.orgs, *item.section, item.doc_title, *item.keywords, *item.tags])


def gram_text(item: IndexedPractice) -> str:
    """The text whose bigrams are indexed: the practice's own words and its name."""
    return f"{item.name or ''} {item.text}"


def highlight_terms(terms: list[str], text: str) -> list[str]:
    """The query terms (after expansion) found in ``text``, longest first, without terms inside longer ones."""
    found = sorted({t for t in terms if t and t in text}, key=len, reverse=True)
    out: list[str] = []
    for t in found:
        if not any(t in longer for longer in out):
            out.append(t)
    return out


def _top_ids(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[list[int], list[float]]:
    """Ids of the ``k`` best finite scores and those scores, best first."""
    finite = np.isfinite(scores)
    n = int(finite.sum())
    if n == 0:
        return [], []
    k = min(k, n)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.argsort(-scores[part], kind="stable")]
    part = [i for i in part if np.isfinite(scores[i])]
    return [int(ids[i]) for i in part], [float(scores[i]) for i in part]


def _filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL over ``practices p JOIN documents d`` for the filters (``1`` when none)."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.topic is not None:
        clauses.append("p.topic = ?")
        params.append(filters.topic)
    if filters.kind is not None:
        clauses.append("p.kind = ?")
        params.append(filters.kind)
    if filters.document_id is not None:
        clauses.append("p.document_id = ?")
        params.append(filters.document_id)
    if filters.year is not None:
        clauses.append("d.year = ?")
        params.append(filters.year)
    if filters.doc_kind is not None:
        clauses.append("d.kind = ?")
        params.append(filters.doc_kind)
    if filters.org is not None:
        clauses.append("p.id IN (SELECT practice_id FROM practice_orgs WHERE org = ?)")
        params.append(filters.org)
    if filters.tag is not None:
        clauses.append("p.id IN (SELECT practice_id FROM practice_tags WHERE tag = ? AND removed = 0)")
        params.append(filters.tag)
    return (" AND ".join(clauses) or "1"), params


def _filtered_ids(conn: sqlite3.Connection, where: str, params: list[Any]) -> np.ndarray:
    rows = conn.execute(
        f"SELECT p.id FROM practices p JOIN documents d ON d.id = p.document_id WHERE {where}", params
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _texts(conn: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT p.id, p.text FROM json_each(?) j CROSS JOIN practices p ON p.id = j.value", (json.dumps(ids),)
    )
    return {r[0]: r[1] for r in rows}


def _source(where: str) -> str:
    """The FROM clause for filtered scans: documents first when a document field filters.

    Without table statistics SQLite tends to scan every practice and look its document up, even
    when a year filter would pick a few documents first; CROSS JOIN fixes the loop order.
    """
    if "d.year" in where or "d.kind" in where:
        return "documents d CROSS JOIN practices p ON p.document_id = d.id"
    return "practices p JOIN documents d ON d.id = p.document_id"


def add_facet_rows(counts: dict[str, dict[str, int]], rows: Iterable[tuple[Any, ...]]) -> None:
    """Add ``(topic, kind, year, doc_kind, count)`` rows, as both backends' grouped scans give them, to ``counts``."""
    for topic, kind, year, doc_kind, n in rows:
        for name, value in (("topic", topic), ("kind", kind), ("year", year), ("doc_kind", doc_kind)):
            if value is not None:
                key = str(value)
                counts[name][key] = counts[name].get(key, 0) + n


def _facets_where(conn: sqlite3.Connection, where: str, params: list[Any]) -> dict[str, dict[str, int]]:
    """Facet counts over every practice the filter SQL admits: one grouped scan plus one for units."""
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    source = _source(where)
    rows = conn.execute(
        f"SELECT p.topic, p.kind, d.year, d.kind, COUNT(*) FROM {source} WHERE {where} GROUP BY 1, 2, 3, 4",
        params,
    )
    add_facet_rows(counts, rows)
    org_rows = conn.execute(
        f"SELECT o.org, COUNT(*) FROM {source} {'CROSS ' if 'CROSS' in source else ''}JOIN practice_orgs o ON o.practice_id = p.id "
        f"WHERE {where} GROUP BY o.org",
        params,
    )
    counts["org"] = {org: int(n) for org, n in org_rows}
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items()}


def _facets_for_ids(conn: sqlite3.Connection, ids: list[int]) -> dict[str, dict[str, int]]:
    """Facet counts over the given practices (a search's full match list, not just the page), in one pass."""
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    if not ids:
        return counts
    arg = (json.dumps(ids),)
    rows = conn.execute(
        "SELECT p.topic, p.kind, d.year, d.kind FROM json_each(?) j CROSS JOIN practices p ON p.id = j.value "
        "CROSS JOIN documents d ON d.id = p.document_id",
        arg,
    )
    for topic, kind, year, doc_kind in rows:
        for name, value in (("topic", topic), ("kind", kind), ("year", year), ("doc_kind", doc_kind)):
            if value is not None:
                key = str(value)
                counts[name][key] = counts[name].get(key, 0) + 1
    for (org,) in conn.execute(
        "SELECT o.org FROM json_each(?) j CROSS JOIN practice_orgs o ON o.practice_id = j.value", arg
    ):
        counts["org"][org] = counts["org"].get(org, 0) + 1
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items()}
