"""Staff web pages (Simplified Chinese), rendered server-side from the same functions the API uses.

Each handler reads through the library's own store/search/grouper calls (never its own SQL),
turns the results into small view dicts and hands them to a Jinja2 template.
"""

from __future__ import annotations

import json
import math
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api import routes_tags
from service.api.bounds import (
    FIELD_LABELS,
    MAX_FILTER_CHARS,
    MAX_INT,
    MAX_QUERY_CHARS,
    RowId,
    api_validation_error,
    validation_detail,
)
from service.auth.accounts import ROLE_LABELS
from service.auth.guard import CLERK, CSRF, STAFF, Forbidden, csrf_token, current_user, record
from service.digest import enrol
from service.digest import subscriptions as subs
from service.digest.runner import DigestRunner
from service.intake.document import DOCUMENT_KINDS
from service.library import store
from service.library.library import Library
from service.library.results import hits_with_practices, search_results
from service.library.search import SearchFilters
from service.library.store import transaction
from service.mining.practice import TOPICS
from service.web.highlight import (
    Marked,
    containing_block,
    document_blocks,
    mark_spans,
    mark_terms,
    outline,
    page_breaks,
)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False, dependencies=[STAFF])
public = APIRouter(include_in_schema=False)

PAGE_SIZE = 10
DOCS_PAGE_SIZE = 20
GROUPS_PAGE_SIZE = 30
# A document page shows at most this many practices or characters of text.
DOC_PAGE_PRACTICES = 100
DOC_PAGE_CHARS = 30_000
MAX_OUTLINE = 300
FACET_LIMIT = 8
KIND_LABELS = {"practice": "经验做法", "directive": "工作要求"}
FACET_TITLES = [("topic", "主题"), ("kind", "类型"), ("org", "单位"), ("year", "年份"), ("doc_kind", "材料类别")]


def mount_pages(app: FastAPI) -> None:
    """Attach the pages, their static files and Chinese error pages for page URLs to ``app``."""
    app.include_router(router)
    app.include_router(public)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_exception_handler(StarletteHTTPException, _page_error)
    app.add_exception_handler(RequestValidationError, _page_error)
    # Backstop: a number too large for SQLite that slipped past the route's bounds is still a 4xx.
    app.add_exception_handler(OverflowError, _page_error)


_ERROR_MESSAGES = {404: "您要找的页面或内容不存在，可能已被删除或地址有误。", 422: "地址中的参数不正确，请检查后重试。"}


async def _page_error(request: Request, exc: Exception) -> Response:
    """API callers keep FastAPI's JSON errors; a person on a page gets a Chinese page."""
    api = request.url.path.startswith(("/api/", "/docs", "/openapi"))
    if isinstance(exc, OverflowError):
        exc = HTTPException(422, "请求中的数字超出允许范围，请检查编号、页码或年份")
    if api:
        if isinstance(exc, RequestValidationError):
            return await api_validation_error(request, exc)
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 422
    message = _ERROR_MESSAGES.get(status, "请求未能完成，请稍后重试。")
    if isinstance(exc, RequestValidationError):
        message = validation_detail(exc)[0] + "。"
    elif status == 422 and isinstance(exc, HTTPException) and isinstance(exc.detail, str):
        message = exc.detail
    return render(request, "error.html", status, title="出错了", heading=f"出错了（{status}）", message=message)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with ``context``, the signed-in user and the session's form token."""
    user = current_user(request)
    context.setdefault("user", user)
    context.setdefault("csrf_token", csrf_token(request) if user else "")
    context.setdefault("role_labels", ROLE_LABELS)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "error.html", 404, title="未找到", heading="未找到", message=message)


def _library(request: Request) -> Library:
    return request.app.state.library


# ---------------------------------------------------------------- view helpers


def practice_view(item: dict[str, Any], terms: list[str] | None = None) -> dict[str, Any]:
    """A ``{practice, document, highlights}`` result as the templates show it."""
    p, doc = item["practice"], item.get("document") or {}
    highlights = terms if terms is not None else item.get("highlights", [])
    text = p["text"]
    return {
        "id": p["id"],
        "document_id": p["document_id"],
        # Unnamed practices are headed by their units; the clause itself follows right below.
        "title": p["name"] or "、".join(p["orgs"][:3]) or _first_words(text),
        "name": p["name"],
        "heading": p["name"] or _first_words(text, 40),
        "text": text,
        "text_html": mark_terms(text, highlights),
        "topic": p["topic"],
        "kind": p["kind"],
        "orgs": p["orgs"],
        "tags": p["tags"],
        "section": p["section"],
        "span": p["span"],
        "group_id": p.get("group_id"),
        "doc_title": doc.get("title") or doc.get("filename"),
        "doc_kind": doc.get("kind"),
        "year": doc.get("year"),
    }


def _first_words(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _int(value: str | None) -> int | None:
    """A query value as an integer; not a number → None, beyond what SQLite stores → 422."""
    text = (value or "").strip()
    digits = text.removeprefix("-").removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) > 19 or abs(int(text)) > MAX_INT:
        raise HTTPException(422, "地址中的数字超出允许范围，请检查页码、年份或编号")
    return int(text)


MAX_PAGE = 100_000


def _page_number(request: Request) -> int:
    page = max(1, _int(request.query_params.get("page")) or 1)
    if page > MAX_PAGE:
        raise HTTPException(422, f"页码超出范围（最多 {MAX_PAGE} 页）")
    return page


def _url(path: str, params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(clean)}" if clean else path


def _pager(path: str, params: dict[str, Any]) -> Callable[[int], str]:
    return lambda n: _url(path, {**params, "page": n if n > 1 else None})


# ---------------------------------------------------------------- 经验库 home


@router.get("/", response_class=HTMLResponse)
@router.get("/library", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """经验库: browse by topic (the ten labels with counts) and by practice group."""
    library = _library(request)
    conn = library.db.conn()
    overview = library.index.search(conn, "", SearchFilters(), limit=6, offset=0)
    topic_counts = overview.facets.get("topic", {})
    # Groups come largest first; a single practice is not yet a "kind of practice" worth a tile.
    groups = [g for g in library.grouper.list_groups(conn, 12, 0) if g["size"] > 1]
    return render(
        request,
        "home.html",
        title="经验库",
        active="library",
        stats={
            "documents": store.count_documents(conn),
            "practices": overview.total,
        },
        topics=[{"label": t, "count": topic_counts.get(t, 0)} for t in TOPICS],
        groups=groups,
        recent=[practice_view(i) for i in hits_with_practices(library, overview.hits)],
    )


# ---------------------------------------------------------------- search


def _filters_from(request: Request) -> SearchFilters:
    qp = request.query_params
    for name in ("topic", "org", "kind", "doc_kind", "tag"):
        if len(qp.get(name) or "") > MAX_FILTER_CHARS:
            raise HTTPException(422, f"筛选条件“{FIELD_LABELS.get(name, name)}”过长，最多 {MAX_FILTER_CHARS} 字")
    kind = qp.get("kind") or None
    return SearchFilters(
        topic=qp.get("topic") or None,
        org=(qp.get("org") or "").strip() or None,
        kind=kind if kind in KIND_LABELS else None,
        year=_int(qp.get("year")),
        doc_kind=qp.get("doc_kind") or None,
        tag=(qp.get("tag") or "").strip() or None,
    )


def _filter_params(filters: SearchFilters) -> dict[str, Any]:
    return {
        "topic": filters.topic,
        "org": filters.org,
        "kind": filters.kind,
        "year": filters.year,
        "doc_kind": filters.doc_kind,
        "tag": filters.tag,
    }


def _facet_views(q: str, filters: SearchFilters, facets: dict[str, dict[str, int]]) -> dict[str, list[dict]]:
    """Facet values as links that set (or, when already set, clear) that filter."""
    base = {"q": q, **_filter_params(filters)}
    out: dict[str, list[dict]] = {}
    for key, _title in FACET_TITLES:
        values = facets.get(key) or {}
        current = base.get(key)
        items = []
        for value, count in list(values.items())[:FACET_LIMIT]:
            active = current is not None and str(current) == str(value)
            label = KIND_LABELS.get(value, value) if key == "kind" else (f"{value}年" if key == "year" else value)
            href = _url("/search", {**base, key: None if active else value})
            items.append({"label": label, "count": count, "active": active, "href": href})
        if items:
            out[key] = items
    return out


def _active_filter_labels(filters: SearchFilters) -> list[str]:
    labels = []
    if filters.topic:
        labels.append(f"主题：{filters.topic}")
    if filters.kind:
        labels.append(f"类型：{KIND_LABELS[filters.kind]}")
    if filters.org:
        labels.append(f"单位：{filters.org}")
    if filters.year:
        labels.append(f"年份：{filters.year}")
    if filters.doc_kind:
        labels.append(f"材料类别：{filters.doc_kind}")
    if filters.tag:
        labels.append(f"标签：{filters.tag}")
    return labels


def search_context(library: Library, q: str, filters: SearchFilters, page: int) -> dict[str, Any]:
    """Everything the search page shows for ``q`` within ``filters`` on page ``page``."""
    started = time.perf_counter()
    result = search_results(library, q, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    total = result["total"]
    params = {"q": q, **_filter_params(filters)}
    return {
        "q": q,
        "filters": filters,
        "hits": [practice_view(i) for i in result["results"]],
        "total": total,
        "facets": _facet_views(q, filters, result["facets"]),
        "facet_titles": FACET_TITLES,
        "active_filters": _active_filter_labels(filters),
        "page": page,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "page_url": _pager("/search", params),
        "export_query": urlencode({k: v for k, v in params.items() if v not in (None, "")}),
        "all_topics": TOPICS,
        "doc_kinds": DOCUMENT_KINDS,
        "elapsed_ms": round((time.perf_counter() - started) * 1000),
    }


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    """搜索: query + filters, facets with counts, highlighted terms, paging, 相似做法 per result."""
    q = (request.query_params.get("q") or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise HTTPException(422, f"检索词过长（{len(q)} 字），最多 {MAX_QUERY_CHARS} 字")
    filters = _filters_from(request)
    context = search_context(_library(request), q, filters, _page_number(request))
    title = f"搜索：{q}" if q else (f"主题：{filters.topic}" if filters.topic else "全部经验做法")
    return render(request, "search.html", title=title, active="library", **context)


# ---------------------------------------------------------------- practices


def _source_html(library: Library, practice: dict[str, Any]) -> Markup:
    """The paragraph the practice came from, its clause marked in place."""
    row = store.document_row(library.db.conn(), practice["document_id"])
    if row is None:
        return mark_terms(practice["text"], [])
    text = row["text"] or ""
    structure = json.loads(row["structure_json"] or "{}")
    start, end = practice["span"]
    blocks = [b for b in document_blocks(structure, text) if b.kind == "paragraph"]
    block = containing_block(blocks, start, end)
    if block is None:
        return mark_terms(practice["text"], [])
    clause = Marked(start, end, Markup('<mark class="clause">'), Markup("</mark>"))
    return mark_spans(text[block.start : block.end], block.start, [clause])


def _similar(library: Library, practice_id: int, limit: int) -> list[dict[str, Any]]:
    hits = library.index.similar(library.db.conn(), practice_id, limit=limit, other_documents=True)
    return [practice_view(i, []) for i in hits_with_practices(library, hits)]


@router.get("/practices/{practice_id}", response_class=HTMLResponse)
def practice_page(request: Request, practice_id: RowId) -> HTMLResponse:
    """做法详情: unit, name, topic, tags, source paragraph with the clause highlighted, similar practices."""
    return _practice_page(request, practice_id)


def _practice_page(request: Request, practice_id: int, error: str | None = None) -> HTMLResponse:
    library = _library(request)
    conn = library.db.conn()
    practice = store.get_practice(conn, practice_id)
    if practice is None:
        return not_found(request, "未找到该经验做法，可能所在文档已被删除。")
    view = practice_view({"practice": practice, "document": store.document_brief(conn, practice["document_id"])}, [])
    group = library.grouper.get_group(conn, practice["group_id"]) if practice.get("group_id") else None
    return render(
        request,
        "practice.html",
        title=view["heading"],
        active="library",
        p=view,
        group=group,
        source_html=_source_html(library, practice),
        similar=_similar(library, practice_id, 8),
        tags_editable=current_user(request).can("clerk"),  # type: ignore[union-attr]
        error=error,
        status_code=422 if error else 200,
    )


async def _form_tag(request: Request) -> str:
    return str((await request.form()).get("tag") or "")


@router.post("/practices/{practice_id}/tags", response_class=HTMLResponse, dependencies=[CLERK, CSRF])
async def add_tag(request: Request, practice_id: RowId) -> Response:
    """Staff add a tag (the tag API's own function does the work and the checks)."""
    tag = await _form_tag(request)
    return await run_in_threadpool(_change_tag, request, practice_id, tag, True)


@router.post("/practices/{practice_id}/tags/remove", response_class=HTMLResponse, dependencies=[CLERK, CSRF])
async def remove_tag(request: Request, practice_id: RowId) -> Response:
    """Staff remove a tag."""
    tag = await _form_tag(request)
    return await run_in_threadpool(_change_tag, request, practice_id, tag, False)


def _change_tag(request: Request, practice_id: int, tag: str, add: bool) -> Response:
    conn = _library(request).db.conn()
    try:
        if add:
            routes_tags.add_tag(practice_id, conn, {"tag": tag})
        else:
            routes_tags.remove_tag(practice_id, tag, conn)
    except HTTPException as exc:
        if exc.status_code == 404 and store.get_practice(conn, practice_id) is None:
            return not_found(request, str(exc.detail))
        return _practice_page(request, practice_id, error=str(exc.detail))
    record(request, "tag", f"practice {practice_id}", f"{'添加' if add else '删除'}：{tag.strip()}")
    return RedirectResponse(f"/practices/{practice_id}#tags", status_code=303)


@router.get("/practices/{practice_id}/similar-fragment", response_class=HTMLResponse)
def similar_fragment(request: Request, practice_id: RowId) -> HTMLResponse:
    """相似做法 of one result, as an HTML fragment the search page expands inline."""
    return render(
        request, "similar_fragment.html", practice_id=practice_id, similar=_similar(_library(request), practice_id, 5)
    )


# ---------------------------------------------------------------- documents


def _size_label(size: int | None) -> str:
    if not size:
        return "—"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request) -> HTMLResponse:
    """文档: list with status, kind, unit, date, practice count; filters and paging."""
    library = _library(request)
    qp = request.query_params
    filters = store.DocumentFilters(
        kind=qp.get("kind") or None, org=(qp.get("org") or "").strip() or None, year=_int(qp.get("year"))
    )
    page = _page_number(request)
    docs, total = store.list_documents(library.db.conn(), filters, DOCS_PAGE_SIZE, (page - 1) * DOCS_PAGE_SIZE)
    for d in docs:
        d["status"], d["status_key"] = ("近似重复", "running") if d["near_duplicate_of"] else ("已入库", "done")
    counts = library.queue.counts()
    failed_jobs, _ = library.queue.list("failed", 10, 0)
    return render(
        request,
        "documents.html",
        title="文档",
        active="documents",
        documents=docs,
        total=total,
        filters=filters,
        doc_kinds=DOCUMENT_KINDS,
        page=page,
        pages=max(1, math.ceil(total / DOCS_PAGE_SIZE)),
        page_url=_pager("/documents", {"kind": filters.kind, "org": filters.org, "year": filters.year}),
        pending=counts.get("queued", 0) + counts.get("running", 0),
        failed_jobs=failed_jobs,
        notice="已重新排队处理，稍后刷新本页查看结果。" if qp.get("done") == "retried" else None,
    )


@router.post("/jobs/{job_id}/retry", response_class=HTMLResponse, dependencies=[CLERK, CSRF])
def retry_job(request: Request, job_id: str) -> Response:
    """Process a failed file's kept original again (the job API's own retry), then back to the list."""
    retried = _library(request).queue.retry(job_id)
    if retried is not None:
        record(request, "retry", f"job {job_id}", retried.get("filename"))
    if retried is None:
        return render(
            request, "error.html", 409, title="无法重试", heading="无法重试",
            message="只有失败且原文件仍保存的任务可以重试，请重新上传该文件。",
        )
    return RedirectResponse("/documents?done=retried", status_code=303)


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: RowId) -> HTMLResponse:
    """文档详情: outline (section tree) and text with the extracted practices marked in place.

    A long document is shown a page at a time (at most ``DOC_PAGE_PRACTICES`` practices or
    ``DOC_PAGE_CHARS`` characters of text per page); ``?practice=<id>`` opens the page holding it.
    """
    library = _library(request)
    conn = library.db.conn()
    doc = store.get_document(conn, document_id, practice_limit=0)
    if doc is None:
        return not_found(request, "未找到该文档，可能已被删除。")
    text = doc["text"] or ""
    structure = {"paragraphs": doc["paragraphs"], "sections": doc["sections"]}
    blocks = document_blocks(structure, text)
    breaks = page_breaks(blocks, store.practice_starts(conn, document_id), DOC_PAGE_PRACTICES, DOC_PAGE_CHARS)
    starts = [blocks[i].start for i in breaks] if blocks else [0]
    pages = len(starts)
    wanted = _int(request.query_params.get("practice"))
    if wanted is not None and (found := store.get_practice(conn, wanted)) and found["document_id"] == document_id:
        page = bisect_right(starts, found["span"][0]) or 1
    else:
        page = _page_number(request)
    if page > pages:
        return not_found(request, f"这份文档只有 {pages} 页。")
    lo = starts[page - 1] if page > 1 else 0
    hi = starts[page] if page < pages else len(text) + 1
    shown = [b for b in blocks if lo <= b.start < hi]
    marks = [
        Marked(
            p["span"][0],
            p["span"][1],
            Markup('<mark class="practice" id="p-{0}"><a href="/practices/{0}" title="{1}">').format(
                p["id"], f"{p['topic']} · " + "、".join(p["orgs"])
            ),
            Markup("</a></mark>"),
        )
        for p in store.practice_marks(conn, document_id, lo, hi)
    ]
    first = 0
    for b in shown:
        while first < len(marks) and marks[first].end <= b.start:
            first += 1
        inside = [m for m in marks[first:] if m.start < b.end]
        b.html = mark_spans(text[b.start : b.end], b.start, inside)
    heading_pages = {b.anchor: bisect_right(starts, b.start) or 1 for b in blocks if b.anchor}
    here, elsewhere = "#{}", f"/documents/{document_id}?page={{}}#{{}}"

    def anchor_url(anchor: str) -> str:
        on = heading_pages.get(anchor, 1)
        return here.format(anchor) if on == page else elsewhere.format(on, anchor)

    tree = outline(structure)
    # A report with thousands of headings keeps its outline readable (and its pages fast): top level only.
    if _outline_size(tree) > MAX_OUTLINE:
        tree = [{**n, "children": []} for n in tree[: MAX_OUTLINE + 1]]
    doc["size_label"] = _size_label(doc.get("size"))
    return render(
        request,
        "document.html",
        title=doc["title"] or doc["filename"],
        active="documents",
        d=doc,
        practice_count=doc["practice_count"],
        blocks=shown,
        outline=tree[:MAX_OUTLINE],
        outline_cut=len(tree) > MAX_OUTLINE,
        anchor_url=anchor_url,
        page=page,
        pages=pages,
        page_url=_pager(f"/documents/{document_id}", {}),
        warnings=doc.get("warnings") or [],
        original_url=f"/api/documents/{document_id}/original",
    )


def _outline_size(nodes: list[dict]) -> int:
    return sum(1 + _outline_size(n["children"]) for n in nodes)


# ---------------------------------------------------------------- groups


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request) -> HTMLResponse:
    """做法归类: practice groups, largest first."""
    library = _library(request)
    page = _page_number(request)
    conn = library.db.conn()
    groups = library.grouper.list_groups(conn, GROUPS_PAGE_SIZE + 1, (page - 1) * GROUPS_PAGE_SIZE)
    more = len(groups) > GROUPS_PAGE_SIZE
    return render(
        request,
        "groups.html",
        title="做法归类",
        active="groups",
        groups=groups[:GROUPS_PAGE_SIZE],
        page=page,
        pages=page + 1 if more else page,
        page_url=_pager("/groups", {}),
    )


@router.get("/groups/{group_id}", response_class=HTMLResponse)
def group_page(request: Request, group_id: RowId) -> HTMLResponse:
    """One practice group: the same kind of practice across units and years."""
    library = _library(request)
    conn = library.db.conn()
    group = library.grouper.get_group(conn, group_id)
    if group is None:
        return not_found(request, "未找到该做法归类，归类可能已重建。")
    practices = store.get_practices(conn, list(group.get("practice_ids", [])))
    items = [{"practice": p, "document": store.document_brief(conn, p["document_id"])} for p in practices.values()]
    return render(
        request,
        "group.html",
        title=group["label"],
        active="groups",
        g=group,
        practices=[practice_view(i, []) for i in items],
    )


# ---------------------------------------------------------------- subscriptions

FREQUENCY_CHOICES = list(subs.FREQUENCIES.items())
WEEKDAY_CHOICES = [(i, f"周{d}") for i, d in enumerate(subs.WEEKDAYS, start=1)]


def _runner(request: Request) -> DigestRunner:
    return request.app.state.digest_runner


def _subscription_view(sub: subs.Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "email": sub.email or sub.webhook_url,
        "summary": sub.describe(),
        "schedule": sub.schedule_text(),
        "active": sub.active,
        "confirmed": sub.confirmed,
    }


def _subscriptions_page(
    request: Request, email: str | None, notice: str | None = None, error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    """One's own subscriptions; an administrator sees everybody's (or one address's)."""
    conn = _library(request).db.conn()
    user = current_user(request)
    admin = user.can("admin")  # type: ignore[union-attr]
    email = (email or "").strip() or None
    found = subs.list_all(conn, email=email, owner_id=None if admin else user.id)  # type: ignore[union-attr]
    return render(
        request,
        "subscriptions.html",
        422 if error else 200,
        title="订阅",
        active="subscriptions",
        email=email,
        subscriptions=[_subscription_view(s) for s in found],
        notice=error or notice,
        notice_kind="error" if error else "ok",
        all_topics=TOPICS,
        frequencies=FREQUENCY_CHOICES,
        weekdays=WEEKDAY_CHOICES,
        form=form or {"email": user.email or ""},  # type: ignore[union-attr]
        show_all=admin,
    )


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(request: Request, email: str | None = None, done: str | None = None) -> HTMLResponse:
    """订阅: one's own subscriptions; create, pause, delete."""
    notices = {"created": "订阅已创建。", "paused": "订阅已暂停。", "resumed": "订阅已恢复。", "deleted": "订阅已删除。",
               "pending": "订阅已创建。确认邮件已发往该邮箱，收件人确认后开始发送摘要。",
               "mail-failed": "订阅已创建，但确认邮件未能发出，请稍后删除后重新订阅或联系管理员。"}
    return _subscriptions_page(request, email, notices.get(done or ""))


@router.post("/subscriptions", response_class=HTMLResponse, dependencies=[CSRF])
async def create_subscription(request: Request) -> Response:
    """Create a subscription from the form, validated by the digest stage's own rules."""
    form = await request.form()
    payload: dict[str, Any] = {
        "email": str(form.get("email") or "").strip(),
        "topics": [str(t) for t in form.getlist("topics")],
        "tags": str(form.get("tags") or ""),
        "orgs": str(form.get("orgs") or ""),
        "query": str(form.get("query") or ""),
        "frequency": str(form.get("frequency") or "weekly"),
        "send_at": str(form.get("send_at") or "08:30"),
        "weekday": _int(str(form.get("weekday") or "")) or 1,
    }
    user = current_user(request)

    def work() -> Response:
        conn = _library(request).db.conn()
        runner = _runner(request)
        try:
            sub, problem = enrol.subscribe(conn, runner.settings, runner.clock.now(), payload, user)  # type: ignore[arg-type]
        except subs.SubscriptionError as exc:
            return _subscriptions_page(request, None, error=exc.message, form=payload)
        record(request, "subscription", sub.id, f"创建：{sub.recipient}；{sub.describe()}"
               + ("" if sub.confirmed else "；待收件人确认"))
        done = "created" if sub.confirmed else ("pending" if problem is None else "mail-failed")
        return RedirectResponse(_url("/subscriptions", {"done": done}), status_code=303)

    return await run_in_threadpool(work)


def _own_subscription(request: Request, subscription_id: int) -> subs.Subscription:
    """The subscription when it is the user's own or the user is an administrator."""
    try:
        return enrol.owned(_library(request).db.conn(), subscription_id, current_user(request))  # type: ignore[arg-type]
    except enrol.NotOwner as exc:
        raise Forbidden() from exc


@router.post("/subscriptions/{subscription_id}/{action}", response_class=HTMLResponse, dependencies=[CSRF])
def change_subscription(request: Request, subscription_id: RowId, action: str) -> Response:
    """Pause, resume or delete one subscription, then back to the list."""
    conn = _library(request).db.conn()
    try:
        sub = _own_subscription(request, subscription_id)
        with transaction(conn):
            if action == "delete":
                subs.delete(conn, subscription_id)
            elif action in ("pause", "resume"):
                subs.update(conn, subscription_id, {"active": action == "resume"}, _runner(request).clock.now())
            else:
                return not_found(request, "不支持的操作。")
    except subs.SubscriptionNotFound:
        return not_found(request, "未找到该订阅，可能已被删除。")
    except subs.SubscriptionError as exc:
        return _subscriptions_page(request, None, error=exc.message)
    labels = {"delete": "删除", "pause": "暂停", "resume": "恢复"}
    record(request, "subscription", subscription_id, f"{labels[action]}：{sub.recipient}")
    done = {"delete": "deleted", "pause": "paused", "resume": "resumed"}[action]
    return RedirectResponse(_url("/subscriptions", {"done": done}), status_code=303)


@router.get("/subscriptions/{subscription_id}/preview", response_class=HTMLResponse)
def subscription_preview(request: Request, subscription_id: RowId) -> HTMLResponse:
    """The next digest of one subscription as it would be sent now (nothing is sent or recorded)."""
    conn = _library(request).db.conn()
    try:
        sub = _own_subscription(request, subscription_id)
    except subs.SubscriptionNotFound:
        return not_found(request, "未找到该订阅，可能已被删除。")
    preview = _runner(request).preview(conn, sub)
    return render(
        request,
        "subscription_preview.html",
        title="摘要预览",
        active="subscriptions",
        sub=_subscription_view(sub),
        preview=preview,
    )


# ---------------------------------------------------------------- upload


@router.get("/upload", response_class=HTMLResponse, dependencies=[CLERK])
def upload_page(request: Request) -> HTMLResponse:
    """上传: drag-and-drop many files or a .zip; progress per file, then job status."""
    settings = request.app.state.settings
    return render(request, "upload.html", title="上传材料", active="upload", max_file_mb=settings.max_file_mb)


@public.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(status_code=204)
