"""Legacy Word/WPS (.doc, .wps), RTF and OpenDocument: converted to DOCX by LibreOffice headless."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from service.intake.errors import IntakeError

_ADVICE = "请在 Word/WPS 中另存为 .docx 后上传"
_SUFFIX = {"ole2": ".doc", "rtf": ".rtf", "odf": ".odt"}
_NAME = {"ole2": "旧版 Word/WPS 格式（.doc/.wps）", "rtf": "RTF 格式", "odf": "OpenDocument 格式（.odt）"}


def convert_to_docx(data: bytes, kind: str, timeout_s: float) -> bytes:
    """Return DOCX bytes for a legacy document, or raise IntakeError ``legacy_format``."""
    try:
        return _convert(data, kind, timeout_s)
    except OSError as exc:
        raise IntakeError("legacy_format", f"旧版文档无法自动转换；{_ADVICE}", f"LibreOffice run failed: {exc}") from exc


def _convert(data: bytes, kind: str, timeout_s: float) -> bytes:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise IntakeError("legacy_format", f"这是{_NAME.get(kind, _NAME['ole2'])}，本机无法直接读取；{_ADVICE}",
                          "LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="jingyan-legacy-") as tmp:
        work = Path(tmp)
        source = work / f"upload{_SUFFIX.get(kind, '.doc')}"
        source.write_bytes(data)
        # A private profile: concurrent conversions must not fight over one profile lock.
        profile = work / "profile"
        proc = subprocess.Popen(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
             "--convert-to", "docx", "--outdir", str(work / "out"), str(source)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(work)}, start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            _end_session(proc)
            raise IntakeError("timeout", f"旧版文档转换超过 {timeout_s:g} 秒仍未完成；{_ADVICE}",
                              f"soffice timed out after {timeout_s:g}s") from exc
        _end_session(proc)
        result = work / "out" / "upload.docx"
        if not result.exists() or result.stat().st_size == 0:
            raise IntakeError("legacy_format", f"旧版文档无法自动转换（文件可能已损坏）；{_ADVICE}",
                              "LibreOffice produced no DOCX")
        return result.read_bytes()


def _end_session(proc: subprocess.Popen[bytes]) -> None:
    """soffice forks soffice.bin: end the whole session we started, not just the launcher."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # everything in it has already exited
    proc.wait()
