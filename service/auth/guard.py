"""Who is asking, and may they: the role check every route declares, and its answers.

A route declares the least role it needs with ``dependencies=[STAFF]`` (or CLERK, ADMIN) on its
router or itself; routes without one must be listed in :data:`PUBLIC_ROUTES`, which the route-walking
test checks. Anonymous callers get 401 on ``/api/…`` and a redirect to the login page elsewhere; a
signed-in user without the role gets 403.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from service.auth import accounts, audit
from service.auth.accounts import User

SESSION_COOKIE = "jingyan_session"
CSRF_FIELD = "csrf_token"

# (method, path) of every route that answers without a signed-in user; anything else needs a role.
PUBLIC_ROUTES = {
    ("GET", "/api/health"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/favicon.ico"),
    # These act only with a valid signed token from a mail.
    ("GET", "/unsubscribe"),
    ("POST", "/unsubscribe"),
    ("POST", "/api/unsubscribe"),
    ("GET", "/subscriptions/confirm"),
    ("POST", "/subscriptions/confirm"),
}


class NotSignedIn(Exception):
    """No valid session or token."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""


class CsrfRefused(Exception):
    """A page form posted with a session but without this session's form token."""


def current_user(request: Request) -> User | None:
    """The user of this request's bearer token or session cookie (looked up once per request)."""
    if "user" in request.state._state:
        return request.state.user
    conn = request.app.state.library.db.conn()
    user = None
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        user = accounts.user_for_token(conn, credential.strip())
        request.state.auth_kind = "token"
    else:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        user = accounts.user_for_session(conn, session_id) if session_id else None
        request.state.auth_kind = "session" if user else None
    request.state.user = user
    return user


def require(role: str):
    """A dependency that lets through users whose role includes ``role``."""

    def check_role(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise NotSignedIn()
        if not user.can(role):
            raise Forbidden()
        return user

    check_role.required_role = role  # type: ignore[attr-defined]  # read by the route-walking test
    return check_role


STAFF = Depends(require("staff"))
CLERK = Depends(require("clerk"))
ADMIN = Depends(require("admin"))


def has_csrf_check(dependant: Any) -> bool:
    """True when a route's dependencies include the form-token check."""
    return getattr(dependant.call, "csrf", False) or any(has_csrf_check(d) for d in dependant.dependencies)


def required_role(dependant: Any) -> str | None:
    """The strictest role a route's dependencies require, or None for a public route."""
    found: list[str] = []

    def walk(d: Any) -> None:
        role = getattr(d.call, "required_role", None)
        if role:
            found.append(role)
        for sub in d.dependencies:
            walk(sub)

    walk(dependant)
    return max(found, key=accounts.ROLES.index) if found else None


async def check_csrf(request: Request) -> None:
    """Page forms posted with a session cookie must carry the session's form token."""
    current_user(request)
    if getattr(request.state, "auth_kind", None) != "session":
        return
    form = await request.form()
    if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
        raise CsrfRefused()


check_csrf.csrf = True  # type: ignore[attr-defined]  # read by the route-walking test
CSRF = Depends(check_csrf)


def is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/docs", "/openapi"))


async def not_signed_in(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return JSONResponse({"detail": "请先登录（会话已过期或缺少 API 令牌）"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def forbidden(request: Request, exc: Exception) -> Response:
    user = getattr(request.state, "user", None)
    role = accounts.ROLE_LABELS.get(user.role, "") if user else ""
    message = f"当前账号（{role}）无权执行此操作，如需权限请联系管理员"
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=403)
    from service.web.routes import render

    return render(request, "error.html", 403, title="无权访问", heading="无权访问（403）", message=message)


async def csrf_refused(request: Request, exc: Exception) -> Response:
    from service.web.routes import render

    return render(request, "error.html", 403, title="表单已失效", heading="表单已失效（403）",
                  message="表单缺少有效的校验码（可能已过期或来自其他网站），请刷新页面后重新提交。")


def csrf_token(request: Request) -> str:
    """The form token of this session: an HMAC of the session cookie, so it needs no storage."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    key = request.app.state.settings.secret_key.encode("utf-8")
    return hmac.new(key, b"csrf:" + session_id.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(submitted.encode(), csrf_token(request).encode())


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def record(request: Request, action: str, target: Any = None, detail: str | None = None) -> None:
    """Append an audit entry for the signed-in user of ``request``."""
    user = getattr(request.state, "user", None)
    audit.record(
        request.app.state.library.db.conn(), user.name if user else None, action,
        None if target is None else str(target), detail, client_ip(request),
    )
