"""A file that keeps bringing the service down is failed after a few restarts, not retried forever."""

import subprocess
from pathlib import Path

from service.library.jobs import MAX_INTERRUPTIONS, JobQueue, worker_name
from service.library.schema import migrate
from service.library.store import BlobStore, Database
from service.library.uploads import Arrival

SEED = Path(__file__).resolve().parents[2] / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"


def dead_worker() -> str:
    """The lease name of a worker process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return worker_name(proc.pid)


def test_job_interrupted_again_and_again_is_failed_with_a_reason_and_can_be_retried(tmp_path):
    db = Database(tmp_path / "jingyan.sqlite")
    migrate(db.conn())
    queue = JobQueue(db, BlobStore(tmp_path / "originals"))
    job = queue.submit(Arrival(SEED.name, SEED.read_bytes()))
    for restart in range(1, MAX_INTERRUPTIONS + 1):
        # the worker takes it, then it is killed
        assert queue.claim_next(owner=dead_worker())["id"] == job["id"]
        queue.resume_interrupted()  # the next start
        status = queue.get(job["id"])["status"]
        assert status == ("failed" if restart == MAX_INTERRUPTIONS else "queued")
    failed = queue.get(job["id"])
    assert failed["error_code"] == "interrupted" and "中断" in failed["error"]
    assert queue.claim_next() is None  # nothing left to loop on
    assert queue.retry(job["id"])["status"] == "queued"  # a clerk may still try again by hand
    assert queue.claim_next(owner=dead_worker())["id"] == job["id"]
    queue.resume_interrupted()
    assert queue.get(job["id"])["status"] == "queued"  # the count started again
