"""Every registered route checks its role, so a new route cannot be left open by mistake.

Anonymous callers get 401 on the API and the login page elsewhere; a signed-in user whose role is
below the route's gets 403; only the routes listed as public answer without a login.
"""

from __future__ import annotations

import re
import typing

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from service.auth.accounts import ROLES
from service.auth.guard import PUBLIC_ROUTES, has_csrf_check, required_role
from tests.signin import sign_in

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _filled(route: RouteContext, path: str) -> str:
    values = {}
    for p in route.dependant.path_params:
        annotation = p.field_info.annotation
        values[p.name] = "1" if annotation is int or int in typing.get_args(annotation) else "x"
    return path.format(**values)


def _routes(app) -> list[tuple[str, str, RouteContext]]:
    """(method, path, route as included, with its routers' dependencies) for every API route."""
    out = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods):
                if method != "HEAD":
                    out.append((method, context.path, context))
    return out


def test_every_route_is_an_api_route_or_the_static_files(app_client):
    """A plain Starlette route would escape the walk below."""
    for context in iter_route_contexts(app_client.app.routes):
        route = context.original_route
        assert isinstance(route, APIRoute) or (isinstance(route, Mount) and route.path == "/static"), route


def test_every_route_refuses_anonymous_callers_and_lower_roles(app_client):
    app = app_client.app
    anonymous = TestClient(app)
    by_role = {role: sign_in(TestClient(app), role) for role in ROLES}
    routes = _routes(app)
    # The walk must reach the routes the hidden dangers were found on, or it proves nothing.
    paths = {(m, p) for m, p, _ in routes}
    assert {("DELETE", "/api/documents/{document_id}"), ("POST", "/api/digests/run"), ("GET", "/api/subscriptions"),
            ("POST", "/api/documents"), ("GET", "/api/audit"), ("GET", "/audit"), ("GET", "/docs")} <= paths
    checked = 0
    for method, path, route in routes:
        role = required_role(route.dependant)
        if (method, path) in PUBLIC_ROUTES:
            assert role is None, f"{method} {path} is listed public but requires {role}"
            continue
        assert role is not None, f"{method} {path} declares no role and is not listed as public"
        url = _filled(route, path)
        answer = anonymous.request(method, url, follow_redirects=False)
        if url.startswith(("/api/", "/docs", "/openapi")):
            assert answer.status_code == 401, (method, url, answer.status_code, answer.text[:200])
            assert CHINESE.search(answer.json()["detail"])
        else:
            assert answer.status_code == 303, (method, url, answer.status_code)
            assert answer.headers["location"].startswith("/login?next=")
            if method == "POST":
                assert has_csrf_check(route.dependant), f"page form {path} carries no CSRF check"
        for lower in ROLES[: ROLES.index(role)]:
            refused = by_role[lower].request(method, url, follow_redirects=False)
            assert refused.status_code == 403, (lower, method, url, refused.status_code, refused.text[:200])
            assert CHINESE.search(refused.text)
        checked += 1
    assert checked > 40


def test_the_public_routes_answer_without_a_login(app_client):
    anonymous = TestClient(app_client.app)
    assert anonymous.get("/api/health").status_code == 200
    login = anonymous.get("/login")
    assert login.status_code == 200 and "登录" in login.text and 'type="password"' in login.text
    assert anonymous.get("/static/app.css").status_code == 200
    # The unsubscribe and confirmation endpoints answer, but act only on a valid signed token.
    assert anonymous.get("/unsubscribe", params={"token": "1.forged"}).status_code == 400
    assert anonymous.post("/api/unsubscribe", json={"token": "1.forged"}).status_code == 400
    assert anonymous.get("/subscriptions/confirm", params={"token": "1.forged"}).status_code == 400


def test_pages_send_anonymous_visitors_to_the_login_page_and_back(app_client):
    anonymous = TestClient(app_client.app)
    answer = anonymous.get("/search?q=学习制度", follow_redirects=False)
    assert answer.status_code == 303
    target = answer.headers["location"]
    assert target.startswith("/login?next=")
    signed_in = sign_in(TestClient(app_client.app), "staff")
    back = signed_in.get(target, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/search?q=%E5%AD%A6%E4%B9%A0%E5%88%B6%E5%BA%A6"
