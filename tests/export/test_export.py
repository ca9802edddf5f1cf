"""A clerk exports practices to Word, Excel (CSV) and JSON and reopens what was written."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import docx
from docx.oxml.ns import qn
from docx.shared import Pt

from service.digest import schema as digest_schema
from service.library import export
from service.library import schema as library_schema
from service.library.db import connect
from tests.digest.conftest import SAMPLES, SEED
from tests.digest.corpus_library import SEED_SPECS, XIANYANG, XIANYANG_SPECS, add_document


def stored_practices(tmp_path):
    conn = connect(tmp_path / "library.sqlite")
    library_schema.migrate(conn)
    digest_schema.migrate(conn)
    now = datetime.now(UTC)
    ids = add_document(conn, SEED, SEED_SPECS, now) + add_document(conn, SAMPLES / XIANYANG, XIANYANG_SPECS, now)
    practices = export.load_export_practices(conn, ids, "http://jingyan.test")
    conn.close()
    return practices


def east_asian_font(paragraph) -> str | None:
    """The Chinese font Word uses for ``paragraph``: set on its runs, else on its style or the style's base."""
    for run in paragraph.runs:
        rpr = run._element.rPr
        if rpr is not None and rpr.rFonts is not None and rpr.rFonts.get(qn("w:eastAsia")):
            return rpr.rFonts.get(qn("w:eastAsia"))
    style = paragraph.style
    while style is not None:
        rfonts = style.element.rPr.rFonts if style.element.rPr is not None else None
        if rfonts is not None and rfonts.get(qn("w:eastAsia")):
            return rfonts.get(qn("w:eastAsia"))
        style = style.base_style
    return None


def font_size(paragraph):
    style = paragraph.style
    while style.font.size is None:
        style = style.base_style
    return style.font.size


def test_word_compilation_has_topics_practices_sources_and_official_fonts(tmp_path):
    practices = stored_practices(tmp_path)
    data = export.to_docx(practices, on=date(2026, 11, 27))
    doc = docx.Document(io.BytesIO(data))
    paragraphs = doc.paragraphs
    texts = [p.text for p in paragraphs]

    assert texts[0] == "经验做法汇编" and "2026年11月27日" in texts[1]
    assert east_asian_font(paragraphs[0]) == "方正小标宋简体" and font_size(paragraphs[0]) == Pt(22)
    headings = [p for p in paragraphs if p.style.name == "Heading 1"]
    assert [h.text for h in headings] == ["一、思想建设", "二、作风建设", "三、基层治理"]
    assert all(east_asian_font(h) == "黑体" and font_size(h) == Pt(16) for h in headings)
    body = "\n".join(texts)
    for p in practices:
        assert p.text in body
    assert "市委办公室：“日读一文、周写千字、月读一书、季写一篇”" in body
    assert f"来源：《{practices[0].doc_title}》（{SEED.name}）" in body
    practice_para = next(p for p in paragraphs if "日读一文" in p.text)
    assert east_asian_font(practice_para) == "仿宋_GB2312" and font_size(practice_para) == Pt(16)
    assert practice_para.runs[0].bold and practice_para.style.paragraph_format.line_spacing == Pt(28)
    source_para = paragraphs[paragraphs.index(practice_para) + 1]
    assert source_para.text.startswith("来源：") and east_asian_font(source_para) == "楷体_GB2312"
    section = doc.sections[0]
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m.cm, 2) for m in margins] == [3.7, 3.5, 2.8, 2.6]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    font_table = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    assert "华文中宋".encode() in font_table.blob


def test_practice_groups_become_second_level_headings(tmp_path):
    practices = stored_practices(tmp_path)
    for p in practices[:2]:
        p.group_id, p.group_label = 7, "学习制度"
    practices[2].group_id, practices[2].group_label = 9, "五微学习法"  # alone in the export: no heading
    doc = docx.Document(io.BytesIO(export.to_docx(practices)))
    level2 = [p for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert [p.text for p in level2] == ["（一）学习制度", "（二）其他做法"]
    assert east_asian_font(level2[0]) == "楷体_GB2312"
    texts = [p.text for p in doc.paragraphs]
    assert texts.index("（二）其他做法") < next(i for i, t in enumerate(texts) if "五微" in t)


def test_directives_are_marked_apart_from_reported_practices(tmp_path):
    practices = stored_practices(tmp_path)
    practices[3].kind = "directive"
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(export.to_docx(practices))).paragraphs)
    assert "市发改委：“三卡预警”（工作要求）" in body
    assert "市委办公室：“日读一文、周写千字、月读一书、季写一篇”。" in body


def test_csv_opens_in_excel_and_with_the_csv_module(tmp_path):
    practices = stored_practices(tmp_path)
    data = export.to_csv(practices)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == len(practices)
    first = rows[0]
    assert first["单位"] == "市委办公室" and first["主题"] == "思想建设"
    assert "日读一文" in first["做法内容"] and first["来源文件"] == SEED.name
    assert first["链接"] == f"http://jingyan.test/practices/{practices[0].id}"


def test_json_keeps_every_field(tmp_path):
    practices = stored_practices(tmp_path)
    doc = json.loads(export.to_json(practices))
    assert doc["count"] == len(practices) == 5
    assert doc["practices"][3]["name"] == "“三卡预警”" and doc["practices"][3]["tags"] == ["监督执纪"]


def test_chinese_heading_numbers_go_past_one_hundred_and_ten():
    expected = {1: "一", 10: "十", 11: "十一", 20: "二十", 101: "一百零一", 110: "一百一十", 111: "一百一十一",
                1005: "一千零五", 1010: "一千零一十", 10010: "一万零一十", 100000: "十万"}
    assert {n: export.cn_number(n) for n in expected} == expected
    assert len({export.cn_number(n) for n in range(1, 20001)}) == 20000  # every number its own heading


def test_a_topic_with_more_than_a_hundred_and_ten_groups_exports_and_opens(tmp_path):
    practices = [
        export.ExportPractice(
            id=n, text=f"第{n}项做法的具体内容。", name=None, orgs=[f"第{n % 5}社区"], topic="基层治理",
            kind="practice", document_id=1, doc_title="基层治理交流材料", doc_filename="a.txt",
            group_id=n // 2, group_label=f"做法组{n // 2:03d}",
        )
        for n in range(2, 2 * 130 + 2)
    ]
    doc = docx.Document(io.BytesIO(export.to_docx(practices)))
    level2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert len(level2) == 130
    assert level2[110].startswith("（一百一十一）") and level2[-1].startswith("（一百三十）")


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised():
    risky = export.ExportPractice(
        id=1, text="\t=cmd|' /C calc'!A0", name="\r@SUM(A1)", orgs=["+1+1"], topic="思想建设", kind="practice",
        document_id=1, doc_title="=HYPERLINK(\"http://evil.test\",\"点此\")", doc_filename="-2+3.txt",
    )
    row = next(csv.DictReader(io.StringIO(export.to_csv([risky]).decode("utf-8-sig"))))
    assert row["做法内容"] == "'\t=cmd|' /C calc'!A0" and row["做法名称"] == "'\r@SUM(A1)"
    assert row["单位"] == "'+1+1" and row["来源标题"].startswith("'=HYPERLINK") and row["来源文件"] == "'-2+3.txt"
    assert row["编号"] == "1"
