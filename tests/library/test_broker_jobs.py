"""With a broker, messages only name jobs: a stale or repeated message does nothing, a lost one is sent again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from service.broker.app import INGEST_QUEUE, StrandedJobs, TaskDispatch, make_app
from service.config import Settings
from service.library.jobs import JobQueue, worker_name
from service.library.schema import migrate
from service.library.store import BlobStore, Database
from service.library.uploads import Arrival
from tests.library.conftest import BROKER_DB, SAMPLES

FILES = ["pb-lotjol__03.txt", "pb-lotjol__04.txt", "pb-lotjol__05.txt"]


def make_queue(tmp_path: Path, dispatch=None) -> JobQueue:
    db = Database(tmp_path / "jingyan.sqlite")
    migrate(db.conn())
    return JobQueue(db, BlobStore(tmp_path / "originals"), dispatch)


def submit(queue: JobQueue, name: str) -> str:
    return queue.submit(Arrival(name, (SAMPLES / name).read_bytes()))["id"]


def test_a_message_for_a_job_done_or_held_by_a_live_worker_does_nothing(tmp_path):
    sent: list[str] = []
    queue = make_queue(tmp_path, sent.append)
    held, orphaned, finished = (submit(queue, name) for name in FILES)
    assert sent == [held, orphaned, finished]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        me = worker_name()
        assert queue.claim_next(held, owner=worker_name(live.pid)) is not None
        assert queue.claim_next(orphaned, owner=worker_name(dead.pid)) is not None
        assert queue.take(finished, me)["id"] == finished
        queue.fail(finished, "internal", "测试")
        assert queue.take(finished, me) is None  # failed stays failed until someone retries it
        assert queue.take(held, me) is None  # a live worker's job is never taken from it
        assert queue.get(held)["status"] == "running"
        # The dead worker's job is taken back (and announced again), then claimed by this worker.
        taken = queue.take(orphaned, me)
        assert taken["id"] == orphaned and taken["lease_owner"] == me and taken["interruptions"] == 1
        assert sent[-1] == orphaned
    finally:
        live.kill()
        live.wait()


def test_jobs_whose_messages_the_broker_lost_are_sent_again(tmp_path, broker_url):
    settings = Settings(data_dir=tmp_path, broker_url=broker_url)
    queue = make_queue(tmp_path, TaskDispatch(settings))
    jobs = [submit(queue, name) for name in FILES]
    client = redis.Redis(host="127.0.0.1", port=6379, db=BROKER_DB)
    assert client.llen(INGEST_QUEUE) == len(jobs)
    stranded = StrandedJobs(make_app(settings), queue, min_age_s=0)
    assert stranded() == 0  # the messages are still there

    client.flushdb()  # Redis restarted: it keeps nothing on disk
    assert stranded() == len(jobs)
    assert client.llen(INGEST_QUEUE) == len(jobs)
    assert StrandedJobs(make_app(settings), queue, min_age_s=3600)() == 0  # too recent to call lost
