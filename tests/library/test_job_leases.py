"""Two workers on one queue: a worker starting never takes a live worker's job, only a dead one's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from service.library.jobs import LEASE_S, JobQueue, worker_name
from service.library.schema import migrate
from service.library.store import BlobStore, Database
from service.library.uploads import Arrival

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"


def make_queue(tmp_path: Path) -> JobQueue:
    db = Database(tmp_path / "jingyan.sqlite")
    migrate(db.conn())
    return JobQueue(db, BlobStore(tmp_path / "originals"))


def submit(queue: JobQueue, name: str) -> str:
    return queue.submit(Arrival(name, (SAMPLES / name).read_bytes()))["id"]


def test_a_live_workers_job_is_left_alone_and_a_dead_workers_job_is_queued_again(tmp_path):
    queue = make_queue(tmp_path)
    first = submit(queue, "pb-lotjol__03.txt")
    second = submit(queue, "pb-lotjol__04.txt")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        assert queue.claim_next(owner=worker_name(live.pid))["id"] == first
        assert queue.claim_next(owner=worker_name(dead.pid))["id"] == second
        # A second worker process starts: it takes back only what the dead one held.
        assert queue.resume_interrupted() == 1
        assert queue.get(first)["status"] == "running"
        assert queue.get(second)["status"] == "queued"
        # The live worker stops renewing its lease (hung): once the lease runs out, its job is taken back.
        assert queue.resume_interrupted(now=time.time() + LEASE_S + 1) == 1
        assert queue.get(first)["status"] == "queued"
    finally:
        live.kill()
        live.wait()


def test_renewing_keeps_a_lease_and_a_known_death_releases_at_once(tmp_path):
    queue = make_queue(tmp_path)
    job = submit(queue, "pb-lotjol__03.txt")
    owner = worker_name()
    queue.claim_next(owner=owner)
    assert queue.renew(owner) == 1
    assert queue.resume_interrupted(now=time.time() + LEASE_S / 2) == 0
    assert queue.get(job)["status"] == "running"
    assert queue.release("another-host:1") == 0
    assert queue.release(owner) == 1
    assert queue.get(job)["status"] == "queued"


def test_small_lane_skips_a_big_file_queued_before_it(tmp_path):
    queue = make_queue(tmp_path)
    big = queue.submit(Arrival("big.txt", "学习制度落实情况。".encode() * 200_000))["id"]
    small = submit(queue, "pb-lotjol__03.txt")
    assert queue.claim_next(max_size=512 * 1024)["id"] == small
    assert queue.claim_next()["id"] == big
