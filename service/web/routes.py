"""Staff web pages (Simplified Chinese), rendered server-side from the same functions the API uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def mount_pages(app: FastAPI) -> None:
    """Attach the pages and their static files to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with ``context``."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> HTMLResponse:
    """上传: drag-and-drop many files or a .zip; progress per file, then job status."""
    settings = request.app.state.settings
    return render(request, "upload.html", title="上传材料", active="upload", max_file_mb=settings.max_file_mb)
