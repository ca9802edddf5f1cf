"""The service answers its health check through the real HTTP stack."""

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings


def test_health_answers_ok_without_signing_in(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert client.get("/api/documents").status_code == 401
