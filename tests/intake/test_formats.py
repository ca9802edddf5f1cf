"""A clerk uploads what their office produces — TXT in any Chinese encoding, Word, PDF — and gets the text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import opencc
import pytest

from service.config import REPO_ROOT, Settings
from service.intake import parse_bytes, parse_file
from service.intake.readers.docx import chinese_counting, format_number, read_docx
from service.intake.readers.pdf import read_pdf

from .conftest import HEADER_TEXT, SEED

SEED_TEXT = SEED.read_text(encoding="utf-8")


def _seed_doc_text() -> str:
    return parse_bytes(SEED_TEXT.encode("utf-8"), "seed.txt").text


@pytest.mark.parametrize(
    ("label", "payload", "encoding"),
    [
        ("UTF-8 with BOM (Windows Notepad)", b"\xef\xbb\xbf" + SEED_TEXT.encode("utf-8"), "utf-8"),
        ("UTF-16 LE with BOM", b"\xff\xfe" + SEED_TEXT.encode("utf-16-le"), "utf-16-le"),
        ("UTF-16 BE with BOM", b"\xfe\xff" + SEED_TEXT.encode("utf-16-be"), "utf-16-be"),
        ("UTF-16 LE without BOM", SEED_TEXT.encode("utf-16-le"), "utf-16-le"),
        ("GB18030 (old Chinese Windows)", SEED_TEXT.encode("gb18030"), "gb18030"),
        ("GBK", SEED_TEXT.encode("gbk"), "gb18030"),
        ("Windows CRLF line ends", SEED_TEXT.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
    ],
)
def test_clerk_uploads_seed_txt_in_any_encoding_and_gets_the_same_text(label: str, payload: bytes, encoding: str) -> None:
    doc = parse_bytes(payload, "讲话.txt")
    assert doc.text == _seed_doc_text(), label
    assert doc.source.encoding == encoding
    assert doc.source.format == "txt"


def test_taiwan_office_uploads_big5_text_and_it_is_read_in_traditional_characters() -> None:
    lines = (REPO_ROOT / "corpus" / "samples" / "pb-lotjol__02.txt").read_text(encoding="utf-8").splitlines()
    traditional = opencc.OpenCC("s2t").convert("\n".join(lines))
    payload = traditional.encode("big5", errors="ignore")
    doc = parse_bytes(payload, "報告.txt")
    assert doc.source.encoding == "big5"
    assert doc.text.replace("\n", "") == payload.decode("big5").replace("\n", "")
    assert "黨" in doc.text


def test_format_is_told_by_content_not_by_the_name(corpus_formats: dict[str, dict[str, Path]]) -> None:
    files = corpus_formats["pb-lotjol__01"]
    as_txt = parse_bytes(files["pdf"].read_bytes(), "misnamed.txt")
    as_pdf = parse_bytes(files["docx"].read_bytes(), "misnamed.pdf")
    assert as_txt.source.format == "pdf" and as_txt.source.pages >= 1
    assert as_pdf.source.format == "docx"
    assert as_pdf.title == parse_file(files["txt"]).title


def test_word_document_keeps_numbering_headings_and_tables_but_not_page_margins(numbered_docx: Path) -> None:
    blocks = read_docx(numbered_docx.read_bytes(), Settings())
    by_text = {b.text: b for b in blocks}
    assert all(b.is_paragraph for b in blocks)
    assert by_text["关于基层党建工作的经验交流材料"].heading_level == 1
    first = by_text["第1项重点工作"]
    assert (first.numbering, first.heading_level) == ("一、", 2)
    assert by_text["强化政治引领"].numbering == "（一）"
    assert by_text["建立学习制度"].numbering == "1."
    assert by_text["落实三会一课"].numbering == "2."
    assert by_text["试点先行"].numbering == "甲、"
    assert by_text["压实工作责任"].numbering == "（二）"
    # A new parent item restarts the deeper counter, as Word prints it.
    assert by_text["建立责任清单"].numbering == "1."
    assert by_text["第11项重点工作"].numbering == "十一、"
    assert by_text["第12项重点工作"].numbering == "十二、"
    assert by_text["重新编号的第一项"].numbering == "一、"
    assert by_text["重新编号的第二项"].numbering == "二、"
    rows = [b.text for b in blocks if b.is_table_row]
    assert rows == ["单位\t做法\t成效", "示例街道党工委\t网格化管理\t群众满意"]
    order = [b.text for b in blocks]
    assert order.index("示例街道党工委\t网格化管理\t群众满意") < order.index("表后正文段落。")
    assert not any("页眉" in t or "页脚" in t for t in order)
    # Hidden text is not printed; a text box is read once, not once per stored rendering.
    assert "正文可见。" in order and not any("隐藏" in t for t in order)
    assert order.count("文本框里的要点") == 1
    assert order.index("带文本框的段落。") < order.index("文本框里的要点")


def test_word_counting_in_chinese_matches_what_word_prints() -> None:
    assert [chinese_counting(n) for n in (1, 9, 10, 11, 20, 21, 99, 100, 101, 110)] == [
        "一", "九", "十", "十一", "二十", "二十一", "九十九", "一百", "一百〇一", "一百一十"]
    assert [format_number(n, f) for n, f in ((3, "decimal"), (3, "ideographTraditional"), (12, "ideographDigital"),
                                             (3, "decimalEnclosedCircle"), (3, "chineseLegalSimplified"))] == [
        "3", "丙", "一二", "③", "叁"]


def test_real_word_submission_from_the_corpus_is_read_without_pictures_or_margins() -> None:
    doc = parse_file(REPO_ROOT / "corpus" / "samples" / "hust-partygov-docx__01.docx")
    assert doc.title == "党建专栏｜秋日迎新正当时，党旗领航显担当"
    assert doc.source.format == "docx"
    assert "党员先锋队" in doc.text


def test_pdf_exported_from_word_drops_running_header_and_page_numbers(pdf_with_margins: Path) -> None:
    reading = read_pdf(pdf_with_margins.read_bytes(), Settings())
    blocks, pages = reading.blocks, reading.pages
    assert pages >= 3
    texts = [b.text for b in blocks]
    squeezed = HEADER_TEXT.replace(" ", "")
    assert not any(squeezed in t.replace(" ", "") for t in texts)
    assert not any(re.fullmatch(r"[—\-\s]*\d+[—\-\s]*", t) for t in texts)
    assert texts[0] == "2009年中华人民共和国国务院政府工作报告"
    assert {b.page for b in blocks} == set(range(1, pages + 1))
    assert all(not b.is_paragraph for b in blocks)


def test_pdf_extraction_spaces_between_chinese_and_numbers_are_removed(corpus_formats: dict[str, dict[str, Path]]) -> None:
    doc = parse_file(corpus_formats["gwr-national__01"]["pdf"])
    assert "2004年中华人民共和国" in doc.text
    assert "增长9.1%，达到11.67万亿元" in doc.text
    # Quotes Word draws in a fallback font come back in their place.
    assert "以邓小平理论" in doc.text and "“三个代表”重要思想" in doc.text


def test_browser_printed_page_loses_the_date_url_and_page_margins(browser_printed_pdf: Path) -> None:
    doc = parse_file(browser_printed_pdf)
    assert doc.source.pages >= 2
    assert "http" not in doc.text and "file://" not in doc.text
    assert not re.search(r"\d{1,2}:\d{2}", doc.text)
    assert not re.search(r"^\s*\d+\s*/\s*\d+\s*$", doc.text, re.MULTILINE)
    assert "四川省政协" in doc.text


def test_cli_prints_the_parsed_pdf_as_json(corpus_formats: dict[str, dict[str, Path]]) -> None:
    pdf = corpus_formats["pb-lotjol__09"]["pdf"]
    run = subprocess.run([sys.executable, "-m", "service.cli", "parse", str(pdf), "--json"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    data = json.loads(run.stdout)
    assert data["title"] == "青海玉树州持之以恒为基层减负赋能"
    assert data["source"]["format"] == "pdf"
