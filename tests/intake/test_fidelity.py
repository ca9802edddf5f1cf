"""Whatever format a clerk sends, the same words come out.

Every corpus document as TXT, as a Word file (python-docx, one paragraph per line) and as a PDF
exported from that Word file by LibreOffice keeps ≥ 99 % of its characters in order and gets
the TXT parse's title. The real PDFs and the Word file of the corpus are checked as they are.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from docx import Document as WordDocument

from bench.fixtures import SAMPLES, corpus_texts, source_lines
from service.config import Settings
from service.intake import parse_file
from service.intake.readers.docx import read_docx
from service.intake.readers.pdf import read_pdf

# Invisible characters a PDF rightly does not carry count as whitespace.
_IGNORED = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
STEMS = [p.stem for p in corpus_texts()]
REAL_PDFS = sorted(SAMPLES.glob("*.pdf"))


def squeeze(text: str) -> str:
    return _IGNORED.sub("", text)


def kept_share(reference: str, got: str) -> tuple[float, float]:
    """(share of reference characters present as a multiset, share matched in order)."""
    ref, out = squeeze(reference), squeeze(got)
    have = Counter(out)
    multiset = sum(min(n, have[c]) for c, n in Counter(ref).items()) / len(ref)
    # In order: 20-character pieces of the reference found one after another in the output; a
    # changed character costs at most its piece, a moved sentence costs all of it.
    found, pos = 0, 0
    for start in range(0, len(ref), 20):
        piece = ref[start : start + 20]
        at = out.find(piece, pos)
        if at >= 0:
            found += len(piece)
            pos = at + len(piece)
    return multiset, found / len(ref)


@pytest.mark.parametrize("stem", STEMS)
def test_word_and_pdf_readers_keep_every_line_of_the_source(stem: str, corpus_formats: dict[str, dict[str, Path]]) -> None:
    files = corpus_formats[stem]
    source = "\n".join(source_lines(files["txt"]))
    docx_blocks = read_docx(files["docx"].read_bytes(), Settings())
    reading = read_pdf(files["pdf"].read_bytes(), Settings())
    pdf_blocks = reading.blocks
    assert reading.pages >= 1 and reading.ocr_confidence is None
    for label, blocks in (("docx", docx_blocks), ("pdf", pdf_blocks)):
        multiset, in_order = kept_share(source, "\n".join(b.text for b in blocks))
        assert multiset >= 0.99 and in_order >= 0.99, (label, multiset, in_order)


@pytest.mark.parametrize("stem", STEMS)
def test_document_text_and_title_agree_across_txt_docx_and_pdf(
    stem: str, corpus_formats: dict[str, dict[str, Path]]
) -> None:
    files = corpus_formats[stem]
    as_txt, as_docx, as_pdf = (parse_file(files[k]) for k in ("txt", "docx", "pdf"))
    for label, doc in (("docx", as_docx), ("pdf", as_pdf)):
        multiset, in_order = kept_share(as_txt.text, doc.text)
        assert multiset >= 0.99 and in_order >= 0.99, (label, multiset, in_order)
    assert as_docx.title == as_txt.title
    title = squeeze(as_txt.title)
    if any(squeeze(line) == title for line in as_pdf.text.splitlines()[:5]):
        # The title fits on one printed line: the PDF must yield exactly the same title.
        assert squeeze(as_pdf.title) == title
    else:
        # A title wrapped over printed lines is rejoined by the structure step; the reader must
        # deliver its pieces first and in order.
        assert squeeze(as_pdf.text).startswith(title)


def _pdftotext_pages(pdf: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                         timeout=60).stdout.decode("utf-8")
    return out.split("\f")


@pytest.mark.parametrize("pdf", REAL_PDFS, ids=[p.stem for p in REAL_PDFS])
def test_real_browser_printed_pdf_keeps_its_text_and_a_sensible_title(pdf: Path) -> None:
    doc = parse_file(pdf)
    raw_pages = _pdftotext_pages(pdf)  # each page ends with a form feed
    pages = [p for p in raw_pages if p.strip()]
    # Poppler is an independent reader: nearly all it sees must come out of ours (before the
    # clean-up step, which rightly drops separators and page furniture).
    reading = read_pdf(pdf.read_bytes(), Settings())
    blocks, count = reading.blocks, reading.pages
    multiset, in_order = kept_share("\n".join(pages), "\n".join(b.text for b in blocks))
    assert multiset >= 0.98 and in_order >= 0.97, (multiset, in_order)
    assert doc.source.pages == count == len(raw_pages) - 1
    lines = doc.text.splitlines()
    assert not any(re.match(r"^https?://", ln) for ln in lines)
    assert not any(re.fullmatch(r"\s*(\d{1,3}|\d{1,3}\s*/\s*\d{1,3}|第\d+页)\s*", ln) for ln in lines)
    # A line heading or closing every page is a running margin and must be gone.
    if len(pages) >= 2:
        edges = [{squeeze(x) for x in (p.strip().splitlines()[:2] + p.strip().splitlines()[-2:])} for p in pages]
        running = set.intersection(*edges) - {""}
        assert not running & {squeeze(ln) for ln in lines}
    # These clipped pages print the headline, wrapped or not, above a rule of "=" signs.
    assert squeeze(doc.title) == squeeze(pages[0].split("=====")[0])


def test_real_word_file_keeps_all_its_paragraphs() -> None:
    path = SAMPLES / "hust-partygov-docx__01.docx"
    reference = "\n".join(p.text for p in WordDocument(str(path)).paragraphs)
    multiset, in_order = kept_share(reference, parse_file(path).text)
    assert multiset >= 0.99 and in_order >= 0.99
