"""DOCX: body paragraphs and table rows in reading order, heading styles and Word numbering.

The XML is read directly with a locked-down lxml parser: no DTDs, no entities, no network, no
huge trees. Headers, footers, footnotes and comments live in other parts and are never read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from service.config import Settings
from service.intake.document import Block
from service.intake.errors import IntakeError
from service.intake.guard import TOO_BIG, check_zip_declared, read_zip_member

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_W = f"{{{W}}}"
_TAGS_SKIPPED = {f"{{{MC}}}Fallback", _W + "delText", _W + "instrText"}

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False
)
_HEADING_NAME = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def _w(name: str) -> str:
    return _W + name


def parse_xml(raw: bytes, part: str) -> etree._Element:
    """Parse one package part safely; any DTD is refused before parsing."""
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw[:65536]:
        raise IntakeError("unsafe_xml", "文件含有不安全的内部结构（DTD/外部实体），已拒绝；请用 Word 重新保存后上传",
                          f"{part} declares a DTD")
    try:
        return etree.fromstring(raw, _PARSER)
    except MemoryError as exc:
        raise IntakeError("memory", TOO_BIG, f"{part}: MemoryError") from exc
    except etree.XMLSyntaxError as exc:
        # libxml2 reports an allocation that hit the parser's memory cap as a syntax error (ERR_NO_MEMORY).
        if any(entry.type_name == "ERR_NO_MEMORY" for entry in exc.error_log):
            raise IntakeError("memory", TOO_BIG, f"{part}: {exc}") from exc
        raise IntakeError("corrupt", "Word 文件内容已损坏，无法读取；请用 Word 重新保存后上传", f"{part}: {exc}") from exc


# ---------------------------------------------------------------- numbering

_DIGITS = "〇一二三四五六七八九"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"
_LEGAL = str.maketrans("一二三四五六七八九十百千", "壹贰叁肆伍陆柒捌玖拾佰仟")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def chinese_counting(n: int) -> str:
    """Word's ``chineseCounting``/``chineseCountingThousand``: 1 一, 10 十, 11 十一, 20 二十, 105 一百〇五."""
    if n <= 0:
        return _DIGITS[0]
    if n >= 10000:
        return "".join(_DIGITS[int(d)] for d in str(n))
    out = []
    units = ("千", "百", "十", "")
    digits = f"{n:04d}"
    zero = False
    for d, unit in zip(digits, units, strict=True):
        if d == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("〇")
            zero = False
        out.append(_DIGITS[int(d)] + unit)
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text


def _roman(n: int) -> str:
    vals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for v, s in vals:
        while n >= v:
            out.append(s)
            n -= v
    return "".join(out)


def _letters(n: int) -> str:
    # Word repeats the letter: 27 → AA, 28 → BB.
    return chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    """Render counter ``n`` in Word numFmt ``fmt``."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting"):
        return chinese_counting(n)
    if fmt == "ideographDigital":
        return "".join(_DIGITS[int(d)] for d in str(n))
    if fmt == "chineseLegalSimplified":
        return chinese_counting(n).translate(_LEGAL)
    if fmt == "ideographTraditional":
        return _TIANGAN[(n - 1) % 10]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese"):
        return _CIRCLED[n - 1] if 0 < n <= len(_CIRCLED) else str(n)
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(d) + 0xFEE0) for d in str(n))
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "upperLetter":
        return _letters(n)
    if fmt == "lowerLetter":
        return _letters(n).lower()
    if fmt == "none":
        return ""
    return str(n)


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    restart: int | None = None  # lvlRestart: restart after this (1-based) level
    legal: bool = False


@dataclass
class _Numbering:
    """Word's list definitions and their running counters.

    Counters belong to the abstract list, so list instances sharing it continue one count (as
    Word prints them); an instance with a ``startOverride`` restarts those levels when first used.
    """

    abstract: dict[str, dict[int, _Level]] = field(default_factory=dict)
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)  # numId → (abstractId, startOverrides)
    counters: dict[str, dict[int, int]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, root: etree._Element | None) -> _Numbering:
        book = cls()
        if root is None:
            return book
        for ab in root.iter(_w("abstractNum")):
            levels: dict[int, _Level] = {}
            for lvl in ab.iter(_w("lvl")):
                levels[int(lvl.get(_w("ilvl"), "0"))] = _read_level(lvl)
            book.abstract[ab.get(_w("abstractNumId"), "")] = levels
        for num in root.iter(_w("num")):
            ab_ref = num.find(_w("abstractNumId"))
            overrides: dict[int, int] = {}
            for ov in num.iter(_w("lvlOverride")):
                start = ov.find(_w("startOverride"))
                if start is not None:
                    overrides[int(ov.get(_w("ilvl"), "0"))] = int(start.get(_w("val"), "1"))
            book.nums[num.get(_w("numId"), "")] = (ab_ref.get(_w("val"), "") if ab_ref is not None else "", overrides)
        return book

    def label(self, num_id: str, ilvl: int) -> str | None:
        """Advance the counter of list ``num_id`` at ``ilvl`` and return the printed label."""
        if num_id in ("", "0") or num_id not in self.nums:
            return None
        ab_id, overrides = self.nums[num_id]
        levels = self.abstract.get(ab_id, {})
        level = levels.get(ilvl)
        if level is None or level.fmt == "bullet":
            return None
        counters = self.counters.setdefault(ab_id, {})
        if num_id not in self.used:
            self.used.add(num_id)
            for restarted in overrides:
                counters.pop(restarted, None)
        start = overrides.get(ilvl, level.start)
        counters[ilvl] = counters[ilvl] + 1 if ilvl in counters else start
        for deeper in [k for k in counters if k > ilvl]:
            restart = levels[deeper].restart if deeper in levels else None
            if restart is None or restart > ilvl:
                del counters[deeper]

        def fill(match: re.Match[str]) -> str:
            k = int(match.group(1)) - 1
            lv = levels.get(k, _Level())
            value = counters.get(k, overrides.get(k, lv.start))
            return format_number(value, "decimal" if level.legal and k != ilvl else lv.fmt)

        return re.sub(r"%(\d)", fill, level.text).strip() or None


def _read_level(lvl: etree._Element) -> _Level:
    out = _Level()
    for child in lvl:
        val = child.get(_w("val"))
        if child.tag == _w("start") and val is not None:
            out.start = int(val)
        elif child.tag == _w("numFmt") and val is not None:
            out.fmt = val
        elif child.tag == _w("lvlText") and val is not None:
            out.text = val
        elif child.tag == _w("lvlRestart") and val is not None:
            out.restart = int(val)
        elif child.tag == _w("isLgl"):
            out.legal = val not in ("0", "false")
    return out


# ---------------------------------------------------------------- styles


@dataclass
class _Style:
    name: str = ""
    based_on: str | None = None
    outline: int | None = None
    num_id: str | None = None
    ilvl: int | None = None


def _load_styles(root: etree._Element | None) -> dict[str, _Style]:
    styles: dict[str, _Style] = {}
    if root is None:
        return styles
    for st in root.iter(_w("style")):
        s = _Style()
        name = st.find(_w("name"))
        s.name = name.get(_w("val"), "") if name is not None else ""
        based = st.find(_w("basedOn"))
        s.based_on = based.get(_w("val")) if based is not None else None
        ppr = st.find(_w("pPr"))
        if ppr is not None:
            s.outline, s.num_id, s.ilvl = _outline_and_num(ppr)
        styles[st.get(_w("styleId"), "")] = s
    return styles


def _outline_and_num(ppr: etree._Element) -> tuple[int | None, str | None, int | None]:
    outline = num_id = ilvl = None
    ol = ppr.find(_w("outlineLvl"))
    if ol is not None and ol.get(_w("val"), "9").isdigit():
        outline = int(ol.get(_w("val"), "9"))
    numpr = ppr.find(_w("numPr"))
    if numpr is not None:
        nid = numpr.find(_w("numId"))
        lvl = numpr.find(_w("ilvl"))
        num_id = nid.get(_w("val")) if nid is not None else None
        ilvl = int(lvl.get(_w("val"), "0")) if lvl is not None else None
    return outline, num_id, ilvl


def _style_chain(styles: dict[str, _Style], style_id: str | None) -> Iterator[_Style]:
    seen: set[str] = set()
    while style_id and style_id in styles and style_id not in seen:
        seen.add(style_id)
        yield styles[style_id]
        style_id = styles[style_id].based_on


# ---------------------------------------------------------------- body


class _BodyReader:
    def __init__(self, styles: dict[str, _Style], numbering: _Numbering) -> None:
        self.styles = styles
        self.numbering = numbering
        self.blocks: list[Block] = []

    def walk(self, parent: etree._Element) -> None:
        for child in parent:
            tag = child.tag
            if tag == _w("p"):
                self.paragraph(child)
            elif tag == _w("tbl"):
                self.table(child)
            elif tag in (_w("sdt"), _w("sdtContent"), _w("customXml"), _w("ins"), _w("smartTag")):
                self.walk(child)

    def paragraph(self, p: etree._Element) -> None:
        ppr = p.find(_w("pPr"))
        style_id = None
        outline = num_id = ilvl = None
        if ppr is not None:
            ps = ppr.find(_w("pStyle"))
            style_id = ps.get(_w("val")) if ps is not None else None
            outline, num_id, ilvl = _outline_and_num(ppr)
        heading = None
        for st in _style_chain(self.styles, style_id):
            m = _HEADING_NAME.match(st.name.strip())
            if heading is None and m:
                heading = int(m.group(1))
            if outline is None and st.outline is not None:
                outline = st.outline
            if num_id is None and st.num_id is not None:
                num_id = st.num_id
                ilvl = st.ilvl if ilvl is None else ilvl
        if heading is None and outline is not None and outline < 9:
            heading = outline + 1
        numbering = self.numbering.label(num_id, ilvl or 0) if num_id else None
        lines = _paragraph_lines(p)
        boxes = [box for box in p.iter(_w("txbxContent")) if _box_belongs_to(box, p)]
        first = True
        for line in lines:
            if not line.strip() and not first:
                continue
            self.blocks.append(Block(line, is_paragraph=True, heading_level=heading if first else None,
                                     numbering=numbering if first else None))
            first = False
        for box in boxes:
            self.walk(box)

    def table(self, tbl: etree._Element) -> None:
        for tr in tbl.iter(_w("tr")):
            if _owning_table(tr) is not tbl:
                continue
            cells = []
            for tc in tr.iter(_w("tc")):
                if _owning_table(tc) is not tbl:
                    continue
                texts = [" ".join(_paragraph_lines(p)).strip() for p in tc.iter(_w("p"))]
                cells.append(" ".join(t for t in texts if t))
            if any(cells):
                self.blocks.append(Block("\t".join(cells), is_paragraph=True, is_table_row=True))


def _box_belongs_to(box: etree._Element, p: etree._Element) -> bool:
    """A text box drawn in paragraph ``p`` itself, not in a nested box nor in the duplicate
    ``mc:Fallback`` rendering that Word stores next to the modern one."""
    node = box.getparent()
    while node is not None and node is not p:
        if node.tag in _TAGS_SKIPPED or node.tag == _w("p"):
            return False
        node = node.getparent()
    return node is p


def _owning_table(el: etree._Element) -> etree._Element | None:
    node = el.getparent()
    while node is not None and node.tag != _w("tbl"):
        node = node.getparent()
    return node


def _paragraph_lines(p: etree._Element) -> list[str]:
    """The paragraph's text, split at manual line breaks; text boxes and deleted text are left out."""
    lines: list[str] = []
    buf: list[str] = []
    stack = list(reversed(list(p)))
    while stack:
        el = stack.pop()
        tag = el.tag
        if not isinstance(tag, str) or tag in _TAGS_SKIPPED or tag in (_w("txbxContent"), _w("pPr"), _w("rPr")):
            continue
        if tag == _w("t"):
            buf.append(el.text or "")
        elif tag == _w("r") and _hidden(el):
            continue
        elif tag == _w("tab"):
            buf.append("\t")
        elif tag in (_w("br"), _w("cr")):
            if el.get(_w("type")) != "page":
                lines.append("".join(buf))
                buf = []
        elif tag == _w("noBreakHyphen"):
            buf.append("-")
        else:
            stack.extend(reversed(list(el)))
    lines.append("".join(buf))
    return lines


def _hidden(run: etree._Element) -> bool:
    """Text formatted as hidden is not printed by Word, so it is not part of the document."""
    vanish = run.find(f"{_w('rPr')}/{_w('vanish')}")
    return vanish is not None and vanish.get(_w("val"), "true") not in ("0", "false")


def _part(zf: zipfile.ZipFile, name: str, settings: Settings) -> etree._Element | None:
    if name not in zf.NameToInfo:
        return None
    return parse_xml(read_zip_member(zf, name, settings), name)


def read_docx(data: bytes, settings: Settings) -> list[Block]:
    """Return the body of a Word document as Blocks (paragraphs and table rows)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IntakeError("corrupt", "Word 文件已损坏或不完整，无法打开；请用 Word 重新保存后上传", f"bad zip: {exc}") from exc
    with zf:
        check_zip_declared(zf, settings)
        if "word/document.xml" not in zf.NameToInfo:
            raise IntakeError("unsupported", "压缩包中没有 Word 正文，请上传 PDF、Word（.docx）或 TXT",
                              "zip without word/document.xml")
        document = _part(zf, "word/document.xml", settings)
        styles = _load_styles(_part(zf, "word/styles.xml", settings))
        numbering = _Numbering.load(_part(zf, "word/numbering.xml", settings))
    body = document.find(_w("body")) if document is not None else None
    if body is None:
        raise IntakeError("corrupt", "Word 文件缺少正文部分，请用 Word 重新保存后上传", "no w:body in word/document.xml")
    reader = _BodyReader(styles, numbering)
    reader.walk(body)
    return reader.blocks
