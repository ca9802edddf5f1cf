"""Signing test clients in the way people do: an account made with the accounts module, then the login API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.auth import accounts

PASSWORD = "jingyan-test-password"


def add_user(client: TestClient, name: str, role: str, email: str | None = None) -> accounts.User:
    """Create (or reuse) the account ``name`` in the client's own library."""
    conn = client.app.state.library.db.conn()
    return accounts.find_user(conn, name) or accounts.add_user(conn, name, role, PASSWORD, email)


def sign_in(client: TestClient, role: str = "admin", name: str | None = None, email: str | None = None) -> TestClient:
    """Sign ``client`` in as a user of ``role`` through ``POST /api/auth/login``; the session cookie stays on it."""
    user = add_user(client, name or f"test-{role}", role, email)
    response = client.post("/api/auth/login", json={"username": user.name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def api_token(data_dir: Path, role: str = "clerk", name: str = "tester") -> str:
    """A new API token of account ``name`` in the library at ``data_dir`` (made if missing), as
    ``jingyan users add`` and ``jingyan tokens create`` would; for services started as a subprocess."""
    from service.auth import schema as auth_schema
    from service.config import Settings
    from service.library.db import connect
    from service.library.library import database_path

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    conn = connect(database_path(Settings(data_dir=Path(data_dir))))
    try:
        auth_schema.migrate(conn)
        if accounts.find_user(conn, name) is None:
            accounts.add_user(conn, name, role, PASSWORD)
        return accounts.create_token(conn, name)
    finally:
        conn.close()
