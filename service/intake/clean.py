"""Reader blocks → clean paragraphs: normalise characters, drop web clutter, rejoin wrapped lines.

Rules (kept deliberately simple and linear):

* Characters: Kangxi/CJK radical look-alikes that PDF fonts emit (``⼀`` U+2F00) become the
  ordinary ideographs; zero-width characters go; surrounding whitespace (also ``　``) goes.
  Placeholders such as ``X``, ``XX``, ``**`` are text and are kept verbatim.
* Clutter: separator rules (``=====``), a ``---`` front-matter block near the top and, in PDFs,
  page numbers, bare URLs and lines repeated at the top or bottom of several pages (running
  headers and footers, such as a browser's print date) are dropped; so is a web *teaser* line at the very top (a line ending in ``...``/``…``
  whose text is the following lines run together, e.g. the seed's first line).
* Rejoining (TXT and DOCX): a blank line always ends a paragraph. A line that does not end in
  terminal punctuation (``。！？；：…`` or such a mark followed by a closing quote/bracket) is
  joined to the next line, without a space, when the break is plainly mid-sentence: the line
  ends in an opening quote/bracket or ``、，``, or the next line starts with closing punctuation,
  or the paragraph so far is body text (≥ 40 characters, or a sentence already ended inside it;
  never a numbered heading) and the next line is neither numbered nor a salutation. Lines that
  hold only invisible characters (scrape debris) are skipped without ending the paragraph.
  Headings, titles and short list lines therefore stay apart; table rows and Word
  heading-styled or auto-numbered paragraphs never join.
* Rejoining (PDF lines): a line that is near the page's typical full line width continues into
  the next line (also across a page break) unless it ends in ``。！？：``; the TXT rules for
  brackets and closing punctuation apply too. Body text that stops short without terminal
  punctuation continues when the next line opens with ``“《（`` or a digit: layout engines move
  such a word whole to the next line, so the line before it ends early. The opening lines of a
  page printed larger than the body (a title set in a bigger font) are one title, however many
  lines it wraps over.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from service.intake.document import Block
from service.intake.numbering import leading_label

TERMINAL = frozenset("。！？!?；;：:…")
_CLOSERS = frozenset("”’」』）)】》〉\"'")
_OPEN_BRACKETS = frozenset("“‘「『（(【《〈")
_OPENERS = _OPEN_BRACKETS | frozenset("、，,—")
_CONTINUATION_START = frozenset("”’」』）)】》〉，,、。；;：:！!？?")
_PDF_STOPS = frozenset("。！？!?：:")
# A word starting with one of these is moved whole to the next printed line.
_WRAPS_WHOLE = frozenset("“‘《（(【〈0123456789")
# A title is printed at least this much larger than the body text.
_TITLE_SCALE = 1.15
_TITLE_MAX_LINES = 4
_BODY_MIN = 40  # a paragraph this long is body text, not a heading or list line

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# CJK radical look-alikes without an NFKC mapping, as PDF fonts emit them (⺠ → 民, ⻰ → 龙 …).
_RADICALS = str.maketrans(
    "⺠⻄⻅⻆⻈⻉⻋⻐⻓⻔⻘⻙⻚⻛⻜⻠⻢⻥⻦⻧⻨⻩⻪⻬⻮⻰⻳",
    "民西见角讠贝车钅长门青韦页风飞饣马鱼鸟卤麦黄黾齐齿龙龟",
)
_SEPARATOR = re.compile(r"^[=\-_*~·•.—─━ ]{5,}$")
_PAGE_NUMBER = re.compile(
    r"^(?:第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|[-–—]?\s*\d{1,3}\s*[-–—]?|\d{1,3}\s*/\s*\d{1,3})$"
)
_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+(?:\s+\d{1,3}\s*/\s*\d{1,3})?$")
_SALUTATION = re.compile(
    r"^(?:各位|尊敬的|亲爱的)?[\u4e00-\u9fff、，]{0,20}(?:同志们|同志們|代表|委员|委員|同事们|同事們|朋友们|朋友們|同学们|同學們|来宾|來賓)[：:，,！!]?$"
)
# Recognised scans often read the three dots as two.
_ELLIPSIS_END = re.compile(r"(?:\.{2,}|…+|⋯+)$")


@dataclass
class CleanParagraph:
    """A paragraph after clean-up, with what the reader told us about it."""

    text: str
    heading_level: int | None = None
    is_table_row: bool = False


def normalize_line(text: str) -> str:
    """One line of reader text with look-alike radicals mapped and invisible characters removed."""
    text = text.translate(_ZERO_WIDTH).replace("\u00a0", " ")
    if any("\u2e80" <= ch <= "\u2fdf" for ch in text):
        # PDF fonts map common ideographs to the radical blocks; NFKC restores the Kangxi ones.
        text = text.translate(_RADICALS)
        text = "".join(unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" else ch for ch in text)
    return text.strip(" \t\r\n\u3000")


def is_salutation(text: str) -> bool:
    """True for ``同志们：``-style openings addressed to the audience."""
    return len(text) <= 24 and bool(_SALUTATION.match(text))


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends in terminal punctuation, possibly followed by a closing mark."""
    i = len(text) - 1
    while i >= 0 and text[i] in _CLOSERS:
        i -= 1
    if i < 0:
        return False
    return text[i] in TERMINAL or (i < len(text) - 1 and text[i] in "。！？!?")


@dataclass
class _Line:
    text: str
    page: int | None
    blank_before: bool
    heading_level: int | None
    is_table_row: bool
    docx_labelled: bool
    font_size: float | None = None


def clean_blocks(blocks: list[Block]) -> list[CleanParagraph]:
    """Turn reader blocks into clean paragraphs (see the module docstring for the rules)."""
    lines = _collect(blocks)
    is_pdf = any(b.page is not None for b in blocks) and not any(b.is_paragraph for b in blocks)
    if is_pdf:
        lines = _drop_running_lines(lines)
    lines = _drop_front_matter(lines)
    lines = _drop_teaser(lines)
    return _rejoin_pdf(lines) if is_pdf else _rejoin(lines)


def _collect(blocks: list[Block]) -> list[_Line]:
    out: list[_Line] = []
    blank = False
    for b in blocks:
        text = normalize_line(b.text)
        if b.numbering:
            # Word prints the automatic number before the paragraph; the clean text reads the same.
            text = b.numbering.strip() + text
        if not text:
            # Only a truly empty line ends a paragraph; one holding invisible marks is scrape debris.
            blank = blank or not b.text.strip()
            continue
        if _SEPARATOR.match(text):
            blank = True
            continue
        if b.page is not None and (_PAGE_NUMBER.match(text) or _URL_LINE.match(text)):
            continue
        out.append(_Line(text, b.page, blank, b.heading_level, b.is_table_row, bool(b.numbering), b.font_size))
        blank = False
    return out


def _drop_running_lines(lines: list[_Line]) -> list[_Line]:
    """Drop PDF running headers/footers: the same short line at a page's edge on several pages."""
    pages: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        pages.setdefault(line.page or 0, []).append(i)
    if len(pages) < 2:
        return lines
    edge_counts: Counter[str] = Counter()
    for idx in pages.values():
        edge = {lines[i].text for i in idx[:2] + idx[-2:]}
        edge_counts.update(edge)
    threshold = max(2, len(pages) // 2)
    drop = {t for t, c in edge_counts.items() if c >= threshold and len(t) <= 80}
    return [ln for ln in lines if ln.text not in drop]


def _drop_front_matter(lines: list[_Line]) -> list[_Line]:
    """Remove a ``---`` … ``---`` metadata block (web clippers add one) within the first lines."""
    head = [i for i, ln in enumerate(lines[:12]) if ln.text == "---"]
    if len(head) >= 2:
        a, b = head[0], head[1]
        return lines[:a] + lines[b + 1 :]
    return lines


def _drop_teaser(lines: list[_Line]) -> list[_Line]:
    """Drop a leading web teaser: title and body run together and cut off with an ellipsis."""
    if len(lines) < 2:
        return lines
    # A PDF wraps the teaser over several printed lines: take them up to the one with the ellipsis.
    lead = 1
    if lines[0].page is not None:
        while lead < min(len(lines), 12) and not _ELLIPSIS_END.search(lines[lead - 1].text):
            lead += 1
        if not _ELLIPSIS_END.search(lines[lead - 1].text):
            lead = 1
    first = "".join(ln.text for ln in lines[:lead])
    nxt = lines[lead].text if lead < len(lines) else ""
    stem = _ELLIPSIS_END.sub("", first).rstrip()
    runs_on = len(stem) > len(nxt) and stem.startswith(nxt)
    if not (runs_on or _ELLIPSIS_END.search(first)):
        return lines
    # The teaser must be the following lines run together (at least their first 200 characters).
    joined = "".join(ln.text for ln in lines[lead : lead + 40])
    probe = stem[: min(len(stem), 200)]
    if joined.startswith(probe) or joined.replace(" ", "").startswith(probe.replace(" ", "")):
        rest = lines[lead:]
        rest[0].blank_before = lines[0].blank_before
        return rest
    return lines


def _is_break_point(text: str) -> bool:
    """A line that starts something new: numbered heading or salutation."""
    return leading_label(text) is not None or is_salutation(text)


def _rejoin(lines: list[_Line]) -> list[CleanParagraph]:
    out: list[CleanParagraph] = []
    buf: list[str] = []
    buf_len = 0
    head: _Line | None = None
    last: _Line | None = None
    for line in lines:
        if head is not None and last is not None and _continues(head, last, buf_len, line):
            buf.append(line.text)
            buf_len += len(line.text)
            last = line
            continue
        if head is not None:
            out.append(CleanParagraph("".join(buf), head.heading_level, head.is_table_row))
        head, last, buf, buf_len = line, line, [line.text], len(line.text)
    if head is not None:
        out.append(CleanParagraph("".join(buf), head.heading_level, head.is_table_row))
    return out


def _continues(head: _Line, last: _Line, buf_len: int, line: _Line) -> bool:
    if line.blank_before or line.is_table_row or head.is_table_row:
        return False
    if head.heading_level or line.heading_level or line.docx_labelled:
        return False
    prev = last.text
    if ends_sentence(prev):
        return False
    if line.text[0] in _CONTINUATION_START:
        return True
    if _is_break_point(line.text):
        # A numbered line after "…如下，" still starts anew; after an open quote it cannot.
        return prev[-1] in _OPEN_BRACKETS
    if prev[-1] in _OPENERS:
        return True
    if leading_label(head.text) is not None:
        return False
    return buf_len >= _BODY_MIN or _has_inner_stop(head.text) or _has_inner_stop(prev)


def _has_inner_stop(text: str) -> bool:
    """True when a sentence ends inside ``text``: it is body text, never a heading."""
    return any(ch in "。！？!?" for ch in text[:-1])


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) >= 0x2000 else 1 for ch in text)


def _rejoin_pdf(lines: list[_Line]) -> list[CleanParagraph]:
    widths: dict[int, list[int]] = {}
    for line in lines:
        widths.setdefault(line.page or 0, []).append(_display_width(line.text))
    all_widths = sorted(w for ws in widths.values() for w in ws)
    doc_full = _typical(all_widths)
    full = {p: (_typical(sorted(ws)) if len(ws) >= 8 else doc_full) for p, ws in widths.items()}
    out: list[CleanParagraph] = []
    buf: list[str] = []
    title_end = max(_wrapped_title_end(lines), _large_title_end(lines))
    for i, line in enumerate(lines):
        buf.append(line.text)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if i < title_end:
            continue
        if nxt is not None and nxt.blank_before:
            pass
        elif nxt is not None and not line.is_table_row and not nxt.is_table_row:
            text = line.text
            near_full = _display_width(text) >= 0.88 * full[line.page or 0] - 2
            if text[-1] in _OPENERS or nxt.text[0] in _CONTINUATION_START:
                continue
            if text[-1] not in _PDF_STOPS and not _is_break_point(nxt.text):
                if near_full or (nxt.text[0] in _WRAPS_WHOLE and not ends_sentence(text) and _is_body(buf)):
                    continue
        out.append(CleanParagraph("".join(buf), None, line.is_table_row))
        buf = []
    return out


def _is_body(buf: list[str]) -> bool:
    """True when the lines gathered so far are body text, not a heading or a short list line."""
    joined = "".join(buf)
    return len(joined) >= _BODY_MIN or _has_inner_stop(joined)


def _large_title_end(lines: list[_Line]) -> int:
    """Index of the last line of a title printed larger than the body and wrapped over lines.

    The first lines count when they share one font size at least ``_TITLE_SCALE`` times the
    body's most common size; a line opening with a dash (a subtitle) ends the title.
    """
    sizes = Counter(round(ln.font_size) for ln in lines if ln.font_size)
    if not sizes or not lines[0].font_size:
        return 0
    body = sizes.most_common(1)[0][0]
    first = lines[0]
    if first.font_size < _TITLE_SCALE * body:
        return 0
    end = 0
    for k in range(1, min(_TITLE_MAX_LINES, len(lines))):
        ln = lines[k]
        same = ln.font_size is not None and abs(ln.font_size - first.font_size) < 0.1 * first.font_size
        if not same or ln.page != first.page or ln.text.startswith(("—", "-")) or ends_sentence(lines[k - 1].text):
            break
        end = k
    return end if sum(len(ln.text) for ln in lines[: end + 1]) <= 80 else 0


def _wrapped_title_end(lines: list[_Line]) -> int:
    """Index of the last line of a title wrapped over up to three lines above a separator rule.

    Browser-printed pages put the title over a rule; its lines are shorter than body lines, so
    the width test alone would split it.
    """
    for k in range(1, min(3, len(lines) - 1) + 1):
        if lines[k].blank_before:
            head = lines[:k]
            if all(not ends_sentence(ln.text) for ln in head) and sum(len(ln.text) for ln in head) <= 80:
                return k - 1
            return 0
    return 0


def _typical(sorted_widths: list[int]) -> float:
    """The width of a full line: the 75th percentile, robust to short last lines and headings."""
    if not sorted_widths:
        return 0.0
    return float(sorted_widths[min(len(sorted_widths) - 1, int(len(sorted_widths) * 0.75))])
