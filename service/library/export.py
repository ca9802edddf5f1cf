"""Export practices as a Word 经验做法汇编, a CSV sheet or JSON.

``load_export_practices`` reads the practices (with their source documents and group labels) from
the library; the ``to_*`` renderers are pure: a list of :class:`ExportPractice` in, bytes out.
The .docx follows 公文 conventions as far as fonts allow (GB/T 9704 sizes, line pitch, margins).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

from docx import Document as new_docx
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph

from service.mining.practice import TOPICS

DEFAULT_TITLE = "经验做法汇编"
UNGROUPED = "其他做法"

# 公文 font sizes: 二号 = 22 pt, 三号 = 16 pt.
SIZE_TITLE = Pt(22)
SIZE_BODY = Pt(16)
LINE_PITCH = Pt(28)

# The 公文 fonts and what Word should substitute when they are not installed (fontTable altName).
FONT_TITLE = "方正小标宋简体"
FONT_H1 = "黑体"
FONT_H2 = "楷体_GB2312"
FONT_BODY = "仿宋_GB2312"
FONT_FALLBACKS = {
    FONT_TITLE: "华文中宋",
    FONT_H2: "楷体",
    FONT_BODY: "仿宋",
    FONT_H1: "SimHei",
}
ASCII_FONT = "Times New Roman"

CN_NUMERALS = "一二三四五六七八九十"


@dataclass
class ExportPractice:
    """One practice with everything an export shows about it."""

    id: int
    text: str
    name: str | None
    orgs: list[str]
    topic: str
    kind: str
    document_id: int
    doc_title: str
    doc_filename: str
    year: int | None = None
    group_id: int | None = None
    group_label: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- reading from the library


def load_export_practices(
    conn: sqlite3.Connection, ids: Sequence[int], base_url: str | None = None
) -> list[ExportPractice]:
    """Read ``ids`` (in that order; unknown ids are skipped) with documents, tags and group labels."""
    if not ids:
        return []
    wanted = list(dict.fromkeys(int(i) for i in ids))
    rows: dict[int, sqlite3.Row] = {}
    # Chunk the IN list: SQLite limits bound parameters.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"""SELECT p.id, p.text, p.name, p.orgs_json, p.topic, p.kind, p.document_id, p.group_id,
                       d.title AS doc_title, d.filename AS doc_filename, d.year
                FROM practices p JOIN documents d ON d.id = p.document_id
                WHERE p.id IN ({marks})""",
            chunk,
        ):
            rows[row["id"]] = row
    tags = _tags_of(conn, list(rows))
    labels = group_labels(conn, {r["group_id"] for r in rows.values() if r["group_id"] is not None})
    out = []
    for pid in wanted:
        row = rows.get(pid)
        if row is None:
            continue
        out.append(
            ExportPractice(
                id=pid,
                text=row["text"],
                name=row["name"],
                orgs=json.loads(row["orgs_json"] or "[]"),
                topic=row["topic"],
                kind=row["kind"],
                document_id=row["document_id"],
                doc_title=row["doc_title"] or row["doc_filename"],
                doc_filename=row["doc_filename"],
                year=row["year"],
                group_id=row["group_id"],
                group_label=labels.get(row["group_id"]),
                tags=tags.get(pid, []),
                url=f"{base_url.rstrip('/')}/practices/{pid}" if base_url else None,
            )
        )
    return out


def _tags_of(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT practice_id, tag FROM practice_tags WHERE removed = 0 AND practice_id IN ({marks}) "
            "ORDER BY practice_id, tag",
            chunk,
        ):
            out.setdefault(row[0], []).append(row[1])
    return out


def group_labels(conn: sqlite3.Connection, group_ids: set[int]) -> dict[int, str]:
    """Labels of practice groups (table of the search component; absent until groups are built)."""
    if not group_ids:
        return {}
    ids = sorted(group_ids)
    labels: dict[int, str] = {}
    try:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT id, label FROM practice_groups WHERE id IN ({marks})", chunk):
                if row[1]:
                    labels[row[0]] = row[1]
    except sqlite3.OperationalError:
        return {}
    return labels


# ---------------------------------------------------------------- arranging


def arrange(practices: Sequence[ExportPractice]) -> OrderedDict[str, OrderedDict[str, list[ExportPractice]]]:
    """Topic (taxonomy order) → practice group (largest first; ungrouped last) → practices.

    A group heading is only worth it when at least two of the exported practices share the group;
    the others are listed under :data:`UNGROUPED`.
    """
    sizes: dict[tuple[str, int], int] = {}
    for p in practices:
        if p.group_id is not None and p.group_label:
            sizes[(p.topic, p.group_id)] = sizes.get((p.topic, p.group_id), 0) + 1
    by_topic: dict[str, dict[str, list[ExportPractice]]] = {}
    for p in practices:
        shared = p.group_id is not None and p.group_label and sizes[(p.topic, p.group_id)] > 1
        by_topic.setdefault(p.topic, {}).setdefault(p.group_label if shared else UNGROUPED, []).append(p)
    order = {t: i for i, t in enumerate(TOPICS)}
    out: OrderedDict[str, OrderedDict[str, list[ExportPractice]]] = OrderedDict()
    for topic in sorted(by_topic, key=lambda t: (order.get(t, len(order)), t)):
        groups = by_topic[topic]
        keys = sorted(groups, key=lambda g: (g == UNGROUPED, -len(groups[g]), g))
        out[topic] = OrderedDict((k, groups[k]) for k in keys)
    return out


def practice_heading(p: ExportPractice) -> str:
    """``市委办公室：“日读一文……”学习制度`` — the unit(s) and the practice's name when it has one.

    A directive (what a speech asks units to do) is marked, so readers do not take it for a
    practice some unit already reports.
    """
    units = "、".join(p.orgs) or "（未识别单位）"
    heading = f"{units}：{p.name}" if p.name else units
    return heading + "（工作要求）" if p.kind == "directive" else heading


def source_line(p: ExportPractice) -> str:
    """``来源：《标题》（文件名）``."""
    title = p.doc_title or p.doc_filename
    if title == p.doc_filename:
        return f"来源：{p.doc_filename}"
    return f"来源：《{title}》（{p.doc_filename}）"


def cn_number(n: int) -> str:
    """Chinese numerals for headings: 1 一, 12 十二, 111 一百一十一, 1005 一千零五, 10010 一万零一十."""
    if n < 1:
        raise ValueError(f"heading numbers start at 1, got {n}")
    if n >= 10**8:
        return str(n)
    high, low = divmod(n, 10**4)
    if not high:
        return _below_ten_thousand(low, leading=True)
    out = _below_ten_thousand(high, leading=True) + "万"
    if low:
        out += ("零" if low < 1000 else "") + _below_ten_thousand(low, leading=False)
    return out


def _below_ten_thousand(n: int, leading: bool) -> str:
    """1..9999; ``leading`` drops the 一 of 一十 (十二, but 一百一十二)."""
    out, zero = "", False
    for unit, value in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, n = divmod(n, value)
        if digit:
            if zero:
                out += "零"
            zero = False
            if not (unit == "十" and digit == 1 and leading and not out):
                out += CN_NUMERALS[digit - 1]
            out += unit
        elif out:
            zero = True
    return out


# ---------------------------------------------------------------- renderers


def to_json(practices: Sequence[ExportPractice], title: str = DEFAULT_TITLE, on: date | None = None) -> bytes:
    """``{"title", "date", "count", "practices": [...]}`` as UTF-8 JSON."""
    doc = {
        "title": title,
        "date": (on or date.today()).isoformat(),
        "count": len(practices),
        "practices": [p.to_dict() for p in practices],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


CSV_COLUMNS = ("编号", "主题", "做法组", "单位", "做法名称", "做法内容", "类型", "标签", "年份", "来源标题", "来源文件", "链接")


# A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(…), +1+1, @SUM).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell that Excel or WPS would run as a formula gets a leading ``'``; numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def to_csv(practices: Sequence[ExportPractice]) -> bytes:
    """One row per practice; UTF-8 with BOM so Excel opens the Chinese text correctly.

    Text cells that a spreadsheet would evaluate are neutralised (see :func:`spreadsheet_safe`).
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for p in practices:
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in [
                p.id,
                p.topic,
                p.group_label or "",
                "、".join(p.orgs),
                p.name or "",
                p.text,
                "经验做法" if p.kind == "practice" else "工作要求",
                "、".join(p.tags),
                p.year or "",
                p.doc_title,
                p.doc_filename,
                p.url or "",
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_docx(
    practices: Sequence[ExportPractice], title: str = DEFAULT_TITLE, on: date | None = None, ranked: bool = False
) -> bytes:
    """The 汇编: title, date, then 一、topic → （一）group → numbered practices with their source.

    ``ranked`` (the export of a search) keeps the given order, best answer first, under one heading:
    a reader looking for 学习制度 wants the best match on page one, not the topics in taxonomy order.

    Fonts, sizes and line pitch live in paragraph styles, so each run carries only its text
    (and bold for the practice's lead): Word shows the same, and thousands of practices stay fast.
    """
    on = on or date.today()
    doc = new_docx()
    _page_setup(doc)
    _styles(doc)
    _register_fallback_fonts(doc)

    add = _Appender(doc)
    add(title, STYLE_TITLE)
    add(f"{on.year}年{on.month}月{on.day}日", STYLE_DATE)
    add(f"共收录经验做法{len(practices)}条。")

    if ranked:
        add("检索结果（按相关度排序）", "Heading 1")
        for number, p in enumerate(practices, start=1):
            para = add()
            para.add_run(f"{number}. {practice_heading(p)}。").bold = True
            para.add_run(p.text)
            add(f"{source_line(p)}　主题：{p.topic}", STYLE_SOURCE)
        sections = {}
    else:
        sections = arrange(practices)
    for t_index, (topic, groups) in enumerate(sections.items(), start=1):
        add(f"{cn_number(t_index)}、{topic}", "Heading 1")
        number = 0
        # A topic whose practices belong to no group needs no level-2 heading.
        only_ungrouped = list(groups) == [UNGROUPED]
        for g_index, (label, items) in enumerate(groups.items(), start=1):
            if not only_ungrouped:
                add(f"（{cn_number(g_index)}）{label}", "Heading 2")
            for p in items:
                number += 1
                para = add()
                para.add_run(f"{number}. {practice_heading(p)}。").bold = True
                para.add_run(p.text)
                add(source_line(p), STYLE_SOURCE)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- docx helpers

STYLE_TITLE = "Jingyan Title"
STYLE_DATE = "Jingyan Date"
STYLE_SOURCE = "Jingyan Source"


class _Appender:
    """Appends paragraphs in constant time.

    ``Document.add_paragraph`` looks for the body's ``w:sectPr`` among all children on every call,
    which makes a long 汇编 quadratic; here the anchor is found once.
    """

    def __init__(self, doc) -> None:
        self.body = doc.element.body
        self.anchor = self.body.find(qn("w:sectPr"))
        self.parent = doc._body
        self.style_ids = {s.name: s.style_id for s in doc.styles}

    def __call__(self, text: str | None = None, style: str | None = None) -> Paragraph:
        p = OxmlElement("w:p")
        if self.anchor is not None:
            self.anchor.addprevious(p)
        else:
            self.body.append(p)
        if style:
            p.style = self.style_ids[style]
        para = Paragraph(p, self.parent)
        if text:
            para.add_run(text)
        return para


def _page_setup(doc) -> None:
    # GB/T 9704: A4, top 37 mm, bottom 35 mm, left 28 mm, right 26 mm.
    for section in doc.sections:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)


def _styles(doc) -> None:
    """Normal = body (仿宋 三号, 28 pt pitch, two-character indent); headings, title, date, source."""
    normal = doc.styles["Normal"]
    _style_format(normal, FONT_BODY, SIZE_BODY, indent=True)
    for name, font in (("Heading 1", FONT_H1), ("Heading 2", FONT_H2)):
        style = doc.styles[name]
        _style_format(style, font, SIZE_BODY, indent=True)
        style.font.bold = False
        style.font.italic = False
        style.font.color.rgb = None
        style.paragraph_format.keep_with_next = True
    for name, font, size, centred in (
        (STYLE_TITLE, FONT_TITLE, SIZE_TITLE, True),
        (STYLE_DATE, FONT_H2, SIZE_BODY, True),
        (STYLE_SOURCE, FONT_H2, SIZE_BODY, False),
    ):
        style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        _style_format(style, font, SIZE_BODY if size is None else size, indent=not centred)
        if centred:
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _style_format(style, east_asian: str, size, indent: bool) -> None:
    _set_fonts(style.font, style.element.get_or_add_rPr(), east_asian, size)
    fmt = style.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(32) if indent else Pt(0)  # two characters of 三号


def _set_fonts(font, rpr, east_asian: str, size) -> None:
    """Latin text in Times New Roman, Chinese in ``east_asian`` (w:rFonts w:eastAsia)."""
    font.name = ASCII_FONT
    font.size = size
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    rfonts.set(qn("w:eastAsia"), east_asian)
    # Theme fonts would override the explicit names in Word.
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)


def _register_fallback_fonts(doc) -> None:
    """Declare the 公文 fonts in the font table with a GB2312 charset and an ``altName`` fallback."""
    font_table = None
    for rel in doc.part.rels.values():
        if rel.reltype.endswith("/fontTable"):
            font_table = rel.target_part
    if font_table is None:
        return
    from docx.oxml import parse_xml

    root = parse_xml(font_table.blob)
    for name, alt in FONT_FALLBACKS.items():
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        alt_el = OxmlElement("w:altName")
        alt_el.set(qn("w:val"), alt)
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")  # GB2312
        family = OxmlElement("w:family")
        family.set(qn("w:val"), "modern" if name == FONT_H1 else "roman")
        font.extend([alt_el, charset, family])
        root.append(font)
    from lxml import etree

    font_table._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
