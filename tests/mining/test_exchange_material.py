"""A unit's exchange material: its measures are its practices, its problems none, its plans directives."""

from __future__ import annotations

from pathlib import Path

from service.intake import parse_file
from service.mining import extract
from tests.mining.conftest import assert_spans_point_at_text, practice_with

FIXTURE = Path(__file__).resolve().parents[2] / "corpus" / "fixtures" / "exchange-material-forestry.txt"


def test_exchange_material_of_a_bureau():
    doc = parse_file(FIXTURE)
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    lecture = practice_with(practices, "林业大讲堂")
    assert lecture.orgs == ["市林业局"]  # 我局 and 局党组 are the unit the title names
    assert lecture.name == "“林业大讲堂”活动"
    assert lecture.kind == "practice"
    assert practice_with(practices, "新组建林场党支部3个").topic == "组织建设"
    assert not any("学习主动性不强" in p.text for p in practices)  # a problem is no practice
    plans = [p for p in practices if p.span[0] > doc.text.index("四、下一步工作打算")]
    assert plans and all(p.kind == "directive" for p in plans)
    assert not any(p.text.startswith("四、下一步工作打算") for p in practices)


def test_speech_without_numbered_headings_reports_then_directs():
    path = FIXTURE.parent / "speech-county-unnumbered.txt"
    doc = parse_file(path)
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    finance = practice_with(practices, "县财政局")
    assert finance.orgs == ["县财政局"] and finance.kind == "practice"
    assert finance.name == "“党建+业务”双融合工作法"
    assert practice_with(practices, "师德医德").orgs == ["县教育局", "县卫健局"]
    assert practice_with(practices, "红色宣讲轻骑兵").orgs == ["县委宣传部"]
    cue = doc.text.index("我讲三点意见")
    assert all(p.kind == "directive" for p in practices if p.span[0] > cue)
    assert all(p.orgs == ["县直机关工委"] for p in practices if p.span[0] > cue)
    assert not any("召开这次会议" in p.text for p in practices)
