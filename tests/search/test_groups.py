"""Staff look at practice groups: the same kind of practice from different units lands together."""

from __future__ import annotations

import dataclasses

from service.library.groups import PracticeGrouper
from tests.search.conftest import SEED, practice_id


def group_of(conn, pid):
    return conn.execute("SELECT group_id FROM practices WHERE id = ?", (pid,)).fetchone()[0]


def test_reading_systems_of_two_units_share_a_group(library):
    grouper = PracticeGrouper()
    daily = practice_id(library, SEED, "日读一文")
    hour = practice_id(library, SEED, "每天读书学习一小时")
    assert group_of(library, daily) == group_of(library, hour)  # as assigned during ingestion
    n = grouper.rebuild(library)
    assert n == library.execute("SELECT COUNT(*) FROM practice_groups").fetchone()[0]
    assert group_of(library, daily) == group_of(library, hour)
    group = grouper.get_group(library, group_of(library, daily))
    assert {daily, hour} <= set(group["practice_ids"])
    assert group["size"] == len(group["practice_ids"]) >= 2
    assert {"市委办公室", "市人大常委会机关"} <= set(group["orgs"])
    assert group["label"]
    assert "思想建设" in group["topics"]


def test_unrelated_practices_stay_apart(library):
    PracticeGrouper().rebuild(library)
    daily = practice_id(library, SEED, "日读一文")
    whistle = practice_id(library, "pb-lotjol__07.txt", "吹哨报到")
    assert group_of(library, daily) != group_of(library, whistle)


def test_list_puts_multi_member_groups_first_and_every_practice_has_a_group(library):
    grouper = PracticeGrouper()
    grouper.rebuild(library)
    groups = grouper.list_groups(library, limit=1000, offset=0)
    sizes = [g["size"] for g in groups]
    assert sizes[0] > 1
    first_single = sizes.index(1) if 1 in sizes else len(sizes)
    assert all(s > 1 for s in sizes[:first_single]) and all(s == 1 for s in sizes[first_single:])
    assert sum(sizes) == library.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    assert library.execute("SELECT COUNT(*) FROM practices WHERE group_id IS NULL").fetchone()[0] == 0
    assert grouper.list_groups(library, limit=2, offset=1) == groups[1:3]
    assert grouper.get_group(library, 10**9) is None


def test_a_new_reading_practice_joins_the_existing_group(library, index, built_library):
    """Re-ingesting the seed's reading practices: each joins the group of its twin rather than a new one."""
    grouper = PracticeGrouper()
    grouper.rebuild(library)
    daily = practice_id(library, SEED, "日读一文")
    original = next(it for it in built_library.items[SEED] if "日读一文" in it.text)
    library.execute("BEGIN IMMEDIATE")
    cur = library.execute(
        "INSERT INTO practices(document_id, ordinal, text, name, topic, kind, orgs_json, mentions_json, keywords_json,"
        " section_json, span_start, span_end, confidence, created_at)"
        " SELECT document_id, ordinal + 1000, text, name, topic, kind, orgs_json, mentions_json, keywords_json,"
        " section_json, span_start, span_end, confidence, created_at FROM practices WHERE id = ?",
        (daily,),
    )
    twin = cur.lastrowid
    index.add(library, [dataclasses.replace(original, id=twin)], built_library.vectors[daily][None, :])
    grouper.assign(library, [twin])
    library.execute("COMMIT")
    assert group_of(library, twin) == group_of(library, daily)


def test_a_group_is_labelled_by_a_concept_never_by_a_place_or_a_fragment():
    from service.library.groups import group_label, is_concept

    # two reports from 咸阳 sharing only the place and a fragment: the label is the tag they share
    words = [{"咸阳", "提高中西部", "网格党支部", "建立"}, {"咸阳", "提高中西部", "网格党支部", "组建"}]
    label = group_label([None, None], words, lambda terms: {t: 1 for t in terms}, 100, tags=["网格党建", "网格党建"])
    assert label == "网格党建"
    no_tags = group_label([None, None], words, lambda terms: {t: 1 for t in terms}, 100)
    assert no_tags == "网格党支部"
    for fragment in ("咸阳", "秦都区", "提高中西部", "是中西部", "腹地", "中华人民共和国教育部政府门户网站",
                     "市政府", "领导小组", "统计员", "候选人", "总书记", "系统性", "化解", "成立"):
        assert not is_concept(fragment), fragment
    for concept in ("老年食堂", "吹哨报到", "学习制度", "党员积分"):
        assert is_concept(concept), concept


def test_a_name_labels_a_group_only_when_it_describes_a_good_share_of_it():
    from service.library.groups import group_label

    def label(names: list[str | None]) -> str:
        words = [{"重大项目", "基础设施"} for _ in names]
        return group_label(names, words, lambda terms: {t: 1 for t in terms}, 100)

    # two of twenty sentences quote “十二五”: the rest are not about it, their shared words label the group
    assert label(["“十二五”", "“十二五”", *[None] * 18]) in ("重大项目基础设施", "基础设施重大项目")
    # three of eight share the name “日读一文、周写千字”: that is what the group is
    assert label(["“日读一文、周写千字”"] * 3 + [None] * 5) == "“日读一文、周写千字”"
