"""Corpus-derived fixtures shared by the fidelity tests and the intake bench.

Every corpus TXT becomes a DOCX (python-docx, one paragraph per line) and a PDF exported from
that DOCX by LibreOffice — the way clerks usually produce their PDFs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from service.config import REPO_ROOT, Settings

SAMPLES = REPO_ROOT / "corpus" / "samples"


def corpus_texts() -> list[Path]:
    """The corpus TXT files (the seed included), sorted by name."""
    return sorted(SAMPLES.glob("*.txt"))


def source_lines(path: Path) -> list[str]:
    """The lines of a corpus TXT file as a reader should see them."""
    return path.read_text(encoding="utf-8").splitlines()


def write_docx(lines: list[str], target: Path) -> Path:
    """Write ``lines`` as a Word document, one paragraph per line."""
    from docx import Document as WordDocument

    word = WordDocument()
    for line in lines:
        word.add_paragraph(line)
    word.save(str(target))
    return target


def write_official_docx(lines: list[str], target: Path) -> Path:
    """Write ``lines`` as a Word document laid out like an official document (GB/T 9704).

    A4, 22 pt centred title, 16 pt body with a two-character indent and a page number in the
    footer: long titles wrap and a page holds about 500 characters, as in the printouts
    committees scan.
    """
    from docx import Document as WordDocument
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Mm, Pt

    word = WordDocument()
    section = word.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    word.styles["Normal"].font.size = Pt(16)
    # Page number in the footer as official documents print it: — 3 —
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.text = "— "
    footer._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer.add_run(" —")
    for i, line in enumerate(lines):
        paragraph = word.add_paragraph()
        run = paragraph.add_run(line)
        if i == 0:
            run.font.size = Pt(22)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        else:
            paragraph.paragraph_format.first_line_indent = Pt(32)
    word.save(str(target))
    return target


def scan_pdf(pdf: Path, target: Path, dpi: int = 150) -> Path:
    """A picture-only copy of ``pdf``, as a copier makes it: pages rendered by poppler at ``dpi``.

    Each page is an RGB picture and the PDF has no text layer.
    """
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="jingyan-scan-") as tmp:
        subprocess.run([shutil.which("pdftoppm") or "pdftoppm", "-r", str(dpi), "-png", str(pdf), f"{tmp}/page"],
                       check=True, capture_output=True, timeout=300)
        pages = [Image.open(p).convert("RGB") for p in sorted(Path(tmp).glob("page-*.png"))]
        target.parent.mkdir(parents=True, exist_ok=True)
        pages[0].save(target, save_all=True, append_images=pages[1:], resolution=float(dpi))
    return target


def soffice_convert(sources: list[Path], fmt: str, outdir: Path, timeout: float = 900) -> list[Path]:
    """Convert ``sources`` to ``fmt`` (``pdf``, ``doc`` …) with ONE LibreOffice run; returns outputs."""
    outdir.mkdir(parents=True, exist_ok=True)
    # A private profile lets several conversions run side by side without a profile lock.
    with tempfile.TemporaryDirectory(prefix="jingyan-lo-") as profile:
        subprocess.run(
            [
                shutil.which("soffice") or "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                fmt,
                "--outdir",
                str(outdir),
                *map(str, sources),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            env={**os.environ, "HOME": profile},
        )
    outputs = [outdir / f"{src.stem}.{fmt}" for src in sources]
    missing = [p.name for p in outputs if not p.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice produced no output for {missing}")
    return outputs


def build_corpus_fixtures(root: Path, extra_docx: tuple[Path, ...] = ()) -> dict[str, dict[str, Path]]:
    """Create (or reuse) ``root/docx/*.docx`` and ``root/pdf/*.pdf`` for every corpus TXT.

    ``extra_docx`` are exported to PDF in the same LibreOffice run (one start-up for all).
    Returns ``{stem: {"txt": ..., "docx": ..., "pdf": ...}}``.
    """
    docx_dir, pdf_dir = root / "docx", root / "pdf"
    docx_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Path]] = {}
    for txt in corpus_texts():
        docx = docx_dir / f"{txt.stem}.docx"
        if not docx.exists():
            write_docx(source_lines(txt), docx)
        out[txt.stem] = {"txt": txt, "docx": docx, "pdf": pdf_dir / f"{txt.stem}.pdf"}
    todo = [v["docx"] for v in out.values() if not v["pdf"].exists()]
    todo += [p for p in extra_docx if not (pdf_dir / f"{p.stem}.pdf").exists()]
    if todo:
        soffice_convert(todo, "pdf", pdf_dir)
    return out


SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"


def store_long_report(settings: Settings, copies: int, limit: int | None = None) -> tuple[int, list[int], int]:
    """Store the seed speech copied ``copies`` times as one document, every sentence of it a practice
    (the first ``limit`` sentences when given), through the library's own store calls.

    Returns the document id, its practice ids and the length of its text.
    """
    from service.intake import parse_bytes
    from service.library import store
    from service.library.library import Library
    from service.library.search_eval import clause_entries
    from service.mining.practice import Practice

    data = SEED.read_bytes() * copies
    doc = parse_bytes(data, "长篇报告.txt", settings, isolate=False)
    practices = [
        Practice(orgs=["市委办公室"], mentions=[], text=e.text, name=None, topic="思想建设", kind="practice",
                 span=e.span, section=e.section)
        for e in clause_entries(doc)[:limit]
    ]
    library = Library(settings)
    conn = library.db.conn()
    with store.transaction(conn):
        document_id = store.insert_document(
            conn, doc, sha256=hashlib.sha256(data).hexdigest(), filename="长篇报告.txt", size=len(data)
        )
        ids = store.insert_practices(conn, document_id, practices)
    library.close()
    return document_id, ids, len(doc.text)


def bench_token(data_dir: Path | str) -> str:
    """An API token of a ``bench`` clerk account in ``data_dir``, made the way ``jingyan tokens create`` does.

    The HTTP benches send it as ``Authorization: Bearer …``: every route but the health check needs a login.
    """
    import secrets

    from service.auth import accounts
    from service.auth import schema as auth_schema
    from service.library.db import connect
    from service.library.library import database_path

    settings = Settings(data_dir=Path(data_dir))
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    conn = connect(database_path(settings))
    try:
        auth_schema.migrate(conn)
        if accounts.find_user(conn, "bench") is None:
            accounts.add_user(conn, "bench", "clerk", secrets.token_urlsafe(16))
        return accounts.create_token(conn, "bench")
    finally:
        conn.close()


def bench_headers(data_dir: Path | str) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` for :func:`bench_token`."""
    return {"Authorization": f"Bearer {bench_token(data_dir)}"}
