"""A clerk (or an attacker) uploads a file that cannot or must not be read: each gets one clear line.

Every refusal is an IntakeError with a stable code; the CLI prints one line and no traceback.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.config import REPO_ROOT, Settings
from service.intake import IntakeError, parse_bytes, parse_file
from service.intake.guard import run_isolated

from .conftest import SEED

SAMPLES = REPO_ROOT / "corpus" / "samples"


def _refusal(path_or_bytes: Path | bytes, name: str = "upload", settings: Settings | None = None) -> IntakeError:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    with pytest.raises(IntakeError) as caught:
        parse_bytes(data, name, settings)
    err = caught.value
    assert err.message and err.detail and "\n" not in err.user_line()
    return err


def _cli(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service.cli", "parse", str(path), "--json"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                          env={**os.environ, **(env or {})})


def test_empty_file_is_refused_as_empty() -> None:
    assert _refusal(b"", "空.docx").code == "empty"
    assert _refusal(b" \r\n\t \n", "空.txt").code == "empty"


def test_random_bytes_are_refused_as_not_a_document() -> None:
    noise = random.Random(7).randbytes(50_000)
    assert _refusal(noise, "data.txt").code == "unsupported"


def test_blank_picture_renamed_to_pdf_is_read_as_a_picture_and_refused_for_having_no_text(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "材料.pdf"
    Image.new("RGB", (200, 100), "white").save(png, format="PNG")
    err = _refusal(png, png.name)
    assert err.code == "scanned"
    assert "图片" in err.message and "未能识别出文字" in err.message


def test_web_graphic_is_refused_with_the_picture_formats_that_are_recognised(tmp_path: Path) -> None:
    from PIL import Image

    gif = tmp_path / "海报.gif"
    Image.new("RGB", (200, 100), "white").save(gif, format="GIF")
    err = _refusal(gif, gif.name)
    assert err.code == "image"
    assert "GIF" in err.message and "PNG、JPEG、TIFF" in err.message


def test_truncated_pdf_and_docx_are_refused_as_damaged(corpus_formats: dict[str, dict[str, Path]]) -> None:
    files = corpus_formats["gwr-national__03"]
    pdf, docx = files["pdf"].read_bytes(), files["docx"].read_bytes()
    assert _refusal(pdf[: len(pdf) // 2], "a.pdf").code == "corrupt"
    assert _refusal(docx[: len(docx) // 2], "a.docx").code == "corrupt"


def test_clerk_uploads_encrypted_pdf_and_is_told_to_remove_the_password(encrypted_pdfs: dict[str, Path]) -> None:
    err = _refusal(encrypted_pdfs["user"], "加密.pdf")
    assert err.code == "encrypted"
    assert err.message == "文件已加密，请去除打开密码后重新上传"


def test_pdf_with_only_an_editing_password_is_read(
    encrypted_pdfs: dict[str, Path], corpus_formats: dict[str, dict[str, Path]]
) -> None:
    doc = parse_file(encrypted_pdfs["owner"])
    assert doc.text == parse_file(corpus_formats["seed__000_d56bd712dbae6b12"]["pdf"]).text


def test_scan_in_which_no_text_is_recognised_is_refused_with_advice(scanned_pdf: Path) -> None:
    err = _refusal(scanned_pdf, "扫描件.pdf")
    assert err.code == "scanned"
    assert "文字识别" in err.message and "OCR" in err.message and "更清晰" in err.message


def test_pdf_with_an_illegible_picture_page_among_text_pages_is_read_with_a_warning(
    scanned_pdf: Path, corpus_formats: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.pdf"
    text_pdf = corpus_formats["pb-lotjol__02"]["pdf"]
    subprocess.run(["qpdf", "--empty", "--pages", str(text_pdf), str(scanned_pdf), "1", "--", str(mixed)], check=True)
    doc = parse_file(mixed)
    pages = doc.source.pages
    assert any(f"第 {pages} 页是图片，文字识别未认出文字" in w for w in doc.warnings)
    assert doc.source.ocr_confidence == [None] * (pages - 1) + [0.0]
    assert "丽江" in doc.text


def _allocate_gigabytes() -> int:
    return len(bytearray(3 * 1024**3))


def test_a_runaway_parser_cannot_take_the_machines_memory() -> None:
    with pytest.raises(IntakeError) as caught:
        run_isolated(_allocate_gigabytes, (), timeout_s=30)
    assert caught.value.code == "memory"
    assert "内存" in caught.value.message


def test_docx_with_external_entity_is_refused_and_never_reads_local_files(xxe_docx: Path) -> None:
    err = _refusal(xxe_docx, "xxe.docx")
    assert err.code == "unsafe_xml"
    assert "root:" not in err.user_line()


def test_docx_billion_laughs_is_refused_at_once(laughs_docx: Path) -> None:
    start = time.monotonic()
    assert _refusal(laughs_docx, "laughs.docx").code == "unsafe_xml"
    assert time.monotonic() - start < 5


_MEASURED_CLI = """
import os, sys
pid = os.fork()
if pid == 0:
    out = os.open(os.devnull, os.O_WRONLY)
    os.dup2(out, 1)
    os.execv(sys.executable, [sys.executable, "-m", "service.cli", "parse", sys.argv[1], "--json"])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


@pytest.mark.parametrize("variant", ["honest", "lying"])
def test_zip_bomb_is_refused_within_seconds_and_small_memory(zip_bombs: dict[str, Path], variant: str) -> None:
    bomb = zip_bombs[variant]
    assert bomb.stat().st_size < 3 * 1024 * 1024
    start = time.monotonic()
    # A small launcher forks and execs the CLI and reports its peak memory: measured straight from
    # pytest, the kernel would charge the CLI with the (large) test process it was spawned from.
    proc = subprocess.run([sys.executable, "-c", _MEASURED_CLI, str(bomb)], capture_output=True, cwd=REPO_ROOT)
    elapsed = time.monotonic() - start
    exit_code, max_rss_kib = (int(x) for x in proc.stdout.decode().split()[-2:])
    stderr = proc.stderr.decode()
    assert exit_code == 2
    assert elapsed < 15
    # ru_maxrss (KiB) covers the CLI and the parser child it reaped.
    assert max_rss_kib < 500 * 1024
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert ("压缩炸弹" if variant == "honest" else "已损坏") in stderr


def test_pdf_that_makes_the_parser_loop_is_stopped_at_the_time_limit(looping_pdf: Path) -> None:
    start = time.monotonic()
    err = _refusal(looping_pdf, "loop.pdf", Settings(parse_timeout_s=1))
    # pdfium's runaway also eats memory: on a fast, idle machine the parser's memory cap can stop
    # it a moment before the clock does. Either way it is stopped within seconds, with a reason.
    assert err.code in ("timeout", "crashed")
    assert "已停止" in err.message or "异常退出" in err.message
    assert time.monotonic() - start < 5


def test_limits_from_settings_refuse_oversized_uploads(corpus_formats: dict[str, dict[str, Path]]) -> None:
    pdf = corpus_formats["gwr-national__07"]["pdf"]
    assert _refusal(pdf, "big.pdf", Settings(max_file_mb=0.1)).code == "too_large"
    assert _refusal(pdf, "long.pdf", Settings(max_pages=3)).code == "too_many_pages"
    assert _refusal(pdf, "long.pdf", Settings(max_text_chars=5000)).code == "too_long"
    docx = corpus_formats["gwr-national__07"]["docx"]
    assert _refusal(docx, "big.docx", Settings(max_unzipped_mb=0.05)).code == "zip_bomb"


def test_old_word_doc_is_converted_with_libreoffice(legacy_doc: Path) -> None:
    doc = parse_file(legacy_doc)
    assert doc.source.format == "doc"
    assert doc.text == parse_file(SEED).text


def test_old_word_doc_without_libreoffice_names_the_fix(legacy_doc: Path, tmp_path: Path) -> None:
    # A machine without LibreOffice: only the Python interpreter is on PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    run = _cli(legacy_doc, env={"PATH": str(bindir)})
    assert run.returncode == 2
    assert "另存为 .docx" in run.stderr and "soffice" in run.stderr
    assert run.stderr.count("\n") == 1 and run.stdout == ""


@pytest.mark.parametrize("fixture", ["scanned_pdf", "xxe_docx", "looping_pdf"])
def test_cli_refuses_hostile_files_with_one_line_and_no_traceback(fixture: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    run = _cli(path, env={"JINGYAN_PARSE_TIMEOUT_S": "2"})
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"无法解析 {path}：")


def test_cli_refuses_random_bytes_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "报告.docx"
    junk.write_bytes(random.Random(3).randbytes(4096))
    run = _cli(junk)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def _inflated_docx(source: Path, copies: int) -> bytes:
    """``source`` with its body repeated ``copies`` times: a genuine Word file that is simply very long."""
    import io
    import zipfile

    src = zipfile.ZipFile(source)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                head, rest = data.split(b"<w:body>", 1)
                body, tail = rest.rsplit(b"<w:sectPr", 1)
                data = head + b"<w:body>" + body * copies + b"<w:sectPr" + tail
            z.writestr(item, data)
    return out.getvalue()


def test_a_docx_beyond_the_parse_memory_cap_is_reported_as_too_big_not_damaged() -> None:
    source = SAMPLES / "hust-partygov-docx__01.docx"
    big = _inflated_docx(source, 4000)  # about 87 MB of document.xml, far beyond a 32 MB cap
    err = _refusal(big, "很长的材料.docx", Settings(parse_memory_mb=32, max_text_chars=10**8))
    assert err.code == "memory"
    assert "过大" in err.message and "损坏" not in err.message
    # The same file is read when the cap allows it: the refusal was about size, not damage.
    assert parse_bytes(_inflated_docx(source, 2), "材料.docx").text


def test_a_utf8_text_whose_last_character_is_cut_off_is_read() -> None:
    data = SEED.read_bytes()
    whole = parse_bytes(data, "seed.txt").text
    last = whole.rstrip()[-1]
    assert len(last.encode()) == 3
    cut = data.rstrip()[:-1]  # the last character loses its final byte
    doc = parse_bytes(cut, "seed.txt")
    assert doc.source.encoding == "utf-8"
    assert doc.text.rstrip() == whole.rstrip()[:-1].rstrip()
    # A bad byte in the middle is still refused: only the final incomplete sequence is forgiven.
    broken = data[:200] + b"\xff" + data[200:]
    assert _refusal(broken, "seed.txt").code == "unreadable"
