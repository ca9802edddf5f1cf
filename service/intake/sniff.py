"""Tell a file's format from its first bytes, never from its name."""

from __future__ import annotations

import io
import zipfile

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
# Picture formats whose pages are recognised (OCR); GIF and WEBP are web graphics, not scans.
RECOGNISED_IMAGES = frozenset({"PNG", "JPEG", "TIFF", "BMP"})
_BINARIES = (
    (b"\x1f\x8b", "gzip"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"MZ", "exe"),
    (b"\x7fELF", "ELF"),
)


def sniff(data: bytes) -> tuple[str, str]:
    """Return ``(kind, detail)``.

    ``kind`` is one of ``pdf``, ``docx``, ``zip`` (not a Word document), ``ole2`` (.doc/.wps),
    ``odf``, ``rtf``, ``image``, ``binary`` or ``text``; ``detail`` names what was seen.
    """
    head = data[:1024]
    if head.startswith(b"%PDF") or b"%PDF-" in head:
        return "pdf", "PDF"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if head.startswith(OLE2_MAGIC):
        return "ole2", "OLE2 compound file (.doc/.wps)"
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf", "RTF"
    for magic, name in _IMAGES:
        if head.startswith(magic):
            return "image", name
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "WEBP"
    if head.startswith(b"BM") and len(data) >= 26 and int.from_bytes(data[2:6], "little") == len(data):
        return "image", "BMP"
    for magic, name in _BINARIES:
        if head.startswith(magic):
            return "binary", name
    return "text", "text"


def _zip_kind(data: bytes) -> tuple[str, str]:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        # A damaged zip that starts like a Word file is most likely a truncated .docx.
        return ("docx", "damaged zip") if b"word/" in data[:65536] else ("zip", "damaged zip")
    if "word/document.xml" in names:
        return "docx", "DOCX"
    if "content.xml" in names and "mimetype" in names:
        return "odf", "OpenDocument"
    return "zip", "zip archive"
