"""Corpus-derived fixtures shared by the fidelity tests and the intake bench.

Every corpus TXT becomes a DOCX (python-docx, one paragraph per line) and a PDF exported from
that DOCX by LibreOffice — the way clerks usually produce their PDFs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from service.config import REPO_ROOT

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
