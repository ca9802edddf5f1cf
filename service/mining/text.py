"""Character-level text helpers: Simplified copy with the same offsets, sentences and clauses as spans."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from service.intake.document import trim_span

OPEN_QUOTES = "“‘《「『"
CLOSE_QUOTES = "”’》」』"
SENTENCE_END = "。！？!?；;"
# A quote left open longer than this is a typo (a lost closing mark), not a real quotation.
MAX_QUOTE = 160
MAX_SENTENCE = 400
CHUNK = 200


@dataclass(frozen=True)
class Segment:
    """A piece of the document text: ``text == document.text[start:end]``."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """One-to-one Traditional → Simplified character table from OpenCC's dictionary."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            target = parts[1].split(" ")[0]
            if len(target) == 1 and target != parts[0]:
                table[ord(parts[0])] = target
    return table


def to_simplified(text: str) -> str:
    """Simplified copy of ``text`` with exactly the same length, so spans stay valid.

    OpenCC's phrase conversion can change lengths; character mapping never does.
    """
    return text.translate(_t2s_table())


def split_sentences(text: str, offset: int = 0) -> list[Segment]:
    """Split on 。！？； outside quotations; overlong sentences are cut into chunks at commas."""
    out: list[Segment] = []
    depth = 0
    opened_at = 0
    start = 0
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch in OPEN_QUOTES:
            if depth == 0:
                opened_at = i
            depth += 1
        elif ch in CLOSE_QUOTES:
            depth = max(0, depth - 1)
        elif ch in SENTENCE_END and (depth == 0 or i - opened_at > MAX_QUOTE):
            end = i + 1
            while end < n and text[end] in CLOSE_QUOTES:
                end += 1
            depth = 0
            _emit(text, start, end, offset, out)
            start = end
            i = end
            continue
        i += 1
    _emit(text, start, n, offset, out)
    return out


def _emit(text: str, start: int, end: int, offset: int, out: list[Segment]) -> None:
    start, end = trim_span(text, start, end)
    if start >= end:
        return
    if end - start <= MAX_SENTENCE:
        out.append(Segment(text[start:end], start + offset, end + offset))
        return
    # Very long sentences (tables flattened into one line, 50,000-character paragraphs) are cut
    # at commas, or blindly, so every later step works on bounded pieces.
    pos = start
    while pos < end:
        stop = min(end, pos + CHUNK)
        if stop < end:
            cut = max(text.rfind("，", pos, stop), text.rfind(",", pos, stop))
            if cut > pos + CHUNK // 4:
                stop = cut + 1
        out.append(Segment(text[pos:stop], pos + offset, stop + offset))
        pos = stop


@functools.lru_cache(maxsize=16)
def _stops(marks: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(OPEN_QUOTES + CLOSE_QUOTES + marks)}]")


def _split_outside_quotes(seg: Segment, marks: str, cut: Callable[[str, int, int], bool]) -> list[Segment]:
    """Split ``seg`` at the ``marks`` characters outside quotations where ``cut(text, i, start)`` says so
    (``start`` is where the current part began); the cut character belongs to neither part."""
    out: list[Segment] = []
    depth = 0
    start = 0
    text = seg.text
    # only quotation marks and candidate cuts matter: jump between them
    for m in _stops(marks).finditer(text):
        i, ch = m.start(), m.group()
        if ch in OPEN_QUOTES:
            depth += 1
        elif ch in CLOSE_QUOTES:
            depth = max(0, depth - 1)
        elif depth == 0 and cut(text, i, start):
            if i > start:
                out.append(Segment(text[start:i], seg.start + start, seg.start + i))
            start = i + 1
    if start < len(text):
        out.append(Segment(text[start:], seg.start + start, seg.end))
    return out


def comma_clauses(seg: Segment) -> list[Segment]:
    """Split a sentence at commas (，,：) outside quotations."""
    return _split_outside_quotes(seg, "，,：:", lambda text, i, start: True)


# Words that may stand between a comma and the verb of the next measure (，并组织…，还定期开展…).
_MEASURE_LEAD = re.compile(
    r"^(?:并且|同时|并|还|又|再|也|先后|相继|积极|认真|深入|广泛|大力|全面|定期|不定期|每月|每季度|每年|每周|及时|扎实|主动|创新|率先"
    r"|切实|不断|进一步|持续|始终|坚决|努力|着力|要)*"
)


def measure_clauses(
    seg: Segment, starts_measure: Callable[[str], bool], shares_object: Callable[[str], bool], marks: str = "、"
) -> list[Segment]:
    """Split a clause at ``marks`` (outside quotations) where the next part opens a measure of its
    own (``starts_measure`` on its text after a connective): one listed measure, one clause. A part
    that ends on its verb (``shares_object``) shares the next part's object and stays with it."""

    def cut(text: str, i: int, start: int) -> bool:
        if i - start < 4 or shares_object(text[start:i]):
            return False  # 组建、改建基层党组织: two verbs of one measure
        rest = text[i + 1 :]
        lead = _MEASURE_LEAD.match(rest)
        return starts_measure(rest[lead.end() if lead else 0 :])

    out = _split_outside_quotes(seg, marks, cut)
    return [sub_segment(seg, s.start, s.end) for s in out if s.text.strip()]


def sub_segment(seg: Segment, start: int, end: int) -> Segment:
    """The part of ``seg`` between absolute offsets ``start`` and ``end`` with edges trimmed."""
    a = max(seg.start, start) - seg.start
    b = min(seg.end, end) - seg.start
    a, b = trim_span(seg.text, a, b, also="，,、：:")
    return Segment(seg.text[a:b], seg.start + a, seg.start + b)


HEADING_RE = re.compile(
    r"^\s*(?:[一二三四五六七八九十]{1,3}、|（[一二三四五六七八九十]{1,3}）|\([一二三四五六七八九十]{1,3}\)|第[一二三四五六七八九十]{1,3}[部分章节条])"
)
LEVEL1_RE = re.compile(r"^\s*[一二三四五六七八九十]{1,3}、")


def is_heading_line(text: str) -> bool:
    """A numbered heading line (``一、…``, ``（二）…``) short enough to be a heading."""
    return bool(HEADING_RE.match(text)) and len(text) <= 60 and text.rstrip("。").count("。") == 0


def is_subtitle_line(text: str) -> bool:
    """A short unnumbered line without sentence punctuation: a news-style subheading."""
    t = text.strip()
    return 0 < len(t) <= 30 and not any(c in t for c in "。！？；，,") and not t.endswith("：")
