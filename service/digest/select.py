"""Which practices go into a subscription's next digest.

The period of a digest starts where the subscription's last SUCCESSFUL digest ended (or when the
subscription was created), so practices that arrive while a send keeps failing are never lost.
Ingestion stamps ``practices.created_at`` before its transaction commits, so a practice can become
visible slightly after its timestamp; the window therefore reaches back ``OVERLAP`` before the
last period end, and practices already delivered to this subscription are excluded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from service.digest.clock import iso, parse_iso
from service.digest.subscriptions import Subscription

OVERLAP = timedelta(minutes=15)

# (connection, saved query) → ids of the practices the search index finds for it.
QuerySearch = Callable[[sqlite3.Connection, str], set[int]]


def last_success(conn: sqlite3.Connection, subscription_id: int) -> sqlite3.Row | None:
    """The subscription's newest digest that was delivered."""
    return conn.execute(
        "SELECT * FROM digests WHERE subscription_id = ? AND status = 'sent' ORDER BY period_end DESC, id DESC "
        "LIMIT 1",
        (subscription_id,),
    ).fetchone()


def period_start(conn: sqlite3.Connection, sub: Subscription) -> datetime:
    """Where the next digest's period starts."""
    row = last_success(conn, sub.id)
    return parse_iso(row["period_end"] if row else sub.created_at)


def select_practice_ids(
    conn: sqlite3.Connection,
    sub: Subscription,
    start: datetime,
    end: datetime,
    search: QuerySearch | None = None,
) -> list[int]:
    """Ids of practices created in ``[start, end]`` matching the subscription, oldest first.

    Topics are OR'ed, tags are OR'ed, units are OR'ed; the three lists and the saved query are AND'ed.
    """
    delivered_before = last_success(conn, sub.id) is not None
    lower = start - OVERLAP if delivered_before else start
    sql = [
        # Inclusive: timestamps have one-second resolution, and repeats are excluded below.
        "SELECT p.id FROM practices p WHERE julianday(p.created_at) >= julianday(?)",
        "AND julianday(p.created_at) <= julianday(?)",
    ]
    args: list = [iso(lower), iso(end)]
    if sub.topics:
        sql.append(f"AND p.topic IN ({','.join('?' * len(sub.topics))})")
        args += sub.topics
    if sub.tags:
        sql.append(
            "AND EXISTS (SELECT 1 FROM practice_tags t WHERE t.practice_id = p.id AND t.removed = 0"
            f" AND t.tag IN ({','.join('?' * len(sub.tags))}))"
        )
        args += sub.tags
    if sub.orgs:
        sql.append(
            "AND EXISTS (SELECT 1 FROM practice_orgs o WHERE o.practice_id = p.id"
            f" AND o.org IN ({','.join('?' * len(sub.orgs))}))"
        )
        args += sub.orgs
    if delivered_before:
        sql.append(
            "AND NOT EXISTS (SELECT 1 FROM digest_items i JOIN digests d ON d.id = i.digest_id"
            " WHERE i.practice_id = p.id AND d.subscription_id = ? AND d.status = 'sent')"
        )
        args.append(sub.id)
    sql.append("ORDER BY p.created_at, p.id")
    ids = [row[0] for row in conn.execute(" ".join(sql), args)]
    if sub.query and ids:
        if search is None:
            raise RuntimeError("a saved query needs the search index")
        found = search(conn, sub.query)
        ids = [i for i in ids if i in found]
    return ids


def digest_practice_ids(conn: sqlite3.Connection, digest_id: int) -> list[int]:
    """The practices recorded for a digest, in the order they were ingested."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT i.practice_id FROM digest_items i LEFT JOIN practices p ON p.id = i.practice_id"
            " WHERE i.digest_id = ? ORDER BY p.created_at, i.practice_id",
            (digest_id,),
        )
    ]


def lexical_search(index_factory: Callable[[], object] | None = None) -> QuerySearch:
    """A :data:`QuerySearch` over the search index without embeddings.

    Lexical only on purpose: vector search ranks every practice, so "all hits" would mean "all
    practices"; a saved query should only let through practices that actually contain its terms.
    """

    def run(conn: sqlite3.Connection, q: str) -> set[int]:
        from service.library.search import PracticeIndex, SearchFilters

        index = index_factory() if index_factory else PracticeIndex(None)
        page = index.search(conn, q, SearchFilters(), limit=100_000)
        return {hit.practice_id for hit in page.hits}

    return run
