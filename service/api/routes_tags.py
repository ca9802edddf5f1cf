"""Tags on practices: the ten topics, the finer tags mining adds, and tags staff add or remove.

Removing an automatic tag only marks it ``removed = 1`` so a re-run of mining cannot bring it back
unnoticed; a staff tag is simply deleted. Search and subscriptions read tags with ``removed = 0``.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request

from service.api.bounds import RowId
from service.api.deps import ConnDep
from service.auth.guard import CLERK, STAFF, record
from service.digest.subscriptions import CONTROL_RE
from service.library.store import transaction
from service.mining.practice import TOPICS

router = APIRouter(prefix="/api", tags=["tags"], dependencies=[STAFF])

MAX_TAG_CHARS = 20


def _require_practice(conn: sqlite3.Connection, practice_id: int) -> None:
    if conn.execute("SELECT 1 FROM practices WHERE id = ?", (practice_id,)).fetchone() is None:
        raise HTTPException(404, "未找到该经验做法，可能所在文档已被删除")


def _tags(conn: sqlite3.Connection, practice_id: int) -> list[dict[str, Any]]:
    return [
        {"tag": r["tag"], "source": r["source"]}
        for r in conn.execute(
            "SELECT tag, source FROM practice_tags WHERE practice_id = ? AND removed = 0 ORDER BY rowid",
            (practice_id,),
        )
    ]


@router.get("/tags")
def list_tags(conn: ConnDep) -> dict[str, Any]:
    """Every topic and every tag in use, with how many practices carry it."""
    topic_counts = dict(conn.execute("SELECT topic, COUNT(*) FROM practices GROUP BY topic").fetchall())
    tags = [
        {"tag": r["tag"], "count": r["n"], "auto": r["auto"], "staff": r["staff"]}
        for r in conn.execute(
            "SELECT tag, COUNT(*) AS n, SUM(source = 'auto') AS auto, SUM(source = 'staff') AS staff"
            " FROM practice_tags WHERE removed = 0 GROUP BY tag ORDER BY n DESC, tag"
        )
    ]
    return {
        "topics": [{"topic": t, "count": topic_counts.get(t, 0)} for t in TOPICS],
        "tags": tags,
    }


@router.get("/practices/{practice_id}/tags")
def practice_tags(practice_id: RowId, conn: ConnDep) -> dict[str, Any]:
    """The tags a practice carries now."""
    _require_practice(conn, practice_id)
    return {"practice_id": practice_id, "tags": _tags(conn, practice_id)}


@router.post("/practices/{practice_id}/tags", status_code=201, dependencies=[CLERK])
def add_tag_route(
    practice_id: RowId, conn: ConnDep, request: Request, payload: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    """Add a staff tag (or bring back an automatic tag that was removed)."""
    result = add_tag(practice_id, conn, payload)
    record(request, "tag", f"practice {practice_id}", f"添加：{payload.get('tag', '').strip()}")
    return result


def add_tag(practice_id: int, conn: sqlite3.Connection, payload: Any) -> dict[str, Any]:
    """Add a staff tag (or bring back an automatic tag that was removed); HTTPException on bad input."""
    tag = payload.get("tag") if isinstance(payload, dict) else None
    if not isinstance(tag, str) or not tag.strip():
        raise HTTPException(422, "请提供标签文字，例如 {\"tag\": \"学习制度\"}")
    tag = tag.strip()
    if len(tag) > MAX_TAG_CHARS:
        raise HTTPException(422, f"标签不能超过 {MAX_TAG_CHARS} 个字")
    if CONTROL_RE.search(tag):
        raise HTTPException(422, "标签中含有控制字符（如 NUL、换行），请删去后再提交")
    with transaction(conn):
        _require_practice(conn, practice_id)
        row = conn.execute(
            "SELECT removed FROM practice_tags WHERE practice_id = ? AND tag = ?", (practice_id, tag)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO practice_tags(practice_id, tag, source, removed) VALUES (?, ?, 'staff', 0)",
                (practice_id, tag),
            )
        elif row["removed"]:
            conn.execute(
                "UPDATE practice_tags SET removed = 0 WHERE practice_id = ? AND tag = ?", (practice_id, tag)
            )
    return {"practice_id": practice_id, "tags": _tags(conn, practice_id)}


@router.delete("/practices/{practice_id}/tags/{tag}", dependencies=[CLERK])
def remove_tag_route(practice_id: RowId, tag: str, conn: ConnDep, request: Request) -> dict[str, Any]:
    """Remove a tag: automatic ones are marked removed, staff ones deleted."""
    result = remove_tag(practice_id, tag, conn)
    record(request, "tag", f"practice {practice_id}", f"删除：{tag}")
    return result


def remove_tag(practice_id: int, tag: str, conn: sqlite3.Connection) -> dict[str, Any]:
    """Remove a tag; HTTPException when the practice does not carry it."""
    with transaction(conn):
        _require_practice(conn, practice_id)
        row = conn.execute(
            "SELECT source, removed FROM practice_tags WHERE practice_id = ? AND tag = ?", (practice_id, tag)
        ).fetchone()
        if row is None or row["removed"]:
            raise HTTPException(404, f"该经验做法没有标签“{tag}”")
        if row["source"] == "auto":
            conn.execute("UPDATE practice_tags SET removed = 1 WHERE practice_id = ? AND tag = ?", (practice_id, tag))
        else:
            conn.execute("DELETE FROM practice_tags WHERE practice_id = ? AND tag = ?", (practice_id, tag))
    return {"practice_id": practice_id, "tags": _tags(conn, practice_id)}
