"""User stories for blocks → Document: clean text, rejoined lines, section tree and spans."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pdfplumber
import pytest
from opencc import OpenCC

from service.intake import parse_file
from service.intake.clean import is_salutation
from service.intake.document import Block, Document, Section, SourceInfo
from service.intake.structure import build_document

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"
CORPUS_TXT = sorted(SAMPLES.glob("*.txt"))


def _source(name: str, fmt: str = "txt") -> SourceInfo:
    return SourceInfo(name, fmt, "0" * 64, 0)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def _assert_spans(doc: Document) -> None:
    """Every span points at exactly the text it claims, and children sit inside parents."""
    for _, para in doc.iter_paragraphs():
        assert doc.text[para.span[0] : para.span[1]] == para.text

    def walk(sections: list[Section], outer: tuple[int, int]) -> None:
        for s in sections:
            assert doc.text[s.heading_span[0] : s.heading_span[1]] == s.heading
            assert outer[0] <= s.span[0] <= s.heading_span[0] < s.heading_span[1] <= s.span[1] <= outer[1]
            for p in s.paragraphs:
                assert s.span[0] <= p.span[0] < p.span[1] <= s.span[1]
            walk(s.children, s.span)

    walk(doc.sections, (0, len(doc.text)))


def test_seed_speech_has_ten_top_level_sections_and_items_under_six() -> None:
    doc = parse_file(SEED)
    assert doc.title == "在机关党建工作交流会上的讲话"
    assert doc.kind == "讲话"
    assert [s.heading for s in doc.sections] == [
        "一、党建工作责任有效落实。",
        "二、思想政治教育持续深入。",
        "三、基层组织建设日趋规范。",
        "四、纪律作风建设不断强化。",
        "五、机关文化活动丰富多彩。",
        "六、打好疫情防控工作主动仗。",
        "一、切实履行党建工作主体责任。",
        "二、深入开展“党员八带头”活动。",
        "三、切实抓好机关党建“五规范”工作。",
        "四、认真做好机关党建自查总结工作。",
    ]
    assert all(s.level == 1 for s in doc.sections)
    six = doc.sections[5]
    assert [c.heading for c in six.children] == ["一是提前谋划部署", "二是做好宣传引导", "三是摸清一线底数"]
    assert [c.number for c in six.children] == ["一是", "二是", "三是"]
    assert all(c.level == 2 for c in six.children)
    # The restart's lead-in stays with 六、, not inside its last item.
    assert six.paragraphs[-1].text == "关于当前机关党建工作，我讲几点意见："
    _assert_spans(doc)


def test_seed_teaser_is_dropped_and_wrapped_lines_are_rejoined() -> None:
    doc = parse_file(SEED)
    lines = doc.text.split("\n")
    assert lines[0] == "在机关党建工作交流会上的讲话"
    assert "..." not in doc.text and "认真贯..." not in doc.text
    assert [p.text for p in doc.paragraphs][:1] == ["同志们："]
    joined = [line for line in lines if "对下在机关党建网设立“亮身份、展风采”专栏进行宣传" in line]
    assert len(joined) == 1 and joined[0].startswith("面对突如其来的疫情")
    assert any("对市直机关党支部书记" not in ln and "今年5月，以“五规范”为主要内容" in ln for ln in lines)
    assert any("又就机关党建“五规范”等重点工作专门发文" in ln for ln in lines)
    # Placeholders are text, not noise.
    assert "X个县工委" in doc.text and "常态化推进**" in doc.text


@pytest.mark.parametrize("path", CORPUS_TXT, ids=lambda p: p.name)
def test_every_corpus_text_keeps_spans_titles_and_headings_honest(path: Path) -> None:
    doc = parse_file(path)
    _assert_spans(doc)
    first_line = next(line.strip() for line in _lines(path) if line.strip())
    if path != SEED:
        assert doc.title == first_line
    for _, section in doc.iter_sections():
        assert not is_salutation(section.heading)
        assert not section.heading.startswith(("同志们", "各位代表", "谢谢"))
    assert doc.text == "\n".join(p for p in doc.text.split("\n"))  # no stray "\r"
    assert "\r" not in doc.text


def test_government_report_nests_parenthesised_points_and_ordinals() -> None:
    doc = parse_file(SAMPLES / "gwr-national__01.txt")
    assert [s.number for s in doc.sections] == ["一、", "二、", "三、"]
    two = doc.sections[1]
    assert two.children[1].heading == "（二）巩固和加强农业基础地位，实现农民增收和农业增产"
    assert [c.number for c in two.children[1].children] == [
        "第一，",
        "第二，",
        "第三，",
        "第四，",
        "第五，",
        "第六，",
    ]
    assert all(c.level == 3 for c in two.children[1].children)


def test_inline_items_point_inside_their_paragraph() -> None:
    doc = parse_file(SEED)
    two, three = doc.sections[5].children[1:]
    # Both items sit on the same physical line of the clean text.
    line_start = doc.text.rfind("\n", 0, two.span[0]) + 1
    line_end = doc.text.find("\n", three.span[0])
    assert line_start < two.span[0] < three.span[0] < line_end
    assert two.span[1] == three.span[0]
    assert two.paragraphs[0].text.startswith("充分发挥“娘家”作用。")


def test_docx_paragraphs_of_the_seed_read_like_its_text() -> None:
    txt = parse_file(SEED)
    blocks = [Block(line, is_paragraph=True) for line in _lines(SEED) if line.strip()]
    docx = build_document(blocks, _source("seed.docx", "docx"))
    assert docx.text == txt.text
    assert [s.heading for s in docx.sections] == [s.heading for s in txt.sections]


def test_word_automatic_numbering_is_put_back_into_the_text() -> None:
    lines = [line for line in _lines(SEED) if line.strip()][1:]
    blocks = []
    for line in lines:
        if line[:2] in ("一、", "二、", "三、", "四、", "五、", "六、"):
            blocks.append(Block(line[2:], is_paragraph=True, numbering=line[:2]))
        else:
            blocks.append(Block(line, is_paragraph=True))
    doc = build_document(blocks, _source("seed.docx", "docx"))
    assert doc.sections[0].heading == "一、党建工作责任有效落实。"
    assert len(doc.sections) == 10


def test_pdf_lines_wrapped_at_page_width_rejoin_across_pages() -> None:
    txt = parse_file(SEED)
    blocks: list[Block] = []
    for para in txt.text.split("\n"):
        for i in range(0, len(para), 38):
            blocks.append(Block(para[i : i + 38], page=1 + len(blocks) // 30))
    assert max(b.page or 0 for b in blocks) > 3
    pdf = build_document(blocks, _source("seed.pdf", "pdf"))
    assert pdf.text == txt.text
    assert len(pdf.sections) == 10


def test_browser_printed_pdf_loses_rules_and_keeps_title_and_paragraphs_whole() -> None:
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    blocks: list[Block] = []
    with pdfplumber.open(SAMPLES / "hust-partygov-pdf__04.pdf") as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            blocks += [Block(line, page=number) for line in (page.extract_text() or "").split("\n")]
    doc = build_document(blocks, _source("hust-partygov-pdf__04.pdf", "pdf"))
    assert (
        doc.title == "西安交大党委组织部（党校）党支部开展 “听党指挥 薪火百年”主题党日活动-西安交通大学新闻网"
    )
    assert "=====" not in doc.text and "⼤" not in doc.text
    assert any(
        p.text.startswith("12月23日") and p.text.endswith("交通大学党组织成立100周年纪念展。")
        for p in doc.paragraphs
    )
    _assert_spans(doc)


def test_stray_number_in_running_text_is_not_a_heading() -> None:
    lines = [line for line in _lines(SAMPLES / "pb-lotjol__07.txt") if line.strip()]
    blocks = [
        Block(lines[0]),
        Block(lines[1]),
        Block("三、这一行只是正文里的编号，前面没有一、和二、。"),
        *map(Block, lines[2:]),
    ]
    doc = build_document(blocks, _source("x.txt"))
    assert doc.sections == []
    assert any(p.text.startswith("三、这一行") for p in doc.paragraphs)


def test_long_numbered_paragraph_has_first_sentence_as_heading() -> None:
    body = "坚持每月集中学习一次，" + "结合岗位实际交流体会，形成学习台账，" * 10 + "确保学习取得实效。"
    blocks = [Block("学习制度"), Block(""), Block("1.建立学习制度。" + body), Block("2.落实学习台账。")]
    doc = build_document(blocks, _source("x.txt"))
    first = doc.sections[0]
    assert first.heading == "1.建立学习制度。"
    assert first.paragraphs[0].text == body
    assert first.level == 1 and doc.sections[1].heading == "2.落实学习台账。"


def test_first_numbering_style_used_is_level_one() -> None:
    lines = [line for line in _lines(SAMPLES / "gwr-national__02.txt") if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("（一）"))
    end = next(i for i, line in enumerate(lines) if line.startswith("二、"))
    doc = build_document([Block(lines[0]), *map(Block, lines[start:end])], _source("x.txt"))
    assert [s.number for s in doc.sections][:3] == ["（一）", "（二）", "（三）"]
    assert all(s.level == 1 for s in doc.sections)


def test_traditional_characters_parse_like_simplified() -> None:
    converter = OpenCC("s2t")
    blocks = [Block(converter.convert(line)) for line in _lines(SEED)]
    doc = build_document(blocks, _source("seed-traditional.txt"))
    assert doc.title == "在機關黨建工作交流會上的講話"
    assert doc.kind == "讲话"
    assert len(doc.sections) == 10
    assert len(doc.sections[5].children) == 3


def test_a_fifty_thousand_character_paragraph_parses_quickly() -> None:
    sentence = "各级党组织认真落实党建工作责任制，一是坚持把机关党建工作摆在首位；二是与中心工作一同研究，"
    text = (sentence * (50_000 // len(sentence) + 1))[:50_000]
    started = time.perf_counter()
    doc = build_document([Block("标题"), Block(text)], _source("long.txt"))
    assert time.perf_counter() - started < 1.0
    assert len(doc.text) == 50_003


def test_a_government_report_builds_well_under_fifty_milliseconds() -> None:
    blocks = [Block(line) for line in _lines(SAMPLES / "gwr-national__19.txt")]
    assert sum(len(b.text) for b in blocks) > 16_000
    build_document(blocks, _source("gwr.txt"))
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        build_document(blocks, _source("gwr.txt"))
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.05


def test_unnumbered_sub_headings_of_a_news_report_form_two_levels() -> None:
    doc = parse_file(SAMPLES / "pb-lotjol__08.txt")
    assert [s.heading for s in doc.sections] == [
        "服务在前解民忧",
        "教育在前树新风",
        "扶助在前暖桑榆",
        "关爱在前促成长",
    ]
    assert [c.heading for s in doc.sections for c in s.children] == [
        "“小板凳”下沉一线",
        "“小铃铛”警醒常在",
        "“小拐杖”精准帮扶",
        "“小嫩芽”悉心呵护",
    ]
    assert all(s.number is None for _, s in doc.iter_sections())
    _assert_spans(doc)


def test_word_heading_styles_make_sections_and_never_join() -> None:
    lines = [line for line in _lines(SAMPLES / "pb-lotjol__08.txt") if line.strip()]
    outer = {"服务在前解民忧", "教育在前树新风", "扶助在前暖桑榆", "关爱在前促成长"}
    blocks = [
        Block(
            line,
            is_paragraph=True,
            heading_level=1 if line in outer else 2 if line.startswith("“小") else None,
        )
        for line in lines
    ]
    doc = build_document(blocks, _source("pb.docx", "docx"))
    assert len(doc.sections) == 4 and all(len(s.children) == 1 for s in doc.sections)
    assert doc.text.split("\n") == lines


def test_table_rows_are_neither_joined_nor_headings() -> None:
    lines = [line for line in _lines(SEED) if line.strip()][1:4]
    rows = ["一、单位名称", "市委组织部", "二、党员人数", "120"]
    blocks = [*map(Block, lines), *(Block(row, is_table_row=True) for row in rows)]
    doc = build_document(blocks, _source("table.docx", "docx"))
    assert doc.sections == []
    assert doc.text.split("\n")[-4:] == rows


def test_pdf_running_headers_and_page_numbers_are_dropped() -> None:
    txt = parse_file(SEED)
    blocks: list[Block] = []
    page_lines: list[str] = []
    for para in txt.text.split("\n"):
        page_lines += [para[i : i + 38] for i in range(0, len(para), 38)]
    for page, start in enumerate(range(0, len(page_lines), 30), start=1):
        blocks.append(Block("安康市直机关工委文件", page=page))
        blocks += [Block(line, page=page) for line in page_lines[start : start + 30]]
        blocks.append(Block(f"第 {page} 页", page=page))
    doc = build_document(blocks, _source("seed.pdf", "pdf"))
    assert "安康市直机关工委文件" not in doc.text and "第 1 页" not in doc.text
    assert doc.text == txt.text


def test_numbered_line_after_a_comma_still_starts_a_section() -> None:
    lines = [line for line in _lines(SEED) if line.strip()][1:]
    intro = lines.index("关于当前机关党建工作，我讲几点意见：")
    lines[intro] = "关于当前机关党建工作，我讲以下几点，"
    doc = build_document([Block(line) for line in lines], _source("seed.txt"))
    assert len(doc.sections) == 10


def test_run_in_lead_sentences_of_a_practice_report_become_headings() -> None:
    doc = parse_file(SAMPLES / "pb-lotjol__10.txt")
    assert [s.heading for s in doc.sections] == [
        "上下联动共建共创。",
        "整合力量释放动能。",
        "建强品牌提质增效。",
    ]
    assert doc.sections[0].paragraphs[0].text.startswith("建立民政系统党建纵向联动工作机制")
    assert doc.paragraphs[0].text.startswith("今年以来，浙江省金华市民政局坚持党建引领")
    _assert_spans(doc)
    # A single short opening sentence is not enough to make a heading.
    assert parse_file(SAMPLES / "hust-partygov__01.txt").sections == []
