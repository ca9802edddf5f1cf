"""Ingestion survives ``kill -9`` of the service: after a restart every job ends done, nothing doubled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.config import REPO_ROOT
from tests.library.conftest import SAMPLES
from tests.signin import api_token

FILES = [
    "seed__000_d56bd712dbae6b12.txt",
    "pb-lotjol__03.txt",
    "pb-lotjol__04.txt",
    "hust-partygov-pdf__02.pdf",
    "zhdj-zhongtiao__01.txt",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(
    data: Path, port: int, env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[subprocess.Popen, httpx.Client]:
    """``jingyan serve`` on ``port`` over ``data`` (``env`` added to this environment), once /api/health answers."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"} | (env or {})
    out = open(log, "ab") if log else subprocess.DEVNULL  # the child writes to it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--no-sample-corpus",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=out,
        stderr=out,
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                        headers={"Authorization": f"Bearer {api_token(data)}"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "service exited during start-up"
        try:
            if http.get("/api/health").status_code == 200:
                return proc, http
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("service did not answer /api/health within 120 s")


def test_jobs_resume_after_kill_9(tmp_path):
    data = tmp_path / "data"
    proc, http = start_service(data, free_port())
    try:
        files = [("files", (name, (SAMPLES / name).read_bytes())) for name in FILES]
        jobs = http.post("/api/documents", files=files).json()["jobs"]
        assert len(jobs) == len(FILES)
        # Kill while the worker is in the middle of the batch.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = http.get("/api/jobs").json()["counts"]
            if counts["running"] and counts["done"] >= 1:
                break
            time.sleep(0.05)
        assert counts["queued"] + counts["running"] > 0, counts
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        http.close()

    proc, http = start_service(data, free_port())
    try:
        deadline = time.monotonic() + 300
        while True:
            listed = http.get("/api/jobs").json()
            if listed["counts"]["queued"] == listed["counts"]["running"] == 0:
                break
            assert time.monotonic() < deadline, listed["counts"]
            time.sleep(0.3)
        statuses = {j["filename"]: j["status"] for j in listed["jobs"]}
        assert statuses == dict.fromkeys(FILES, "done")
        docs = http.get("/api/documents", params={"limit": 50}).json()
        assert docs["total"] == len(FILES)
        assert all(
            d["practice_count"] == len(http.get(f"/api/documents/{d['id']}").json()["practices"])
            for d in docs["documents"]
        )
        assert len({j["document_id"] for j in listed["jobs"]}) == len(FILES)
    finally:
        proc.terminate()
        proc.wait(60)
        http.close()
