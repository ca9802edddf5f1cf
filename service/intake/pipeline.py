"""Bytes → Document: pick a reader by content, then clean up and build the structure."""

from __future__ import annotations

import hashlib
from pathlib import Path

from charset_normalizer import from_bytes

from service.config import Settings
from service.intake.document import Block, Document, SourceInfo
from service.intake.errors import IntakeError
from service.intake.structure import build_document


def parse_bytes(data: bytes, filename: str, settings: Settings | None = None) -> Document:
    """Parse ``data`` (the file's bytes) into a Document or raise :class:`IntakeError`."""
    settings = settings or Settings()
    if not data.strip():
        raise IntakeError("empty", "文件是空的，请检查后重新上传", "0 bytes of content")
    best = from_bytes(data).best()
    if best is None:
        raise IntakeError("unreadable", "无法识别文件内容，请另存为 Word 或 PDF 后再上传", "no text encoding fits")
    text = str(best).replace("\r\n", "\n")
    source = SourceInfo(filename, "txt", hashlib.sha256(data).hexdigest(), len(data), encoding=best.encoding)
    return build_document([Block(line) for line in text.split("\n")], source)


def parse_file(path: Path, settings: Settings | None = None) -> Document:
    """Read ``path`` and parse it; see :func:`parse_bytes`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError("unreadable", "无法读取文件，请确认路径和权限", str(exc)) from exc
    return parse_bytes(data, path.name, settings)
