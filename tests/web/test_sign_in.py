"""Signing in, working and signing out in a real browser; each role sees only what it may use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import PASSWORD, USER, add_user, log_in, running_service

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty library of its own, with a staff account besides the administrator."""
    data = tmp_path_factory.mktemp("signin")
    add_user(data, "xiaoli", "staff", "xiaoli-password")
    with running_service(data) as url:
        yield url


@pytest.fixture
def tab(browser: Browser, service: str) -> Iterator[Page]:
    """A tab nobody has signed in on yet."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=service)
    yield context.new_page()
    context.close()


@pytest.mark.slow
def test_login_upload_search_and_logout(tab: Page, artifacts):
    # A page asked for before signing in leads to the login page, and back to that page after it.
    tab.goto("/upload")
    expect(tab).to_have_url(re.compile(r"/login\?next=%2Fupload$"))
    expect(tab.locator("h1")).to_have_text("登录经验库")
    tab.fill("#login-name", USER)
    tab.fill("#login-password", "not-my-password")
    tab.get_by_role("button", name="登录").click()
    expect(tab.locator(".notice.error")).to_contain_text("用户名或密码不正确")
    tab.fill("#login-password", PASSWORD)
    tab.screenshot(path=str(artifacts / "login.png"), full_page=True)
    tab.get_by_role("button", name="登录").click()
    expect(tab).to_have_url(re.compile(r"/upload$"))
    expect(tab.locator("#account-name")).to_contain_text(f"{USER}（管理员）")

    tab.set_input_files("#files", str(SEED))
    row = tab.locator(".upload-item", has_text=SEED.name)
    expect(row.locator(".status")).to_have_text(re.compile("已完成"), timeout=120_000)

    tab.fill("#header-q", "学习制度")
    tab.press("#header-q", "Enter")
    expect(tab.locator(".result", has_text="日读一文").first).to_be_visible()

    tab.get_by_role("button", name="退出登录").click()
    expect(tab).to_have_url(re.compile(r"/login\?done=signed-out$"))
    expect(tab.locator(".notice.ok")).to_contain_text("已退出登录")
    tab.goto("/search?q=学习制度")
    expect(tab).to_have_url(re.compile(r"/login\?next="))
    assert tab.context.request.get("/api/documents").status == 401


@pytest.mark.slow
def test_staff_see_no_upload_and_are_refused_it_in_chinese(tab: Page):
    log_in(tab, user="xiaoli", password="xiaoli-password")
    expect(tab.locator("#account-name")).to_contain_text("工作人员")
    expect(tab.locator(".site-nav a", has_text="上传材料")).to_have_count(0)
    expect(tab.locator(".site-nav a", has_text="审计日志")).to_have_count(0)
    answer = tab.goto("/upload")
    assert answer is not None and answer.status == 403
    expect(tab.locator("h1")).to_contain_text("无权访问")


@pytest.mark.slow
def test_the_session_cookie_is_httponly(tab: Page):
    log_in(tab)
    (cookie,) = [c for c in tab.context.cookies() if c["name"] == "jingyan_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert tab.evaluate("document.cookie") == ""
