"""Practice search on PostgreSQL, answering like the SQLite index of :mod:`service.library.search`.

The query plan, synonym expansion, reciprocal rank fusion, the trust weighting of the lexical rankers
and the relevance floor are :class:`PracticeIndex`'s own; this class answers its storage questions
from PostgreSQL instead of FTS5 and the in-memory matrix:

* ``words`` and ``grams`` are ``tsvector``s written directly from the same jieba words and character
  bigrams (:mod:`service.library.tokenize`, same dictionary), never re-parsed by a text search
  configuration, so a lexeme is exactly the token FTS5 indexes. Body positions carry weight ``A``,
  context positions ``B``: FTS5's column weights (1.0 and ``context_weight``).
* BM25 is FTS5's (k1 1.2, b 0.75, the same idf with its floor, document length over every column),
  computed over candidates that the RUM index (GIN when rum does not load) returns per query term:
  every practice holding a rare term, the ``candidates`` best by term frequency for a common one.
* Document frequencies, row and token counts are kept in ``search_terms`` and ``search_totals``
  as practices are added and removed (fts5vocab's job).
* Vectors are ``halfvec(384)`` under an HNSW index (cosine); a filtered search lets pgvector's
  iterative scan walk on until enough practices pass the filter.

The index keeps its own copy of the fields it filters and counts facets on (topic, kind, units,
tags, year, document kind) in ``search_practices``: the library's tables are SQLite-only today,
and one table serves ranking, filters, facets and browsing without a join.

Example::

    conn = connect_pg("postgresql://127.0.0.1/jingyan")
    index = PgPracticeIndex(load_encoder())
    index.migrate(conn)
    with conn.transaction():
        index.add(conn, items, index.embed(items))
    page = index.search(conn, "学习制度", SearchFilters(topic="思想建设"))
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from service.library import tokenize
from service.library.search import (
    FACETS,
    Hit,
    IndexedPractice,
    PracticeIndex,
    SearchFilters,
    SearchPage,
    _top_ids,
    add_facet_rows,
    context_text,
    floor_bits,
    gram_text,
)

COMPONENT = "search"
DIMENSIONS = 384  # e5-small
BM25_K1 = 1.2  # FTS5's constants
BM25_B = 0.75

_WORDS, _GRAMS = "practice_words", "practice_grams"  # the SQLite table names the shared ranking code uses


def connect_pg(url: str) -> psycopg.Connection:
    """A connection in autocommit mode (a search is one statement at a time; writers open a transaction)."""
    return psycopg.connect(url, autocommit=True)


def _create_tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    method = "gin"
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        method = "rum"
    except psycopg.Error:
        pass  # rum is optional: GIN answers the same candidates, without a term-frequency order
    ops = "rum_tsvector_ops" if method == "rum" else "tsvector_ops"
    conn.execute(f"""
        CREATE TABLE search_state (
            key   text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE search_practices (
            practice_id   bigint PRIMARY KEY,
            document_id   bigint NOT NULL,
            text          text NOT NULL,
            topic         text,
            kind          text,
            year          integer,
            doc_kind      text,
            orgs          text[] NOT NULL DEFAULT '{{}}',
            tags          text[] NOT NULL DEFAULT '{{}}',
            words_body    text NOT NULL,          -- jieba words of the text, space-separated
            words_context text NOT NULL,          -- and of its name, units, headings, title, keywords, tags
            words         tsvector NOT NULL,      -- both: body positions weight A, context B
            words_tf      jsonb NOT NULL,         -- term → [count in body, count in context], read by BM25
            words_length  integer NOT NULL,
            grams         tsvector NOT NULL,      -- character bigrams of name and text
            grams_tf      jsonb NOT NULL,
            grams_length  integer NOT NULL,
            vector        halfvec({DIMENSIONS})
        );
        -- ranking reads the term counts of a thousand candidates a query: they stay in the row, and what only
        -- the page, the floor or a recheck reads is moved out first when a row outgrows a page quarter
        ALTER TABLE search_practices
            ALTER COLUMN words_tf SET STORAGE MAIN, ALTER COLUMN grams_tf SET STORAGE MAIN,
            ALTER COLUMN text SET STORAGE EXTERNAL, ALTER COLUMN words_body SET STORAGE EXTERNAL,
            ALTER COLUMN words_context SET STORAGE EXTERNAL, ALTER COLUMN words SET STORAGE EXTERNAL,
            ALTER COLUMN grams SET STORAGE EXTERNAL;
        CREATE INDEX search_practices_words ON search_practices USING {method} (words {ops});
        CREATE INDEX search_practices_grams ON search_practices USING {method} (grams {ops});
        CREATE INDEX search_practices_vector ON search_practices USING hnsw (vector halfvec_cosine_ops);
        CREATE INDEX search_practices_document ON search_practices (document_id);
        CREATE INDEX search_practices_topic ON search_practices (topic);
        CREATE INDEX search_practices_year ON search_practices (year);
        CREATE INDEX search_practices_orgs ON search_practices USING gin (orgs);
        CREATE INDEX search_practices_tags ON search_practices USING gin (tags);
        CREATE TABLE search_terms (
            field char(1) NOT NULL,               -- w: words, g: grams
            term  text NOT NULL,
            df    integer NOT NULL,
            PRIMARY KEY (field, term)
        );
        CREATE TABLE search_totals (
            field  char(1) PRIMARY KEY,
            rows   bigint NOT NULL,
            tokens bigint NOT NULL
        );
        INSERT INTO search_totals VALUES ('w', 0, 0), ('g', 0, 0);
    """)
    conn.execute("INSERT INTO search_state VALUES ('lexical_index', %s), ('generation', '')", (method,))


MIGRATIONS: list[Callable[[psycopg.Connection], None]] = [_create_tables]


def apply_pg_migrations(conn: psycopg.Connection, component: str, steps: list[Callable[[psycopg.Connection], None]]) -> int:
    """Run the steps of ``component`` not yet applied, all in one transaction; returns its version.

    An advisory lock keeps two processes starting at once from migrating twice.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('jingyan schema_migrations'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component text PRIMARY KEY, version integer NOT NULL)"
        )
        row = conn.execute("SELECT version FROM schema_migrations WHERE component = %s", (component,)).fetchone()
        version = row[0] if row else 0
        for number, step in enumerate(steps[version:], start=version + 1):
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations(component, version) VALUES (%s, %s) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, number),
            )
            version = number
    return version


def tsvector_literal(body: list[str], context: list[str] = ()) -> str:  # type: ignore[assignment]
    """A ``tsvector`` of exactly these tokens: body positions weighted ``A``, context positions ``B``.

    Positions past 16383 share the last one, as PostgreSQL stores them; term frequency is what BM25 reads.
    """
    positions: dict[str, list[str]] = {}
    for i, token in enumerate(body, start=1):
        positions.setdefault(token, []).append(f"{min(i, 16383)}A")
    for i, token in enumerate(context, start=len(body) + 1):
        positions.setdefault(token, []).append(f"{min(i, 16383)}B")
    return " ".join(
        "'" + token.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(dict.fromkeys(pos))
        for token, pos in positions.items()
    )


def term_frequencies(body: list[str], context: list[str] = ()) -> dict[str, list[int]]:  # type: ignore[assignment]
    """Each token's count in the body and in the context: BM25 weighs the two columns at query time."""
    counts: dict[str, list[int]] = {}
    for column, tokens in enumerate((body, context)):
        for token in tokens:
            counts.setdefault(token, [0, 0])[column] += 1
    return counts


class PgPracticeIndex(PracticeIndex):
    """:class:`PracticeIndex` over PostgreSQL (same public methods; ``conn`` is a psycopg connection)."""

    def __init__(self, *args: Any, candidates: int = 1000, ef_search: int = 400, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = candidates  # per query term, taken from the text index before BM25
        self.ef_search = ef_search
        self._methods: dict[str, str] = {}

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        """Create or upgrade the search tables (idempotent)."""
        apply_pg_migrations(conn, COMPONENT, MIGRATIONS)

    # -- writing ------------------------------------------------------------------------------

    def add(self, conn: psycopg.Connection, items: list[IndexedPractice], vectors: np.ndarray | None) -> None:  # type: ignore[override]
        """Index ``items`` inside the caller's transaction (re-adding an id replaces it)."""
        if not items:
            return
        if vectors is not None and len(vectors) != len(items):
            raise ValueError(f"{len(items)} practices but {len(vectors)} vectors")
        ids = [it.id for it in items]
        self._forget(conn, "practice_id = ANY(%s)", (ids,))
        rows = []
        for i, it in enumerate(items):
            body = tokenize.words(it.text)
            context = tokenize.words(context_text(it))
            grams = tokenize.bigrams(gram_text(it))
            vector = None if vectors is None else np.asarray(vectors[i], dtype=np.float32).tolist()
            rows.append((
                it.id, it.document_id, it.text, it.topic, it.kind, it.year, it.doc_kind, list(it.orgs),
                list(it.tags), " ".join(body), " ".join(context), tsvector_literal(body, context),
                Jsonb(term_frequencies(body, context)), len(body) + len(context), tsvector_literal(grams),
                Jsonb(term_frequencies(grams)), len(grams), None if vector is None else str(vector),
            ))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO search_practices(practice_id, document_id, text, topic, kind, year, doc_kind, orgs, tags,"
                " words_body, words_context, words, words_tf, words_length, grams, grams_tf, grams_length, vector)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::tsvector, %s, %s, %s::tsvector, %s, %s,"
                " %s::halfvec)",
                rows,
            )
        self._count(conn, "practice_id = ANY(%s)", (ids,), +1)

    def remove_document(self, conn: psycopg.Connection, document_id: int) -> None:  # type: ignore[override]
        """Drop every practice of a document from the index (inside the caller's transaction)."""
        self._forget(conn, "document_id = %s", (document_id,))

    def set_tags(self, conn: psycopg.Connection, practice_id: int, tags: list[str]) -> None:
        """Follow a practice's tags after indexing (the tag filter and facets read this copy).

        As on SQLite, the context words keep the tags the practice had when it was indexed.
        """
        conn.execute("UPDATE search_practices SET tags = %s WHERE practice_id = %s", (list(tags), practice_id))

    def _forget(self, conn: psycopg.Connection, where: str, params: tuple) -> None:
        self._count(conn, where, params, -1)
        conn.execute(f"DELETE FROM search_practices WHERE {where}", params)

    def _count(self, conn: psycopg.Connection, where: str, params: tuple, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) the term and token counts of the matching rows.

        Terms are updated in sorted order, so concurrent writers lock them in the same order.
        """
        for field, column, length in (("w", "words", "words_length"), ("g", "grams", "grams_length")):
            gone = conn.execute(
                "INSERT INTO search_terms(field, term, df) "
                f"SELECT %s, t.term, %s * count(*) FROM search_practices, unnest(tsvector_to_array({column})) t(term) "
                f"WHERE {where} GROUP BY t.term ORDER BY t.term "
                "ON CONFLICT (field, term) DO UPDATE SET df = search_terms.df + excluded.df RETURNING term, df",
                (field, sign, *params),
            ).fetchall()
            if sign < 0:
                conn.execute(
                    "DELETE FROM search_terms WHERE field = %s AND term = ANY(%s) AND df <= 0",
                    (field, [term for term, df in gone if df <= 0]),
                )
            conn.execute(
                "UPDATE search_totals t SET rows = t.rows + %s * s.n, tokens = t.tokens + %s * s.tokens "
                f"FROM (SELECT count(*) AS n, coalesce(sum({length}), 0) AS tokens FROM search_practices WHERE {where}) s "
                "WHERE field = %s",
                (sign, sign, *params, field),
            )
        conn.execute("UPDATE search_state SET value = %s WHERE key = 'generation'", (secrets.token_hex(8),))

    # -- storage answers for the shared ranking code ---------------------------------------------

    def _generation(self, conn: psycopg.Connection) -> tuple[str, str]:  # type: ignore[override]
        row = conn.execute("SELECT value FROM search_state WHERE key = 'generation'").fetchone()
        return _database(conn), row[0] if row else ""

    def _size(self, conn: psycopg.Connection) -> int:  # type: ignore[override]
        return int(conn.execute("SELECT rows FROM search_totals WHERE field = 'w'").fetchone()[0])

    def _filter(self, filters: SearchFilters) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, column in (("topic", "topic"), ("kind", "kind"), ("document_id", "document_id"),
                             ("year", "year"), ("doc_kind", "doc_kind")):
            value = getattr(filters, name)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        for name, column in (("org", "orgs"), ("tag", "tags")):
            value = getattr(filters, name)
            if value is not None:
                clauses.append(f"{column} @> ARRAY[%s]::text[]")
                params.append(value)
        return (" AND ".join(clauses) or "TRUE"), params

    def _start_vectors(self, conn: psycopg.Connection, text: str, filters: SearchFilters) -> Future[Any]:  # type: ignore[override]
        # only the encoding runs on the encoder thread: the connection serves one thread at a time
        return self._encoder.submit(self.query_vector, text)

    def _vector_ranking(  # type: ignore[override]
        self, conn: psycopg.Connection, query_vec: np.ndarray, where: str, params: list[Any]
    ) -> tuple[list[int], set[int]]:
        """The ``depth`` nearest practices within the filters, best first, and those whose meaning alone
        answers the query: among the ``floor_vector_max`` nearest of the whole library, within
        ``floor_margin`` of the best and above ``floor_cosine``."""
        w = self.weights
        q = str(np.asarray(query_vec, dtype=np.float32).tolist())
        self._hnsw_settings(conn, max(self.ef_search, w.depth))
        # relaxed order: the scan may return a few rows out of order, so they are sorted again
        sql = (
            "WITH near AS MATERIALIZED (SELECT practice_id, vector <=> %s::halfvec AS d FROM search_practices "
            "WHERE vector IS NOT NULL AND {where} ORDER BY vector <=> %s::halfvec LIMIT %s) "
            "SELECT practice_id, d FROM near ORDER BY d, practice_id"
        )
        unfiltered = where == "TRUE"
        depth = max(w.depth, w.floor_vector_max) if unfiltered else w.depth
        rows = conn.execute(sql.format(where=where), [q, *params, q, depth]).fetchall()
        ranking = [r[0] for r in rows][: w.depth]
        if not w.floor:
            return ranking, set()
        if unfiltered:
            near = rows[: w.floor_vector_max]
        else:
            near = conn.execute(sql.format(where="TRUE"), [q, q, w.floor_vector_max]).fetchall()
        cosines = [(pid, 1.0 - float(d)) for pid, d in near]
        bar = max(w.floor_cosine, cosines[0][1] - w.floor_margin) if cosines else 1.0
        return ranking, {pid for pid, c in cosines if c >= bar}

    def _document_frequencies(self, conn: psycopg.Connection, table: str, terms: list[str]) -> dict[str, int]:  # type: ignore[override]
        rows = conn.execute(
            "SELECT term, df FROM search_terms WHERE field = %s AND term = ANY(%s)", (_field(table), terms)
        )
        return {term: int(df) for term, df in rows}

    def _indexed_texts(self, conn: psycopg.Connection, table: str, ids: list[int]) -> list[str]:  # type: ignore[override]
        column = "words" if table == _WORDS else "grams"
        rows = conn.execute(
            f"SELECT array_to_string(tsvector_to_array({column}), ' ') FROM search_practices WHERE practice_id = ANY(%s)",
            (ids,),
        )
        return [r[0] for r in rows]

    def _floor_bits(  # type: ignore[override]
        self, conn: psycopg.Connection, ids: list[int], terms: list[str], triggers: list[tuple[int, list[str]]]
    ) -> list[tuple[int, int]]:
        rows = conn.execute(
            "SELECT practice_id, words_body, words_context FROM search_practices WHERE practice_id = ANY(%s)", (ids,)
        )
        return [(pid, floor_bits(body, context, terms, triggers)) for pid, body, context in rows]

    def _texts_of(self, conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:  # type: ignore[override]
        if not ids:
            return {}
        rows = conn.execute("SELECT practice_id, text FROM search_practices WHERE practice_id = ANY(%s)", (ids,))
        return {pid: text for pid, text in rows}

    def _facets_of(self, conn: psycopg.Connection, ids: list[int]) -> dict[str, dict[str, int]]:  # type: ignore[override]
        if not ids:
            return {name: {} for name in FACETS}
        return self._facet_counts(conn, "practice_id = ANY(%s)", [ids])

    def _facet_counts(self, conn: psycopg.Connection, where: str, params: list[Any]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        rows = conn.execute(
            f"SELECT topic, kind, year, doc_kind, count(*) FROM search_practices WHERE {where} GROUP BY 1, 2, 3, 4",
            params,
        )
        add_facet_rows(counts, rows)
        rows = conn.execute(
            f"SELECT o.org, count(*) FROM search_practices, unnest(orgs) o(org) WHERE {where} GROUP BY o.org", params
        )
        counts["org"] = {org: int(n) for org, n in rows}
        return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items()}

    def _fts(  # type: ignore[override]
        self,
        conn: psycopg.Connection,
        table: str,
        terms: list[str],
        where: str,
        params: list[Any],
        weights: tuple[float, ...],
    ) -> list[int]:
        """FTS5's BM25 ranking of the practices holding any of ``terms``, over candidates from the text index."""
        terms = [t for t in dict.fromkeys(t.strip() for t in terms) if t]
        if not terms:
            return []
        field = _field(table)
        column = "words" if field == "w" else "grams"
        n, tokens = conn.execute("SELECT rows, tokens FROM search_totals WHERE field = %s", (field,)).fetchone()
        if not n:
            return []
        df = self._stats(conn, table, terms, int(n)).df
        terms = [t for t in terms if df.get(t, 0) > 0]
        if not terms:
            return []
        # FTS5: idf = log((N - n + 0.5) / (n + 0.5)), never below 1e-6
        idf = [max(math.log((n - df[t] + 0.5) / (df[t] + 0.5)), 1e-6) for t in terms]
        ordered = self._lexical_index(conn) == "rum"
        # candidates, per term: every practice holding a rare term; for a common one, RUM hands back the
        # ``candidates`` practices where it is most frequent without reading the rest. Each hit brings its
        # term's count (one jsonb lookup per hit, not one per candidate and query term).
        parts: list[str] = []
        args: list[Any] = []
        common: list[str] = []
        for t in terms:
            query = _tsquery(t)
            select = (f"SELECT practice_id, %s::text AS term, {column}_tf -> %s AS tf, {column}_length AS len, "
                      f"{{doc}} AS doc FROM search_practices WHERE {column} @@ %s::tsquery AND {where}")
            if df[t] <= self.candidates:
                parts.append(f"({select})")
                args += [t, t, query, *params]
            else:
                common.append(t)
                order = f" ORDER BY {column} <=> %s::tsquery" if ordered else ""
                parts.append(f"({select}{order} LIMIT %s)")
                args += [t, t, query, *params, *([query] if ordered else []), self.candidates]
        # a candidate found through another term still counts the common terms it holds
        doc = f"{column}_tf" if common else "NULL::jsonb"
        pairs = "SELECT practice_id, term, tf, len FROM hit"
        if common:
            pairs += (
                " UNION SELECT c.practice_id, t.term, c.doc -> t.term, c.len FROM "
                "(SELECT DISTINCT ON (practice_id) practice_id, doc, len FROM hit) c "
                "CROSS JOIN unnest(%s::text[]) t(term) WHERE c.doc ? t.term"
            )
        body, context = weights[0], weights[1] if len(weights) > 1 else 0.0
        avgdl = max(float(tokens) / float(n), 1e-9)
        rows = conn.execute(
            f"WITH hit AS ({' UNION ALL '.join(parts).format(doc=doc)}), pair AS ({pairs}) "
            "SELECT p.practice_id, sum(q.idf * x.f * %s / (x.f + %s * (1 - %s + %s * p.len / %s))) AS score "
            "FROM pair p JOIN unnest(%s::text[], %s::float8[]) q(term, idf) ON q.term = p.term "
            "CROSS JOIN LATERAL (SELECT coalesce((p.tf ->> 0)::float8, 0) * %s"
            " + coalesce((p.tf ->> 1)::float8, 0) * %s AS f) x "
            "GROUP BY p.practice_id ORDER BY score DESC, p.practice_id LIMIT %s",
            [*args, *([common] if common else []), BM25_K1 + 1, BM25_K1, BM25_B, BM25_B, avgdl, terms, idf,
             body, context, self.weights.depth],
        )
        return [r[0] for r in rows]

    def _lexical_index(self, conn: psycopg.Connection) -> str:
        """``rum`` or ``gin``: chosen by the migration, so read once per database."""
        key = _database(conn)
        method = self._methods.get(key)
        if method is None:
            row = conn.execute("SELECT value FROM search_state WHERE key = 'lexical_index'").fetchone()
            method = self._methods[key] = row[0] if row else "gin"
        return method

    @staticmethod
    def _hnsw_settings(conn: psycopg.Connection, ef_search: int) -> None:
        # relaxed order: a filtered scan walks on until enough rows pass (its few out-of-order rows are re-sorted)
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, false), set_config('hnsw.iterative_scan', 'relaxed_order', false)",
            (str(int(ef_search)),),
        )

    # -- reading without a query ---------------------------------------------------------------

    def _browse(self, conn: psycopg.Connection, filters: SearchFilters, limit: int, offset: int) -> SearchPage:  # type: ignore[override]
        """Newest documents first, a document's practices in their order (ids grow with it)."""
        where, params = self._filter(filters)
        total = conn.execute(f"SELECT count(*) FROM search_practices WHERE {where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT practice_id FROM search_practices WHERE {where} "
            "ORDER BY document_id DESC, practice_id ASC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        hits = [Hit(r[0], 0.0, []) for r in rows]
        return SearchPage(hits=hits, total=int(total), facets=self._facet_counts(conn, where, params))

    def similar(  # type: ignore[override]
        self, conn: psycopg.Connection, practice_id: int, limit: int = 10, other_documents: bool = True
    ) -> list[Hit]:
        """Practices most like ``practice_id`` by embedding (ties broken by shared bigrams), other documents by default."""
        row = conn.execute(
            "SELECT document_id, text, vector FROM search_practices WHERE practice_id = %s", (practice_id,)
        ).fetchone()
        if row is None:
            return []
        document_id, text, vector = row
        where = "practice_id <> %s" + (" AND document_id <> %s" if other_documents else "")
        params: list[Any] = [practice_id, document_id] if other_documents else [practice_id]
        words = set(tokenize.words(text))
        if vector is None:
            ids = self._fts(conn, _WORDS, list(words), where, params, (1.0, self.weights.context_weight))[:limit]
            texts = self._texts_of(conn, ids)
            return [
                Hit(pid, 1.0 / (rank + 1), sorted(words & set(tokenize.words(texts.get(pid, ""))), key=len, reverse=True)[:8])
                for rank, pid in enumerate(ids)
            ]
        self._hnsw_settings(conn, self.ef_search)
        rows = conn.execute(
            "SELECT practice_id, 1 - (vector <=> %s::halfvec), text FROM search_practices "
            f"WHERE vector IS NOT NULL AND {where} ORDER BY vector <=> %s::halfvec LIMIT %s",
            [vector, *params, vector, max(limit * 4, 20)],
        ).fetchall()
        if not rows:
            return []
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        mine = set(tokenize.bigrams(text))
        scores = np.array(
            [float(c) + 0.05 * len(mine & set(tokenize.bigrams(t))) / max(1, len(mine | set(tokenize.bigrams(t))))
             for _, c, t in rows]
        )
        top, top_scores = _top_ids(ids, scores, limit)
        texts = {r[0]: r[2] for r in rows}
        return [
            Hit(pid, score, sorted(words & set(tokenize.words(texts[pid])), key=len, reverse=True)[:8])
            for pid, score in zip(top, top_scores, strict=True)
        ]


def _database(conn: psycopg.Connection) -> str:
    return f"pg:{conn.info.host}:{conn.info.port}/{conn.info.dbname}"


def _field(table: str) -> str:
    return "w" if table == _WORDS else "g"


def _tsquery(term: str) -> str:
    """A one-lexeme tsquery literal (quoted, so user input is never syntax)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"
