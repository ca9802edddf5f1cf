"""Working with search results: similar practices inline, exporting just the ticked ones, groups."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect


@pytest.mark.slow
def test_similar_practices_open_inline_under_a_result(page: Page, seeded):
    page.goto("/search?q=学习制度")
    result = page.locator(".result", has_text="日读一文")
    result.locator("summary", has_text="相似做法").click()
    links = result.locator(".similar-body li a")
    expect(links.first).to_be_visible()
    own = result.locator("a.result-title").get_attribute("href")
    assert own not in [links.nth(i).get_attribute("href") for i in range(links.count())]


@pytest.mark.slow
def test_export_only_the_ticked_results(page: Page, seeded):
    page.goto("/search?q=学习制度")
    first, second = page.locator(".result").nth(0), page.locator(".result").nth(1)
    wanted = {first.get_attribute("data-practice-id"), second.get_attribute("data-practice-id")}
    first.locator("input.pick").check()
    second.locator("input.pick").check()
    bar = page.locator("[data-export-selected]")
    expect(bar).to_contain_text("已选 2 条")
    with page.expect_download() as info:
        bar.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert {r["编号"] for r in rows} == wanted


@pytest.mark.slow
def test_topic_tile_leads_to_browsing_that_topic(page: Page, seeded):
    page.goto("/")
    tile = page.locator(".topic-tile", has_text="思想建设")
    count = int(re.search(r"(\d+) 条", tile.inner_text()).group(1))
    assert count > 0
    tile.click()
    expect(page.locator("h1")).to_have_text("主题：思想建设")
    expect(page.locator("#result-count")).to_contain_text(f"共找到 {count} 条")
    expect(page.locator(".result .badge.topic").first).to_have_text("思想建设")


@pytest.mark.slow
def test_group_page_lists_its_practices_with_an_export(page: Page, seeded):
    page.goto("/groups")
    first = page.locator("tbody tr").first
    size = int(first.locator("td.num").inner_text())
    first.locator("a").click()
    expect(page).to_have_url(re.compile(r"/groups/\d+$"))
    expect(page.locator(".results .result")).to_have_count(size)
    href = page.get_by_role("link", name="导出Word").get_attribute("href")
    assert re.search(r"group=\d+", href)


@pytest.mark.slow
def test_browsing_everything_pages_through_the_library(page: Page, seeded):
    page.goto("/search")
    total = int(re.search(r"共找到 (\d+) 条", page.locator("#result-count").inner_text()).group(1))
    assert total > 10
    first_page = page.locator(".result").first.get_attribute("data-practice-id")
    page.locator(".pager").get_by_role("link", name="下一页").click()
    expect(page.locator(".pager .current")).to_have_text("2")
    assert page.locator(".result").first.get_attribute("data-practice-id") != first_page
