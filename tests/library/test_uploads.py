"""Batches arrive as .zip archives from Windows and Mac machines; the door unpacks them safely."""

from __future__ import annotations

import io
import zipfile

from tests.library.conftest import SAMPLES, ingest, upload


class GbkZipInfo(zipfile.ZipInfo):
    """zipfile writes UTF-8 names with the flag set; Chinese Windows writes raw GBK without it."""

    __slots__ = ()

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - overrides zipfile's name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def windows_zip(members: dict[str, bytes]) -> bytes:
    """A zip as Chinese Windows writes it: GBK names without the UTF-8 flag."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = GbkZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def test_zip_of_submissions_becomes_one_job_per_file(client):
    docx = (SAMPLES / "hust-partygov-docx__01.docx").read_bytes()
    txt = (SAMPLES / "pb-lotjol__02.txt").read_bytes()
    archive = windows_zip(
        {
            "材料/党建专栏.docx": docx,
            "材料/基层党建报道.txt": txt,
            "__MACOSX/材料/._党建专栏.docx": b"\x00\x05\x16\x07",
            "材料/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "../../逃逸.txt": txt,
            "/etc/根目录.txt": txt,
            "材料/表格.xlsx": b"",
        }
    )
    jobs = ingest(client, ("第一批材料.zip", archive))
    by_name = {j["filename"]: j for j in jobs}
    assert set(by_name) == {"党建专栏.docx", "基层党建报道.txt", "表格.xlsx", "逃逸.txt", "根目录.txt"}
    for refused in ("逃逸.txt", "根目录.txt"):
        assert by_name[refused]["status"] == "failed" and by_name[refused]["error_code"] == "unsafe_path"
    assert "“../../逃逸.txt”的路径含有“..”" in by_name["逃逸.txt"]["error"]
    assert by_name["党建专栏.docx"]["status"] == "done"
    assert by_name["基层党建报道.txt"]["status"] == "done"
    assert by_name["表格.xlsx"]["status"] == "failed" and by_name["表格.xlsx"]["error_code"] == "empty"
    assert client.get("/api/documents").json()["total"] == 2


def test_zip_bomb_is_cut_at_the_unpacked_limit(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"{i}.txt", "学" * (40 * 1024 * 1024))  # 120 MB each of UTF-8, a few hundred KB zipped
    jobs = upload(client, ("看似很小.zip", buf.getvalue()))
    assert jobs and all(j["status"] == "failed" for j in jobs)
    assert {j["error_code"] for j in jobs} <= {"too_large", "zip_too_large"}
    assert all("上限" in j["error"] for j in jobs)
    assert client.get("/api/documents").json()["total"] == 0


def test_unsupported_and_fake_files_are_refused_at_the_door(client):
    gif = b"GIF89a" + bytes(range(256)) * 4
    jobs = upload(client, ("动图.gif", gif), ("假的.docx", "这不是Word文件".encode()))
    assert [j["status"] for j in jobs] == ["failed", "failed"]
    assert [j["error_code"] for j in jobs] == ["unsupported", "corrupt"]
    assert "PDF" in jobs[0]["error"]
