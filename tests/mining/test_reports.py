"""Staff read grassroots experience reports: each measure is a practice of the unit it belongs to."""

from __future__ import annotations

from service.intake import parse_file
from service.mining import extract
from tests.mining.conftest import SAMPLES, assert_spans_point_at_text, practice_with


def _extract(name: str):
    doc = parse_file(SAMPLES / name)
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    return doc, practices


def test_place_in_the_title_is_carried_to_sentences_without_a_unit():
    _, practices = _extract("pb-lotjol__02.txt")
    p = practice_with(practices, "“六个一”改革，通过推进")
    assert p.orgs == ["丽江市"]
    assert p.kind == "practice"
    assert p.topic == "基层治理"


def test_units_named_with_their_place_stay_whole():
    _, practices = _extract("pb-lotjol__11.txt")
    assert practice_with(practices, "流转91.7亩土地").orgs == ["合阳县甘井镇麻阳社区"]
    assert practice_with(practices, "盘活奶山羊养殖厂").orgs == ["富平县庄里镇永安村"]


def test_a_bare_county_prefix_is_completed_with_the_reports_county():
    _, practices = _extract("pb-lotjol__08.txt")
    assert practice_with(practices, "定期对热点难点问题分析研判").orgs == ["犍为县心连心服务中心"]


def test_residents_words_are_not_practices():
    _, practices = _extract("pb-lotjol__05.txt")
    texts = " ".join(p.text for p in practices)
    assert "居民郭娟感慨" not in texts  # a resident's quote
    assert "创新“小区党群服务站”治理模式" in texts


def test_meeting_demands_in_a_news_report_are_directives():
    _, practices = _extract("zhdj-zhongtiao__03.txt")
    meeting = practice_with(practices, "主题教育集体学习研讨会。")
    assert meeting.kind == "practice" and meeting.orgs == ["中条林局"]
    assert practice_with(practices, "要把学习教育、总结反思").kind == "directive"


def test_activity_report_speaks_of_its_branch_not_of_its_people():
    _, practices = _extract("hust-partygov__06.txt")
    p = practice_with(practices, "“党员责任田” 工作机制")
    assert p.orgs == ["公共管理学院"]
    assert not any("周子羽" in q.text for q in practices)


def test_each_speaker_of_an_exchange_digest_is_the_unit_of_what_they_report():
    # a train-split digest: four branch secretaries and members in turn share their branches' practices
    path = SAMPLES.parent / "labelled" / "a7-schoolnews__01.txt"
    doc = parse_file(path)
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    assert practice_with(practices, "坚持组织生活会6大制度").orgs == ["经济学院本科2013级国贸党支部"]
    assert practice_with(practices, "“舍导制”").orgs == ["管理学院本科2013级第二党支部"]
    assert practice_with(practices, "艺术传承融入党建").orgs == ["艺术教育中心学生党支部"]
    assert practice_with(practices, "微党课视频大赛").orgs == ["新闻学院本科生低年级党支部"]


DIGEST = """政协党建工作座谈会发言摘登

浙江省政协党组书记、主席 张某某：
我们坚持把政治建设摆在首位，建立了“党组理论学习中心组+”学习制度，每月集中学习一次。
在各专门委员会组建功能型党支部12个，开展“委员读书月”活动。

市教育局 王某某发言
我局创新开展“三联三进”活动，组织机关党员到学校结对帮扶，建立党员联系点58个。

浙江工业大学党委书记 周某：学校实施“双带头人”培育工程，选拔教师党支部书记86名。

发挥委员作用　服务中心大局
——江苏省政协副主席 赵某某
我们推行“书香政协”建设，开设委员读书群32个，每年举办读书分享会12场。
"""


def test_a_speakers_line_names_the_unit_of_the_speech_that_follows(tmp_path):
    # the forms a digest's speaker line takes: title chain and colon, 单位 姓名发言, run into the speech, after a dash
    path = tmp_path / "digest.txt"
    path.write_text(DIGEST, encoding="utf-8")
    doc = parse_file(path)
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    assert practice_with(practices, "学习制度").orgs == ["浙江省政协"]
    assert practice_with(practices, "功能型党支部").orgs == ["浙江省政协"]
    assert practice_with(practices, "三联三进").orgs == ["市教育局"]
    p = practice_with(practices, "双带头人")
    assert p.orgs == ["浙江工业大学"]  # 学校 is the speaker's university
    assert "周某" not in p.text
    assert practice_with(practices, "书香政协").orgs == ["江苏省政协"]


def test_a_report_that_calls_itself_the_school_is_credited_to_the_schools_name():
    # a train-split report: its title names no unit and its text says 学校 for 南开大学
    doc = parse_file(SAMPLES.parent / "labelled" / "a1-mywebs__06.txt")
    practices = extract(doc)
    assert practice_with(practices, "后备党员骨干培训班").orgs == ["南开大学"]
    assert not any(p.orgs == ["学校"] for p in practices)


OWN_SPEECH = """强化政治机关建设 推动机关党建提质增效
——湖州市财政局在全市机关党建工作会议上的交流发言

近年来，我局坚持以党的政治建设为统领，扎实推进模范机关创建。

一、坚持学习引领
我们建立了“周一夜学”制度，每周一晚组织党员干部集中学习。

二、夯实支部基础
我们推行支部书记“双述双评”机制，将12个党支部全部纳入星级管理。
"""


def test_a_units_own_exchange_speech_is_that_units_when_only_the_line_under_the_title_names_it(tmp_path):
    path = tmp_path / "speech.txt"
    path.write_text(OWN_SPEECH, encoding="utf-8")
    practices = extract(parse_file(path))
    assert practice_with(practices, "周一夜学").orgs == ["湖州市财政局"]
    assert practice_with(practices, "双述双评").orgs == ["湖州市财政局"]


def test_a_numbered_heading_naming_a_speaker_or_a_unit_opens_that_units_section(tmp_path):
    path = tmp_path / "digest.txt"
    path.write_text(
        "机关党建工作经验交流会发言摘编\n\n一、浙江省政协党组书记、主席 张某某\n"
        "我们建立了“党组理论学习中心组+”学习制度，每月集中学习一次。\n\n二、湖南省政协：以党建引领协商民主\n"
        "我们探索建立“党建+协商”工作机制，在县级政协设立委员工作站126个。\n",
        encoding="utf-8",
    )
    practices = extract(parse_file(path))
    assert practice_with(practices, "学习制度").orgs == ["浙江省政协"]
    assert practice_with(practices, "党建+协商").orgs == ["湖南省政协"]
