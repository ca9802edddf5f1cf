"""The labelled corpus and its scoring follow LABELLING.md: splits by source, keys in their texts."""

from __future__ import annotations

from service.mining import resources
from service.mining.evaluate import load_labelled, match, normalise, read_tsv
from service.mining.practice import TOPICS, Practice


def _p(text: str, kind: str = "practice", orgs: list[str] | None = None, topic: str = "思想建设") -> Practice:
    return Practice(orgs=orgs or [], mentions=[], text=text, name=None, topic=topic, kind=kind, span=(0, len(text)),
                    section=[])


def test_a_source_belongs_to_one_split_and_every_file_has_gold():
    splits = {r["source"]: r["split"] for r in read_tsv(resources.GOLD_DIR / "splits.tsv")}
    assert set(splits.values()) <= {"train", "dev", "test"}
    split_of_repo: dict[str, str] = {}
    for row in read_tsv(resources.GOLD_DIR / "documents.tsv"):
        assert row["source"] in splits, row["source"]
        assert any((resources.CORPUS_DIR / d / row["file"]).exists() for d in ("samples", "labelled")), row["file"]
        repo = row["file"].split("__")[0]  # the file prefix names the repository it came from
        assert split_of_repo.setdefault(repo, splits[row["source"]]) == splits[row["source"]], repo


def test_every_gold_key_stands_in_its_document_and_uses_the_taxonomy():
    for doc in load_labelled():
        text = normalise(doc.path.read_text(encoding="utf-8"))
        for item in doc.items:
            assert normalise(item["key"]) in text, (doc.file, item["key"])
            assert item["kind"] in {"practice", "directive"}
            assert item["topics"] and set(item["topics"]) <= set(TOPICS), (doc.file, item)


def test_a_prediction_is_matched_to_the_longest_key_it_contains():
    gold = [
        {"key": "日读一文", "orgs": ["市委办公室"], "topics": ["思想建设"], "kind": "practice"},
        {"key": "日读一文、周写千字", "orgs": ["市委办公室"], "topics": ["思想建设"], "kind": "practice"},
    ]
    s = match(gold, [_p("推行“日读一文、周写千字”学习制度", orgs=["市委办公室"])])
    assert (s.gold, s.predicted, s.matched, s.units_ok) == (2, 1, 1, 1)
    assert [g["key"] for g in s.misses] == ["日读一文"]


def test_optional_items_give_neither_credit_nor_blame_and_wrong_kind_is_a_false_positive():
    gold = [
        {"key": "书记负责亲自抓", "orgs": [], "orgs_any": True, "topics": ["制度建设"], "kind": "practice",
         "optional": True},
        {"key": "深入开展“党员八带头”活动", "orgs": [], "orgs_any": True, "topics": ["党员教育管理"], "kind": "directive"},
    ]
    s = match(gold, [_p("坚持书记负责亲自抓"), _p("要深入开展“党员八带头”活动")])
    assert (s.gold, s.predicted, s.matched) == (1, 1, 0)
    assert len(s.wrong_kind) == 1


def test_unit_credit_needs_half_of_the_gold_units_by_containment():
    gold = [{"key": "建立网格党支部", "orgs": ["秦都区", "渭城区"], "topics": ["基层治理"], "kind": "practice"}]
    half = match(gold, [_p("建立网格党支部1178个", orgs=["咸阳市秦都区"], topic="基层治理")])
    none = match(gold, [_p("建立网格党支部1178个", orgs=["咸阳市"], topic="组织建设")])
    assert (half.units_ok, half.topics_ok) == (1, 1)
    assert (none.units_ok, none.topics_ok) == (0, 0)
