"""Signing in and out, the back-off, disabled users, API tokens, form tokens and the audit log."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from service.auth import accounts
from service.auth.guard import SESSION_COOKIE
from tests.digest.app_support import upload
from tests.digest.conftest import SEED
from tests.signin import PASSWORD, add_user, sign_in


def _fresh(app_client: TestClient) -> TestClient:
    return TestClient(app_client.app)


def test_login_sets_an_httponly_lax_cookie_and_logout_ends_the_session(app_client):
    client = _fresh(app_client)
    add_user(client, "wang", "staff")
    answer = client.post("/api/auth/login", json={"username": "wang", "password": PASSWORD})
    assert answer.status_code == 200 and answer.json()["user"]["role"] == "staff"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind HTTPS the cookie is Secure (next test)
    assert client.get("/api/auth/me").json()["user"]["name"] == "wang"
    assert client.post("/api/auth/logout").status_code == 200
    assert client.get("/api/auth/me").status_code == 401
    # The old cookie value is dead on the server too, not just forgotten by this client.
    replay = _fresh(app_client)
    replay.cookies.set(SESSION_COOKIE, cookie.split(";")[0].partition("=")[2])
    assert replay.get("/api/auth/me").status_code == 401


def test_the_session_cookie_is_secure_behind_https(app_client):
    client = TestClient(app_client.app, base_url="https://jingyan.test")
    add_user(client, "li", "staff")
    answer = client.post("/api/auth/login", json={"username": "li", "password": PASSWORD})
    assert "Secure" in answer.headers["set-cookie"]


def test_passwords_are_stored_as_argon2_hashes_only(app_client):
    add_user(app_client, "zhao", "clerk")
    conn = app_client.app.state.library.db.conn()
    (stored,) = conn.execute("SELECT password_hash FROM users WHERE name = 'zhao'").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_passwords_are_refused_in_chinese_and_repeated_failures_pause_sign_in(app_client):
    client = _fresh(app_client)
    add_user(client, "qian", "staff")
    for _ in range(5):
        wrong = client.post("/api/auth/login", json={"username": "qian", "password": "not-the-password"})
        assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.json()["detail"]
    paused = client.post("/api/auth/login", json={"username": "qian", "password": PASSWORD})
    assert paused.status_code == 429 and "登录失败次数过多" in paused.json()["detail"]
    page = client.post("/login", data={"username": "qian", "password": PASSWORD})
    assert page.status_code == 429 and "登录失败次数过多" in page.text
    # Another account is not paused by qian's failures.
    add_user(client, "sun", "staff")
    assert client.post("/api/auth/login", json={"username": "sun", "password": PASSWORD}).status_code == 200


def test_a_disabled_user_is_signed_out_and_cannot_sign_in_or_use_tokens(app_client):
    client = sign_in(_fresh(app_client), "staff", name="zhou")
    conn = app_client.app.state.library.db.conn()
    token = accounts.create_token(conn, "zhou")
    bearer = _fresh(app_client)
    bearer.headers["Authorization"] = f"Bearer {token}"
    assert bearer.get("/api/search", params={"q": "学习"}).status_code == 200
    accounts.set_disabled(conn, "zhou")
    assert client.get("/api/auth/me").status_code == 401
    assert bearer.get("/api/search", params={"q": "学习"}).status_code == 401
    again = _fresh(app_client).post("/api/auth/login", json={"username": "zhou", "password": PASSWORD})
    assert again.status_code == 401


def test_api_tokens_act_with_their_users_role(app_client):
    conn = app_client.app.state.library.db.conn()
    add_user(app_client, "wu", "staff")
    bearer = _fresh(app_client)
    bearer.headers["Authorization"] = f"Bearer {accounts.create_token(conn, 'wu')}"
    assert bearer.get("/api/documents").status_code == 200
    assert bearer.delete("/api/documents/1").status_code == 403
    (stored,) = conn.execute("SELECT token_hash FROM api_tokens").fetchone()
    assert len(stored) == 64 and not stored.startswith(accounts.TOKEN_PREFIX)
    forged = _fresh(app_client)
    forged.headers["Authorization"] = "Bearer jy_not-a-token"
    assert forged.get("/api/documents").status_code == 401


def test_page_forms_need_the_session_token_and_cross_origin_posts_are_refused(app_client):
    client = sign_in(_fresh(app_client), "staff", name="zheng", email="zheng@unit.test")
    page = client.get("/subscriptions")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    form = {"email": "zheng@unit.test", "frequency": "weekly", "send_at": "08:30"}
    assert client.post("/subscriptions", data=form, follow_redirects=False).status_code == 403
    evil = client.post("/subscriptions", data={**form, "csrf_token": token},
                       headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert evil.status_code == 403 and "跨站" in evil.json()["detail"]
    by_referer = client.post("/subscriptions", data={**form, "csrf_token": token},
                             headers={"Referer": "http://evil.example/page.html"}, follow_redirects=False)
    assert by_referer.status_code == 403
    same = client.post("/subscriptions", data={**form, "csrf_token": token},
                       headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303
    assert client.get("/api/subscriptions").json()["subscriptions"][0]["email"] == "zheng@unit.test"
    # The API too refuses another site's post, whatever it carries.
    assert client.delete("/api/subscriptions/1", headers={"Origin": "http://evil.example"}).status_code == 403


def test_json_endpoints_refuse_other_content_types_in_chinese(app_client):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        answer = app_client.post("/api/subscriptions", content=b'{"email": "a@b.cn"}',
                                 headers={"content-type": content_type})
        assert answer.status_code == 415, (content_type, answer.text)
        assert "application/json" in answer.json()["detail"] and "请求内容类型" in answer.json()["detail"]
    login = _fresh(app_client).post("/api/auth/login", content=b'{"username": "a", "password": "b"}',
                                    headers={"content-type": "text/plain"})
    assert login.status_code == 415


def test_the_audit_log_names_who_did_what_and_cannot_be_rewritten(app_client):
    admin = app_client
    clerk = sign_in(_fresh(app_client), "clerk", name="feng")
    staff = sign_in(_fresh(app_client), "staff", name="chen", email="chen@unit.test")
    _fresh(app_client).post("/api/auth/login", json={"username": "chen", "password": "wrong-password"})

    job = upload(clerk, SEED.name, SEED.read_bytes())
    practice = admin.get("/api/search", params={"q": "日读一文"}).json()["results"][0]["practice"]["id"]
    assert clerk.post(f"/api/practices/{practice}/tags", json={"tag": "读书活动"}).status_code == 201
    assert staff.get("/api/export", params={"q": "学习制度", "format": "csv"}).status_code == 200
    assert staff.post("/api/subscriptions", json={"email": "chen@unit.test"}).status_code == 201
    assert admin.post("/api/digests/run", params={"force": True}).status_code == 200
    assert clerk.delete(f"/api/documents/{job['document_id']}").status_code == 200

    entries = admin.get("/api/audit").json()["entries"]
    assert set(entries[0]) == {"at", "user", "action", "target", "detail", "ip"}
    done = {(e["user"], e["action"]) for e in entries}
    assert {("feng", "upload"), ("feng", "tag"), ("feng", "delete"), ("chen", "export"), ("chen", "subscription"),
            ("chen", "login"), ("chen", "login_failed"), ("test-admin", "digest_run")} <= done
    export = next(e for e in entries if e["action"] == "export")
    assert "学习制度" in export["detail"] and re.search(r"\d+ 条", export["detail"])

    only = admin.get("/api/audit", params={"user": "feng", "action": "upload"}).json()
    assert only["total"] == 1 and only["entries"][0]["target"] == SEED.name
    today = datetime.now(UTC).date().isoformat()
    assert admin.get("/api/audit", params={"since": today, "until": today}).json()["total"] == len(entries)
    assert admin.get("/api/audit", params={"until": "2000-01-01"}).json()["total"] == 0
    page = admin.get("/audit", params={"user": "feng"})
    assert page.status_code == 200 and "审计日志" in page.text and "上传" in page.text and "chen" not in page.text
    assert staff.get("/api/audit").status_code == 403

    conn = app_client.app.state.library.db.conn()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET user = 'nobody'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
