"""Blocks → Document: clean-up, title/kind/org/date and the section tree.

The clean text is the clean paragraphs joined by ``"\\n"``; every span is ``[start, end)`` into it
and ``text[span[0]:span[1]]`` equals the paragraph or heading text.

Section rules:

* **Headings** are paragraphs that start with a numbering label (``一、`` ``（一）`` ``第一，``
  ``1.`` ``（1）`` ``一是``), Word heading-styled paragraphs, and short unnumbered sub-heading
  lines (2–24 characters, no inner punctuation, followed by a body paragraph — or by such a
  line, which makes an outer heading — at least two in the document, after the first body
  paragraph) in documents that have no numbered headings; failing those, run-in lead sentences
  (``加大人才引进力度。`` opening at least two paragraphs, at most 16 characters, no comma). The title and table rows never are.
* **Numbers run on**: a label with value 1 starts a series; a larger value is a heading only if
  the previous heading of that style under the same parent had the value one or two below it,
  so a stray ``三、`` in running text is not a heading. A new ``一、`` after ``六、`` starts a new
  series of siblings (the seed has ten top-level sections).
* **Nesting** follows the order in which styles first appear: the first style used is level 1,
  and a heading closes every open section of its own or a later-appearing style. ``一是`` items
  always nest under the innermost open numbered section. ``level`` is the depth in the tree.
* **Heading text**: a numbered paragraph of at most 60 characters is all heading. A longer one is a
  numbered paragraph: its heading is the label plus the first sentence (through ``。！？；``) if
  that fits in 60 characters, else up to the first ``，：``; the rest of the paragraph is the
  section's first body paragraph. An ``一是`` item's heading is its lead clause, up to the first
  ``，。；：！？`` (the mark itself belongs to neither heading nor body).
* **Inline items**: ``二是…三是…`` after a clause break inside a paragraph are sibling items
  too. The paragraph's text is not changed; its pieces become the ``Paragraph`` objects of the
  item sections, with spans inside the one line. Items found inline end with their paragraph;
  what follows belongs to the enclosing section. Inline items outside any numbered section
  start no series (so the preamble stays whole), but continue one begun by line-start items.
* **Preamble**: paragraphs before the first heading, except the title, are ``Document.paragraphs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from service.intake.clean import CleanParagraph, clean_blocks, is_salutation
from service.intake.document import Block, Document, Paragraph, Section, SourceInfo, trim_span
from service.intake.meta import read_meta
from service.intake.numbering import SHI, Label, inline_items, leading_label

HEADING_MAX = 60
_PLAIN_MAX = 24
_BODY_MIN = 40
_SENTENCE_END = re.compile(r"[。！？!?；;][”’」』）)]*")
_CLAUSE_END = re.compile(r"[，,：:]")
_ITEM_END = re.compile(r"[，,。；;：:！!？?]")
_INNER_PUNCT = re.compile(r"[。！？!?；;：:，,、]")
# A run-in heading: a short comma-free first sentence such as 加大人才引进力度。 before the body.
_LEAD_SENTENCE = re.compile(r"[^，,。；;：:！!？?“”]{2,16}[。！!]")


def build_document(blocks: list[Block], source: SourceInfo) -> Document:
    """Assemble a Document from reader output: clean paragraphs, metadata, section tree."""
    paragraphs = clean_blocks(blocks)
    texts = [p.text for p in paragraphs]
    fallback = Path(source.filename).stem if source is not None else "未命名文档"
    meta = read_meta(texts, fallback)
    text = "\n".join(texts)
    builder = _TreeBuilder(text)
    plain = _plain_headings(paragraphs, meta.title_index)
    pos = 0
    for i, para in enumerate(paragraphs):
        if i != meta.title_index:
            builder.add(para, pos, plain.get(i))
        pos += len(para.text) + 1
    warnings: list[str] = []
    if meta.title_index is None:
        warnings.append("未能识别标题，已使用文件名作为标题")
    if not text:
        warnings.append("文件中没有可读的正文")
    return Document(
        meta.title, meta.kind, meta.org, meta.date, text, builder.preamble, builder.finish(), source, warnings
    )


def _plain_headings(paragraphs: list[CleanParagraph], title_index: int | None) -> dict[int, str]:
    """Short unnumbered sub-heading lines by index, each with its style (see module rules).

    A candidate line directly followed by body text is an inner heading (``plain``); one followed
    by an inner heading is an outer heading (``plain-outer``), as in 服务在前解民忧 /
    “小板凳”下沉一线 / body. Without such lines, paragraphs that open with a short comma-free
    sentence (``加大人才引进力度。锚定产业需求，…``) get that sentence as a run-in heading
    (``lead``), when at least two paragraphs do.
    """
    if any((label := leading_label(p.text)) is not None and label.style != SHI for p in paragraphs):
        return {}  # a numbered document: short unnumbered lines there are fragments, not headings
    first_body = next((i for i, p in enumerate(paragraphs) if len(p.text) >= _BODY_MIN), len(paragraphs))

    def candidate(i: int) -> bool:
        t = paragraphs[i].text
        return (
            2 <= len(t) <= _PLAIN_MAX
            and i != title_index
            and not paragraphs[i].is_table_row
            and not _INNER_PUNCT.search(t)
            and leading_label(t) is None
            and not is_salutation(t)
        )

    found: dict[int, str] = {}
    for i in range(len(paragraphs) - 2, first_body, -1):
        if not candidate(i):
            continue
        if len(paragraphs[i + 1].text) >= _BODY_MIN:
            found[i] = "plain"
        elif found.get(i + 1) == "plain":
            found[i] = "plain-outer"
    if sum(1 for style in found.values() if style == "plain") >= 2:
        return found
    leads = {
        i: "lead"
        for i in range(first_body, len(paragraphs))
        if i != title_index
        and (m := _LEAD_SENTENCE.match(paragraphs[i].text))
        and len(paragraphs[i].text) - m.end() >= _BODY_MIN
    }
    return leads if len(leads) >= 2 else {}


@dataclass
class _Open:
    section: Section
    style: str
    rank: float
    inline: bool


class _TreeBuilder:
    """Single pass over paragraphs keeping a stack of open sections."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.preamble: list[Paragraph] = []
        self.roots: list[Section] = []
        self.stack: list[_Open] = []
        self.rank: dict[str, int] = {}
        self.last_value: dict[tuple[int, str], int] = {}

    def add(self, para: CleanParagraph, base: int, plain_style: str | None) -> None:
        """Place one clean paragraph starting at offset ``base`` of the text."""
        text = para.text
        body_start = 0
        if not para.is_table_row:
            label = leading_label(text)
            if label is not None and self._accept(label.style, label.value, inline=False):
                head_end, body_start = _split_heading(text, label)
                self._open(label.style, label.value, label.text, base, base + head_end, inline=False)
            elif para.heading_level:
                self._open(f"H{para.heading_level}", None, None, base, base + len(text), inline=False)
                body_start = len(text)
            elif plain_style == "lead" and (lead := _LEAD_SENTENCE.match(text)) is not None:
                body_start = lead.end()
                self._open(plain_style, None, None, base, base + body_start, inline=False)
            elif plain_style:
                self._open(plain_style, None, None, base, base + len(text), inline=False)
                body_start = len(text)
        if body_start < len(text):
            self._body(text, base, body_start, scan_items=not para.is_table_row)

    def _body(self, text: str, base: int, start: int, scan_items: bool) -> None:
        cursor = start
        opened_inline = False
        if scan_items:
            for item in inline_items(text, start):
                if item.start < cursor or not self._accept(SHI, item.value, inline=True):
                    continue
                self._piece(text, base, cursor, item.start)
                head_end, cursor = _split_heading(text, item)
                self._open(SHI, item.value, item.text, base + item.start, base + head_end, inline=True)
                opened_inline = True
        self._piece(text, base, cursor, len(text))
        if opened_inline:
            while self.stack and self.stack[-1].inline:
                self.stack.pop()

    def _piece(self, text: str, base: int, start: int, end: int) -> None:
        start, end = trim_span(text, start, end)
        if start >= end:
            return
        para = Paragraph(text[start:end], (base + start, base + end))
        if self.stack:
            self.stack[-1].section.paragraphs.append(para)
        else:
            self.preamble.append(para)

    def _keep(self, style: str) -> int:
        """How many open sections stay open when a heading of ``style`` arrives."""
        if style == SHI:
            k = len(self.stack)
            while k and self.stack[k - 1].style == SHI:
                k -= 1
            return k
        rank = self.rank.get(style, len(self.rank))
        k = 0
        while k < len(self.stack) and self.stack[k].rank < rank:
            k += 1
        return k

    def _accept(self, style: str, value: int | None, inline: bool) -> bool:
        k = self._keep(style)
        parent = self.stack[k - 1].section if k else None
        if value is None:
            return True
        if value == 1:
            return not (inline and parent is None)
        previous = self.last_value.get((id(parent), style))
        return previous is not None and value - previous in (1, 2)

    def _open(
        self, style: str, value: int | None, number: str | None, start: int, head_end: int, inline: bool
    ) -> None:
        if style != SHI and style not in self.rank:
            self.rank[style] = len(self.rank)
        k = self._keep(style)
        del self.stack[k:]
        parent = self.stack[-1].section if self.stack else None
        heading = self.text[start:head_end]
        section = Section(heading, number, len(self.stack) + 1, (start, head_end), (start, head_end))
        (parent.children if parent is not None else self.roots).append(section)
        if value is not None:
            self.last_value[(id(parent), style)] = value
        rank = float("inf") if style == SHI else float(self.rank[style])
        self.stack.append(_Open(section, style, rank, inline))

    def finish(self) -> list[Section]:
        """The section tree with each span widened to cover its body and children."""
        for section in self.roots:
            _close_span(section)
        return self.roots


def _close_span(section: Section) -> int:
    end = section.heading_span[1]
    for p in section.paragraphs:
        end = max(end, p.span[1])
    for child in section.children:
        end = max(end, _close_span(child))
    section.span = (section.heading_span[0], end)
    return end


def _split_heading(text: str, label: Label) -> tuple[int, int]:
    """(end of heading, start of body) within ``text`` for a heading that starts at ``label``."""
    start = label.start
    if label.style == SHI:
        m = _ITEM_END.search(text, label.end)
        if m is None:
            end = min(len(text), start + HEADING_MAX)
            return end, end
        if m.start() - start > HEADING_MAX:
            end = start + HEADING_MAX
            return end, end
        return m.start(), m.end()
    if len(text) - start <= HEADING_MAX:
        return len(text), len(text)
    m = _SENTENCE_END.search(text, label.end)
    if m and m.end() - start <= HEADING_MAX:
        return m.end(), m.end()
    m = _CLAUSE_END.search(text, label.end)
    if m and m.start() - start <= HEADING_MAX:
        return m.start(), m.end()
    end = start + HEADING_MAX
    return end, end
