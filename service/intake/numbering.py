"""Chinese numbering labels: recognise ``一、`` / ``（一）`` / ``1.`` / ``（1）`` / ``第一，`` / ``一是``.

A label is read from the start of a paragraph (:func:`leading_label`) or, for ``一是`` items, also
after a sentence break inside a paragraph (:func:`inline_items`). Each label has a *style* (the
printed pattern) and a *value* (the number); the section builder decides which labels really are
headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Styles, in the conventional outer→inner order (used only to name them; nesting in a document
# follows the order in which styles first appear there).
CN = "一、"  # 一、
CN_PAREN = "（一）"  # （一） / (一)
DI = "第一，"  # 第一，
ARABIC = "1."  # 1. / 1、 / 1．
ARABIC_PAREN = "（1）"  # （1） / (1)
SHI = "一是"  # 一是 … 二是 …

_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = "[一二三四五六七八九十]{1,3}"

_LEADING = re.compile(
    rf"(?P<cn>{_CN_NUM})、"
    rf"|[（(](?P<cnp>{_CN_NUM})[）)]"
    rf"|第(?P<di>{_CN_NUM})[，,、]"
    r"|(?P<ar>\d{1,2})(?:[.．](?![\d.．])|、)"
    r"|[（(](?P<arp>\d{1,2})[）)]"
    rf"|(?P<shi>{_CN_NUM})是(?=\S)"
)
# Items inside a paragraph only count after a clause break, so 统一是… or 第一是… never match.
_INLINE_SHI = re.compile(rf"(?<=[。；;！？：:])\s*(?P<shi>{_CN_NUM})是(?=\S)")


@dataclass(frozen=True)
class Label:
    """A numbering label found in the text: ``start``/``end`` are offsets into the paragraph."""

    style: str
    value: int
    start: int
    end: int
    text: str


def cn_to_int(numeral: str) -> int:
    """Value of a small Chinese numeral (一 … 九十九); 0 when it is not one."""
    if not numeral:
        return 0
    if "十" not in numeral:
        return _DIGITS.get(numeral, 0) if len(numeral) == 1 else 0
    tens, _, units = numeral.partition("十")
    if "十" in units:
        return 0
    value = (_DIGITS.get(tens, 0) if tens else 1) * 10
    return value + (_DIGITS.get(units, 0) if units else 0)


def leading_label(paragraph: str) -> Label | None:
    """The numbering label a paragraph starts with, if any."""
    m = _LEADING.match(paragraph)
    if m is None:
        return None
    kind = m.lastgroup
    raw = m.group(kind)
    value = int(raw) if kind in ("ar", "arp") else cn_to_int(raw)
    if value <= 0:
        return None
    style = {"cn": CN, "cnp": CN_PAREN, "di": DI, "ar": ARABIC, "arp": ARABIC_PAREN, "shi": SHI}[kind]
    end = m.end() if style != SHI else m.end(kind) + 1
    return Label(style, value, 0, end, paragraph[:end])


def inline_items(paragraph: str, start: int = 1) -> list[Label]:
    """``一是…二是…`` items that begin after a clause break inside ``paragraph``.

    Only positions after ``start`` are searched, so an item that opens the paragraph is left to
    :func:`leading_label`.
    """
    out: list[Label] = []
    for m in _INLINE_SHI.finditer(paragraph, start):
        value = cn_to_int(m.group("shi"))
        if value > 0:
            s = m.start("shi")
            out.append(Label(SHI, value, s, m.end("shi") + 1, paragraph[s : m.end("shi") + 1]))
    return out
