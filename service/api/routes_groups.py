"""Practice groups: the same kind of practice across units and years."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from service.api.bounds import Offset, RowId
from service.api.deps import LibraryDep
from service.auth.guard import STAFF
from service.library import store

router = APIRouter(prefix="/api/groups", tags=["groups"], dependencies=[STAFF])


@router.get("")
def list_groups(
    library: LibraryDep,
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Groups, largest first as the grouper orders them."""
    groups = library.grouper.list_groups(library.db.conn(), limit, offset)
    return {"groups": groups, "limit": limit, "offset": offset}


@router.get("/{group_id}")
def read_group(group_id: RowId, library: LibraryDep) -> dict[str, Any]:
    """A group with its practices and their documents."""
    conn = library.db.conn()
    group = library.grouper.get_group(conn, group_id)
    if group is None:
        raise HTTPException(404, "未找到该做法分组，分组可能已重建")
    practices = store.get_practices(conn, list(group.get("practice_ids", [])))
    group["practices"] = [
        {"practice": p, "document": store.document_brief(conn, p["document_id"])} for p in practices.values()
    ]
    return group
