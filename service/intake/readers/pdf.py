"""PDF with a text layer → one Block per physical line, running headers/footers and page numbers removed.

pypdfium2 does the extraction: it is an order of magnitude faster than pdfplumber on the PDFs
clerks send (Word exports, browser prints) and stays quiet about odd fonts.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from service.config import Settings
from service.intake.errors import IntakeError
from service.intake.readers.ocr import PageRecognizer
from service.intake.readers.pages import (
    PageLine,
    Progress,
    Reading,
    band_of,
    confidence_warnings,
    page_blocks,
    recognised_lines,
)

# Characters next to which pdfium's reading order can go wrong (see _reorder_if_needed).
_SUSPECT = frozenset(" “”‘’")
# A page with fewer characters in its text layer than this, covered by a picture for at least
# this share of its area, is a picture of a page and is recognised.
_IMAGE_PAGE_CHARS = 10
_PICTURE_SHARE = 0.5
# Resolution at which picture pages are rendered for recognition.
RENDER_DPI = 150


def read_pdf(
    data: bytes,
    settings: Settings,
    progress: Progress | None = None,
    recognizer: PageRecognizer | None = None,
) -> Reading:
    """Read a PDF's pages: text pages from the text layer, picture pages (scans) by recognition.

    Raises IntakeError for encrypted, empty or over-long files and for scans in which
    recognition finds no text. ``progress`` hears of every recognised page.
    """
    pdf = _open(data)
    try:
        count = len(pdf)
        if count > settings.max_pages:
            raise IntakeError("too_many_pages", f"PDF 共 {count} 页，超过 {settings.max_pages} 页的上限，请拆分后再上传",
                              f"{count} pages > max_pages={settings.max_pages}")
        if count == 0:
            raise IntakeError("empty", "PDF 中没有任何页面，请检查后重新上传", "0 pages")
        pages = [_page_lines(pdf, i) for i in range(count)]
        pictures = [
            i for i, page in enumerate(pages)
            if sum(len(line.text.strip()) for line in page) < _IMAGE_PAGE_CHARS and _is_picture_page(pdf, i)
        ]
        confidence: list[float | None] | None = None
        if pictures:
            recognizer = recognizer or PageRecognizer()
            confidence = [None] * count
            for done, i in enumerate(pictures, start=1):
                recognised = recognizer.run(_render(pdf, i))
                pages[i] = recognised_lines(recognised)
                confidence[i] = recognised.confidence or 0.0
                if progress is not None:
                    progress(done, len(pictures))
    finally:
        pdf.close()
    if not any(line.text.strip() for page in pages for line in page):
        raise IntakeError("scanned", "这是扫描件，文字识别（OCR）未能认出其中的文字；请提供更清晰的扫描件（至少 150 dpi）或文字版",
                          f"no text layer and nothing recognised on {count} pages")
    warnings = confidence_warnings(confidence) if confidence is not None else []
    return Reading(page_blocks(pages), count, warnings, confidence)


def _is_picture_page(pdf: pdfium.PdfDocument, index: int) -> bool:
    """True when one picture covers at least half the page: a scanned or photographed page.

    A page with a QR code and a caption, or a blank page, is not one.
    """
    page = pdf[index]
    try:
        width, height = page.get_size()
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
            left, bottom, right, top = obj.get_bounds()
            if (right - left) * (top - bottom) >= _PICTURE_SHARE * width * height:
                return True
        return False
    finally:
        page.close()


def _render(pdf: pdfium.PdfDocument, index: int) -> np.ndarray:
    page = pdf[index]
    try:
        bitmap = page.render(scale=RENDER_DPI / 72, rev_byteorder=True)
        return bitmap.to_numpy()[:, :, :3].copy()
    finally:
        page.close()


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IntakeError("encrypted", "文件已加密，请去除打开密码后重新上传", f"PDF needs a user password: {exc}") from exc
        raise IntakeError("corrupt", "PDF 文件已损坏或不完整，无法打开；请重新导出后上传", f"pdfium: {exc}") from exc


def _page_lines(pdf: pdfium.PdfDocument, index: int) -> list[PageLine]:
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
                size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
                out.append(PageLine(segment, band_of((height - y.value) / height), round(size, 1) if size > 1 else None))
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
