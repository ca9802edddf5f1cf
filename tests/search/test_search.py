"""A clerk searches the library: by the practice's words, by a paraphrase, with filters, with odd input."""

from __future__ import annotations

import numpy as np
import pytest

from service.library.search import PracticeIndex, SearchFilters
from tests.search.conftest import SEED, document_id, hit_files, practice_id


def texts(conn, ids):
    return [conn.execute("SELECT text FROM practices WHERE id = ?", (i,)).fetchone()[0] for i in ids]


def test_reading_system_search_finds_the_general_office_practice(library, index):
    target = practice_id(library, SEED, "日读一文")
    page = index.search(library, "学习制度", SearchFilters(), limit=5)
    assert target in [h.practice_id for h in page.hits[:3]]
    hit = next(h for h in page.hits if h.practice_id == target)
    assert "学习制度" in hit.highlights or {"学习", "制度"} <= set(hit.highlights)


def test_paraphrase_finds_party_branches_on_project_sites(library, index):
    page = index.search(library, "工地上建党组织", SearchFilters(), limit=10)
    top = texts(library, [h.practice_id for h in page.hits[:5]])
    assert hit_files(library, [h.practice_id for h in page.hits[:5]]).count("pb-lotjol__06.txt") >= 1
    assert any("党支部" in t or "党的组织" in t for t in top)


def test_synonyms_expand_and_highlight(library, index):
    """下沉 expands to 双报到: the 滕州 compounds practice is found and 双报到 is what gets highlighted."""
    target = practice_id(library, "pb-lotjol__07.txt", "双报到")
    page = index.search(library, "机关干部下沉社区", SearchFilters(), limit=10)
    hit = next((h for h in page.hits if h.practice_id == target), None)
    assert hit is not None
    assert "双报到" in hit.highlights


def test_filters_restrict_before_ranking_and_facets_count_all_matches(library, index):
    office = "市委办公室"
    page = index.search(library, "学习", SearchFilters(org=office), limit=50)
    assert page.total >= 1
    for h in page.hits:
        orgs = [r[0] for r in library.execute("SELECT org FROM practice_orgs WHERE practice_id = ?", (h.practice_id,))]
        assert office in orgs
    assert page.facets["org"][office] == page.total

    seed = document_id(library, SEED)
    everything = index.search(library, "党组织", SearchFilters(), limit=1000)
    only_seed = index.search(library, "党组织", SearchFilters(document_id=seed), limit=1000)
    assert 0 < only_seed.total < everything.total
    assert set(hit_files(library, [h.practice_id for h in only_seed.hits])) == {SEED}
    # Facets cover every match, not just the page shown.
    small = index.search(library, "党组织", SearchFilters(), limit=2)
    assert sum(small.facets["topic"].values()) == small.total == everything.total
    assert sum(small.facets["kind"].values()) == small.total

    topic = next(iter(everything.facets["topic"]))
    by_topic = index.search(library, "党组织", SearchFilters(topic=topic), limit=1000)
    assert by_topic.total == everything.facets["topic"][topic]


def test_empty_query_browses_newest_first(library, index):
    library.execute("UPDATE practices SET created_at = '2020-01-01T00:00:00+00:00'")
    newest = document_id(library, "pb-lotjol__08.txt")
    library.execute("UPDATE practices SET created_at = '2025-06-01T00:00:00+00:00' WHERE document_id = ?", (newest,))
    page = index.search(library, "", SearchFilters(), limit=3)
    total = library.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    assert page.total == total
    assert hit_files(library, [h.practice_id for h in page.hits]) == ["pb-lotjol__08.txt"] * 3
    assert sum(page.facets["kind"].values()) == total
    filtered = index.search(library, "", SearchFilters(kind="directive"), limit=500)
    assert filtered.total == library.execute("SELECT COUNT(*) FROM practices WHERE kind = 'directive'").fetchone()[0]


@pytest.mark.parametrize("query", ["学习制度", "学习教育"])
def test_search_syntax_in_the_query_never_breaks(library, index, query):
    page = index.search(library, query, SearchFilters(), limit=5)
    assert page.total == len(page.hits) == 0 or page.hits[0].score > 0
    assert library.execute("SELECT COUNT(*) FROM practices").fetchone()[0] > 0


def test_punctuation_alone_finds_nothing_rather_than_noise(library, index):
    page = index.search(library, '"*()', SearchFilters(), limit=5)
    assert page.hits == [] and page.total == 0


def test_removing_a_document_removes_it_from_words_and_vectors(library, index):
    doc = document_id(library, "pb-lotjol__06.txt")
    before = index.search(library, "临时党支部", SearchFilters(), limit=20)
    assert "pb-lotjol__06.txt" in hit_files(library, [h.practice_id for h in before.hits])
    library.execute("BEGIN IMMEDIATE")
    index.remove_document(library, doc)
    library.execute("DELETE FROM documents WHERE id = ?", (doc,))
    library.execute("COMMIT")
    after = index.search(library, "临时党支部", SearchFilters(), limit=50)
    assert "pb-lotjol__06.txt" not in hit_files(library, [h.practice_id for h in after.hits])
    assert library.execute("SELECT COUNT(*) FROM practice_words WHERE document_id = ?", (doc,)).fetchone()[0] == 0
    assert library.execute("SELECT COUNT(*) FROM practice_vectors WHERE document_id = ?", (doc,)).fetchone()[0] == 0
    assert doc not in index.vectors.matrix(library).doc_ids.tolist()


def test_a_rolled_back_add_leaves_no_trace_in_memory(library, index, built_library):
    """The in-memory matrix follows the database even when the writer's transaction is rolled back."""
    index.search(library, "学习制度", SearchFilters())  # load the matrix
    rows = len(index.vectors.matrix(library))
    item = built_library.items[SEED][0]
    library.execute("BEGIN IMMEDIATE")
    index.remove_document(library, item.document_id)
    assert len(index.vectors.matrix(library)) < rows
    library.execute("ROLLBACK")
    assert len(index.vectors.matrix(library)) == rows


def test_similar_practices_come_from_other_documents_by_default(library, index):
    target = practice_id(library, SEED, "日读一文")
    seed = document_id(library, SEED)
    others = index.similar(library, target, limit=5)
    assert others and all(f != SEED for f in hit_files(library, [h.practice_id for h in others]))
    same_too = index.similar(library, target, limit=5, other_documents=False)
    ids = [h.practice_id for h in same_too]
    assert target not in ids
    assert practice_id(library, SEED, "每天读书学习一小时") in ids
    assert library.execute("SELECT document_id FROM practices WHERE id = ?", (ids[0],)).fetchone()[0] == seed


def test_without_the_model_search_is_lexical_and_similar_still_answers(library):
    index = PracticeIndex(None)
    page = index.search(library, "吹哨报到", SearchFilters(), limit=5)
    assert "pb-lotjol__07.txt" in hit_files(library, [h.practice_id for h in page.hits])
    target = practice_id(library, SEED, "日读一文")
    assert index.similar(library, target, limit=3)


def test_migrations_are_idempotent(library, index):
    index.migrate(library)
    index.migrate(library)
    version = library.execute("SELECT version FROM schema_migrations WHERE component = 'search'").fetchone()[0]
    assert version >= 1


@pytest.mark.parametrize("query", ["学习制度", "学习教育"])
def test_query_words_found_only_around_a_practice_count_for_less(library, embedder, query):
    """A practice whose own text lacks the query's words is not an answer because its heading or the
    document title holds them; the answers whose text holds them all stay."""
    from service.library.search import RankerWeights

    def answers(context: float) -> set[int]:
        weights = RankerWeights(floor_context=context, floor_cosine=2.0)  # words alone decide
        page = PracticeIndex(embedder, weights=weights).search(library, query, SearchFilters(), limit=1000)
        return {h.practice_id for h in page.hits}

    full, half = answers(1.0), answers(0.5)
    assert half < full  # strictly fewer: the sample library has hits tied to the query only by context
    words = [query[:2], query[2:]]
    for pid, text in zip(sorted(full), texts(library, sorted(full)), strict=True):
        if all(w in text for w in words):
            assert pid in half, text


@pytest.mark.parametrize(
    ("query", "via_synonym"), [("下沉社区", True), ("学习制度", True), ("吹哨报到", False), ("老同志发挥余热", True)]
)
def test_the_relevance_floor_keeps_the_hits_holding_most_of_the_query_or_a_synonym_of_it(library, query, via_synonym):
    """Without the model, a hit answers when its own words hold 70 % of the query's IDF mass, a word found
    only in its context counting half, and a synonym in the hit standing for the query words of its
    trigger (双报到 for 下沉)."""
    from service.library import tokenize
    from service.library.search import RankerWeights

    floored = PracticeIndex(None)
    w = floored.weights
    everything = PracticeIndex(None, RankerWeights(floor=False))
    ranked = [h.practice_id for h in everything.search(library, query, SearchFilters(), limit=1000).hits]
    n = library.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    idf = floored._stats(library, "practice_words", floored.plan(query).words, n).idf()
    total = sum(idf.values())
    triggers = [
        (set(tokenize.words(t)) | {t.lower()}, {e.lower() for e in more})
        for t, more in floored.synonyms.expansions.items()
        if t in query
    ]

    def held(text: str, synonyms: bool = True) -> set[str]:
        have = {t for t in idf if t in text}
        for words, more in triggers if synonyms else ():
            if more & set(text.split()):
                have = have | (words & idf.keys())
        return have

    def passes(own: set[str], around: set[str]) -> bool:
        share = sum(idf[t] for t in own) + w.floor_context * sum(idf[t] for t in around - own)
        return share >= w.floor_coverage * total

    expected, by_synonym = set(), set()
    for pid in ranked:
        body, context = library.execute(
            "SELECT body, context FROM practice_words WHERE rowid = ?", (pid,)
        ).fetchone()
        if passes(held(body), held(f"{body} {context}")):
            expected.add(pid)
            if not passes(held(body, False), held(f"{body} {context}", False)):
                by_synonym.add(pid)
    page = floored.search(library, query, SearchFilters(), limit=1000)
    assert 0 < page.total < len(ranked)
    assert bool(by_synonym) == via_synonym
    assert {h.practice_id for h in page.hits} == expected
    assert [h.practice_id for h in page.hits] == [pid for pid in ranked if pid in expected]


def test_answers_follow_the_index_when_it_changes(library, index, embedder):
    """Once 志愿服务 fills the library it says little, and hits holding the query's other words answer
    党员志愿服务; an index that has searched before (its answers memoised) answers exactly as a fresh one."""
    from service.library.search import IndexedPractice
    from service.library.store import transaction

    query = "党员志愿服务"
    before = {h.practice_id for h in index.search(library, query, SearchFilters(), limit=1000).hits}
    start = library.execute("SELECT MAX(id) FROM practices").fetchone()[0] + 1
    filler = [
        IndexedPractice(start + i, 10**6, f"第{i}次志愿服务", None, [], "基层治理", [], "practice", [], [], "", "其他", None)
        for i in range(300)
    ]
    vectors = np.random.default_rng(3).normal(size=(len(filler), embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with transaction(library):
        index.add(library, filler, vectors)
    real = set(range(start))
    after = {h.practice_id for h in index.search(library, query, SearchFilters(), limit=1000).hits} & real
    fresh = {h.practice_id for h in PracticeIndex(embedder).search(library, query, SearchFilters(), limit=1000).hits}
    assert after == fresh & real
    assert after - before
