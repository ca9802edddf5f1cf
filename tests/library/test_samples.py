"""On its first start an empty library queues the sample corpus, once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from tests.library.conftest import SAMPLES
from tests.signin import sign_in


def test_first_start_queues_the_samples_once(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data", load_sample_corpus=True)
    expected = {p.name for p in SAMPLES.iterdir() if not p.name.startswith("gwr-national__")}
    with TestClient(create_app(settings, embedder=embedder)) as client:
        sign_in(client, "staff")
        jobs = client.get("/api/jobs", params={"limit": 500}).json()
        assert {j["filename"] for j in jobs["jobs"]} == expected
        assert jobs["total"] == len(expected)
        health = client.get("/api/health").json()
        assert health["semantic_search"] is True
        assert sum(health["jobs"].values()) == len(expected)

    with TestClient(create_app(settings, embedder=embedder)) as client:
        sign_in(client, "staff")
        assert client.get("/api/jobs").json()["total"] == len(expected)
