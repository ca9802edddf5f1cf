"""Under ``jingyan serve`` ingestion runs in a supervised child process: searches keep answering while
files are ingested, a killed worker is replaced without losing a job, and a huge file does not hold
up a small one sent after it."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx

from service.mining.practice import TOPICS
from tests.library.conftest import SAMPLES
from tests.library.test_kill_resume import free_port, start_service

QUERIES = ("学习制度", "党支部", "志愿服务", "基层治理", "作风建设", "主题党日")
FILES = ["pb-lotjol__03.txt", "pb-lotjol__04.txt", "zhdj-zhongtiao__01.txt", "hust-partygov-pdf__02.pdf",
         "pb-lotjol__06.txt", "gwr-national__01.txt"]


def wait_jobs_done(http: httpx.Client, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        listed = http.get("/api/jobs", params={"limit": 200}).json()
        if listed["counts"]["queued"] == listed["counts"]["running"] == 0:
            return listed
        assert time.monotonic() < deadline, listed["counts"]
        time.sleep(0.3)


def stop_service(proc, http: httpx.Client) -> None:
    proc.terminate()
    proc.wait(60)
    http.close()


def test_searches_answer_while_ingesting_and_a_killed_worker_loses_no_job(tmp_path):
    proc, http = start_service(tmp_path / "data", free_port())
    stop = threading.Event()
    answers: list[int] = []
    failures: list[str] = []

    def search_at_rate() -> None:
        # ~10 searches a second, a third of them filtered by topic, each on its own connection
        with httpx.Client(base_url=http.base_url, timeout=30, headers=http.headers) as client:
            n = 0
            while not stop.is_set():
                params = {"q": QUERIES[n % len(QUERIES)]}
                if n % 3 == 0:
                    params["topic"] = TOPICS[n % len(TOPICS)]
                try:
                    r = client.get("/api/search", params=params)
                    answers.append(r.status_code)
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                n += 1
                time.sleep(0.1)

    searcher = threading.Thread(target=search_at_rate)
    try:
        started = time.monotonic()
        searcher.start()
        files = [("files", (name, (SAMPLES / name).read_bytes())) for name in FILES]
        assert http.post("/api/documents", files=files).status_code == 202
        # Kill the worker process outright once it has finished a file and holds another.
        worker = http.get("/api/health").json()["worker"]
        assert worker["mode"] == "process" and worker["pid"] != proc.pid
        deadline = time.monotonic() + 240
        while True:
            counts = http.get("/api/jobs").json()["counts"]
            if counts["done"] >= 1 and counts["running"] >= 1:
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.05)
        os.kill(worker["pid"], signal.SIGKILL)
        listed = wait_jobs_done(http, 300)
        while time.monotonic() - started < 20:
            time.sleep(0.5)
        stop.set()
        searcher.join(60)
        health = http.get("/api/health").json()["worker"]
        assert health["restarts"] == 1 and health["pid"] not in (None, worker["pid"])
        assert {j["filename"]: j["status"] for j in listed["jobs"]} == dict.fromkeys(FILES, "done")
        assert not failures, failures[:5]
        assert len(answers) >= 100
        # What the worker wrote is searchable from the web process.
        docs = http.get("/api/documents", params={"limit": 50}).json()
        assert docs["total"] == len(FILES)
        found = http.get("/api/search", params={"q": "政府工作报告 经济"}).json()
        assert found["total"] > 0
    finally:
        stop.set()
        stop_service(proc, http)


def test_a_small_file_sent_after_a_huge_one_is_done_within_ten_seconds(tmp_path):
    proc, http = start_service(tmp_path / "data", free_port())
    try:
        # The worker process is up once a first file went through.
        warm = ("files", ("pb-lotjol__12.txt", (SAMPLES / "pb-lotjol__12.txt").read_bytes()))
        http.post("/api/documents", files=[warm])
        wait_jobs_done(http, 180)

        report = (SAMPLES / "gwr-national__01.txt").read_text(encoding="utf-8")
        parts, size, n = [], 0, 0
        while size + len(report) < 1_950_000:
            n += 1
            parts.append(f"第{n}部分\n{report}")
            size += len(parts[-1]) + 1
        huge = "\n".join(parts)
        assert 1_800_000 < len(huge) < 2_000_000
        big = http.post("/api/documents", files=[("files", ("huge.txt", huge.encode("utf-8")))]).json()["jobs"][0]
        deadline = time.monotonic() + 60
        while http.get(f"/api/jobs/{big['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(3)

        small_name = "pb-lotjol__09.txt"
        sent = time.monotonic()
        small = http.post(
            "/api/documents", files=[("files", (small_name, (SAMPLES / small_name).read_bytes()))]
        ).json()["jobs"][0]
        while (job := http.get(f"/api/jobs/{small['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() - sent < 10, job
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert http.get(f"/api/jobs/{big['id']}").json()["status"] == "running"  # still busy with the huge one
    finally:
        stop_service(proc, http)


def test_the_worker_child_wakes_when_the_web_process_writes_to_its_pipe(monkeypatch):
    """A queued job reaches the child through a pipe, read by a thread of its own: bytes written
    before the child listens (while its models load) are not lost."""
    from service.library.worker_process import WAKE_FD_ENV, _listen_for_wakeups

    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"\0")  # written before anyone listens
        monkeypatch.setenv(WAKE_FD_ENV, str(read_end))
        changed = threading.Event()
        _listen_for_wakeups(changed)
        assert changed.wait(5), "a wake-up written before the listener started was lost"
        changed.clear()
        os.write(write_end, b"\0")
        assert changed.wait(5), "the listener did not pass the wake-up on"
    finally:
        os.close(write_end)  # the listener ends at end of file
