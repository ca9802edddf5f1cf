"""Fixtures for the library stories: the real embedding model (loaded once) and a running app."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import REPO_ROOT, Settings
from tests.signin import sign_in

SAMPLES = REPO_ROOT / "corpus" / "samples"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"


@pytest.fixture(scope="session")
def embedder():
    """The service's e5-small encoder (int8 ONNX), built by ``python -m models.build``; loaded once per session."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from service.mining.embed import load_encoder

    settings = Settings()
    assert settings.onnx_model_dir.is_dir(), f"encoder missing at {settings.onnx_model_dir}: run `python -m models.build`"
    return load_encoder(settings)


@pytest.fixture
def client(tmp_path: Path, embedder) -> Iterator[TestClient]:
    """The whole service over HTTP on a fresh data directory, without the sample corpus."""
    from service.api.app import create_app

    settings = Settings(data_dir=tmp_path / "data", load_sample_corpus=False)
    with TestClient(create_app(settings, embedder=embedder)) as c:
        yield sign_in(c, "admin")


def upload(client: TestClient, *files: tuple[str, bytes]) -> list[dict]:
    """POST files to /api/documents and return their jobs."""
    response = client.post("/api/documents", files=[("files", (name, data)) for name, data in files])
    assert response.status_code == 202, response.text
    return response.json()["jobs"]


def wait_for(client: TestClient, job_ids: list[str], timeout: float = 180.0) -> list[dict]:
    """Poll /api/jobs/{id} until every job is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [client.get(f"/api/jobs/{i}").json() for i in job_ids]
        if all(j["status"] in ("done", "failed") for j in jobs):
            return jobs
        assert time.monotonic() < deadline, f"jobs still pending: {jobs}"
        time.sleep(0.2)


def ingest(client: TestClient, *files: tuple[str, bytes]) -> list[dict]:
    """Upload and wait for the outcome."""
    return wait_for(client, [j["id"] for j in upload(client, *files)])


BROKER_DB = 13  # the tests' own database on the shared Redis; only it is ever flushed


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A Redis URL for Celery on a database of its own, empty before and after the test."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=BROKER_DB)
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{BROKER_DB}"
    client.flushdb()
    client.close()
