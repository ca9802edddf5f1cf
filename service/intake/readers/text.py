"""Plain text: find the encoding (BOM, UTF-8, GB18030, Big5, then charset-normalizer), one Block per line."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from service.intake.document import Block
from service.intake.errors import IntakeError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_READABLE = re.compile(r"[\t\n\r\x20-\x7e\u3000-\u303f\u4e00-\u9fff\uff00-\uffef\u2010-\u206f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
# charset-normalizer names for GB text; GB18030 is their superset and never loses a character.
_GB_NAMES = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


def decode(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)`` or raise IntakeError ``unreadable``."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom):], name), name
    if b"\x00" in data[:4096]:
        name = _utf16_without_bom(data)
        return _plausible(_strict(data, name), name), name
    for attempt in (_utf8, _gb18030, _big5):
        found = attempt(data)
        if found is not None:
            return found
    best = from_bytes(data).best()
    if best is None:
        raise IntakeError("unreadable", "无法识别文件的文字编码，请另存为 UTF-8 文本、Word 或 PDF 后再上传",
                          "no text encoding fits")
    name = "gb18030" if best.encoding.lower() in _GB_NAMES else best.encoding
    return _plausible(data.decode(name, errors="replace"), name), name


def read_text(data: bytes) -> tuple[list[Block], str]:
    """Decode ``data`` and return one Block per physical line, plus the encoding used."""
    text, encoding = decode(data)
    return [Block(line) for line in text.splitlines()], encoding


def _strict(data: bytes, name: str) -> str:
    try:
        return _utf8_cut_tail(data) if name == "utf-8" else data.decode(name)
    except UnicodeDecodeError as exc:
        raise IntakeError("unreadable", "文本文件的编码有误或文件不完整，请另存为 UTF-8 文本后再上传",
                          f"{name}: {exc.reason} at byte {exc.start}") from exc


def _utf16_without_bom(data: bytes) -> str:
    """Pick the UTF-16 byte order that yields readable text; NULs in anything else mean binary."""
    sample = data[: 8192 - 8192 % 2]
    best, best_share = "", 0.0
    for name in ("utf-16-le", "utf-16-be"):
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        share = len(_READABLE.findall(text)) / max(1, len(text))
        if share > best_share:
            best, best_share = name, share
    if best_share < 0.9:
        raise IntakeError("unsupported", "这不是文本文件，也不是支持的文档格式；请上传 PDF、Word（.docx）或 TXT",
                          "binary content (NUL bytes)")
    return best


def _utf8(data: bytes) -> tuple[str, str] | None:
    try:
        return _plausible(_utf8_cut_tail(data), "utf-8"), "utf-8"
    except UnicodeDecodeError:
        return None


def _utf8_cut_tail(data: bytes) -> str:
    """Strict UTF-8, except that a last character cut off mid-sequence (a truncated copy) is dropped.

    Only the final incomplete sequence is forgiven; a bad byte anywhere else still fails.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or exc.end != len(data) or len(data) - exc.start > 3:
            raise
        return data[: exc.start].decode("utf-8")


def _gb18030(data: bytes) -> tuple[str, str] | None:
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    # Big5 bytes also decode as GB18030, into rare characters; real GB text is mostly GB2312 level 1.
    hanzi = _CJK.findall(text[:20000])
    if hanzi and sum(_gb2312_level1(c) for c in hanzi) / len(hanzi) < 0.8:
        return None
    return _plausible(text, "gb18030"), "gb18030"


def _big5(data: bytes) -> tuple[str, str] | None:
    try:
        return _plausible(data.decode("big5hkscs"), "big5"), "big5"
    except UnicodeDecodeError:
        return None


def _gb2312_level1(char: str) -> bool:
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return 0xB0 <= encoded[0] <= 0xD7


def _plausible(text: str, encoding: str) -> str:
    """Refuse decodings that are mostly control characters: the file was not text."""
    sample = text[:20000]
    if sample and len(_CONTROL.findall(sample)) > max(2, len(sample) // 50):
        raise IntakeError("unsupported", "文件内容不是可读的文字，请上传 PDF、Word（.docx）或 TXT 文件",
                          f"binary content (decoded as {encoding})")
    return text
