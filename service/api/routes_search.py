"""Search over practices: keyword + semantic ranking, filters, facets; empty query browses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from service.api.bounds import FilterText, Offset, QueryText, Year
from service.api.deps import LibraryDep
from service.auth.guard import STAFF
from service.library.results import search_results
from service.library.search import SearchFilters

router = APIRouter(prefix="/api", tags=["search"], dependencies=[STAFF])


@router.get("/search")
def search(
    library: LibraryDep,
    q: QueryText = "",
    topic: FilterText = None,
    org: FilterText = None,
    kind: str | None = Query(None, description="practice | directive"),
    year: Year = None,
    doc_kind: FilterText = None,
    tag: FilterText = None,
    limit: int = Query(10, ge=1, le=100),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Practices matching ``q`` within the filters, best first, with facets over all matches."""
    filters = SearchFilters(topic=topic, org=org, kind=kind, year=year, doc_kind=doc_kind, tag=tag)
    return search_results(library, q.strip(), filters, limit, offset)
