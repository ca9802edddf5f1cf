"""Odd input never crashes the extractor and nothing is silently dropped."""

from __future__ import annotations

import time

import opencc
import pytest

from service.intake import parse_bytes, parse_file
from service.mining import extract
from tests.mining.conftest import SAMPLES, SEED, assert_spans_point_at_text


def _doc(text: str, name: str = "材料.txt"):
    return parse_bytes(text.encode("utf-8"), name)


def test_document_without_practices_gives_none():
    doc = _doc("关于天气的说明\n今天天气晴朗，气温适宜。\n明天可能有小雨。")
    assert extract(doc) == []


def test_document_of_headings_only_gives_no_practices():
    doc = _doc("工作要点\n一、思想建设\n二、组织建设\n三、作风建设")
    assert extract(doc) == []


def test_placeholders_are_kept_as_written():
    doc = _doc("交流材料\nXX局在XX开展X项活动，XX县XX局建立“XX”制度。")
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    assert practices, "placeholder units still state practices"
    assert any("XX" in "".join(p.orgs) for p in practices)


def test_traditional_characters_are_matched_but_spans_stay_in_the_original():
    traditional = opencc.OpenCC("s2t").convert(SEED.read_text(encoding="utf-8"))
    doc = _doc(traditional, "講話.txt")
    practices = extract(doc)
    assert_spans_point_at_text(doc, practices)
    study = next(p for p in practices if "日讀一文" in p.text)
    assert study.orgs == ["市委办公室"]  # normalised names are Simplified, for search
    assert study.name.startswith("“日讀一文")  # the name is quoted from the original text
    assert study.topic == "思想建设"
    assert any(p.kind == "directive" and "黨員八帶頭" in p.text for p in practices)


def test_a_fifty_thousand_character_paragraph_is_cut_into_bounded_clauses():
    body = "市委办公室推行“日读一文”学习制度，" * 2800
    doc = _doc("材料\n" + body)
    assert len(doc.text) > 50_000
    start = time.perf_counter()
    practices = extract(doc)
    assert time.perf_counter() - start < 60
    assert_spans_point_at_text(doc, practices)
    assert len(practices) >= 1000  # every unit clause is kept
    assert max(len(p.text) for p in practices) <= 400


@pytest.mark.parametrize("name", [f"gwr-national__{i:02d}.txt" for i in range(1, 21)])
def test_national_government_work_reports_are_read_quickly(name):
    doc = parse_file(SAMPLES / name)
    start = time.perf_counter()
    practices = extract(doc)
    assert time.perf_counter() - start < 30
    assert_spans_point_at_text(doc, practices)
    assert practices
    assert {p.kind for p in practices} <= {"practice", "directive"}
    assert all(p.orgs for p in practices), "the speaker (国务院) acts where no unit is named"


def test_a_work_report_reviews_practices_and_then_sets_tasks():
    doc = parse_file(SAMPLES / "gwr-national__19.txt")
    practices = extract(doc)
    tasks_start = doc.text.index("三、2024年政府工作任务")
    review = [p for p in practices if p.span[0] < doc.text.index("二、2024年经济社会发展总体要求")]
    tasks = [p for p in practices if p.span[0] >= tasks_start]
    assert review and all(p.kind == "practice" for p in review)
    assert tasks and all(p.kind == "directive" for p in tasks)
    assert any(p.text.startswith("（一）大力推进现代化产业体系建设") for p in tasks)


def test_issuing_unit_found_by_intake_acts_where_the_text_names_none():
    from dataclasses import replace

    doc = replace(_doc("工作总结\n今年以来，认真落实“三会一课”制度，组建党员志愿服务队3支。"), org="XX县民政局")
    practices = extract(doc)
    assert practices and all(p.orgs == ["XX县民政局"] for p in practices)
