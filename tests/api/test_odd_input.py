"""Odd input gets a clear Chinese 4xx, never a 500: huge numbers, long tokens, deep JSON, bad fields."""

from __future__ import annotations

import re
import typing

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

HUGE = [str(2**64), "9" * 30]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _int_params(params) -> list[str]:
    out = []
    for p in params:
        annotation = p.field_info.annotation
        if annotation is int or int in typing.get_args(annotation):
            out.append(p.name)
    return out


def _cases(app) -> list[tuple[str, str, dict[str, str], str]]:
    """(method, path, query, route) for every integer a registered route reads, set too large."""
    cases = []
    for context in iter_route_contexts(app.routes):
        route = context.route
        if not isinstance(route, APIRoute):
            continue
        method, path = sorted(context.methods)[0], context.path
        path_ints = _int_params(route.dependant.path_params)
        query_ints = _int_params(route.dependant.query_params)
        other_path = {p.name: "x" for p in route.dependant.path_params if p.name not in path_ints}
        for name in path_ints:
            for huge in HUGE:
                ids = {n: ("1" if n != name else huge) for n in path_ints}
                cases.append((method, path.format(**ids, **other_path), {}, path))
        for name in query_ints:
            ids = {n: "1" for n in path_ints}
            for huge in HUGE:
                cases.append((method, path.format(**ids, **other_path), {name: huge}, path))
    return cases


def test_every_route_answers_oversized_integers_with_a_chinese_4xx(app_client):
    cases = _cases(app_client.app)
    # The walk must find the routes the clerk and the API clients use, or it proves nothing.
    routes = {c[3] for c in cases}
    assert {"/api/documents/{document_id}", "/api/documents", "/api/search", "/api/export", "/api/digests",
            "/api/subscriptions/{subscription_id}", "/documents/{document_id}", "/practices/{practice_id}"} <= routes
    for method, path, query, _route in cases:
        response = app_client.request(method, path, params=query)
        assert 400 <= response.status_code < 500, (method, path, query, response.status_code, response.text[:200])
        assert CHINESE.search(response.text), (method, path, query)


@pytest.mark.parametrize(
    "path",
    [
        "/api/documents/999999999999999999999999999999",
        "/api/documents?offset=18446744073709551616",
        "/api/search?q=学习&year=99999999999999999999",
        "/search?q=学习&page=18446744073709551616",
        "/documents?page=99999999999999999999",
        "/search?q=学习&year=99999999999999999999",
        "/api/export?ids=1,18446744073709551616",
    ],
)
def test_the_reported_requests_answer_4xx_in_chinese(app_client, path):
    response = app_client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert CHINESE.search(response.text)


def test_a_5000_digit_unsubscribe_token_is_refused(app_client):
    for answer in (
        app_client.get("/unsubscribe", params={"token": "9" * 5000 + ".abc"}),
        app_client.post("/unsubscribe", params={"token": "9" * 5000 + ".abc"}),
        app_client.post("/api/unsubscribe", json={"token": "9" * 5000 + ".abc"}),
    ):
        assert answer.status_code == 400 and "退订" in answer.text


def test_deeply_nested_json_is_refused_before_parsing(app_client):
    nested = "[" * 100_000
    for path in ("/api/subscriptions", "/api/practices/1/tags", "/api/unsubscribe"):
        response = app_client.post(path, content=nested, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert "嵌套层数过多" in response.json()["detail"]
    plain = app_client.post("/api/subscriptions", content=nested, headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["detail"]
    huge = app_client.post("/api/subscriptions", content=b" " * (2 * 1024 * 1024),
                           headers={"content-type": "application/json"})
    assert huge.status_code == 413 and "过大" in huge.json()["detail"]


def test_subscription_fields_are_bounded_and_free_of_control_characters(app_client):
    client = app_client
    long_mail = client.post("/api/subscriptions", json={"email": "a" * 5000 + "@unit.test"})
    assert long_mail.status_code == 422 and "过长" in long_mail.json()["detail"]
    nul_mail = client.post("/api/subscriptions", json={"email": "a\x00b@unit.test"})
    assert nul_mail.status_code == 422 and "控制字符" in nul_mail.json()["detail"]
    nul_tag = client.post("/api/subscriptions", json={"email": "a@unit.test", "tags": ["学习\x00制度"]})
    assert nul_tag.status_code == 422 and "控制字符" in nul_tag.json()["detail"]
    long_tag = client.post("/api/subscriptions", json={"email": "a@unit.test", "tags": ["学" * 200]})
    assert long_tag.status_code == 422 and "过长" in long_tag.json()["detail"]
    fine = client.post("/api/subscriptions", json={"email": "a@unit.test", "tags": ["学习制度"]})
    assert fine.status_code == 201, fine.text


def test_validation_messages_are_chinese_and_name_the_field(app_client):
    api = app_client.get("/api/documents", params={"limit": "many"})
    assert api.status_code == 422
    body = api.json()
    assert "条数（limit）应为整数" in body["detail"]
    assert body["errors"] == [{"field": "limit", "message": "条数（limit）应为整数"}]
    assert "Field required" not in api.text and "Input should" not in api.text

    missing = app_client.post("/api/documents")
    assert missing.status_code == 422 and "上传文件（files）缺少此项" in missing.json()["detail"]

    page = app_client.get("/documents/abc")
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "文档编号（document_id）应为整数" in page.text


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/api/search?q=" + "学" * 5000, "检索词（q）最多 200 个字符"),
        ("/api/search?org=" + "单" * 500, "单位（org）最多 100 个字符"),
        ("/api/export?q=" + "学" * 5000, "检索词（q）最多 200 个字符"),
        ("/search?q=" + "学" * 5000, "检索词过长"),
        ("/search?tag=" + "学" * 500, "“标签”过长"),
    ],
)
def test_overlong_searches_and_filters_are_refused_in_chinese(app_client, path, words):
    response = app_client.get(path)
    assert response.status_code == 422 and words in response.text
