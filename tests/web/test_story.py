"""The committee clerk's story in a real browser: upload the leader's speech, find a practice, export it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from docx import Document as open_docx
from playwright.sync_api import Page, expect

from tests.web.conftest import log_in

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"


@pytest.mark.slow
def test_upload_search_open_and_export(page: Page, fresh_server, artifacts, outside_requests):
    # Upload the speech through the upload page's ordinary file input, into an empty library.
    log_in(page, fresh_server)
    page.goto(f"{fresh_server}/upload")
    page.set_input_files("#files", str(SEED))
    row = page.locator(".upload-item", has_text=SEED.name)
    expect(row.locator(".status")).to_have_text(re.compile("已完成"), timeout=120_000)
    expect(row).to_contain_text("提取经验做法")
    page.screenshot(path=str(artifacts / "story-1-upload.png"), full_page=True)

    # Search the library for a reading-and-study system.
    page.fill("#header-q", "学习制度")
    page.press("#header-q", "Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    results = page.locator(".results .result")
    expect(results.first).to_be_visible()
    expect(page.locator(".results mark").first).to_be_visible()
    page.screenshot(path=str(artifacts / "story-2-search.png"), full_page=True)

    # Open the 日读一文 practice and see its source paragraph with the clause highlighted.
    page.locator(".result", has_text="日读一文").locator("a.result-title").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+$"))
    clause = page.locator("#source mark.clause")
    expect(clause).to_contain_text("日读一文")
    source = page.locator("#source").inner_text()
    assert len(source) > len(clause.inner_text()), "原文段落应比做法本身更长"
    page.screenshot(path=str(artifacts / "story-3-practice.png"), full_page=True)

    # Export it to Word and read the file back.
    with page.expect_download() as info:
        page.get_by_role("link", name="导出Word").first.click()
    download = info.value
    assert download.suggested_filename.endswith(".docx")
    data = Path(download.path()).read_bytes()
    text = "\n".join(p.text for p in open_docx(io.BytesIO(data)).paragraphs)
    assert "日读一文" in text

    assert outside_requests == []


@pytest.mark.slow
def test_document_page_marks_practices_in_place(page: Page, seeded, artifacts):
    """The speech's page shows its outline and each extracted practice marked inside the text."""
    page.goto("/documents")
    page.locator("table a", has_text="交流会").first.click()
    expect(page.locator("nav.outline li").first).to_be_visible()
    marks = page.locator(".doc-text mark.practice")
    assert marks.count() >= 3
    expect(page.locator(".doc-text mark.practice", has_text="日读一文")).to_be_visible()
    page.screenshot(path=str(artifacts / "document.png"), full_page=False)
    page.locator(".doc-text mark.practice", has_text="日读一文").locator("a").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+$"))
