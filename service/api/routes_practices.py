"""Single practices and the practices most like them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from service.api.bounds import RowId
from service.api.deps import LibraryDep
from service.auth.guard import STAFF
from service.library import store
from service.library.results import hits_with_practices

router = APIRouter(prefix="/api/practices", tags=["practices"], dependencies=[STAFF])


@router.get("/{practice_id}")
def read_practice(practice_id: RowId, library: LibraryDep) -> dict[str, Any]:
    """A practice with its document."""
    conn = library.db.conn()
    practice = store.get_practice(conn, practice_id)
    if practice is None:
        raise HTTPException(404, "未找到该经验做法，可能所在文档已被删除")
    return {"practice": practice, "document": store.document_brief(conn, practice["document_id"])}


@router.get("/{practice_id}/similar")
def similar_practices(
    library: LibraryDep,
    practice_id: RowId,
    limit: int = Query(10, ge=1, le=50),
    same_document: bool = Query(False, description="是否包括同一文档中的做法"),
) -> dict[str, Any]:
    """Practices like this one, by default from other documents (other units, other years)."""
    conn = library.db.conn()
    if store.get_practice(conn, practice_id) is None:
        raise HTTPException(404, "未找到该经验做法，可能所在文档已被删除")
    hits = library.index.similar(conn, practice_id, limit=limit, other_documents=not same_document)
    return {"practice_id": practice_id, "results": hits_with_practices(library, hits)}
