"""Request checks that run before any route: cross-origin writes and API bodies that are not JSON.

A page on another site can make a signed-in browser post a form (``application/x-www-form-urlencoded``,
``multipart/form-data`` or ``text/plain``) but cannot send ``application/json`` without the browser
asking this server first, and browsers name the page's origin on every cross-origin post. So every
write whose ``Origin`` (or, lacking one, ``Referer``) is another origin is refused, and ``/api/…``
writes must carry JSON (or the multipart upload). Page forms carry a token too (see guard.csrf_ok).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# API routes reading a multipart body rather than JSON.
MULTIPART_API = {"/api/documents"}


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class RequestGuard:
    """Refuses cross-origin writes (403) and non-JSON API bodies (415), in Chinese."""

    def __init__(self, app: ASGIApp, base_url: str = "") -> None:
        self.app = app
        self.trusted = {o for o in (_origin(base_url),) if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        own = {f"http://{host}".lower(), f"https://{host}".lower(), *self.trusted}
        claimed = headers.get("origin")
        if claimed is None and headers.get("referer"):
            claimed = _origin(headers["referer"]) or "null"
        if claimed is not None and claimed.lower().rstrip("/") not in own:
            await _refuse(send, 403, "拒绝跨站提交：请求来自其他网站（Origin/Referer 与本站不符）")
            return
        path = scope.get("path", "")
        if path.startswith("/api/"):
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
            allowed = content_type == "application/json" or (
                content_type == "multipart/form-data" and path in MULTIPART_API
            )
            if has_body and not allowed:
                await _refuse(send, 415, "请求内容类型应为 application/json（上传文件用 multipart/form-data）")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"),
                        (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
