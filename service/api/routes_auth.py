"""Sign-in and sign-out (page and API), the signed-in user, the user list and the audit log."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.bounds import Offset
from service.auth import accounts, audit
from service.auth.accounts import User
from service.auth.guard import ADMIN, SESSION_COOKIE, STAFF, client_ip, current_user

router = APIRouter(tags=["auth"])
pages = APIRouter(include_in_schema=False)

LOCKED = f"登录失败次数过多，请 {int(audit.FAILURE_WINDOW.total_seconds() // 60)} 分钟后再试"
WRONG = "用户名或密码不正确，或账号已停用"
AUDIT_PAGE_SIZE = 50
DATE = r"^\d{4}-\d{2}-\d{2}(T[0-9:+.Z-]*)?$"


def _sign_in(request: Request, name: str, password: str) -> tuple[User | None, str | None]:
    """(user, error): checks the back-off first, records the attempt either way."""
    conn = request.app.state.library.db.conn()
    ip = client_ip(request)
    name = name.strip()[:64]
    if audit.locked_out(conn, name, ip):
        audit.record(conn, name, "login_failed", name, "暂停登录期间的尝试", ip)
        return None, LOCKED
    user = accounts.authenticate(conn, name, password)
    if user is None:
        audit.record(conn, name or None, "login_failed", name, None, ip)
        return None, WRONG
    audit.record(conn, user.name, "login", user.name, None, ip)
    return user, None


def _set_session(request: Request, response: Response, user: User) -> None:
    conn = request.app.state.library.db.conn()
    session_id = accounts.start_session(conn, user)
    secure = request.url.scheme == "https" or request.app.state.settings.base_url.startswith("https://")
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=accounts.SESSION_HOURS * 3600, path="/",
        httponly=True, samesite="lax", secure=secure,
    )


def _end_session(request: Request, response: Response) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        accounts.end_session(request.app.state.library.db.conn(), session_id)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


# ---------------------------------------------------------------- API


@router.post("/api/auth/login")
async def api_login(request: Request) -> Response:
    """``{"username", "password"}`` → sets the session cookie and returns the user."""
    try:
        payload = json.loads(await request.body() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("username"), str) \
            or not isinstance(payload.get("password"), str):
        return JSONResponse({"detail": "请提供用户名和密码，例如 {\"username\": \"…\", \"password\": \"…\"}"},
                            status_code=422)
    user, error = await run_in_threadpool(_sign_in, request, payload["username"], payload["password"])
    if user is None:
        return JSONResponse({"detail": error}, status_code=429 if error == LOCKED else 401)
    response = JSONResponse({"user": user.to_dict()})
    _set_session(request, response, user)
    return response


@router.post("/api/auth/logout")
def api_logout(request: Request) -> Response:
    """End this session (nothing happens without one)."""
    response = JSONResponse({"signed_out": True})
    _end_session(request, response)
    return response


@router.get("/api/auth/me", dependencies=[STAFF])
def me(request: Request) -> dict[str, Any]:
    """The signed-in user."""
    return {"user": current_user(request).to_dict()}  # type: ignore[union-attr]


@router.get("/api/users", dependencies=[ADMIN])
def list_users(request: Request) -> dict[str, Any]:
    """Every account with its role and whether it is disabled (never a password hash)."""
    return {"users": [u.to_dict() for u in accounts.list_users(request.app.state.library.db.conn())]}


@router.get("/api/audit", dependencies=[ADMIN])
def read_audit(
    request: Request,
    user: str | None = Query(None, max_length=64, description="用户名"),
    action: str | None = Query(None, description=" | ".join(audit.ACTIONS)),
    since: str | None = Query(None, pattern=DATE, description="起始日期，如 2026-01-01"),
    until: str | None = Query(None, pattern=DATE, description="截止日期（含当天）"),
    limit: int = Query(200, ge=1, le=1000),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Audit entries newest first: ``at``, ``user``, ``action``, ``target``, ``detail``, ``ip``."""
    if action and action not in audit.ACTIONS:
        raise HTTPException(422, f"操作类型只能是：{'、'.join(audit.ACTIONS)}")
    rows, total = audit.entries(
        request.app.state.library.db.conn(), audit.AuditFilter(user, action, since, until), limit, offset
    )
    return {"entries": rows, "total": total, "limit": limit, "offset": offset}


# ---------------------------------------------------------------- pages


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//other.site``) is followed after sign-in."""
    target = target or "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, next_url: str, error: str | None = None, status: int = 200,
                username: str = "") -> HTMLResponse:
    from service.web.routes import render

    conn = request.app.state.library.db.conn()
    return render(request, "login.html", status, title="登录", next_url=next_url, error=error, username=username,
                  no_users=accounts.count_users(conn) == 0)


@pages.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = Query(None, max_length=2000)) -> Response:
    """登录 page; a signed-in visitor goes straight on."""
    if current_user(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, _safe_next(next))


@pages.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or "/"))
    user, error = await run_in_threadpool(_sign_in, request, name, password)
    if user is None:
        return _login_page(request, next_url, error, 429 if error == LOCKED else 401, username=name)
    response = RedirectResponse(next_url, status_code=303)
    _set_session(request, response, user)
    return response


@pages.post("/logout", response_class=HTMLResponse)
def logout_submit(request: Request) -> Response:
    """退出登录, then the login page."""
    response = RedirectResponse("/login?done=signed-out", status_code=303)
    _end_session(request, response)
    return response


@pages.get("/audit", response_class=HTMLResponse, dependencies=[ADMIN])
def audit_page(
    request: Request,
    user: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=20),
    since: str | None = Query(None, max_length=10),
    until: str | None = Query(None, max_length=10),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    """审计日志: filter by user, action and date."""
    from service.web.routes import render

    def date_or_none(value: str | None) -> str | None:
        value = (value or "").strip()
        return value if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.replace("-", "").isdigit() \
            else None

    filters = audit.AuditFilter(
        (user or "").strip() or None, action if action in audit.ACTIONS else None,
        date_or_none(since), date_or_none(until),
    )
    rows, total = audit.entries(
        request.app.state.library.db.conn(), filters, AUDIT_PAGE_SIZE, (page - 1) * AUDIT_PAGE_SIZE
    )
    from urllib.parse import urlencode

    params = {k: v for k, v in (("user", filters.user), ("action", filters.action), ("since", filters.since),
                                ("until", filters.until)) if v}
    return render(
        request, "audit.html", title="审计日志", active="audit", entries=audit.as_dicts(rows), total=total,
        filters=filters, actions=[(a, audit.ACTION_LABELS[a]) for a in audit.ACTIONS], page=page,
        pages=max(1, math.ceil(total / AUDIT_PAGE_SIZE)),
        page_url=lambda n: "/audit?" + urlencode({**params, "page": n}),
    )
