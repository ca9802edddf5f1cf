"""The FastAPI application: REST API under /api, staff pages under /."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from service import __version__
from service.api import (
    routes_auth,
    routes_documents,
    routes_groups,
    routes_jobs,
    routes_practices,
    routes_search,
)
from service.api import routes_digest as digest_stage
from service.api.bounds import JsonBodyGuard
from service.auth import accounts
from service.auth import schema as auth_schema
from service.auth.guard import (
    STAFF,
    CsrfRefused,
    Forbidden,
    NotSignedIn,
    csrf_refused,
    forbidden,
    not_signed_in,
)
from service.auth.requests import RequestGuard
from service.config import Settings
from service.library.inbox import Inbox
from service.library.library import Library, load_embedder
from service.library.samples import queue_sample_corpus
from service.web.routes import mount_pages

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, embedder: Any | None = None) -> FastAPI:
    """Build the application for ``settings`` (environment defaults when omitted).

    The database is opened and migrated here; the lifespan loads the embedding model once
    (unless ``embedder`` is given, as tests do), queues the sample corpus into an empty library
    and runs the ingestion worker (a supervised child process when ``settings.worker_process``, as
    under ``jingyan serve``), and the watched inbox folder when one is set, while the app serves.
    """
    settings = settings or Settings.from_env()
    library = Library(settings)
    auth_schema.migrate(library.db.conn())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every request thread keeps a SQLite connection with up to 64 MB of page cache: anyio's
        # default of 40 threads allowed 2.5 GB of them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        model = embedder if embedder is not None else await run_in_threadpool(load_embedder, settings)
        library.set_embedder(model)
        if settings.load_sample_corpus:
            queued = await run_in_threadpool(queue_sample_corpus, library)
            if queued:
                log.info("queued %d sample documents", queued)
        library.start()
        inbox = Inbox(settings.inbox_dir, library) if settings.inbox_dir else None
        if inbox is not None:
            inbox.start()
            log.info("watching %s for submissions", settings.inbox_dir)
        digest_stage.start(app)
        if accounts.count_users(library.db.conn()) == 0:
            log.warning("%s", first_admin_hint(settings))
        try:
            yield
        finally:
            digest_stage.stop(app)
            if inbox is not None:
                inbox.stop()
            await run_in_threadpool(library.close)

    # The API description is for signed-in users only (routes below), like everything but the public routes.
    app = FastAPI(title="经验库 Jingyan", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(RequestGuard, base_url=settings.base_url)  # outermost: refuses before anything is read
    app.state.settings = settings
    app.state.library = library
    mount_pages(app)  # staff pages and static files (service/web); registered first so they own "/"
    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.include_router(routes_auth.router)
    app.include_router(routes_auth.pages)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[STAFF])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[STAFF])
    def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="经验库 API")

    @app.get("/api/health")
    def health() -> JSONResponse:
        """200 once uploads are accepted; says whether semantic search is on and how busy the queue is."""
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "semantic_search": library.embedder is not None,
                "jobs": library.queue.counts(),
                "worker": library.worker_state(),
            }
        )

    for module in (routes_documents, routes_jobs, routes_search, routes_practices, routes_groups):
        app.include_router(module.router)
    digest_stage.install(app)  # digest stage: export, tags, subscriptions, scheduler
    return app


def first_admin_hint(settings: Settings) -> str:
    """What to do when there are no accounts yet (printed by ``jingyan serve``, logged on start)."""
    data = f" --data {settings.data_dir}" if str(settings.data_dir) != "data" else ""
    return (
        "尚无任何账号，系统没有默认密码。请先创建第一个管理员，然后在浏览器中登录：\n"
        f"    jingyan users add 管理员用户名 --role admin{data}\n"
        "（密码从环境变量 JINGYAN_PASSWORD 读取，未设置时会提示输入）"
    )
