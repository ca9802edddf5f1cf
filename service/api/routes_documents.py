"""Documents: upload (one job per file), list, read, download the original, delete."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile

from service.api.bounds import MAX_QUERY_CHARS, FilterText, Offset, RowId, Year
from service.api.deps import ConnDep, LibraryDep
from service.auth.guard import CLERK, STAFF, record
from service.library import store
from service.library.ingest import delete_document
from service.library.uploads import Arrival, expand

router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[STAFF])

# A long report can carry thousands of practices; they come a page at a time.
PRACTICE_PAGE = 200


@router.post("", status_code=202, dependencies=[CLERK])
def upload(files: Annotated[list[UploadFile], File()], library: LibraryDep, request: Request) -> dict[str, Any]:
    """Accept one or many files or a .zip; each file gets a job.

    Files that can never be read (empty, too large, unsupported type) get a job that is
    ``failed`` at once with the reason, so one bad file in a batch does not refuse the others.
    """
    settings = library.settings
    cap = int(settings.max_file_mb * 1024 * 1024)
    # A .zip may legitimately exceed the per-file cap; its unpacked size has its own limit.
    read_cap = max(cap, int(settings.max_unzipped_mb * 1024 * 1024))
    jobs: list[dict[str, Any]] = []
    for upload_file in files:
        name = upload_file.filename or "未命名文件"
        data = upload_file.file.read(read_cap + 1)
        if len(data) > read_cap:
            arrivals = [
                Arrival(
                    name,
                    b"",
                    "too_large",
                    f"文件超过 {settings.max_file_mb:g} MB 的上限，请拆分或压缩后再上传",
                )
            ]
        else:
            arrivals = expand(name, data, settings)
        submitted = [library.queue.submit(a) for a in arrivals]
        jobs.extend(submitted)
        for job in submitted:
            record(request, "upload", job.get("filename") or name, f"任务 {job.get('id')}：{job.get('status')}")
    return {"jobs": jobs}


@router.get("")
def list_documents(
    conn: ConnDep,
    kind: FilterText = None,
    org: FilterText = None,
    year: Year = None,
    status: str | None = Query(None, description="near_duplicate | original"),
    q: str | None = Query(None, max_length=MAX_QUERY_CHARS, description="标题或文件名包含的文字"),
    limit: int = Query(20, ge=1, le=200),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Documents newest first, each with its practice count."""
    items, total = store.list_documents(
        conn, store.DocumentFilters(kind, org, year, status, q), limit, offset
    )
    return {"documents": items, "total": total, "limit": limit, "offset": offset}


@router.get("/{document_id}")
def read_document(
    document_id: RowId,
    conn: ConnDep,
    practice_limit: int = Query(PRACTICE_PAGE, ge=1, le=1000, description="本次返回的经验做法条数"),
    practice_offset: Offset = 0,
) -> dict[str, Any]:
    """A document with its clean text, section tree and one page of its practices.

    ``practice_count`` is the total; ``practice_offset`` pages through the rest.
    """
    doc = store.get_document(conn, document_id, practice_limit, practice_offset)
    if doc is None:
        raise HTTPException(404, "未找到该文档，可能已被删除")
    doc["practice_limit"], doc["practice_offset"] = practice_limit, practice_offset
    return doc


@router.get("/{document_id}/original")
def download_original(document_id: RowId, library: LibraryDep) -> Response:
    """The bytes exactly as uploaded, with their type and file name."""
    row = store.document_row(library.db.conn(), document_id)
    if row is None:
        raise HTTPException(404, "未找到该文档，可能已被删除")
    data = library.blobs.get(row["sha256"])
    if data is None:
        raise HTTPException(410, "原文件已不在库中")
    media = store.FORMAT_MEDIA_TYPES.get(row["format"] or "", "application/octet-stream")
    disposition = f"attachment; filename*=UTF-8''{quote(row['filename'])}"
    return Response(data, media_type=media, headers={"Content-Disposition": disposition})


@router.delete("/{document_id}", dependencies=[CLERK])
def remove_document(document_id: RowId, library: LibraryDep, request: Request) -> dict[str, Any]:
    """Delete a document, its practices and their index entries."""
    row = store.document_row(library.db.conn(), document_id)
    if not delete_document(library.db.conn(), library.index, library.grouper, library.blobs, document_id):
        raise HTTPException(404, "未找到该文档，可能已被删除")
    record(request, "delete", f"document {document_id}", row["filename"] if row is not None else None)
    return {"deleted": document_id}
