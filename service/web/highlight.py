"""Marking text for the pages: query terms in snippets, practice spans in a document's clean text.

Every span is ``[start, end)`` into ``Document.text`` (the single source of truth), so highlighting
is a matter of cutting the text at offsets and escaping each piece.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


def mark_terms(text: str, terms: Iterable[str], cls: str | None = None) -> Markup:
    """``text`` escaped, with every occurrence of any of ``terms`` wrapped in ``<mark>``.

    Longer terms win over shorter ones starting at the same place (学习制度 before 学习).
    """
    wanted = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    open_tag = Markup(f'<mark class="{cls}">') if cls else Markup("<mark>")
    out: list[Markup] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(escape(text[pos : m.start()]))
        out.append(open_tag + escape(m.group(0)) + Markup("</mark>"))
        pos = m.end()
    out.append(escape(text[pos:]))
    return Markup("").join(out)


@dataclass
class Marked:
    """A span to mark inside a stretch of text: offsets into the full text, the tag's HTML around it."""

    start: int
    end: int
    before: Markup
    after: Markup


def mark_spans(text: str, base: int, spans: Sequence[Marked], terms: Iterable[str] = ()) -> Markup:
    """The slice of the full text ``text`` (which starts at offset ``base``) with ``spans`` wrapped.

    Spans are clipped to the slice; a span overlapping an earlier one is dropped so the markup
    stays well nested. Plain stretches between spans get ``terms`` highlighted.
    """
    terms = list(terms)
    end_of_text = base + len(text)
    out: list[Markup] = []
    pos = base
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(s.start, base), min(s.end, end_of_text)
        if end <= start or start < pos:
            continue
        out.append(mark_terms(text[pos - base : start - base], terms))
        out.append(s.before + mark_terms(text[start - base : end - base], terms) + s.after)
        pos = end
    out.append(mark_terms(text[pos - base :], terms))
    return Markup("").join(out)


@dataclass
class Block:
    """One heading or paragraph of a document, ready to render."""

    kind: str  # "heading" | "paragraph"
    start: int
    end: int
    level: int = 0
    anchor: str | None = None
    html: Markup = Markup()  # immutable, so one shared empty value is safe


def document_blocks(structure: dict | None, text: str) -> list[Block]:
    """Headings and paragraphs of a stored document (``Document.to_dict()``) in reading order.

    Falls back to one paragraph per line when the structure is missing.
    """
    blocks: list[Block] = []
    if structure:
        for p in structure.get("paragraphs", []):
            blocks.append(Block("paragraph", p["span"][0], p["span"][1]))

        def walk(sections: list[dict], prefix: str) -> None:
            for i, s in enumerate(sections, start=1):
                anchor = f"s{prefix}{i}"
                hs = s.get("heading_span") or s["span"]
                blocks.append(Block("heading", hs[0], hs[1], level=int(s.get("level", 1)), anchor=anchor))
                for p in s.get("paragraphs", []):
                    blocks.append(Block("paragraph", p["span"][0], p["span"][1]))
                walk(s.get("children", []), f"{prefix}{i}-")

        walk(structure.get("sections", []), "")
    if not blocks:
        pos = 0
        for line in text.split("\n"):
            if line.strip():
                blocks.append(Block("paragraph", pos, pos + len(line)))
            pos += len(line) + 1
    blocks.sort(key=lambda b: (b.start, b.kind != "heading"))
    return blocks


def outline(structure: dict | None) -> list[dict]:
    """The section tree as nested ``{"heading", "anchor", "children"}`` dicts (same anchors as the blocks)."""

    def walk(sections: list[dict], prefix: str) -> list[dict]:
        return [
            {
                "heading": s.get("heading", ""),
                "anchor": f"s{prefix}{i}",
                "children": walk(s.get("children", []), f"{prefix}{i}-"),
            }
            for i, s in enumerate(sections, start=1)
        ]

    return walk((structure or {}).get("sections", []), "")


def page_breaks(blocks: Sequence[Block], practice_starts: Sequence[int], per_page: int, max_chars: int) -> list[int]:
    """Indices of the blocks each page of a long document starts with (the first is always 0).

    A page closes before the block that would take it past ``per_page`` practices or ``max_chars``
    characters, so each page is cheap to render however long the document; a page holds at least
    one block. One pass over the blocks and the (sorted) practice starts.
    """
    breaks = [0]
    count, page_start, j = 0, blocks[0].start if blocks else 0, 0
    for i, b in enumerate(blocks):
        starting = 0
        while j < len(practice_starts) and practice_starts[j] < b.end:
            starting += 1
            j += 1
        if i > breaks[-1] and (count + starting > per_page or b.end - page_start > max_chars):
            breaks.append(i)
            count, page_start = 0, b.start
        count += starting
    return breaks


def containing_block(blocks: Sequence[Block], start: int, end: int) -> Block | None:
    """The paragraph that holds ``[start, end)`` (the one overlapping it most)."""
    best, best_overlap = None, 0
    for b in blocks:
        overlap = min(b.end, end) - max(b.start, start)
        if overlap > best_overlap:
            best, best_overlap = b, overlap
    return best
