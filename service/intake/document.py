"""The Document model: clean text as the single source of truth, everything else as spans into it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Span = tuple[int, int]

DOCUMENT_KINDS = ("讲话", "总结", "交流材料", "经验材料", "报道", "报告", "其他")


def trim_span(text: str, start: int, end: int, also: str = "") -> Span:
    """``(start, end)`` narrowed past whitespace (and any character in ``also``) at both edges."""
    while start < end and (text[start].isspace() or text[start] in also):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in also):
        end -= 1
    return start, end


@dataclass
class Paragraph:
    """One paragraph of clean text; ``span`` is ``[start, end)`` into ``Document.text``."""

    text: str
    span: Span


@dataclass
class Section:
    """A numbered heading and what it governs.

    ``level`` 1 is the outermost numbering used in the document; ``span`` covers the heading and
    everything under it, ``heading_span`` only the heading line.
    """

    heading: str
    number: str | None
    level: int
    span: Span
    heading_span: Span
    paragraphs: list[Paragraph] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)


@dataclass
class Block:
    """A unit of text as a reader found it, before clean-up and structure.

    PDF and TXT readers emit physical lines (``is_paragraph=False``); DOCX emits paragraphs.
    ``heading_level`` carries a Word heading style (1 = Heading 1), ``numbering`` the label Word's
    automatic numbering would print before the text (e.g. ``一、``). ``font_size`` is the printed
    size in points of a PDF line (or the pixel height of a recognised line), where known.
    """

    text: str
    page: int | None = None
    is_paragraph: bool = False
    heading_level: int | None = None
    numbering: str | None = None
    is_table_row: bool = False
    font_size: float | None = None


@dataclass
class SourceInfo:
    """Where the document came from and how it was read."""

    filename: str
    format: str  # "pdf" | "docx" | "txt" | "doc" | "image"
    sha256: str
    size: int
    pages: int | None = None
    encoding: str | None = None
    # Text recognised from page images (OCR), with each page's mean character confidence
    # (None for a page read from its text layer, 0 for a picture page where nothing was recognised).
    ocr: bool = False
    ocr_confidence: list[float | None] | None = None


@dataclass
class Document:
    """A parsed submission: title, kind, issuing unit, date, clean text and its section tree.

    Text before the first numbered heading lives in ``paragraphs`` (the preamble); everything
    after it lives in ``sections``.
    """

    title: str
    kind: str
    org: str | None
    date: str | None
    text: str
    paragraphs: list[Paragraph]
    sections: list[Section]
    source: SourceInfo | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; spans become lists."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """Inverse of :meth:`to_dict`."""
        return cls(
            title=data["title"],
            kind=data["kind"],
            org=data.get("org"),
            date=data.get("date"),
            text=data["text"],
            paragraphs=[_paragraph(p) for p in data.get("paragraphs", [])],
            sections=[_section(s) for s in data.get("sections", [])],
            source=SourceInfo(**data["source"]) if data.get("source") else None,
            warnings=list(data.get("warnings", [])),
        )

    def iter_sections(self) -> list[tuple[list[str], Section]]:
        """All sections depth-first, each with its heading path (outermost first)."""
        out: list[tuple[list[str], Section]] = []

        def walk(sections: list[Section], path: list[str]) -> None:
            for s in sections:
                here = [*path, s.heading]
                out.append((here, s))
                walk(s.children, here)

        walk(self.sections, [])
        return out

    def iter_paragraphs(self) -> list[tuple[list[str], Paragraph]]:
        """Every paragraph in reading order with the heading path it sits under."""
        out: list[tuple[list[str], Paragraph]] = [([], p) for p in self.paragraphs]
        for path, section in self.iter_sections():
            out.extend((path, p) for p in section.paragraphs)
        out.sort(key=lambda item: item[1].span[0])
        return out


def _paragraph(d: dict[str, Any]) -> Paragraph:
    return Paragraph(text=d["text"], span=(d["span"][0], d["span"][1]))


def _section(d: dict[str, Any]) -> Section:
    return Section(
        heading=d["heading"],
        number=d.get("number"),
        level=d["level"],
        span=(d["span"][0], d["span"][1]),
        heading_span=(d["heading_span"][0], d["heading_span"][1]),
        paragraphs=[_paragraph(p) for p in d.get("paragraphs", [])],
        children=[_section(c) for c in d.get("children", [])],
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
