"""Every staff page is Simplified Chinese, fits a 1366×768 desktop and a 390×844 phone, and stays offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

PAGES = ["/", "/search?q=学习制度", "/documents", "/documents/1", "/practices/1", "/groups", "/upload",
         "/subscriptions"]
VIEWPORTS = {"desktop": (1366, 768), "phone": (390, 844)}


def _horizontal_overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.slow
@pytest.mark.parametrize("size", VIEWPORTS)
def test_pages_fit_screen_and_speak_chinese(page: Page, seeded, size: str, artifacts, outside_requests):
    width, height = VIEWPORTS[size]
    page.set_viewport_size({"width": width, "height": height})
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert page.get_attribute("html", "lang") == "zh-CN"
        assert _horizontal_overflow(page) <= 0, f"{path} 在 {width}px 宽度下出现横向滚动"
        name = path.strip("/").split("?")[0].replace("/", "-") or "home"
        page.screenshot(path=str(artifacts / f"{name}-{size}.png"), full_page=True)
    assert outside_requests == []


@pytest.mark.slow
def test_forms_label_every_field(page: Page, seeded):
    """Keyboard and screen-reader users reach every input through its <label>."""
    for path in ["/upload", "/search?q=学习制度", "/subscriptions", "/documents"]:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        unlabeled = page.evaluate(
            """() => Array.from(document.querySelectorAll('input:not([type=hidden]):not(.pick), select, textarea'))
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                 .map(e => e.name || e.id)"""
        )
        assert unlabeled == [], f"{path} 有未加标签的输入框：{unlabeled}"


@pytest.mark.slow
def test_search_by_keyboard_alone(page: Page, seeded):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "header-q":
            break
    page.keyboard.type("学习制度")
    page.keyboard.press("Enter")
    expect(page.locator(".result").first).to_be_visible()
    page.locator(".result").first.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".result").first.locator("details")).to_have_attribute("open", "")
