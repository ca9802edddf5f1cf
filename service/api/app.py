"""The FastAPI application: REST API under /api, pages under /."""

from __future__ import annotations

from fastapi import FastAPI

from service import __version__
from service.config import Settings
from service.web.routes import mount_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (environment defaults when omitted)."""
    settings = settings or Settings.from_env()
    app = FastAPI(title="经验库 Jingyan", version=__version__)
    app.state.settings = settings

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    mount_pages(app)  # staff pages and their static files (service/web)
    return app
