"""Bytes → Document: guard the limits, pick a reader by content, then build the structure.

The reader and the structure builder run in a forked child with a time and memory limit, so a
hostile file costs at most ``parse_timeout_s`` and never the service.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from service.config import Settings
from service.intake.document import Block, Document, SourceInfo
from service.intake.errors import IntakeError
from service.intake.guard import Progress, can_fork, check_file_size, check_text_length, run_isolated
from service.intake.sniff import RECOGNISED_IMAGES, sniff
from service.intake.structure import build_document

_UPLOAD_ADVICE = "请上传 PDF、Word（.docx）、TXT 文件或扫描图片（PNG、JPEG、TIFF）"


def parse_bytes(
    data: bytes,
    filename: str,
    settings: Settings | None = None,
    *,
    isolate: bool = True,
    progress: Progress | None = None,
) -> Document:
    """Parse ``data`` (the file's bytes) into a Document or raise :class:`IntakeError`.

    ``isolate=False`` parses in this process (no time or memory limit); only for trusted input.
    ``progress(done, total)`` is called as page images are recognised.
    """
    settings = settings or Settings()
    check_file_size(data, settings)
    original = data
    kind, seen = sniff(data)
    if kind in ("binary", "zip"):
        raise IntakeError("unsupported", f"不支持此文件类型（{seen}）；{_UPLOAD_ADVICE}", f"content is {seen}")
    if kind == "image" and seen not in RECOGNISED_IMAGES:
        raise IntakeError("image", f"这是一张 {seen} 图片；文字识别支持 PNG、JPEG、TIFF、BMP 图片，请另存为其中一种后上传，或{_UPLOAD_ADVICE}",
                          f"content is a {seen} image")
    fmt = {"pdf": "pdf", "docx": "docx", "text": "txt", "image": "image"}.get(kind, "doc")
    if kind in ("ole2", "rtf", "odf"):
        from service.intake.readers.legacy import convert_to_docx

        # LibreOffice runs as its own process with its own timeout, outside the memory-capped child.
        data, kind = convert_to_docx(data, kind, settings.parse_timeout_s), "docx"
    source = SourceInfo(filename, fmt, hashlib.sha256(original).hexdigest(), len(original))
    args = (kind, data, source, settings)
    if isolate and can_fork():
        return run_isolated(
            _parse, args, settings.parse_timeout_s, settings.parse_memory_mb * 1024 * 1024, progress=progress
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse(*args, progress)


def parse_file(path: Path, settings: Settings | None = None, *, isolate: bool = True) -> Document:
    """Read ``path`` and parse it; see :func:`parse_bytes`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError("unreadable", "无法读取文件，请确认路径和权限", str(exc)) from exc
    return parse_bytes(data, path.name, settings, isolate=isolate)


def _parse(
    kind: str, data: bytes, source: SourceInfo, settings: Settings, progress: Progress | None = None
) -> Document:
    """Reader + structure; runs inside the isolated child."""
    notes: list[str] = []
    blocks: list[Block]
    if kind in ("pdf", "image"):
        if kind == "pdf":
            from service.intake.readers.pdf import read_pdf as read_pages
        else:
            from service.intake.readers.image import read_image as read_pages

        reading = read_pages(data, settings, progress)
        blocks, source.pages, notes = reading.blocks, reading.pages, reading.warnings
        if reading.ocr_confidence is not None:
            source.ocr = True
            source.ocr_confidence = [None if c is None else round(c, 3) for c in reading.ocr_confidence]
    elif kind == "docx":
        from service.intake.readers.docx import read_docx

        blocks = read_docx(data, settings)
    else:
        from service.intake.readers.text import read_text

        blocks, source.encoding = read_text(data)
    check_text_length(sum(len(b.text) for b in blocks), settings)
    if not any(b.text.strip() for b in blocks):
        raise IntakeError("empty", "文件中没有可读的文字，请检查后重新上传", f"{source.format}: no text")
    document = build_document(blocks, source)
    document.warnings.extend(notes)
    return document
