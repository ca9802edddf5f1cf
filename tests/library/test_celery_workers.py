"""Scaled deployment: web, two Celery workers and beat on Redis; a worker killed mid-job loses nothing.

Real processes throughout: ``jingyan serve``, two ``jingyan worker`` and ``jingyan beat`` on a
dedicated Redis database (only that database is flushed), SQLite in a temporary data directory
and an SMTP server on loopback.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from service.config import REPO_ROOT
from service.digest import subscriptions as subs
from service.library.db import connect
from tests.digest.servers import MailServer
from tests.library.conftest import SAMPLES
from tests.library.test_kill_resume import free_port, start_service

TICK_S = 3.0
LONG_REPORT = "gwr-national__03.txt"  # a long report: the job a worker is killed in the middle of
PARTY_TEXTS = sorted(
    p for p in SAMPLES.glob("*.txt") if p.name.startswith(("pb-", "hust-", "zhdj-", "seed__"))
)


def short_documents(count: int) -> list[tuple[str, bytes]]:
    """``count`` short TXT documents, each a title and a few consecutive paragraphs of a sample."""
    out: list[tuple[str, bytes]] = []
    for path in PARTY_TEXTS:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        title, body = lines[0], lines[1:]
        part, chunk = 1, []
        for line in body:
            chunk.append(line)
            if sum(len(x) for x in chunk) >= 400:
                text = f"{title}（之{part}）\n\n" + "\n".join(chunk) + "\n"
                out.append((f"{path.stem}-{part}.txt", text.encode("utf-8")))
                part, chunk = part + 1, []
                if len(out) == count:
                    return out
    raise AssertionError(f"the samples give only {len(out)} short documents")


def spawn(command: str, data: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # the child writes to it
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", command, "--data", str(data)],
        cwd=REPO_ROOT,
        env=os.environ | env,
        stdout=out,
        stderr=out,
    )


def wait_for(what: str, check, timeout_s: float, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def subscribe_next_slot(db_path: Path, email: str) -> datetime:
    """A daily e-mail digest whose send time is the first whole minute 40 to 100 s from now."""
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC)
    slot = (now + timedelta(seconds=100)).replace(second=0, microsecond=0)
    if slot - now > timedelta(seconds=100):
        slot -= timedelta(minutes=1)
    conn = connect(db_path)
    try:
        subs.create(conn, {"email": email, "frequency": "daily", "send_at": slot.astimezone(tz).strftime("%H:%M")}, now)
    finally:
        conn.close()
    return slot


def test_two_workers_and_beat_survive_a_killed_worker(tmp_path, broker_url):
    data = tmp_path / "data"
    mail = MailServer()
    mail.start()
    env = {
        "JINGYAN_BROKER_URL": broker_url,
        "JINGYAN_DATA_DIR": str(data),
        "JINGYAN_SMTP_HOST": "127.0.0.1",
        "JINGYAN_SMTP_PORT": str(mail.port),
        "JINGYAN_DIGEST_TICK_S": str(TICK_S),
        "JINGYAN_SAMPLE_CORPUS": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker-a", "worker-b", "beat")}
    procs: dict[str, subprocess.Popen] = {}
    http = None
    try:
        web, http = start_service(data, free_port(), env=env, log=logs["web"])
        procs["web"] = web
        assert http.get("/api/health").json()["worker"]["mode"] == "celery"
        for name in ("worker-a", "worker-b"):
            procs[name] = spawn("worker", data, env, logs[name])
        procs["beat"] = spawn("beat", data, env, logs["beat"])
        db_path = data / "jingyan.sqlite"
        slot = subscribe_next_slot(db_path, "leader@unit.test")
        for name in ("worker-a", "worker-b"):
            wait_for(f"{name} ready", lambda n=name: "ready." in logs[n].read_text(errors="replace"), 120)

        shorts = short_documents(48)
        # 50 uploads: the long report first, 48 short documents, and one of them a second time.
        uploads = [(LONG_REPORT, (SAMPLES / LONG_REPORT).read_bytes()), *shorts, shorts[0]]
        jobs = []
        for i in range(0, len(uploads), 10):
            files = [("files", (name, body)) for name, body in uploads[i : i + 10]]
            jobs += http.post("/api/documents", files=files).json()["jobs"]
        assert len(jobs) == 50

        # Kill -9 the worker holding a job while that job is still being parsed or mined.
        workers = {f":{procs[n].pid}": n for n in ("worker-a", "worker-b")}

        def running_in_a_worker():
            conn = sqlite3.connect(db_path)
            try:
                rows = conn.execute(
                    "SELECT id, lease_owner FROM jobs WHERE status='running' AND stage IN ('parsing', 'mining')"
                    " ORDER BY size DESC"
                ).fetchall()
            finally:
                conn.close()
            for job_id, owner in rows:
                for suffix, name in workers.items():
                    if owner and owner.endswith(suffix):
                        return job_id, name
            return None

        killed_job, victim = wait_for("a job in the middle of its work", running_in_a_worker, 60, poll_s=0.05)
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        conn = sqlite3.connect(db_path)
        try:
            status, owner = conn.execute("SELECT status, lease_owner FROM jobs WHERE id=?", (killed_job,)).fetchone()
        finally:
            conn.close()
        assert (status, owner.rsplit(":", 1)[1]) == ("running", str(procs[victim].pid)), "killed after the job ended"

        def all_settled():
            listed = http.get("/api/jobs", params={"limit": 100}).json()
            return listed if listed["counts"]["queued"] == listed["counts"]["running"] == 0 else None

        listed = wait_for("every job to finish", all_settled, 150, poll_s=0.5)
        by_id = {j["id"]: j for j in listed["jobs"]}
        assert len(by_id) == 50
        assert all(j["status"] == "done" or (j["status"] == "failed" and j["error"]) for j in by_id.values())
        assert by_id[killed_job]["status"] == "done", by_id[killed_job]
        # The repeated upload is linked to the document its bytes made, not stored again.
        assert by_id[jobs[-1]["id"]]["duplicate"] == "exact"
        assert by_id[jobs[-1]["id"]]["document_id"] == by_id[jobs[1]["id"]]["document_id"]
        conn = sqlite3.connect(db_path)
        try:
            documents = conn.execute("SELECT COUNT(*), COUNT(DISTINCT sha256) FROM documents").fetchone()
            done = conn.execute("SELECT COUNT(DISTINCT sha256) FROM jobs WHERE status='done'").fetchone()[0]
        finally:
            conn.close()
        assert documents == (done, done) == (49, 49)

        # The digest due during the run goes out once, however many ticks both workers received.
        wait_for("the digest e-mail", lambda: mail.messages, max(0.0, (slot - datetime.now(UTC)).total_seconds()) + 60)
        time.sleep(4 * TICK_S)
        assert len(mail.messages) == 1
        assert mail.messages[0]["To"] == "leader@unit.test"
        conn = sqlite3.connect(db_path)
        try:
            assert conn.execute("SELECT status FROM digests").fetchall() == [("sent",)]
        finally:
            conn.close()

        # Each worker loaded its model once, not once per task.
        survivor = next(n for n in ("worker-a", "worker-b") if n != victim)
        assert logs[survivor].read_text(errors="replace").count("model loaded") == 1
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if http is not None:
            http.close()
        mail.stop()
