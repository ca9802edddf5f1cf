"""Real-browser fixtures: the service as a subprocess on loopback and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The account every browser test signs in with (made with the CLI, as an administrator does).
USER, PASSWORD, EMAIL = "dangjian", "jingyan-browser-test", "dangjian@example.gov.cn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"服务进程提前退出，退出码 {proc.returncode}：\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"服务在 {timeout:.0f} 秒内没有就绪：{url}")


def add_user(data: Path, name: str, role: str, password: str, email: str | None = None) -> None:
    """``jingyan users add`` on the service's data folder, the password passed as JINGYAN_PASSWORD."""
    command = [sys.executable, "-m", "service.cli", "users", "add", name, "--role", role, "--data", str(data)]
    done = subprocess.run(command + (["--email", email] if email else []), cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "JINGYAN_PASSWORD": password}, timeout=120)
    assert done.returncode == 0, done.stderr


def log_in(page: Page, base_url: str = "", user: str = USER, password: str = PASSWORD) -> None:
    """Sign in through the login page, as a person does."""
    page.goto(f"{base_url}/login")
    page.fill("#login-name", user)
    page.fill("#login-password", password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#account-name")).to_contain_text(user)


@contextmanager
def api_client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in through ``POST /api/auth/login``."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        answer = client.post("/api/auth/login", json={"username": USER, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


@contextmanager
def running_service(data: Path) -> Iterator[str]:
    """``jingyan serve`` as a real subprocess on a free loopback port, with the test account; yields its base URL."""
    port = _free_port()
    log_path = data.parent / f"{data.name}-server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    add_user(data, USER, "admin", PASSWORD, EMAIL)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--data", str(data),
             "--no-sample-corpus"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service shared by most page tests (an empty library at first)."""
    with running_service(tmp_path_factory.mktemp("data")) as url:
        yield url


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service of its own for stories that must start from an empty library."""
    with running_service(tmp_path_factory.mktemp("fresh")) as url:
        yield url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright's own browser download is unavailable offline."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def outside_requests() -> list[str]:
    """URLs the page tried to fetch from a host other than loopback (must stay empty: intranets are offline)."""
    return []


@pytest.fixture
def page(browser: Browser, server: str, outside_requests: list[str]) -> Iterator[Page]:
    """A fresh desktop-sized tab (1366×768), signed in through the login page, that records every
    non-loopback request."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True,
                                  locale="zh-CN", base_url=server)
    pg = context.new_page()

    def watch(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK:
            outside_requests.append(request.url)

    pg.on("request", watch)
    log_in(pg)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored) so a person can look at them."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


SEEDED = [
    "seed__000_d56bd712dbae6b12.txt",  # first, so it is document 1
    "pb-lotjol__11.txt",
    "hust-partygov__05.txt",
]


@pytest.fixture(scope="session")
def seeded(server: str) -> str:
    """The library holding the seed speech and two branch reports (uploaded through the API once)."""
    with api_client(server) as client:
        for name in SEEDED:
            path = ROOT / "corpus" / "samples" / name
            job = client.post("/api/documents", files={"files": (name, path.read_bytes(), "text/plain")}).json()["jobs"][0]
            deadline = time.monotonic() + 180
            while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
                time.sleep(0.3)
                job = client.get(f"/api/jobs/{job['id']}").json()
            assert job["status"] == "done", job
    return server
