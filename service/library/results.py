"""Search hits joined with their stored practices and documents, the shape the API and CLI return."""

from __future__ import annotations

from typing import Any

from service.library import store
from service.library.library import Library
from service.library.search import Hit, SearchFilters


def hits_with_practices(library: Library, hits: list[Hit]) -> list[dict[str, Any]]:
    """Each hit as ``{practice, document, score, highlights}``; hits whose practice vanished are dropped."""
    conn = library.db.conn()
    practices = store.get_practices(conn, [h.practice_id for h in hits])
    docs: dict[int, dict[str, Any] | None] = {}
    out: list[dict[str, Any]] = []
    for hit in hits:
        practice = practices.get(hit.practice_id)
        if practice is None:
            continue
        doc_id = practice["document_id"]
        if doc_id not in docs:
            docs[doc_id] = store.document_brief(conn, doc_id)
        out.append(
            {
                "practice": practice,
                "document": docs[doc_id],
                "score": round(float(hit.score), 4),
                "highlights": list(hit.highlights),
            }
        )
    return out


def search_results(
    library: Library, q: str, filters: SearchFilters, limit: int = 10, offset: int = 0
) -> dict[str, Any]:
    """Run a search and return ``{results, total, facets}``."""
    page = library.index.search(library.db.conn(), q, filters, limit=limit, offset=offset)
    return {
        "query": q,
        "results": hits_with_practices(library, page.hits),
        "total": page.total,
        "facets": page.facets,
        "limit": limit,
        "offset": offset,
    }
