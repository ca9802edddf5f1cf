"""Uploading a batch: a .zip of submissions, a broken file among them, a file dropped twice."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"


@pytest.mark.slow
def test_zip_of_submissions_shows_each_file_and_why_one_failed(page: Page, server, tmp_path, artifacts):
    archive = tmp_path / "交流材料.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(SAMPLES / "pb-lotjol__03.txt", "某支部工作报告.txt")
        z.write(SAMPLES / "hust-partygov__02.txt", "党课活动报道.txt")
        z.writestr("扫描件.pdf", b"this is not really a PDF")
    page.goto("/upload")
    page.set_input_files("#files", str(archive))

    expect(page.locator(".upload-item", has_text="交流材料.zip")).to_contain_text("已解压，共 3 份")
    for name in ("某支部工作报告.txt", "党课活动报道.txt"):
        expect(page.locator(".upload-item", has_text=name).locator(".status")).to_have_text(
            re.compile("已完成"), timeout=120_000
        )
    broken = page.locator(".upload-item", has_text="扫描件.pdf")
    expect(broken.locator(".status")).to_have_text("失败", timeout=60_000)
    reason = broken.locator(".reason").inner_text()
    assert re.search(r"[\u4e00-\u9fff]", reason), reason
    expect(page.locator("#upload-summary")).to_contain_text("失败 1 份")
    page.screenshot(path=str(artifacts / "upload-zip.png"), full_page=True)


@pytest.mark.slow
def test_file_dropped_twice_is_shown_as_a_duplicate_with_a_link(page: Page, server):
    text = (SAMPLES / "pb-lotjol__05.txt").read_text(encoding="utf-8")
    page.goto("/upload")
    for attempt in range(2):
        # A real drop event carrying a File, as the browser produces when a file is dragged in.
        page.evaluate(
            """([name, text]) => {
                const dt = new DataTransfer();
                dt.items.add(new File([text], name, {type: "text/plain"}));
                document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
            }""",
            ["支部报告.txt", text],
        )
        row = page.locator(".upload-item").nth(attempt)
        expect(row.locator(".status")).to_have_text(re.compile("已完成"), timeout=120_000)
    first, second = page.locator(".upload-item").nth(0), page.locator(".upload-item").nth(1)
    expect(second.locator(".status")).to_have_text("已完成（重复文件）")
    assert second.get_by_role("link", name="查看已有文档").get_attribute("href") == first.get_by_role(
        "link", name="查看文档"
    ).get_attribute("href")


@pytest.mark.slow
def test_refused_upload_reports_the_servers_reason(page: Page, server):
    """An empty file is refused at the door; the row says why in Chinese."""
    page.goto("/upload")
    page.set_input_files("#files", files=[{"name": "空白.txt", "mimeType": "text/plain", "buffer": b""}])
    row = page.locator(".upload-item", has_text="空白.txt")
    expect(row.locator(".status")).to_have_text("失败", timeout=30_000)
    expect(row.locator(".reason")).to_have_text(re.compile(r"[\u4e00-\u9fff]{4,}"))


@pytest.mark.slow
def test_failed_file_is_listed_with_its_reason_and_can_be_retried(page: Page, server):
    page.goto("/upload")
    page.set_input_files("#files", files=[{"name": "损坏的总结.docx", "mimeType": "application/octet-stream",
                                           "buffer": b"PK\x03\x04 broken word file"}])
    expect(page.locator(".upload-item", has_text="损坏的总结.docx").locator(".status")).to_have_text(
        "失败", timeout=60_000
    )
    page.goto("/documents")
    item = page.locator(".notice li", has_text="损坏的总结.docx")
    expect(item).to_contain_text("：")
    item.get_by_role("button", name="重新处理").click()
    expect(page.locator(".notice.ok")).to_contain_text("已重新排队")


@pytest.mark.slow
def test_lightly_edited_copy_is_flagged_with_a_link_to_the_earlier_document(page: Page, server, tmp_path):
    original = SAMPLES / "pb-lotjol__09.txt"
    edited = tmp_path / "修改稿.txt"
    edited.write_text(original.read_text(encoding="utf-8").replace("。", "。\n", 1) + "\n（报送稿）\n", encoding="utf-8")
    page.goto("/upload")
    page.set_input_files("#files", str(original))
    first = page.locator(".upload-item", has_text=original.name)
    expect(first.locator(".status")).to_have_text("已完成", timeout=120_000)
    page.set_input_files("#files", str(edited))
    second = page.locator(".upload-item", has_text="修改稿.txt")
    expect(second.locator(".status")).to_have_text("已完成", timeout=120_000)
    expect(second).to_contain_text("高度相似")
    earlier = second.get_by_role("link", name="查看相似的已有文档")
    expect(earlier).to_have_attribute("href", first.get_by_role("link", name="查看文档").get_attribute("href"))
