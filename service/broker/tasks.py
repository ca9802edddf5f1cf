"""What a Celery worker process runs: ingest and digest tasks over one library opened once.

The tasks call the same functions as the embedded default: a job is claimed in the ``jobs`` table
and run by :func:`~service.library.jobs.run_one` with the handler the ``jingyan serve`` child uses;
a digest tick is :func:`~service.digest.runner.run_due`, whose claims in the ``digests`` table send
each digest once however many workers receive the tick.
"""

from __future__ import annotations

import logging

from celery import Celery

from service.broker.app import DIGEST_TASK, INGEST_TASK, StrandedJobs
from service.config import Settings
from service.digest.runner import RunReport, run_due, runner_for
from service.library.jobs import LeaseKeeper, run_one, worker_name
from service.library.worker_process import ingest_handler, open_worker_library

log = logging.getLogger(__name__)


class WorkerRuntime:
    """One per worker process: the library with its model loaded once, and the lease keeper of its jobs."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.library = open_worker_library(settings)
        self.run_job = ingest_handler(self.library)
        self.owner = worker_name()
        self.leases = LeaseKeeper(self.library.queue, self.owner, sweep=StrandedJobs(app, self.library.queue))
        self.digests = runner_for(settings)

    def start(self) -> None:
        """Start renewing leases. Jobs of workers that died are queued again now and every 15 s, and
        jobs whose message the broker lost are sent again every 15 s."""
        self.leases.start()

    def stop(self) -> None:
        self.leases.stop()
        self.library.db.close()

    def ingest(self, job_id: str) -> str:
        """Run job ``job_id`` if it is still to be done; ``"skipped"`` when it is done, failed or a live worker's."""
        job = self.library.queue.take(job_id, self.owner)
        if job is None:
            log.info("job %s: nothing to do (already done or held by a live worker)", job_id)
            return "skipped"
        run_one(self.library.queue, self.run_job, job)
        return "ran"

    def send_due_digests(self) -> RunReport:
        return run_due(self.digests)


def install(app: Celery, runtime: WorkerRuntime) -> None:
    """Register the tasks on ``app``, each running on ``runtime``."""

    @app.task(name=INGEST_TASK, acks_late=True, reject_on_worker_lost=True)
    def ingest(job_id: str) -> str:
        return runtime.ingest(job_id)

    @app.task(name=DIGEST_TASK, acks_late=True, reject_on_worker_lost=True)
    def digests() -> dict:
        return runtime.send_due_digests().to_dict()
