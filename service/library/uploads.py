"""What arrives at the door: a cheap look at each file's type and size, and safe .zip unpacking.

The full parse happens later in the worker; this only refuses what can never be read (empty,
over the size limit, an unsupported type) so the clerk learns at once, per file.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from service.config import Settings
from service.intake.sniff import RECOGNISED_IMAGES
from service.intake.sniff import sniff as intake_sniff

SUPPORTED_SUFFIXES = {".pdf", ".docx", ".doc", ".txt", ".text", ".md", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
MAX_ZIP_MEMBERS = 2000


@dataclass
class Arrival:
    """One file as received: its name, bytes and, if refused at the door, why."""

    filename: str
    data: bytes
    error_code: str | None = None
    error: str | None = None


def sniff(filename: str, data: bytes, settings: Settings) -> tuple[str, str] | None:
    """``(error_code, message)`` when the file can be refused without parsing, else ``None``."""
    if len(data) > settings.max_file_mb * 1024 * 1024:
        return (
            "too_large",
            f"文件超过 {settings.max_file_mb:g} MB 的上限，请拆分或压缩后再上传（实际 {len(data) / 1048576:.1f} MB）",
        )
    if not data.strip():
        return "empty", "文件是空的，请检查后重新上传"
    if data.startswith(b"%PDF") or data.startswith(b"\xd0\xcf\x11\xe0"):
        return None
    kind, seen = intake_sniff(data)
    if kind == "image" and seen in RECOGNISED_IMAGES:
        return None  # scanned pages: recognised by the parser
    if data.startswith(b"PK\x03\x04"):
        if _is_docx(data):
            return None
        return (
            "unsupported",
            "暂不支持该 Office 文件类型（如 Excel、PPT），请另存为 Word（.docx）或 PDF 后再上传",
        )
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix in {".pdf", ".docx", ".doc"}:
        return "corrupt", f"文件扩展名为 {suffix}，但内容不是有效的该类文件，可能已损坏，请重新导出后上传"
    if _looks_like_text(data):
        return None
    return "unsupported", "不支持的文件类型，请上传 PDF、Word（.docx/.doc）、纯文本（.txt）文件或扫描图片（PNG、JPEG、TIFF）"


def is_zip_archive(filename: str, data: bytes) -> bool:
    """A .zip of submissions (not a .docx or another Office file, which are zips too)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError):
        return filename.lower().endswith(".zip")
    return "[Content_Types].xml" not in names


def expand(filename: str, data: bytes, settings: Settings) -> list[Arrival]:
    """The files of an upload: a .zip becomes its members, anything else stays itself; each sniffed."""
    if not is_zip_archive(filename, data):
        return [_arrival(filename, data, settings)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        return [Arrival(filename, data, "corrupt", f"压缩包已损坏，无法打开，请重新打包后上传（{exc}）")]
    out: list[Arrival] = []
    budget = settings.max_unzipped_mb * 1024 * 1024
    # A path that climbs out (..) or starts at the root is refused with a reason, never silently dropped.
    unsafe = [i for i in infos if not i.is_dir() and _escapes(_member_name(i))]
    members = [i for i in infos if not i.is_dir() and i not in unsafe and not _is_junk(_member_name(i))]
    if len(members) + len(unsafe) > MAX_ZIP_MEMBERS:
        return [
            Arrival(filename, data, "too_many_files", f"压缩包内文件超过 {MAX_ZIP_MEMBERS} 个，请分批上传")
        ]
    out.extend(
        Arrival(
            PurePosixPath(_member_name(i).replace("\\", "/")).name or _member_name(i),
            b"",
            "unsafe_path",
            f"压缩包内文件“{_member_name(i)}”的路径含有“..”或从根目录开始，已拒绝导入；请把文件放在压缩包内的普通文件夹中重新打包后上传",
        )
        for i in unsafe
    )
    for info in members:
        # Only the base name is kept: files are stored by content hash, never at a path from the archive.
        name = PurePosixPath(_member_name(info).replace("\\", "/")).name
        if info.file_size > settings.max_file_mb * 1024 * 1024:
            out.append(
                Arrival(
                    name,
                    b"",
                    "too_large",
                    f"压缩包内文件超过 {settings.max_file_mb:g} MB 的上限，请拆分后再上传",
                )
            )
            continue
        budget -= info.file_size
        if budget < 0:
            out.append(
                Arrival(
                    name,
                    b"",
                    "zip_too_large",
                    f"压缩包解压后超过 {settings.max_unzipped_mb:g} MB 的上限，其余文件未导入，请分批上传",
                )
            )
            break
        try:
            member = _read_capped(archive, info, settings.max_file_mb * 1024 * 1024)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
            out.append(Arrival(name, b"", "corrupt", f"压缩包内此文件已损坏或已加密，无法解压（{exc}）"))
            continue
        if is_zip_archive(name, member):
            out.append(Arrival(name, member, "unsupported", "压缩包内不能再嵌套压缩包，请解开后再上传"))
            continue
        out.append(_arrival(name, member, settings))
    return out


def _arrival(filename: str, data: bytes, settings: Settings) -> Arrival:
    refused = sniff(filename, data, settings)
    if refused:
        return Arrival(filename, data, refused[0], refused[1])
    return Arrival(filename, data)


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: float) -> bytes:
    """Read a member but stop at ``cap`` bytes whatever its header claims (zip bombs lie)."""
    with archive.open(info) as fh:
        data = fh.read(int(cap) + 1)
    if len(data) > cap:
        raise ValueError("解压后大小超过上限")
    return data


def _member_name(info: zipfile.ZipInfo) -> str:
    """Zips made on Chinese Windows store GBK names without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _escapes(name: str) -> bool:
    """A member path that leaves the archive's folder: ``..`` parts, a leading slash or a drive letter."""
    path = name.replace("\\", "/")
    return path.startswith("/") or (len(path) > 1 and path[1] == ":") or ".." in path.split("/")


def _is_junk(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") or p.startswith("~$") for p in parts) or not parts


def _is_docx(data: bytes) -> bool:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return "word/document.xml" in names


def _looks_like_text(data: bytes) -> bool:
    """Text files have no NUL bytes in their head and decode in a common Chinese encoding."""
    head = data[:65536]
    if b"\x00" in head and not (head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff")):
        return False
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head.decode(enc)
            return True
        except UnicodeDecodeError as exc:
            # A multibyte character cut at the 64 KiB boundary is still text.
            if enc != "utf-16" and exc.start >= len(head) - 4:
                return True
    return False
