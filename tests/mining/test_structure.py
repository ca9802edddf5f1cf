"""The extractor reads a section tree the same way it reads flat paragraphs.

The intake stage builds sections (headings out of the paragraph list, a second 一、…四、 series
after the speech's 我讲几点意见 line); the mining stage must give the same practices either way.
"""

from __future__ import annotations

import re
from dataclasses import replace

from service.intake.document import Document, Section
from service.mining import extract

HEADING = re.compile(r"^[一二三四五六七八九十]、")


def _with_sections(flat: Document) -> Document:
    """The flat seed document re-shaped into level-1 sections, headings out of the paragraphs."""
    preamble, sections = [], []
    for para in flat.paragraphs:
        if HEADING.match(para.text):
            sections.append(Section(para.text, para.text[0], 1, para.span, para.span, []))
        elif sections:
            sections[-1].paragraphs.append(para)
        else:
            preamble.append(para)
    for sec in sections:
        end = sec.paragraphs[-1].span[1] if sec.paragraphs else sec.heading_span[1]
        sec.span = (sec.heading_span[0], end)
    return replace(flat, paragraphs=preamble, sections=sections)


def test_section_tree_and_flat_paragraphs_give_the_same_practices(seed_document, seed_practices):
    structured = _with_sections(seed_document)
    assert len(structured.sections) == 10  # 六 report points, then 四 opinions
    practices = extract(structured)
    assert [(p.span, p.kind, p.orgs) for p in practices] == [(p.span, p.kind, p.orgs) for p in seed_practices]
    eight = next(p for p in practices if "党员八带头”活动。" in p.text)
    assert eight.kind == "directive"
    assert eight.section == ["二、深入开展“党员八带头”活动。"]
    study = next(p for p in practices if "日读一文" in p.text)
    assert study.section == ["二、思想政治教育持续深入。"]
