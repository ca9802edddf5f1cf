"""Printed pages → reader blocks: what PDF text and recognised page images have in common.

A page is a list of lines with their vertical band; lines repeated in the top or bottom band of
most pages (running headers and footers), page numbers and a browser's print margins are dropped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from service.intake.document import Block
from service.intake.guard import Progress
from service.intake.readers.ocr import LOW_CONFIDENCE, RecognisedPage

# Share of the page height, from the top and from the bottom, where headers and footers live.
BAND = 0.12
_CJK = r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# A single space PDF extraction put between a CJK character and a CJK character, digit or letter.
_EXTRACTION_SPACE = re.compile(
    rf"(?<=[{_CJK}]) (?=[{_CJK}A-Za-z0-9])|(?<=[A-Za-z0-9]) (?=[{_CJK}])"
)
# Recognised scans often read the dashes of — 3 — as 一.
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_~·.一\s]*\d{1,4}[-—–－_~·.一\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
# What a browser prints in the page margins: the date/time and title on top, the URL below.
_BROWSER_MARGIN = re.compile(r"^(?:\d{1,4}[/-]\d{1,2}[/-]\d{1,4},?\s*(?:[上下]午)?\s*\d{1,2}:\d{2}|https?://|file://|about:)")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")

__all__ = ["PageLine", "Progress", "Reading", "band_of", "confidence_warnings", "page_blocks", "recognised_lines"]


@dataclass
class PageLine:
    """One printed line of a page."""

    text: str
    band: str | None  # "top", "bottom" or None (body)
    size: float | None = None  # font size in points (PDF text) or line height in pixels (recognised)


@dataclass
class Reading:
    """What a page reader returns: blocks, page count, notes for the clerk, recognition confidence.

    ``ocr_confidence`` has one entry per page when any page was recognised: the page's mean
    character confidence, 0 when nothing was recognised on it, ``None`` for a page read from its
    text layer. Without recognition it is ``None``.
    """

    blocks: list[Block]
    pages: int
    warnings: list[str] = field(default_factory=list)
    ocr_confidence: list[float | None] | None = None


def band_of(top_share: float) -> str | None:
    """The band of a line whose top lies ``top_share`` of the page height from the top."""
    return "top" if top_share < BAND else "bottom" if top_share > 1 - BAND else None


def recognised_lines(page: RecognisedPage) -> list[PageLine]:
    """A recognised page image as page lines."""
    return [PageLine(line.text, band_of(line.top / page.height), round(line.bottom - line.top, 1))
            for line in page.lines]


def page_blocks(pages: list[list[PageLine]]) -> list[Block]:
    """Blocks of all pages in order, without running headers/footers, page numbers and print margins."""
    running = _running_lines(pages)
    blocks: list[Block] = []
    for number, page in enumerate(pages, start=1):
        for line in page:
            if line.band and (_key(line) in running or _is_page_number(line) or _is_browser_margin(line)):
                continue
            blocks.append(Block(_EXTRACTION_SPACE.sub("", line.text.strip()), page=number, font_size=line.size))
    return blocks


def confidence_warnings(confidence: list[float | None]) -> list[str]:
    """Notes for the clerk about recognised pages (confidence 0: nothing recognised) to check."""
    low = [f"{i}（{c:.2f}）" for i, c in enumerate(confidence, start=1) if c and c < LOW_CONFIDENCE]
    empty = [str(i) for i, c in enumerate(confidence, start=1) if c == 0.0]
    out = []
    if low:
        out.append(f"第 {'、'.join(low)} 页文字识别置信度偏低，识别结果可能有错字，请对照原件核对")
    if empty:
        out.append(f"第 {'、'.join(empty)} 页是图片，文字识别未认出文字，其内容未读取")
    return out


def _key(line: PageLine) -> tuple[str | None, str]:
    return line.band, _DIGITS.sub("#", _SPACES.sub("", line.text))


def _running_lines(pages: list[list[PageLine]]) -> set[tuple[str | None, str]]:
    """Header/footer lines: same band, same characters (digits aside) on at least half the pages."""
    if len(pages) < 2:
        return set()
    seen: Counter[tuple[str | None, str]] = Counter()
    for page in pages:
        seen.update({_key(line) for line in page if line.band})
    need = max(2, math.ceil(len(pages) / 2))
    return {key for key, n in seen.items() if n >= need}


def _is_page_number(line: PageLine) -> bool:
    return bool(_PAGE_NUMBER.match(line.text.strip()))


def _is_browser_margin(line: PageLine) -> bool:
    return bool(_BROWSER_MARGIN.match(line.text.strip()))
