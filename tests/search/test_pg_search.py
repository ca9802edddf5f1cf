"""The same library searched on PostgreSQL answers as it does on SQLite.

Runs against the real server at 127.0.0.1:5432 (or JINGYAN_PG_ADMIN_URL) in a database created for
the session and dropped after it; without PostgreSQL these tests fail, they are never skipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from service.library.pg_db import scratch_database
from service.library.pg_search import PgPracticeIndex, connect_pg
from service.library.search import PracticeIndex, SearchFilters
from tests.search.conftest import SEED, BuiltLibrary, document_id, hit_files, practice_id

QUERIES = ["学习制度", "工地上建党组织", "机关干部下沉社区", "吹哨报到", "老同志发挥余热", "党组织", "学习教育"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with scratch_database("jingyan_test") as url:
        yield url


@pytest.fixture
def pg(pg_url: str, built_library: BuiltLibrary, embedder) -> Iterator[tuple[psycopg.Connection, PgPracticeIndex]]:
    """The built library's practices and vectors indexed afresh in PostgreSQL, for one test."""
    conn = connect_pg(pg_url)
    conn.execute("DROP TABLE IF EXISTS search_practices, search_terms, search_totals, search_state, schema_migrations")
    index = PgPracticeIndex(embedder)
    index.migrate(conn)
    with conn.transaction():
        for items in built_library.items.values():
            index.add(conn, items, np.vstack([built_library.vectors[it.id] for it in items]))
    yield conn, index
    conn.close()


def ids(page) -> list[int]:
    return [h.practice_id for h in page.hits]


@pytest.mark.parametrize("query", QUERIES)
def test_a_query_answers_on_postgresql_as_on_sqlite(library: sqlite3.Connection, index: PracticeIndex, pg, query):
    conn, pg_index = pg
    here = index.search(library, query, SearchFilters(), limit=10)
    there = pg_index.search(conn, query, SearchFilters(), limit=10)
    # half-precision vectors move a cosine by about 1e-3: a tie may turn, nothing more
    assert here.hits
    assert len(set(ids(here)) & set(ids(there))) >= len(here.hits) - 1, (ids(here), ids(there))
    assert ids(here)[:3] == ids(there)[:3]
    assert abs(here.total - there.total) <= max(1, here.total // 20)


@pytest.mark.parametrize(("table", "query"), [("practice_words", "党员志愿服务学习制度"), ("practice_grams", "老同志发挥余热")])
def test_bm25_ranks_like_fts5(library, index, pg, table, query):
    """FTS5's bm25 with the same column weights, computed from the tsvectors over the index's candidates."""
    from service.library import tokenize

    conn, pg_index = pg
    terms = tokenize.words(query) if table == "practice_words" else tokenize.bigrams(query)
    weights = (1.0, 0.5) if table == "practice_words" else (1.0,)
    fts5 = index._fts(library, table, terms, "1", [], weights)
    ours = pg_index._fts(conn, table, terms, "TRUE", [], weights)
    assert len(fts5) >= 5
    assert sorted(ours) == sorted(fts5)
    assert ours[:20] == fts5[:20]  # further down, equal scores may come in either order


def test_filters_and_facets_match_sqlite(library, index, pg):
    conn, pg_index = pg
    office = "市委办公室"
    for filters in (SearchFilters(org=office), SearchFilters(document_id=document_id(library, SEED)),
                    SearchFilters(kind="practice")):
        here = index.search(library, "学习", filters, limit=1000)
        there = pg_index.search(conn, "学习", filters, limit=1000)
        assert there.total > 0, (filters, here.total, there.total)
        assert set(ids(there)) <= set(ids(index.search(library, "学习", SearchFilters(), limit=1000)))
        assert abs(here.total - there.total) <= 1
        assert there.facets["topic"] and sum(there.facets["topic"].values()) == there.total
    only_office = pg_index.search(conn, "学习", SearchFilters(org=office), limit=1000)
    assert only_office.facets["org"][office] == only_office.total


def test_browsing_counts_every_practice(library, index, pg):
    conn, pg_index = pg
    total = library.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    page = pg_index.search(conn, "", SearchFilters(), limit=3)
    assert page.total == total == sum(page.facets["kind"].values())
    assert page.facets == index.search(library, "", SearchFilters(), limit=3).facets
    assert hit_files(library, ids(page)) == ["pb-lotjol__08.txt"] * 3  # the last document stored first


def test_removing_a_document_removes_it_everywhere_and_keeps_the_counts_true(library, pg):
    conn, pg_index = pg
    doc = document_id(library, "pb-lotjol__06.txt")
    assert "pb-lotjol__06.txt" in hit_files(library, ids(pg_index.search(conn, "临时党支部", SearchFilters(), limit=20)))
    with conn.transaction():
        pg_index.remove_document(conn, doc)
    after = pg_index.search(conn, "临时党支部", SearchFilters(), limit=50)
    assert "pb-lotjol__06.txt" not in hit_files(library, ids(after))
    assert conn.execute("SELECT count(*) FROM search_practices WHERE document_id = %s", (doc,)).fetchone()[0] == 0
    recount = dict(conn.execute(
        "SELECT t.term, count(*) FROM search_practices, unnest(tsvector_to_array(words)) t(term) GROUP BY t.term"
    ).fetchall())
    kept = dict(conn.execute("SELECT term, df FROM search_terms WHERE field = 'w'").fetchall())
    assert kept == recount
    rows, tokens = conn.execute("SELECT rows, tokens FROM search_totals WHERE field = 'w'").fetchone()
    assert (rows, tokens) == conn.execute("SELECT count(*), sum(words_length) FROM search_practices").fetchone()


def test_a_rolled_back_add_leaves_nothing_behind(built_library, pg):
    conn, pg_index = pg
    before = conn.execute("SELECT rows, tokens FROM search_totals WHERE field = 'g'").fetchone()
    item = built_library.items[SEED][0]
    with pytest.raises(RuntimeError), conn.transaction():
        pg_index.remove_document(conn, item.document_id)
        raise RuntimeError("the writer failed")
    assert conn.execute("SELECT rows, tokens FROM search_totals WHERE field = 'g'").fetchone() == before
    assert pg_index.search(conn, "日读一文", SearchFilters(), limit=3).hits


def test_similar_practices_come_from_other_documents_by_default(library, index, pg):
    conn, pg_index = pg
    target = practice_id(library, SEED, "日读一文")
    others = pg_index.similar(conn, target, limit=5)
    assert others and all(f != SEED for f in hit_files(library, ids_of(others)))
    assert ids_of(others) == ids_of(index.similar(library, target, limit=5))
    same_too = pg_index.similar(conn, target, limit=5, other_documents=False)
    assert target not in ids_of(same_too)
    assert practice_id(library, SEED, "每天读书学习一小时") in ids_of(same_too)


def ids_of(hits) -> list[int]:
    return [h.practice_id for h in hits]


def test_without_the_model_search_is_lexical(library, pg):
    conn, _ = pg
    lexical = PgPracticeIndex(None)
    page = lexical.search(conn, "吹哨报到", SearchFilters(), limit=5)
    assert "pb-lotjol__07.txt" in hit_files(library, ids(page))
    assert ids(page) == ids(PracticeIndex(None).search(library, "吹哨报到", SearchFilters(), limit=5))


def test_migrations_are_idempotent(pg):
    conn, pg_index = pg
    pg_index.migrate(conn)
    pg_index.migrate(conn)
    assert conn.execute("SELECT version FROM schema_migrations WHERE component = 'search'").fetchone()[0] == 1


def test_a_tag_added_later_filters_the_search(library, pg):
    conn, pg_index = pg
    target = practice_id(library, SEED, "日读一文")
    assert pg_index.search(conn, "学习制度", SearchFilters(tag="学习型机关"), limit=10).total == 0
    pg_index.set_tags(conn, target, ["学习型机关"])
    page = pg_index.search(conn, "学习制度", SearchFilters(tag="学习型机关"), limit=10)
    assert ids(page) == [target]


def test_a_common_term_is_ranked_from_its_most_frequent_practices(library, index, pg, embedder):
    """When a term is in more practices than the candidate budget, its best practices still lead."""
    from service.library import tokenize

    conn, _ = pg
    narrow = PgPracticeIndex(embedder, candidates=10)
    terms = tokenize.words("党员志愿服务学习制度")
    fts5 = index._fts(library, "practice_words", terms, "1", [], (1.0, 0.5))
    ours = narrow._fts(conn, "practice_words", terms, "TRUE", [], (1.0, 0.5))
    df = narrow._stats(conn, "practice_words", terms, narrow._size(conn)).df
    assert max(df.values()) > 10  # the budget truncates at least one term
    assert len(ours) < len(fts5)
    assert ours[:5] == fts5[:5]
