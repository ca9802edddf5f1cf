"""Staff curate the library: tag a practice, subscribe to a topic, preview the next digest."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import api_client

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"


def _open_practice(page: Page, text: str) -> None:
    page.goto("/search?q=学习制度")
    page.locator(".result", has_text=text).locator("a.result-title").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+$"))


@pytest.mark.slow
def test_staff_tag_a_practice_and_find_it_by_that_tag(page: Page, seeded):
    _open_practice(page, "日读一文")
    page.fill("#new-tag", "读书活动")
    page.get_by_role("button", name="添加").click()
    expect(page.locator("#tags")).to_contain_text("读书活动")

    page.locator("#tags a", has_text="读书活动").click()
    expect(page.locator("#result-count")).to_contain_text("共找到 1 条")
    expect(page.locator(".result")).to_contain_text("日读一文")

    _open_practice(page, "日读一文")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="删除标签 读书活动").click()
    expect(page.locator("#tags")).not_to_contain_text("读书活动")


@pytest.mark.slow
def test_overlong_tag_is_refused_in_chinese(page: Page, seeded):
    _open_practice(page, "日读一文")
    page.evaluate("document.getElementById('new-tag').removeAttribute('maxlength')")
    page.fill("#new-tag", "很" * 30)
    page.get_by_role("button", name="添加").click()
    expect(page.locator(".notice.error")).to_contain_text("标签不能超过")


@pytest.mark.slow
def test_subscribe_preview_pause_and_delete(page: Page, seeded, artifacts):
    email = "dangjian@example.gov.cn"
    page.goto("/subscriptions")
    page.fill("#s-email", email)
    page.get_by_label("思想建设").check()
    page.select_option("#s-frequency", "weekly")
    page.fill("#s-send-at", "09:00")
    page.get_by_role("button", name="创建订阅").click()

    expect(page.locator(".notice.ok")).to_contain_text("订阅已创建")
    row = page.locator("tbody tr", has_text="思想建设")
    expect(row).to_contain_text("每周一 09:00")
    expect(row).to_contain_text("生效中")
    page.screenshot(path=str(artifacts / "subscriptions.png"), full_page=True)

    row.get_by_role("link", name="预览下一期").click()
    expect(page.locator("h1")).to_have_text("下一期摘要预览")
    expect(page.locator("main")).to_contain_text("下一期暂时为空")
    page.go_back()

    page.locator("tbody tr", has_text="思想建设").get_by_role("button", name="暂停").click()
    expect(page.locator("tbody tr", has_text="思想建设")).to_contain_text("已暂停")

    page.once("dialog", lambda d: d.accept())
    page.locator("tbody tr", has_text="思想建设").get_by_role("button", name="删除").click()
    expect(page.locator(".notice.ok")).to_contain_text("订阅已删除")
    expect(page.locator("tbody tr", has_text="思想建设")).to_have_count(0)


@pytest.mark.slow
def test_bad_email_is_explained_and_the_form_kept(page: Page, seeded):
    page.goto("/subscriptions")
    page.evaluate("document.getElementById('s-email').type = 'text'")
    page.fill("#s-email", "不是邮箱")
    page.get_by_label("纪律建设").check()
    page.get_by_role("button", name="创建订阅").click()
    expect(page.locator(".notice.error")).to_contain_text("格式不正确")
    expect(page.get_by_label("纪律建设")).to_be_checked()


@pytest.mark.slow
def test_preview_shows_practices_added_after_subscribing(page: Page, seeded, artifacts):
    page.goto("/subscriptions")
    page.fill("#s-email", "jiguan@example.gov.cn")
    page.select_option("#s-frequency", "daily")
    page.get_by_role("button", name="创建订阅").click()
    expect(page.locator("tbody tr")).to_contain_text("全部新增经验做法")

    name = "pb-lotjol__07.txt"
    with api_client(seeded) as client:
        job = client.post("/api/documents", files={"files": (name, (SAMPLES / name).read_bytes())}).json()["jobs"][0]
        while job["status"] not in ("done", "failed"):
            time.sleep(0.3)
            job = client.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "done", job
        added = client.get(f"/api/documents/{job['document_id']}").json()["practice_count"]
    assert added > 0

    page.get_by_role("link", name="预览下一期").click()
    expect(page.locator("main")).to_contain_text(f"新收录经验做法 {added} 条")
    expect(page.locator(".result a.result-title").first).to_have_attribute("href", re.compile(r"^/practices/\d+$"))
    page.screenshot(path=str(artifacts / "subscription-preview.png"), full_page=True)
