"""Search over practices: keyword + semantic ranking, filters, facets; empty query browses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from service.api.bounds import Offset, Year
from service.api.deps import LibraryDep
from service.library.results import search_results
from service.library.search import SearchFilters

router = APIRouter(prefix="/api", tags=["search"])


@router.get("/search")
def search(
    library: LibraryDep,
    q: str = "",
    topic: str | None = None,
    org: str | None = None,
    kind: str | None = Query(None, description="practice | directive"),
    year: Year = None,
    doc_kind: str | None = None,
    tag: str | None = None,
    limit: int = Query(10, ge=1, le=100),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Practices matching ``q`` within the filters, best first, with facets over all matches."""
    filters = SearchFilters(topic=topic, org=org, kind=kind, year=year, doc_kind=doc_kind, tag=tag)
    return search_results(library, q.strip(), filters, limit, offset)
