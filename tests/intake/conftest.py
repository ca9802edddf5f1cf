"""Fixtures for the intake tests: corpus files in every format clerks send, and hostile files.

Generated files are cached for the whole session; LibreOffice runs once for all PDF exports.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from docx import Document as WordDocument
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from bench.fixtures import (
    SAMPLES,
    build_corpus_fixtures,
    scan_pdf,
    soffice_convert,
    source_lines,
    write_docx,
    write_official_docx,
)

SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"
HEADER_TEXT = "中共示例市委组织部 工作简报"
# The seed, and three reports whose titles wrap over two lines in an official layout.
OFFICIAL = ("seed__000_d56bd712dbae6b12", "zhdj-zhongtiao__01", "pb-lotjol__12", "pb-lotjol__11")


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intake-fixtures")


@pytest.fixture(scope="session")
def word_with_margins(fixture_dir: Path) -> Path:
    """A long report saved from Word with a running header and a page-number footer."""
    word = WordDocument()
    section = word.sections[0]
    section.header.paragraphs[0].text = HEADER_TEXT
    footer = section.footer.paragraphs[0]
    footer.text = "— "
    footer._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer.add_run(" —")
    for line in source_lines(SAMPLES / "gwr-national__05.txt"):
        word.add_paragraph(line)
    return _save(word, fixture_dir / "docx-extra" / "report-with-margins.docx")


@pytest.fixture(scope="session")
def corpus_formats(fixture_dir: Path, word_with_margins: Path) -> dict[str, dict[str, Path]]:
    """Every corpus TXT also as DOCX (python-docx) and as PDF exported by LibreOffice."""
    return build_corpus_fixtures(fixture_dir / "corpus", extra_docx=(word_with_margins,))


@pytest.fixture(scope="session")
def pdf_with_margins(corpus_formats: dict[str, dict[str, Path]], fixture_dir: Path) -> Path:
    return fixture_dir / "corpus" / "pdf" / "report-with-margins.pdf"


@pytest.fixture(scope="session")
def browser_printed_pdf(fixture_dir: Path) -> Path:
    """A corpus article printed from Chromium with its date/title header and URL/page footer."""
    html = fixture_dir / "article.html"
    lines = source_lines(SAMPLES / "hust-partygov__02.txt")
    body = "".join(f"<p>{line}</p>" for line in lines[1:] * 3)
    html.write_text(f'<html><head><meta charset="utf-8"><title>{lines[0]}</title></head>'
                    f"<body><h1>{lines[0]}</h1>{body}</body></html>", encoding="utf-8")
    out = fixture_dir / "article.pdf"
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={out}",
                    html.as_uri()], check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def official_pdfs(fixture_dir: Path) -> dict[str, Path]:
    """Corpus documents laid out as official documents (22 pt title, 16 pt body), exported by LibreOffice."""
    folder = fixture_dir / "official"
    folder.mkdir(exist_ok=True)
    docs = [write_official_docx(source_lines(SAMPLES / f"{stem}.txt"), folder / f"{stem}.docx") for stem in OFFICIAL]
    return dict(zip(OFFICIAL, soffice_convert(docs, "pdf", folder / "pdf"), strict=True))


@pytest.fixture(scope="session")
def seed_scan(official_pdfs: dict[str, Path], fixture_dir: Path) -> Path:
    """The official-layout seed printed and scanned at 150 dpi: a PDF of page pictures only."""
    return scan_pdf(official_pdfs[SEED.stem], fixture_dir / "seed-scan.pdf")


@pytest.fixture(scope="session")
def numbered_docx(fixture_dir: Path) -> Path:
    """A Word file using automatic numbering (一、 / （一） / 1.), heading styles and a table."""
    word = WordDocument()
    numbering = word.part.numbering_part.element
    numbering.append(parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>'
        '<w:lvl w:ilvl="3"><w:start w:val="1"/><w:numFmt w:val="ideographTraditional"/><w:lvlText w:val="%4、"/></w:lvl>'
        "</w:abstractNum>"))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    # "Restart numbering" in Word: a second instance of the same list with a start override.
    numbering.append(parse_xml(
        f'<w:num {nsdecls("w")} w:numId="91"><w:abstractNumId w:val="90"/>'
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'))

    def numbered(text: str, level: int, style: str | None = None, num_id: int = 90) -> None:
        p = word.add_paragraph(text, style=style)
        p._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))

    word.add_heading("关于基层党建工作的经验交流材料", level=1)
    word.add_paragraph("今年以来，我们坚持抓基层、打基础。")
    for i in range(12):
        numbered(f"第{i + 1}项重点工作", 0, "Heading 2")
        if i == 0:
            numbered("强化政治引领", 1)
            numbered("建立学习制度", 2)
            numbered("落实三会一课", 2)
            numbered("试点先行", 3)
            numbered("压实工作责任", 1)
            numbered("建立责任清单", 2)
    table = word.add_table(rows=2, cols=3)
    for r, row in enumerate([["单位", "做法", "成效"], ["示例街道党工委", "网格化管理", "群众满意"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    word.add_paragraph("表后正文段落。")
    numbered("重新编号的第一项", 0, num_id=91)
    numbered("重新编号的第二项", 0, num_id=91)
    note = word.add_paragraph("正文可见。")
    note.add_run("隐藏的修订说明").font.hidden = True
    # A text box as Word stores it: the modern drawing and a legacy VML copy of the same box.
    box = '<w:txbxContent><w:p><w:r><w:t>文本框里的要点</w:t></w:r></w:p></w:txbxContent>'
    holder = word.add_paragraph("带文本框的段落。")
    holder._p.append(parse_xml(
        f'<w:r {nsdecls("w")} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        f'<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>{box}</w:drawing></mc:Choice>'
        f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r>"))
    section = word.sections[0]
    section.header.paragraphs[0].text = "页眉文字不应进入正文"
    section.footer.paragraphs[0].text = "页脚文字不应进入正文"
    return _save(word, fixture_dir / "numbered.docx")


@pytest.fixture(scope="session")
def seed_docx(fixture_dir: Path) -> Path:
    return write_docx(source_lines(SEED), fixture_dir / "seed.docx")


@pytest.fixture(scope="session")
def legacy_doc(seed_docx: Path, fixture_dir: Path) -> Path:
    """The seed saved as an old binary Word .doc."""
    return soffice_convert([seed_docx], "doc", fixture_dir / "doc")[0]


# ------------------------------------------------------------------ hostile files


@pytest.fixture(scope="session")
def encrypted_pdfs(corpus_formats: dict[str, dict[str, Path]], fixture_dir: Path) -> dict[str, Path]:
    """The seed PDF locked with an opening password, and with only an owner (edit) password."""
    src = corpus_formats["seed__000_d56bd712dbae6b12"]["pdf"]
    out = {"user": fixture_dir / "locked.pdf", "owner": fixture_dir / "owner-only.pdf"}
    subprocess.run(["qpdf", "--encrypt", "open-sesame", "owner-secret", "256", "--", str(src), str(out["user"])],
                   check=True)
    subprocess.run(["qpdf", "--encrypt", "", "owner-secret", "256", "--print=none", "--modify=none", "--",
                    str(src), str(out["owner"])], check=True)
    return out


@pytest.fixture(scope="session")
def scanned_pdf(fixture_dir: Path) -> Path:
    """A 'scan': pages that are only pictures, as a copier produces them."""
    from PIL import Image, ImageDraw

    pages = []
    for n in range(3):
        img = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(img)
        for row in range(40):
            draw.rectangle((120, 150 + row * 38, 1100 - (row * 7 + n * 50) % 300, 170 + row * 38), fill="black")
        pages.append(img)
    out = fixture_dir / "scan.pdf"
    pages[0].save(out, save_all=True, append_images=pages[1:], resolution=150)
    return out


def _docx_with_document_xml(base: Path, xml: bytes, target: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(base) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, xml if item.filename == "word/document.xml" else src.read(item))
    return target


@pytest.fixture(scope="session")
def xxe_docx(seed_docx: Path, fixture_dir: Path) -> Path:
    """document.xml that asks the parser to read /etc/passwd through an external entity."""
    xml = (b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           b"<w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>")
    return _docx_with_document_xml(seed_docx, xml, fixture_dir / "xxe.docx")


@pytest.fixture(scope="session")
def laughs_docx(seed_docx: Path, fixture_dir: Path) -> Path:
    """The 'billion laughs': nested entities that expand to gigabytes."""
    ents = '<!ENTITY l0 "哈哈哈哈哈哈哈哈哈哈">' + "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [{ents}]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           "<w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>").encode()
    return _docx_with_document_xml(seed_docx, xml, fixture_dir / "laughs.docx")


def write_zip_bomb(target: Path, inflated: int, declared: int | None = None) -> Path:
    """A ~2 MB DOCX whose word/document.xml inflates to ``inflated`` bytes.

    Written by hand from one pre-compressed 1 MiB block repeated, so building it takes a second,
    not the minutes zipfile would spend compressing gigabytes. ``declared`` lets the headers lie.
    """
    prefix = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
              b'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>')
    suffix = b"</w:t></w:r></w:p></w:body></w:document>"
    block = b" " * (1 << 20)
    repeats = (inflated - len(prefix) - len(suffix)) // len(block)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)
    body = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.compress(suffix) + comp.flush()
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + repeats * len(block) + len(suffix)
    entries = [(b"[Content_Types].xml", 0, b"<Types/>", zlib.crc32(b"<Types/>"), 8, 8),
               (b"word/document.xml", 8, None, crc, len(head) + repeats * len(body) + len(tail),
                size if declared is None else declared)]
    central = bytearray()
    with target.open("wb") as fh:
        for name, method, data, crc_, csize, usize in entries:
            offset = fh.tell()
            fh.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc_, csize, usize, len(name), 0))
            fh.write(name)
            if data is not None:
                fh.write(data)
            else:
                fh.write(head)
                for _ in range(repeats):
                    fh.write(body)
                fh.write(tail)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc_, csize, usize,
                                   len(name), 0, 0, 0, 0, 0, offset) + name
        start = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), start, 0))
    return target


@pytest.fixture(scope="session")
def zip_bombs(fixture_dir: Path) -> dict[str, Path]:
    """An honest bomb (headers say 2 GB) and a lying one (headers say 40 KB)."""
    two_gb = 2 * 1024**3 - 1024
    return {
        "honest": write_zip_bomb(fixture_dir / "bomb.docx", two_gb),
        "lying": write_zip_bomb(fixture_dir / "bomb-lying.docx", two_gb, declared=40_000),
    }


@pytest.fixture(scope="session")
def looping_pdf(fixture_dir: Path) -> Path:
    """A page whose drawing nests forms ten-fold nine levels deep: a billion draws to read it."""
    depth, first = 9, 6

    def stream(head: bytes, data: bytes) -> bytes:
        return b"<< " + head + f" /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"

    forms = []
    for d in range(depth):
        last = d == depth - 1
        content = b"BT /F1 12 Tf 10 10 Td (A) Tj ET" if last else b" ".join([b"/X Do"] * 10)
        xobj = b"" if last else f"/XObject << /X {first + d + 1} 0 R >> ".encode()
        forms.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 600 800] /Resources << " + xobj
                            + b"/Font << /F1 4 0 R >> >>", content))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 5 0 R /Resources << /XObject << "
         f"/X {first} 0 R >> /Font << /F1 4 0 R >> >> >>").encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(b"", b"BT /F1 12 Tf 50 700 Td (Report) Tj ET /X Do"),
        *forms,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path = fixture_dir / "loop.pdf"
    path.write_bytes(bytes(out))
    return path


def _save(word: object, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    word.save(str(target))  # type: ignore[attr-defined]
    return target

