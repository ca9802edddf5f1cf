"""Subscriptions, digests and unsubscribe links; :func:`install` wires them and the scheduler into the app."""

from __future__ import annotations

import json
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from service.api.bounds import OptionalId, RowId
from service.api.deps import ConnDep, LibraryDep
from service.auth.accounts import User
from service.auth.guard import ADMIN, STAFF, current_user, record
from service.digest import enrol
from service.digest import schema as digest_schema
from service.digest import subscriptions as subs
from service.digest.runner import DigestRunner, list_digests, runner_for
from service.digest.scheduler import DigestScheduler, next_slot, scheduler_enabled
from service.digest.subscriptions import MAX_EMAIL_CHARS
from service.digest.tokens import token_matches, token_subscription_id, unsubscribe_url
from service.library.library import Library
from service.library.store import transaction

router = APIRouter(prefix="/api", tags=["digests"], dependencies=[STAFF])
# Unsubscribe and confirmation links: no login, but nothing happens without a valid signed token.
public = APIRouter(prefix="/api", tags=["digests"])
pages = APIRouter(tags=["digests"])


# ---------------------------------------------------------------- wiring


def install(app: FastAPI) -> None:
    """Create the digest tables, the runner and the scheduler, and include every router of this stage."""
    from service.api import routes_export, routes_tags

    library: Library = app.state.library
    digest_schema.migrate(library.db.conn())
    settings = library.settings

    runner = runner_for(settings)
    app.state.digest_runner = runner
    app.state.digest_scheduler = (
        DigestScheduler(runner, settings.digest_tick_s) if scheduler_enabled(settings) else None
    )
    for module in (routes_export, routes_tags):
        app.include_router(module.router)
    app.include_router(router)
    app.include_router(public)
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
    """A subscription as its owner or an administrator sees it; only the owner gets the unsubscribe link."""
    runner = _runner(request)
    data = sub.to_dict()
    data["next_send_at"] = next_slot(sub, runner.clock.now(), runner.tz).isoformat() if sub.active else None
    data["timezone"] = str(runner.tz)  # send_at is read in this zone
    user = current_user(request)
    if user is None or sub.owner_id == user.id:
        data["unsubscribe_url"] = unsubscribe_url(
            runner.settings.base_url, sub.id, sub.unsubscribe_secret, runner.settings.secret_key
        )
    return data


def _get(conn, subscription_id: int, user: User | None = None) -> subs.Subscription:
    """The subscription, when ``user`` (if given) owns it or is an administrator (403 otherwise)."""
    try:
        return enrol.owned(conn, subscription_id, user) if user is not None else subs.get(conn, subscription_id)
    except subs.SubscriptionNotFound as exc:
        raise HTTPException(404, "未找到该订阅，可能已被删除") from exc
    except enrol.NotOwner as exc:
        raise HTTPException(403, "这不是您的订阅，只有订阅本人和管理员可以查看或修改") from exc


# ---------------------------------------------------------------- subscriptions


@router.post("/subscriptions", status_code=201)
async def create_subscription(request: Request, library: LibraryDep) -> Any:
    """Subscribe an e-mail address or a webhook to new practices of some topics, tags, units or a search."""
    try:
        payload = await _json_body(request)

        user = current_user(request)

        def work() -> dict[str, Any]:
            runner = _runner(request)
            sub, problem = enrol.subscribe(library.db.conn(), runner.settings, runner.clock.now(), payload, user)  # type: ignore[arg-type]
            record(request, "subscription", sub.id, f"创建：{sub.recipient}；{sub.describe()}"
                   + ("" if sub.confirmed else "；待收件人确认"))
            data = _view(request, sub)
            if not sub.confirmed:
                data["notice"] = (f"确认邮件已发送至 {sub.email}，收件人确认后开始发送摘要"
                                  if problem is None else f"确认邮件未能发出（{problem}），请稍后重试")
            return data

        return JSONResponse(await run_in_threadpool(work), status_code=201)
    except subs.SubscriptionError as exc:
        return _error(exc)


@router.get("/subscriptions")
def list_subscriptions(
    request: Request, conn: ConnDep, email: Annotated[str | None, Query(max_length=MAX_EMAIL_CHARS)] = None
) -> dict[str, Any]:
    """One's own subscriptions (an administrator: everybody's), optionally of one e-mail address."""
    user = current_user(request)
    owner = None if user.can("admin") else user.id  # type: ignore[union-attr]
    return {"subscriptions": [_view(request, s) for s in subs.list_all(conn, email=email, owner_id=owner)]}


@router.get("/subscriptions/{subscription_id}")
def read_subscription(subscription_id: RowId, request: Request, conn: ConnDep) -> dict[str, Any]:
    return _view(request, _get(conn, subscription_id, current_user(request)))


@router.patch("/subscriptions/{subscription_id}")
async def update_subscription(subscription_id: RowId, request: Request, library: LibraryDep) -> Any:
    """Change filters, schedule or channel; ``{"active": false}`` pauses, ``true`` resumes."""
    try:
        payload = await _json_body(request)

        user = current_user(request)

        def work() -> dict[str, Any]:
            runner = _runner(request)
            conn = library.db.conn()
            _get(conn, subscription_id, user)
            sub = enrol.change(conn, runner.settings, runner.clock.now(), subscription_id, payload, user)  # type: ignore[arg-type]
            fields = ", ".join(sorted(payload)) if isinstance(payload, dict) else ""
            record(request, "subscription", sub.id, f"修改：{fields}")
            return _view(request, sub)

        return await run_in_threadpool(work)
    except subs.SubscriptionError as exc:
        return _error(exc)


@router.delete("/subscriptions/{subscription_id}")
def delete_subscription(subscription_id: RowId, request: Request, conn: ConnDep) -> dict[str, Any]:
    """Delete a subscription and its digest history."""
    sub = _get(conn, subscription_id, current_user(request))
    try:
        subs.delete(conn, subscription_id)
    except subs.SubscriptionNotFound as exc:
        raise HTTPException(404, "未找到该订阅，可能已被删除") from exc
    record(request, "subscription", subscription_id, f"删除：{sub.recipient}")
    return {"deleted": subscription_id}


@router.get("/subscriptions/{subscription_id}/preview")
def preview_subscription(subscription_id: RowId, request: Request, conn: ConnDep) -> dict[str, Any]:
    """The next digest's content if it were sent now; nothing is sent or recorded."""
    return _runner(request).preview(conn, _get(conn, subscription_id, current_user(request)))


# ---------------------------------------------------------------- digests


@router.get("/digests")
def read_digests(
    request: Request,
    conn: ConnDep,
    subscription_id: OptionalId = None,
    status: str | None = Query(None, description="pending | sending | sent | failed | superseded | cancelled"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Past digests of one's own subscriptions (an administrator: all, with each failure's technical cause)."""
    user = current_user(request)
    admin = user.can("admin")  # type: ignore[union-attr]
    return {"digests": list_digests(conn, subscription_id, status, limit, owner_id=None if admin else user.id,  # type: ignore[union-attr]
                                    technical=admin)}


@router.post("/digests/run", dependencies=[ADMIN])
def run_digests(
    request: Request,
    force: bool = Query(False, description="把所有启用的订阅都视为到期"),
    dry_run: bool = Query(False, description="只列出将要发送的内容，不发送"),
) -> dict[str, Any]:
    """Send what is due now (``force=true``: every active subscription)."""
    report = _runner(request).run(force=force, dry_run=dry_run).to_dict()
    if not dry_run:
        record(request, "digest_run", None, f"force={force}；发送 {len(report.get('sent', []))}，"
               f"失败 {len(report.get('failed', []))}")
    return report


# ---------------------------------------------------------------- unsubscribe and confirmation links

PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:'Microsoft YaHei','Noto Sans CJK SC',sans-serif;max-width:560px;margin:60px auto;padding:0 16px;line-height:1.8">
<h1 style="font-size:22px;color:#b00">{title}</h1><p>{body}</p>{form}</body></html>"""
FORM = """<form method="post" action="{action}"><input type="hidden" name="token" value="{token}">
<button type="submit" style="font-size:16px;padding:6px 18px">{label}</button></form>"""


def _page(title: str, body: str, status: int = 200, form: str = "") -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, body=body, form=form), status_code=status)


def _by_token(request: Request, conn, token: str, purpose: str) -> subs.Subscription | None:
    """The subscription a signed link names, or None when the token is not valid for it."""
    runner = _runner(request)
    subscription_id = token_subscription_id(token)
    if subscription_id is None:
        return None
    try:
        sub = subs.get(conn, subscription_id)
    except subs.SubscriptionNotFound:
        return None
    if not token_matches(token, sub.id, sub.unsubscribe_secret, runner.settings.secret_key, purpose):
        return None
    return sub


def _unsubscribe(request: Request, conn, token: str) -> subs.Subscription | None:
    sub = _by_token(request, conn, token, "unsubscribe")
    if sub is None:
        return None
    sub = subs.deactivate(conn, sub.id, _runner(request).clock.now())
    record(request, "subscription", sub.id, f"退订（邮件链接）：{sub.recipient}")
    return sub


INVALID = "退订链接无效或已过期，请直接使用邮件中的完整链接，或联系管理员。"


@pages.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_confirm_page(request: Request, conn: ConnDep, token: str = "") -> HTMLResponse:
    """The link in every digest shows what would stop and a button; nothing changes until it is pressed.

    Mail scanners that open links therefore cannot unsubscribe anybody.
    """
    sub = _by_token(request, conn, token, "unsubscribe")
    if sub is None:
        return _page("退订未成功", INVALID, 400)
    body = f"将为 {escape(sub.recipient)} 退订经验库摘要（{escape(sub.describe())}）。"
    form = FORM.format(action="/unsubscribe", token=escape(token.strip()), label="确认退订")
    return _page("确认退订", body, form=form)


@pages.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(request: Request, token: str = "") -> HTMLResponse:
    """Unsubscribe without a login: the confirm button, or mail clients' one-click POST (RFC 8058) to the link."""
    if not token and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token = str((await request.form()).get("token") or "")
    library: Library = request.app.state.library

    def work() -> HTMLResponse:
        sub = _unsubscribe(request, library.db.conn(), token)
        if sub is None:
            return _page("退订未成功", INVALID, 400)
        return _page("已退订", f"{escape(sub.recipient)} 已退订经验库摘要（{escape(sub.describe())}），今后不再发送。")

    return await run_in_threadpool(work)


@public.post("/unsubscribe")
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


CONFIRM_INVALID = "确认链接无效或已过期，请直接使用邮件中的完整链接，或请订阅人重新订阅。"


@pages.get("/subscriptions/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, conn: ConnDep, token: str = "") -> HTMLResponse:
    """The link of a confirmation mail: says who subscribed this address to what, and asks."""
    sub = _by_token(request, conn, token, "confirm")
    if sub is None:
        return _page("确认未成功", CONFIRM_INVALID, 400)
    if sub.confirmed:
        return _page("订阅已确认", f"{escape(sub.recipient)} 的订阅已确认，无需再次操作。")
    body = f"是否同意 {escape(sub.recipient)} 接收经验库摘要（{escape(sub.describe())}，{escape(sub.schedule_text())}）？"
    form = FORM.format(action="/subscriptions/confirm", token=escape(token.strip()), label="确认订阅")
    return _page("确认订阅", body, form=form)


@pages.post("/subscriptions/confirm", response_class=HTMLResponse)
async def confirm_submit(request: Request) -> HTMLResponse:
    token = str((await request.form()).get("token") or request.query_params.get("token") or "")
    library: Library = request.app.state.library

    def work() -> HTMLResponse:
        conn = library.db.conn()
        sub = _by_token(request, conn, token, "confirm")
        if sub is None:
            return _page("确认未成功", CONFIRM_INVALID, 400)
        if not sub.confirmed:
            with transaction(conn):
                sub = subs.confirm(conn, sub.id, _runner(request).clock.now())
            record(request, "subscription", sub.id, f"收件人确认：{sub.recipient}")
        return _page("订阅已确认", f"{escape(sub.recipient)} 今后将按时收到经验库摘要（{escape(sub.describe())}）。")

    return await run_in_threadpool(work)
