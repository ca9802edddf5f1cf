"""Ingestion jobs: what each uploaded file is doing, and retrying a failed one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from service.api.bounds import Offset
from service.api.deps import LibraryDep
from service.auth.guard import CLERK, STAFF, record

router = APIRouter(prefix="/api/jobs", tags=["jobs"], dependencies=[STAFF])


@router.get("")
def list_jobs(
    library: LibraryDep,
    status: str | None = Query(None, pattern="^(queued|running|done|failed)$"),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Recent jobs, newest first, with counts per status."""
    jobs, total = library.queue.list(status, limit, offset)
    return {"jobs": jobs, "total": total, "counts": library.queue.counts()}


@router.get("/{job_id}")
def read_job(job_id: str, library: LibraryDep) -> dict[str, Any]:
    job = library.queue.get(job_id)
    if job is None:
        raise HTTPException(404, "未找到该任务")
    return job


@router.post("/{job_id}/retry", status_code=202, dependencies=[CLERK])
def retry_job(job_id: str, library: LibraryDep, request: Request) -> dict[str, Any]:
    """Process a failed job's kept original again."""
    job = library.queue.get(job_id)
    if job is None:
        raise HTTPException(404, "未找到该任务")
    retried = library.queue.retry(job_id)
    if retried is None:
        raise HTTPException(409, "只有失败且原文件仍保存的任务可以重试，请重新上传该文件")
    record(request, "retry", f"job {job_id}", job.get("filename"))
    return retried
