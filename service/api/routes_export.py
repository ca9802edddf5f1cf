"""``GET /api/export``: selected practices, a search, a group or a topic as .docx, CSV or JSON."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from service.api.bounds import MAX_INT, FilterText, OptionalId, QueryText, Year
from service.api.deps import LibraryDep
from service.auth.guard import STAFF, record
from service.library import export
from service.library.search import SearchFilters

router = APIRouter(prefix="/api", tags=["export"], dependencies=[STAFF])

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
MAX_EXPORT = 5000


def content_disposition(filename: str, ascii_fallback: str) -> str:
    """``attachment`` with an ASCII name for old clients and the Chinese one per RFC 5987."""
    return f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(filename)}"


def _parse_ids(ids: str) -> list[int]:
    parts = [x.strip() for x in ids.replace("，", ",").split(",") if x.strip()]
    if len(parts) > MAX_EXPORT:
        raise HTTPException(422, f"一次最多导出 {MAX_EXPORT} 条经验做法")
    if not all(x.isascii() and x.isdigit() and len(x) <= 19 and 0 < int(x) <= MAX_INT for x in parts):
        raise HTTPException(422, "ids 应为以逗号分隔的经验做法编号，例如 ids=1,2,3")
    return [int(x) for x in parts]


@router.get("/export")
def export_practices(
    request: Request,
    library: LibraryDep,
    format: str = Query("docx", description="docx | csv | json"),
    q: QueryText = "",
    topic: FilterText = None,
    org: FilterText = None,
    kind: str | None = None,
    year: Year = None,
    doc_kind: FilterText = None,
    tag: FilterText = None,
    group: OptionalId = None,
    ids: str | None = Query(None, description="以逗号分隔的经验做法编号"),
    limit: int = Query(500, ge=1, le=MAX_EXPORT, description="检索结果最多导出多少条"),
) -> Response:
    """Download the chosen practices; with ``ids`` or ``group`` the search parameters are ignored."""
    fmt = format.lower().strip()
    if fmt not in MEDIA_TYPES:
        raise HTTPException(422, "导出格式只能是 docx（Word 汇编）、csv（表格）或 json")
    conn = library.db.conn()
    label = ""
    if ids:
        practice_ids = _parse_ids(ids)
    elif group is not None:
        found = library.grouper.get_group(conn, group)
        if found is None:
            raise HTTPException(404, "未找到该做法分组，分组可能已重建")
        practice_ids = list(found.get("practice_ids", []))
        label = found.get("label") or ""
    else:
        filters = SearchFilters(topic=topic, org=org, kind=kind, year=year, doc_kind=doc_kind, tag=tag)
        # Browsing by filters alone exports everything that matches; a ranked search its best ``limit``.
        page = library.index.search(conn, q.strip(), filters, limit=limit if q.strip() else MAX_EXPORT)
        practice_ids = [h.practice_id for h in page.hits]
        label = q.strip() or topic or tag or org or ""
    practices = export.load_export_practices(conn, practice_ids, library.settings.base_url)
    if not practices:
        raise HTTPException(404, "没有符合条件的经验做法可导出，请调整检索条件或所选做法")
    today = date.today()
    title = f"{label}经验做法汇编" if label and len(label) <= 12 else export.DEFAULT_TITLE
    if fmt == "docx":
        body = export.to_docx(practices, title=title, on=today, ranked=bool(q.strip()) and not ids and group is None)
    elif fmt == "csv":
        body = export.to_csv(practices)
    else:
        body = export.to_json(practices, title=title, on=today)
    filename = f"{title}_{today:%Y%m%d}.{fmt}"
    query = ", ".join(f"{k}={v}" for k, v in request.query_params.items())
    record(request, "export", fmt, f"{len(practices)} 条；{query}"[:500])
    return Response(
        content=body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(filename, f"jingyan-export-{today:%Y%m%d}.{fmt}")},
    )
