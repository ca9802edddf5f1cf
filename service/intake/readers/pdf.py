"""PDF with a text layer → one Block per physical line, running headers/footers and page numbers removed.

pypdfium2 does the extraction: it is an order of magnitude faster than pdfplumber on the PDFs
clerks send (Word exports, browser prints) and stays quiet about odd fonts.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections import Counter
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from service.config import Settings
from service.intake.document import Block
from service.intake.errors import IntakeError

# Share of the page height, from the top and from the bottom, where headers and footers live.
BAND = 0.12
_CJK = r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# A single space PDF extraction put between a CJK character and a CJK character, digit or letter.
_EXTRACTION_SPACE = re.compile(
    rf"(?<=[{_CJK}]) (?=[{_CJK}A-Za-z0-9])|(?<=[A-Za-z0-9]) (?=[{_CJK}])"
)
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_~·.\s]*\d{1,4}[-—–－_~·.\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
# What a browser prints in the page margins: the date/time and title on top, the URL below.
_BROWSER_MARGIN = re.compile(r"^(?:\d{1,4}[/-]\d{1,2}[/-]\d{1,4},?\s*(?:[上下]午)?\s*\d{1,2}:\d{2}|https?://|file://|about:)")
_DIGITS = re.compile(r"\d+")
# Characters next to which pdfium's reading order can go wrong (see _reorder_if_needed).
_SUSPECT = frozenset(" “”‘’")
_SPACES = re.compile(r"\s+")


@dataclass
class _Line:
    text: str
    band: str | None  # "top", "bottom" or None (body)


def read_pdf(data: bytes, settings: Settings) -> tuple[list[Block], int, list[str]]:
    """Return ``(blocks, page_count, warnings)``; raise IntakeError for encrypted or scanned files."""
    pdf = _open(data)
    try:
        count = len(pdf)
        if count > settings.max_pages:
            raise IntakeError("too_many_pages", f"PDF 共 {count} 页，超过 {settings.max_pages} 页的上限，请拆分后再上传",
                              f"{count} pages > max_pages={settings.max_pages}")
        pages = [_page_lines(pdf, i) for i in range(count)]
    finally:
        pdf.close()
    if count == 0:
        raise IntakeError("empty", "PDF 中没有任何页面，请检查后重新上传", "0 pages")
    chars = [sum(len(line.text.strip()) for line in page) for page in pages]
    if sum(chars) < 10 * max(1, math.ceil(count / 4)):
        raise IntakeError("scanned", "这是扫描件（PDF 中只有图片，没有文字层），需要先做文字识别（OCR）后再上传",
                          f"{sum(chars)} text characters on {count} pages")
    warnings = []
    blank = [str(i + 1) for i, n in enumerate(chars) if n == 0]
    if blank:
        warnings.append(f"第 {'、'.join(blank)} 页没有文字层（可能是扫描页），其内容未读取")
    running = _running_lines(pages)
    blocks: list[Block] = []
    for number, page in enumerate(pages, start=1):
        for line in page:
            if line.band and (_key(line) in running or _is_page_number(line) or _is_browser_margin(line)):
                continue
            blocks.append(Block(_EXTRACTION_SPACE.sub("", line.text.strip()), page=number))
    return blocks, count, warnings


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IntakeError("encrypted", "文件已加密，请去除打开密码后重新上传", f"PDF needs a user password: {exc}") from exc
        raise IntakeError("corrupt", "PDF 文件已损坏或不完整，无法打开；请重新导出后上传", f"pdfium: {exc}") from exc


def _page_lines(pdf: pdfium.PdfDocument, index: int) -> list[_Line]:
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        height = page.get_height() or 1.0
        text = textpage.get_text_range()
        out = []
        offset = 0
        x, y = ctypes.c_double(), ctypes.c_double()
        for raw_line in text.split("\r\n"):
            line_start = offset
            offset += len(raw_line) + 2
            if not raw_line.strip():
                continue
            for segment, start in _split_rows(textpage.raw, raw_line, line_start):
                stripped = segment.strip()
                if not stripped:
                    continue
                first = start + segment.index(stripped[0])
                pdfium_c.FPDFText_GetCharOrigin(textpage.raw, first, x, y)
                if _SUSPECT.intersection(stripped):
                    segment = _reorder_if_needed(textpage.raw, segment, start)
                top_share = (height - y.value) / height
                band = "top" if top_share < BAND else "bottom" if top_share > 1 - BAND else None
                out.append(_Line(segment, band))
        return out
    finally:
        textpage.close()
        page.close()


def _split_rows(tp: object, line: str, start: int) -> list[tuple[str, int]]:
    """Split a pdfium line where it ran on into the next printed row (a wrapped title, say).

    pdfium joins such rows with a generated space; the character after it sits on a lower
    baseline, back at the left. Returns ``(text, char index of its first character)`` pieces.
    """
    if " " not in line.strip():
        return [(line, start)]
    left, right, bottom, top, x, y = (ctypes.c_double() for _ in range(6))

    def where(i: int) -> tuple[float, float, float]:
        pdfium_c.FPDFText_GetCharBox(tp, start + i, left, right, bottom, top)
        pdfium_c.FPDFText_GetCharOrigin(tp, start + i, x, y)
        return left.value, y.value, top.value - bottom.value

    pieces: list[tuple[str, int]] = []
    cut = 0
    for i in range(1, len(line) - 1):
        if line[i] != " " or line[i - 1] == " " or line[i + 1] == " ":
            continue
        (lj, yj, hj), (lk, yk, _hk) = where(i - 1), where(i + 1)
        if yk < yj - 0.5 * max(hj, 1.0) and lk < lj:
            pieces.append((line[cut:i], start + cut))
            cut = i + 1
    pieces.append((line[cut:], start + cut))
    return pieces


def _reorder_if_needed(tp: object, line: str, start: int) -> str:
    """Put a line's characters back in left-to-right order when the PDF drew them out of order.

    Word exports draw some punctuation (curly quotes in a fallback font) after the rest of the
    line; pdfium then places it late, often behind a generated space. Only the characters around
    spaces and such punctuation are checked, which keeps this cheap; characters on different
    baselines (two rows pdfium merged) are never reordered.
    """
    boxes: dict[int, tuple[float, float, float, float, float]] = {}
    left, right, bottom, top, x, y = (ctypes.c_double() for _ in range(6))

    def box(i: int) -> tuple[float, float, float, float, float]:
        """(left, right, bottom, top, baseline) of character ``i`` of the line."""
        if i not in boxes:
            pdfium_c.FPDFText_GetCharBox(tp, start + i, left, right, bottom, top)
            pdfium_c.FPDFText_GetCharOrigin(tp, start + i, x, y)
            boxes[i] = (left.value, right.value, bottom.value, top.value, y.value)
        return boxes[i]

    def backwards(j: int, k: int) -> bool:
        (lj, _rj, bj, tj, yj), (lk, _rk, bk, tk, yk) = box(j), box(k)
        same_row = abs(yj - yk) < 0.3 * max(tj - bj, tk - bk, 1.0)
        return same_row and lk + 1.0 < lj

    solid = [i for i, c in enumerate(line) if c != " "]
    position = {i: n for n, i in enumerate(solid)}
    disordered = False
    for i, char in enumerate(line):
        if char not in _SUSPECT:
            continue
        if char == " ":
            before = [j for j in solid if j < i]
            after = [k for k in solid if k > i]
            pairs = [(before[-1], after[0])] if before and after else []
        else:
            n = position[i]
            pairs = [(solid[m], solid[m + 1]) for m in (n - 1, n) if 0 <= m < len(solid) - 1]
        if any(backwards(j, k) for j, k in pairs):
            disordered = True
            break
    if not disordered:
        return line
    kept = sorted((box(i)[0], i) for i in solid)
    out: list[str] = []
    for n, (x0, i) in enumerate(kept):
        if n:
            prev = kept[n - 1][1]
            gap = x0 - box(prev)[1]
            # Latin words keep the space a generated space stood for.
            if line[prev].isascii() and line[i].isascii() and gap > 0.25 * (box(prev)[3] - box(prev)[2]):
                out.append(" ")
        out.append(line[i])
    return "".join(out)


def _key(line: _Line) -> tuple[str | None, str]:
    return line.band, _DIGITS.sub("#", _SPACES.sub("", line.text))


def _running_lines(pages: list[list[_Line]]) -> set[tuple[str | None, str]]:
    """Header/footer lines: same band, same characters (digits aside) on at least half the pages."""
    if len(pages) < 2:
        return set()
    seen: Counter[tuple[str | None, str]] = Counter()
    for page in pages:
        seen.update({_key(line) for line in page if line.band})
    need = max(2, math.ceil(len(pages) / 2))
    return {key for key, n in seen.items() if n >= need}


def _is_page_number(line: _Line) -> bool:
    return bool(_PAGE_NUMBER.match(line.text.strip()))


def _is_browser_margin(line: _Line) -> bool:
    return bool(_BROWSER_MARGIN.match(line.text.strip()))
