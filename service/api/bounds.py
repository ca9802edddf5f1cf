"""Bounds on what a request may carry, and Chinese answers when it carries more.

Every id, offset, year and page a route reads is typed with one of the annotations here, so a
number SQLite cannot hold (above 2^63) is a 422 before any handler runs. JSON bodies are capped
in size and nesting depth by :class:`JsonBodyGuard`, and validation errors are answered in
Chinese, naming the field, for pages and API clients alike.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# SQLite INTEGER is a signed 64-bit value.
MAX_INT = 2**63 - 1
# No list in the library is that long; beyond it an offset is a mistake, not a page.
MAX_OFFSET = 10**9
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32

RowId = Annotated[int, Path(ge=1, le=MAX_INT)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_INT)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Year = Annotated[int | None, Query(ge=1, le=9999)]
# A search is a phrase, a filter a unit's or a tag's name; nothing longer is ever meant.
MAX_QUERY_CHARS = 200
MAX_FILTER_CHARS = 100
QueryText = Annotated[str, Query(max_length=MAX_QUERY_CHARS)]
FilterText = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]

FIELD_LABELS = {
    "document_id": "文档编号",
    "practice_id": "经验做法编号",
    "group_id": "做法组编号",
    "subscription_id": "订阅编号",
    "job_id": "任务编号",
    "group": "做法组编号",
    "offset": "起始位置",
    "limit": "条数",
    "year": "年份",
    "page": "页码",
    "q": "检索词",
    "files": "上传文件",
    "format": "导出格式",
    "status": "状态",
    "kind": "类型",
    "topic": "主题",
    "tag": "标签",
    "org": "单位",
    "doc_kind": "材料类别",
    "email": "邮箱",
    "ids": "经验做法编号",
    "token": "退订链接",
    "force": "是否全部发送",
    "dry_run": "是否仅预览",
    "same_document": "是否包括同一文档",
    "practice_limit": "经验做法条数",
    "practice_offset": "经验做法起始位置",
}


def field_label(name: str) -> str:
    """``年份（year）`` for a known field, the name itself otherwise."""
    label = FIELD_LABELS.get(name)
    return f"{label}（{name}）" if label else name


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return "缺少此项，请填写"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数"
    if kind in ("bool_parsing", "bool_type"):
        return "应为 true 或 false"
    if kind in ("less_than_equal", "less_than"):
        return f"不能大于 {ctx.get('le', ctx.get('lt'))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"不能小于 {ctx.get('ge', ctx.get('gt'))}"
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字符"
    if kind == "string_pattern_mismatch":
        return "取值不在允许范围内"
    if kind in ("json_invalid", "json_type"):
        return "不是有效的 JSON"
    return "取值无效"


def validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    """One Chinese sentence for the whole error and one entry per field."""
    fields = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body", "header", "cookie")]
        name = loc[-1] if loc else "请求内容"
        fields.append({"field": name, "message": f"{field_label(name)}{_message(error)}"})
    if not fields:
        return "请求参数不正确，请检查后重试", []
    return "请求参数不正确：" + "；".join(f["message"] for f in fields), fields


async def api_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with ``detail`` (a Chinese sentence) and ``errors`` (field and message each)."""
    detail, fields = validation_detail(exc)
    return JSONResponse({"detail": detail, "errors": fields}, status_code=422)


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when arrays and objects in ``raw`` nest deeper than ``limit`` (strings are skipped)."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class JsonBodyGuard:
    """Refuses a request body that is not a form or an upload when it is too big or nests too deep.

    Python's JSON parser recurses once per level: 100,000 ``[`` would end in a RecursionError
    (a 500) inside whichever route parses it. Checking here covers every route at once.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, 413, f"请求内容过大，最多 {self.max_bytes // 1024} KB")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.max_depth):
            await _refuse(send, 400, f"请求内容的嵌套层数过多（最多 {self.max_depth} 层），请检查 JSON 格式")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
