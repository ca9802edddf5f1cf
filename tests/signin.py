"""Signing test clients in the way people do: an account made with the accounts module, then the login API."""

from __future__ import annotations

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
