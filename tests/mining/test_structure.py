"""The extractor reads a section tree the same way it reads flat paragraphs.

The intake stage builds sections (headings out of the paragraph list, a second 一、…四、 series
after the speech's 我讲几点意见 line); the mining stage must give the same practices either way.
"""

from __future__ import annotations

from dataclasses import replace

from service.intake.document import Document, Paragraph
from service.mining import extract


def _flattened(structured: Document) -> Document:
    """The seed as a reader without structure would give it: every line a paragraph, no sections."""
    paragraphs, pos = [], 0
    for line in structured.text.split("\n"):
        if line.strip() and pos > 0:  # the first line is the title
            paragraphs.append(Paragraph(line, (pos, pos + len(line))))
        pos += len(line) + 1
    return replace(structured, paragraphs=paragraphs, sections=[])


def test_section_tree_and_flat_paragraphs_give_the_same_practices(seed_document, seed_practices):
    assert len(seed_document.sections) == 10  # 六 report points, then 四 opinions
    practices = extract(_flattened(seed_document))
    assert [(p.span, p.kind, p.orgs) for p in practices] == [(p.span, p.kind, p.orgs) for p in seed_practices]
    eight = next(p for p in practices if "党员八带头”活动。" in p.text)
    assert eight.kind == "directive"
    assert eight.section == ["二、深入开展“党员八带头”活动。"]
    study = next(p for p in practices if "日读一文" in p.text)
    assert study.section == ["二、思想政治教育持续深入。"]
