"""User stories for a document's title, kind, issuing unit and date."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from service.intake import parse_file
from service.intake.document import Block, SourceInfo
from service.intake.meta import parse_date
from service.intake.structure import build_document

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"
MANIFEST = Path(__file__).resolve().parents[2] / "corpus" / "manifest.tsv"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"

# Expected kind per corpus collection, from the genres in corpus/manifest.tsv.
KIND_BY_COLLECTION = {"gwr-national": "报告", "pb-lotjol": "报道", "zhdj-zhongtiao": "报道", "seed": "讲话"}


def _manifest_txt() -> list[tuple[str, str]]:
    with MANIFEST.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["file"], r["genre"]) for r in rows if r["file"].endswith(".txt")]


def _source(name: str) -> SourceInfo:
    return SourceInfo(name, "txt", "0" * 64, 0)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


@pytest.mark.parametrize(("name", "genre"), _manifest_txt(), ids=lambda v: v if v.endswith(".txt") else "")
def test_corpus_kinds_follow_the_manifest_genres(name: str, genre: str) -> None:
    collection = name.split("__")[0]
    doc = parse_file(SAMPLES / name)
    if collection in KIND_BY_COLLECTION:
        assert doc.kind == KIND_BY_COLLECTION[collection], genre
    elif "报道" in genre:
        assert doc.kind == "报道", genre


def test_seed_is_a_speech_without_stated_unit_or_date() -> None:
    doc = parse_file(SEED)
    assert (doc.kind, doc.org, doc.date) == ("讲话", None, None)


def test_government_reports_take_the_state_council_and_the_delivery_date() -> None:
    dated = parse_file(SAMPLES / "gwr-national__19.txt")
    assert dated.org == "中华人民共和国国务院"
    assert dated.date == "2024-03-05"  # ——2024年3月5日在第十四届全国人民代表大会第二次会议上
    undated = parse_file(SAMPLES / "gwr-national__01.txt")
    assert undated.date == "2004"  # only the title's year is stated


def test_news_reports_name_the_subject_unit_but_not_a_place_or_byline() -> None:
    assert parse_file(SAMPLES / "zhdj-zhongtiao__01.txt").org == "中条林局"
    assert parse_file(SAMPLES / "pb-lotjol__10.txt").org == "浙江省金华市民政局"
    place = parse_file(SAMPLES / "pb-lotjol__01.txt")  # 陕西咸阳：… / 本报咸阳讯
    assert place.kind == "报道" and place.org is None


def test_event_date_in_the_first_sentence_of_a_news_report() -> None:
    assert parse_file(SAMPLES / "hust-partygov__03.txt").date == "2025-11-08"


def test_signature_and_date_lines_at_the_end_give_unit_and_date() -> None:
    blocks = [Block(line) for line in _lines(SEED)[1:]]
    blocks += [Block("中共安康市直机关工作委员会"), Block("2024年11月5日")]
    doc = build_document(blocks, _source("seed.txt"))
    assert doc.org == "中共安康市直机关工作委员会"
    assert doc.date == "2024-11-05"


def test_unit_line_under_the_title_is_the_issuing_unit() -> None:
    lines = _lines(SEED)[1:]
    blocks = [Block(lines[0]), Block("中共XX市委组织部"), *map(Block, lines[1:])]
    doc = build_document(blocks, _source("seed.txt"))
    assert doc.org == "中共XX市委组织部"
    assert doc.title == "在机关党建工作交流会上的讲话"


def test_dates_written_in_chinese_numerals_or_partially() -> None:
    assert parse_date("二〇二四年十一月五日") == "2024-11-05"
    assert parse_date("（2023年12月）") == "2023-12"
    assert parse_date("2024-1-9") == "2024-01-09"
    assert parse_date("没有日期") is None


def test_a_work_plan_title_gives_its_year() -> None:
    blocks = [Block("2024年工作要点"), Block(""), *map(Block, _lines(SEED)[3:6])]
    assert build_document(blocks, _source("plan.txt")).date == "2024"


def test_document_opening_with_a_salutation_takes_its_file_name_as_title() -> None:
    doc = build_document([Block(line) for line in _lines(SEED)[2:]], _source("机关党建讲话.txt"))
    assert doc.title == "机关党建讲话"
    assert doc.kind == "讲话"
    assert doc.warnings == ["未能识别标题，已使用文件名作为标题"]
    assert doc.paragraphs[0].text == "同志们："


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("XX市委组织部2024年工作总结", "总结"),
        ("2024年度个人述职述廉报告", "总结"),
        ("在全市机关党建工作会议上的交流发言", "交流材料"),
        ("在经验交流会上的发言", "交流材料"),
        ("XX街道党建引领基层治理典型经验材料", "经验材料"),
        ("“红色物业”的主要做法", "经验材料"),
        ("XX县2024年政府工作报告", "报告"),
        ("关于2024年度落实全面从严治党主体责任情况的报告", "报告"),
        ("在2024年工作总结会上的讲话", "讲话"),
        ("在先进事迹报告会上的讲话", "讲话"),
        ("在全市组织工作会议上的讲话", "讲话"),
        ("在市第五次党代会上的报告", "报告"),
        ("XX支部召开专题组织生活会", "报道"),
        ("四川省政协主席田向利：以改革举措加强国家战略腹地建设", "其他"),
    ],
)
def test_kind_rules_on_titles(title: str, kind: str) -> None:
    doc = build_document([Block(title), Block(""), Block("正文。")], _source("x.txt"))
    assert doc.kind == kind


def test_document_opening_with_a_numbered_heading_keeps_it_as_a_section() -> None:
    lines = [line for line in _lines(SEED) if line.strip()]
    start = lines.index("一、党建工作责任有效落实。")
    doc = build_document([Block(line) for line in lines[start:]], _source("机关党建要点.docx"))
    assert doc.title == "机关党建要点"
    assert doc.sections[0].heading == "一、党建工作责任有效落实。"
    assert len(doc.sections) == 10
