"""Scanned submissions: page pictures are recognised and read like any other document.

The scan is the official-layout seed printed by LibreOffice and rasterised by poppler at 150 dpi,
as a copier delivers it: a PDF of pictures without a text layer.
"""

from __future__ import annotations

import difflib
import io
import subprocess
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from service import mining
from service.intake import Document, parse_bytes, parse_file
from service.intake.readers.ocr import LOW_CONFIDENCE

from .test_fidelity import squeeze

SEED = "seed__000_d56bd712dbae6b12"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def agreement(reference: str, got: str) -> float:
    """Share of the reference's characters matched in order (whitespace aside)."""
    ref, out = squeeze(reference), squeeze(got)
    matcher = difflib.SequenceMatcher(None, ref, out, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(ref)


@pytest.fixture(scope="session")
def scanned_seed(seed_scan: Path) -> tuple[Document, list[tuple[int, int]]]:
    """The scan parsed once through the guarded child, with the page progress it reported."""
    calls: list[tuple[int, int]] = []
    doc = parse_bytes(seed_scan.read_bytes(), "扫描件.pdf", progress=lambda done, total: calls.append((done, total)))
    return doc, calls


@pytest.fixture(scope="session")
def seed_pages(seed_scan: Path) -> list[Image.Image]:
    """The scan's page pictures, as a clerk's scanner would save them one by one."""
    pdf = pdfium.PdfDocument(str(seed_scan))
    try:
        return [pdf[i].render(scale=150 / 72).to_pil().convert("RGB") for i in range(len(pdf))]
    finally:
        pdf.close()


def test_scanned_seed_reads_like_its_text_version(scanned_seed, official_pdfs: dict[str, Path]) -> None:
    doc, _ = scanned_seed
    text_version = parse_file(official_pdfs[SEED])
    assert agreement(text_version.text, doc.text) >= 0.95
    assert doc.title == text_version.title == "在机关党建工作交流会上的讲话"
    # The same structure: the ten numbered sections of the speech.
    assert [s.number for s in doc.sections] == [s.number for s in text_version.sections]


def test_scan_records_recognition_with_page_confidence_and_progress(scanned_seed) -> None:
    doc, calls = scanned_seed
    pages = doc.source.pages
    assert pages >= 5
    assert doc.source.ocr is True
    assert len(doc.source.ocr_confidence) == pages
    assert all(LOW_CONFIDENCE <= c <= 1 for c in doc.source.ocr_confidence)
    assert calls == [(n, pages) for n in range(1, pages + 1)]
    assert not any("置信度" in w for w in doc.warnings)


def test_scan_loses_its_printed_page_numbers_and_keeps_paragraphs_whole(scanned_seed) -> None:
    doc, _ = scanned_seed
    lines = doc.text.splitlines()
    assert not any(squeeze(line).strip("—一-").isdigit() for line in lines)
    # Lines wrapped by the layout are one paragraph again (the seed has 33 source lines).
    assert len(lines) <= 35
    assert "对下在机关党建网设立“亮身份、展风采”专栏" in doc.text


def test_practices_are_extracted_from_the_scan(scanned_seed) -> None:
    doc, _ = scanned_seed
    practices = mining.extract(doc)
    by_words = {word: [p for p in practices if word in p.text] for word in ("日读一文", "三卡预警")}
    assert any("市委办公室" in p.orgs for p in by_words["日读一文"])
    assert any("市发改委" in p.orgs for p in by_words["三卡预警"])


def test_pdf_with_text_pages_and_a_scanned_page_reads_both(
    official_pdfs: dict[str, Path], seed_scan: Path, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.pdf"
    text_pdf = official_pdfs["zhdj-zhongtiao__01"]
    subprocess.run(["qpdf", "--empty", "--pages", str(text_pdf), "1", str(seed_scan), "2", "--", str(mixed)], check=True)
    doc = parse_file(mixed)
    assert doc.source.ocr is True
    assert doc.source.ocr_confidence[0] is None and doc.source.ocr_confidence[1] >= LOW_CONFIDENCE
    assert doc.title == "中条林局召开“改革创新、奋发有为”大讨论交流总结会议"
    # Page 2 of the seed speaks of the 学习制度 of the city party office.
    assert "日读一文" in doc.text


def test_photo_of_a_page_with_a_red_seal_is_read_without_the_seal(
    seed_pages: list[Image.Image], tmp_path: Path
) -> None:
    plain = parse_bytes(_png(seed_pages[0]), "第一页.png")
    stamped = seed_pages[0].copy()
    draw = ImageDraw.Draw(stamped)
    centre, radius = (820, 700), 170
    draw.ellipse((centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius),
                 outline=(220, 30, 40), width=10)
    font = ImageFont.truetype(FONT, 40)
    draw.text((centre[0] - 120, centre[1] - 60), "示例印章专用", fill=(220, 30, 40), font=font)
    draw.text((centre[0] - 20, centre[1] + 10), "★", fill=(220, 30, 40), font=font)
    doc = parse_bytes(_png(stamped), "盖章页.png")
    assert doc.source.format == "image" and doc.source.ocr is True
    assert "印章" not in doc.text and "专用" not in doc.text
    assert agreement(plain.text, doc.text) >= 0.97


def test_multi_page_tiff_is_read_page_by_page(seed_pages: list[Image.Image]) -> None:
    buf = io.BytesIO()
    seed_pages[1].save(buf, format="TIFF", save_all=True, append_images=[seed_pages[2]], compression="tiff_lzw")
    calls: list[tuple[int, int]] = []
    doc = parse_bytes(buf.getvalue(), "扫描.tif", progress=lambda done, total: calls.append((done, total)))
    assert doc.source.pages == 2 and len(doc.source.ocr_confidence) == 2
    assert calls == [(1, 2), (2, 2)]
    assert "日读一文" in doc.text


def test_a_blurred_page_is_read_with_a_warning_to_check_it(seed_pages: list[Image.Image]) -> None:
    page = seed_pages[1]
    small = page.resize((page.width // 2, page.height // 2)).filter(ImageFilter.GaussianBlur(1.0))
    noisy = np.asarray(small.resize(page.size)).astype(np.int16)
    noisy += np.random.default_rng(5).integers(-60, 60, noisy.shape, dtype=np.int16)
    picture = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=40)
    doc = parse_bytes(buf.getvalue(), "模糊.jpg")
    assert doc.source.ocr_confidence[0] < LOW_CONFIDENCE
    assert any("置信度偏低" in w and "对照原件" in w for w in doc.warnings)


def _png(picture: Image.Image) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue()
