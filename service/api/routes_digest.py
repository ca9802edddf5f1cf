"""Subscriptions, digests and unsubscribe links; :func:`install` wires them and the scheduler into the app."""

from __future__ import annotations

import functools
import json
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from service.api.bounds import OptionalId, RowId
from service.api.deps import ConnDep, LibraryDep
from service.digest import schema as digest_schema
from service.digest import subscriptions as subs
from service.digest.runner import DigestRunner, list_digests
from service.digest.scheduler import DigestScheduler, next_slot, scheduler_enabled
from service.digest.select import lexical_search
from service.digest.subscriptions import MAX_EMAIL_CHARS
from service.digest.tokens import token_matches, token_subscription_id, unsubscribe_url
from service.library.db import connect
from service.library.library import Library, database_path
from service.library.store import transaction

router = APIRouter(prefix="/api", tags=["digests"])
pages = APIRouter(tags=["digests"])


# ---------------------------------------------------------------- wiring


def install(app: FastAPI) -> None:
    """Create the digest tables, the runner and the scheduler, and include every router of this stage."""
    from service.api import routes_export, routes_tags

    library: Library = app.state.library
    digest_schema.migrate(library.db.conn())
    settings = library.settings

    @functools.cache
    def lexical_index():
        # Built on first use: saved queries are rare and the index loads the synonym table.
        from service.library.search import PracticeIndex

        return PracticeIndex(None)

    runner = DigestRunner(
        settings,
        connect=lambda: connect(database_path(settings)),
        search=lexical_search(lexical_index),
    )
    app.state.digest_runner = runner
    app.state.digest_scheduler = DigestScheduler(runner) if scheduler_enabled(settings) else None
    for module in (routes_export, routes_tags):
        app.include_router(module.router)
    app.include_router(router)
    app.include_router(pages)


def start(app: FastAPI) -> None:
    """Start the in-process digest scheduler (embedded default)."""
    if app.state.digest_scheduler is not None:
        app.state.digest_scheduler.start()


def stop(app: FastAPI) -> None:
    if app.state.digest_scheduler is not None:
        app.state.digest_scheduler.stop()


def _runner(request: Request) -> DigestRunner:
    return request.app.state.digest_runner


def _error(exc: subs.SubscriptionError) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=422)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise subs.SubscriptionError(f"请求内容不是有效的 JSON（{exc}）") from exc


def _view(request: Request, sub: subs.Subscription) -> dict[str, Any]:
    runner = _runner(request)
    data = sub.to_dict()
    data["next_send_at"] = next_slot(sub, runner.clock.now(), runner.tz).isoformat() if sub.active else None
    data["timezone"] = str(runner.tz)  # send_at is read in this zone
    data["unsubscribe_url"] = unsubscribe_url(
        runner.settings.base_url, sub.id, sub.unsubscribe_secret, runner.settings.secret_key
    )
    return data


def _get(conn, subscription_id: int) -> subs.Subscription:
    try:
        return subs.get(conn, subscription_id)
    except subs.SubscriptionNotFound as exc:
        raise HTTPException(404, "未找到该订阅，可能已被删除") from exc


# ---------------------------------------------------------------- subscriptions


@router.post("/subscriptions", status_code=201)
async def create_subscription(request: Request, library: LibraryDep) -> Any:
    """Subscribe an e-mail address or a webhook to new practices of some topics, tags, units or a search."""
    try:
        payload = await _json_body(request)

        def work() -> dict[str, Any]:
            conn = library.db.conn()
            with transaction(conn):
                sub = subs.create(conn, payload, _runner(request).clock.now())
            return _view(request, sub)

        return JSONResponse(await run_in_threadpool(work), status_code=201)
    except subs.SubscriptionError as exc:
        return _error(exc)


@router.get("/subscriptions")
def list_subscriptions(
    request: Request, conn: ConnDep, email: Annotated[str | None, Query(max_length=MAX_EMAIL_CHARS)] = None
) -> dict[str, Any]:
    """All subscriptions, or those of one e-mail address."""
    return {"subscriptions": [_view(request, s) for s in subs.list_all(conn, email=email)]}


@router.get("/subscriptions/{subscription_id}")
def read_subscription(subscription_id: RowId, request: Request, conn: ConnDep) -> dict[str, Any]:
    return _view(request, _get(conn, subscription_id))


@router.patch("/subscriptions/{subscription_id}")
async def update_subscription(subscription_id: RowId, request: Request, library: LibraryDep) -> Any:
    """Change filters, schedule or channel; ``{"active": false}`` pauses, ``true`` resumes."""
    try:
        payload = await _json_body(request)

        def work() -> dict[str, Any]:
            conn = library.db.conn()
            with transaction(conn):
                _get(conn, subscription_id)
                sub = subs.update(conn, subscription_id, payload, _runner(request).clock.now())
            return _view(request, sub)

        return await run_in_threadpool(work)
    except subs.SubscriptionError as exc:
        return _error(exc)


@router.delete("/subscriptions/{subscription_id}")
def delete_subscription(subscription_id: RowId, conn: ConnDep) -> dict[str, Any]:
    """Delete a subscription and its digest history."""
    try:
        subs.delete(conn, subscription_id)
    except subs.SubscriptionNotFound as exc:
        raise HTTPException(404, "未找到该订阅，可能已被删除") from exc
    return {"deleted": subscription_id}


@router.get("/subscriptions/{subscription_id}/preview")
def preview_subscription(subscription_id: RowId, request: Request, conn: ConnDep) -> dict[str, Any]:
    """The next digest's content if it were sent now; nothing is sent or recorded."""
    return _runner(request).preview(conn, _get(conn, subscription_id))


# ---------------------------------------------------------------- digests


@router.get("/digests")
def read_digests(
    conn: ConnDep,
    subscription_id: OptionalId = None,
    status: str | None = Query(None, description="pending | sending | sent | failed | superseded | cancelled"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Past digests, newest first, with status, attempts, last error and next retry."""
    return {"digests": list_digests(conn, subscription_id, status, limit)}


@router.post("/digests/run")
def run_digests(
    request: Request,
    force: bool = Query(False, description="把所有启用的订阅都视为到期"),
    dry_run: bool = Query(False, description="只列出将要发送的内容，不发送"),
) -> dict[str, Any]:
    """Send what is due now (``force=true``: every active subscription)."""
    return _runner(request).run(force=force, dry_run=dry_run).to_dict()


# ---------------------------------------------------------------- unsubscribe

PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:'Microsoft YaHei','Noto Sans CJK SC',sans-serif;max-width:560px;margin:60px auto;padding:0 16px;line-height:1.8">
<h1 style="font-size:22px;color:#b00">{title}</h1><p>{body}</p></body></html>"""


def _unsubscribe(request: Request, conn, token: str) -> subs.Subscription | None:
    runner = _runner(request)
    subscription_id = token_subscription_id(token)
    if subscription_id is None:
        return None
    try:
        sub = subs.get(conn, subscription_id)
    except subs.SubscriptionNotFound:
        return None
    if not token_matches(token, sub.id, sub.unsubscribe_secret, runner.settings.secret_key):
        return None
    return subs.deactivate(conn, sub.id, runner.clock.now())


@pages.get("/unsubscribe", response_class=HTMLResponse)
@pages.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(request: Request, conn: ConnDep, token: str = "") -> HTMLResponse:
    """The link in every digest: unsubscribes without a login and confirms in plain Chinese.

    POST answers mail clients' one-click unsubscribe (RFC 8058), which posts to the same link.
    """
    sub = _unsubscribe(request, conn, token)
    if sub is None:
        body = "退订链接无效或已过期，请直接使用邮件中的完整链接，或联系管理员。"
        return HTMLResponse(PAGE.format(title="退订未成功", body=body), status_code=400)
    body = f"{escape(sub.recipient)} 已退订经验库摘要（{escape(sub.describe())}），今后不再发送。"
    return HTMLResponse(PAGE.format(title="已退订", body=body))


@router.post("/unsubscribe")
async def unsubscribe_api(request: Request, library: LibraryDep) -> Any:
    """``{"token": "…"}`` → the subscription, now inactive."""
    try:
        payload = await _json_body(request)
    except subs.SubscriptionError as exc:
        return _error(exc)
    token = payload.get("token", "") if isinstance(payload, dict) else ""

    def work() -> Any:
        sub = _unsubscribe(request, library.db.conn(), str(token))
        if sub is None:
            return JSONResponse({"detail": "退订链接无效，请使用邮件中的完整链接"}, status_code=400)
        return {"unsubscribed": True, "subscription": _view(request, sub)}

    return await run_in_threadpool(work)
