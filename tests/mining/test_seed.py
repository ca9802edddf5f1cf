"""A committee clerk extracts the seed speech and gets the editor's list of practices."""

from __future__ import annotations

from service.mining import TOPICS
from tests.mining.conftest import assert_spans_point_at_text, practice_with


def test_study_system_of_the_party_committee_office(seed_practices):
    p = practice_with(seed_practices, "日读一文")
    assert p.orgs == ["市委办公室"]
    assert p.mentions == ["市委办公室"]
    assert p.name == "“日读一文、周写千字、月读一书、季写一篇”学习制度"
    assert p.topic == "思想建设"
    assert p.kind == "practice"
    # one practice per unit clause: the next unit's system is not lumped in
    assert "市纪委监察局" not in p.text


def test_enumeration_of_eight_units_gives_eight_practices(seed_practices):
    phrases = ["日读一文", "教育培训目标化", "“四个一”学习活动", "学习常态化", "每天读书学习一小时",
               "提高三个服务能力大讲堂", "“文化大讲堂”", "“五微”学习法"]
    units = [practice_with(seed_practices, ph).orgs for ph in phrases]
    assert units == [["市委办公室"], ["市纪委监察局"], ["市委组织部"], ["市委编办"], ["市人大常委会机关"],
                     ["市政府办公室"], ["市文广局"], ["市农业局"]]


def test_five_units_sharing_one_practice_keep_the_city_prefix(seed_practices):
    p = practice_with(seed_practices, "组建、改建基层党组织")
    assert p.orgs == ["市政府办公室", "市水利局", "市体育局", "市食药局", "市老干局"]
    assert p.mentions == ["市政府办", "水利局", "体育局", "食药局", "老干局"]


def test_shared_prefix_is_distributed_over_the_listed_bureaus(seed_practices):
    p = practice_with(seed_practices, "按期进行换届")
    assert p.orgs == ["市统计局", "市质监局", "市水文局"]
    assert p.topic == "组织建设"


def test_book_title_is_the_name_of_the_rule(seed_practices):
    p = practice_with(seed_practices, "民警廉洁从警纪律规定")
    assert p.orgs == ["市公安局"]
    assert p.name == "《民警廉洁从警纪律规定》"
    assert practice_with(seed_practices, "三卡预警").name == "“三卡预警”制度"


def test_implicit_actor_of_the_speech_is_the_working_committee(seed_practices):
    assert practice_with(seed_practices, "优秀党课教案评选活动").orgs == ["市直机关工委"]
    assert practice_with(seed_practices, "划拨X万元党费").orgs == ["市直机关工委"]


def test_opinions_part_of_the_speech_gives_directives(seed_practices):
    p = practice_with(seed_practices, "深入开展“党员八带头”活动")
    assert p.kind == "directive"
    assert p.section == ["二、深入开展“党员八带头”活动。"]
    assert p.orgs == ["市直机关工委"]


def test_every_practice_points_at_its_clause(seed_document, seed_practices):
    assert_spans_point_at_text(seed_document, seed_practices)
    for p in seed_practices:
        assert p.topic in TOPICS
        assert p.kind in ("practice", "directive")
        assert 0 < len(p.text) <= 400
        assert 0.0 <= p.confidence <= 1.0
    directives_start = seed_document.text.index("我讲几点意见")
    assert all((p.kind == "directive") == (p.span[0] > directives_start) for p in seed_practices)


def test_keywords_keep_domain_terms_and_quoted_names_whole(seed_practices):
    p = practice_with(seed_practices, "三卡预警")
    assert "三卡预警" in p.keywords
    assert "第一书记" in practice_with(seed_practices, "第一书记").keywords
