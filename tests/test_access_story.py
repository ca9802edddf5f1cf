"""The service as an outsider and each role meet it: ``jingyan serve`` on an empty folder, users made with the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import add_user, running_service

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"
PASSWORDS = {"admin": "admin-password-1", "clerk": "clerk-password-1", "staff": "staff-password-1"}


def _jingyan(*args: str, env: dict[str, str | None] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``jingyan ARGS`` with ``env`` over this environment (a value of None removes that variable)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={k: v for k, v in merged.items() if v is not None}, timeout=timeout)


def _signed_in(url: str, role: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    answer = client.post("/api/auth/login", json={"username": f"the-{role}", "password": PASSWORDS[role]})
    assert answer.status_code == 200, answer.text
    return client


def test_first_start_has_no_password_and_says_how_to_create_the_first_admin(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", "1", "--data", str(data),
                             "--no-sample-corpus"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        second = proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait()
    assert "尚无任何账号" in first and "没有默认密码" in first
    assert f"jingyan users add 管理员用户名 --role admin --data {data}" in second


def test_a_reachable_bind_with_the_default_secret_is_refused_and_explained(tmp_path):
    for secret in (None, ""):
        refused = _jingyan("serve", "--host", "0.0.0.0", "--data", str(tmp_path / "data"),
                           env={"JINGYAN_SECRET_KEY": secret, "JINGYAN_ALLOW_DEFAULT_SECRET": None}, timeout=60)
        assert refused.returncode == 2
        assert "拒绝启动" in refused.stderr and "JINGYAN_SECRET_KEY" in refused.stderr
        assert "JINGYAN_ALLOW_DEFAULT_SECRET=1" in refused.stderr


def test_the_cli_manages_users_and_tokens_without_showing_passwords(tmp_path):
    data = str(tmp_path / "data")
    made = _jingyan("users", "add", "lin", "--role", "staff", "--data", data, env={"JINGYAN_PASSWORD": "lin-password"})
    assert made.returncode == 0 and "lin" in made.stdout and "lin-password" not in made.stdout + made.stderr
    taken = _jingyan("users", "add", "LIN", "--role", "admin", "--data", data, env={"JINGYAN_PASSWORD": "x" * 12})
    assert taken.returncode == 1 and "已存在" in taken.stderr
    short = _jingyan("users", "add", "he", "--role", "staff", "--data", data, env={"JINGYAN_PASSWORD": "short"})
    assert short.returncode == 1 and "密码长度" in short.stderr
    bad_role = _jingyan("users", "add", "he", "--role", "root", "--data", data, env={"JINGYAN_PASSWORD": "x" * 12})
    assert bad_role.returncode == 2
    token = _jingyan("tokens", "create", "lin", "--data", data)
    assert token.returncode == 0 and token.stdout.strip().startswith("jy_") and "只显示这一次" in token.stderr
    assert _jingyan("users", "disable", "lin", "--data", data).returncode == 0
    listed = _jingyan("users", "list", "--data", data).stdout
    assert "lin\tstaff\t工作人员\t已停用" in listed
    assert _jingyan("users", "passwd", "lin", "--data", data, env={"JINGYAN_PASSWORD": "new-password"}).returncode == 0


@pytest.mark.slow
def test_each_role_meets_exactly_its_rights_over_http(tmp_path):
    data = tmp_path / "data"
    for role, password in PASSWORDS.items():
        add_user(data, f"the-{role}", role, password, f"{role}@unit.test")
    token = _jingyan("tokens", "create", "the-clerk", "--data", str(data)).stdout.strip()
    with running_service(data) as url:
        anonymous = httpx.Client(base_url=url, timeout=60)
        for method, path in (("GET", "/api/documents"), ("GET", "/api/search?q=学习"), ("GET", "/api/export"),
                             ("GET", "/api/subscriptions"), ("DELETE", "/api/documents/1"),
                             ("POST", "/api/digests/run?force=true"), ("GET", "/api/audit"), ("GET", "/docs")):
            assert anonymous.request(method, path).status_code == 401, (method, path)
        assert anonymous.get("/api/health").status_code == 200
        assert anonymous.get("/documents").status_code == 303

        staff, clerk, admin = (_signed_in(url, r) for r in ("staff", "clerk", "admin"))
        assert staff.post("/api/documents", files={"files": ("a.txt", b"x")}).status_code == 403
        bearer = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})
        job = bearer.post("/api/documents", files={"files": (SEED.name, SEED.read_bytes())}).json()["jobs"][0]
        while job["status"] not in ("done", "failed"):
            job = clerk.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "done", job
        assert staff.get("/api/search", params={"q": "学习制度"}).json()["total"] > 0
        assert staff.get("/api/export", params={"q": "学习制度", "format": "csv"}).status_code == 200
        assert staff.delete(f"/api/documents/{job['document_id']}").status_code == 403
        assert staff.post("/api/digests/run", params={"force": True}).status_code == 403

        own = admin.post("/api/subscriptions", json={"email": "admin@unit.test"}).json()
        assert staff.get(f"/api/subscriptions/{own['id']}").status_code == 403
        assert "admin@unit.test" not in staff.get("/api/subscriptions").text
        hook = staff.post("/api/subscriptions", json={"webhook_url": "http://127.0.0.1:8080/hook"})
        assert hook.status_code == 422 and "已拒绝" in hook.json()["detail"]
        plain = staff.post("/api/subscriptions", content=b'{"email": "staff@unit.test"}',
                           headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        cross = staff.post("/subscriptions", data={"email": "staff@unit.test"},
                           headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403

        assert clerk.delete(f"/api/documents/{job['document_id']}").status_code == 200
        assert clerk.get("/api/audit").status_code == 403
        entries = admin.get("/api/audit").json()["entries"]
        done = {(e["user"], e["action"]) for e in entries}
        assert {("the-clerk", "upload"), ("the-clerk", "delete"), ("the-staff", "export"),
                ("the-admin", "subscription"), ("the-staff", "login")} <= done
        assert all(e["ip"] == "127.0.0.1" for e in entries if e["action"] == "delete")
