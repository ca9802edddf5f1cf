"""The Celery application of a scaled deployment: Redis broker, two queues, late acknowledgement.

The ``jobs`` and ``digests`` tables stay the truth; a message only names a job (or says "look for
due digests") and a worker claims the row before doing anything. So a message delivered twice, or
after the job was taken over by another worker, does nothing, and losing a message loses no work:
the job stays queued and the web process sends it again when it starts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from celery import Celery

from service.config import Settings, StartRefused
from service.library.jobs import JobQueue
from service.library.library import redact

log = logging.getLogger(__name__)

INGEST_TASK = "jingyan.ingest"
DIGEST_TASK = "jingyan.digests"
INGEST_QUEUE = "jingyan.ingest"
DIGEST_QUEUE = "jingyan.digest"
# A message not acknowledged within this time is delivered again. Jobs are claimed in the database,
# so a second delivery of a job a live worker is still running does nothing; a dead worker's job is
# taken over within seconds by the lease sweep of the workers still alive, not by this timeout.
VISIBILITY_TIMEOUT_S = 1800
BROKER_SCHEMES = ("redis", "rediss")


class BrokerUnavailable(StartRefused):
    """The configured broker cannot be used: start-up stops with this message."""


def make_app(settings: Settings) -> Celery:
    """The Celery application for ``settings.broker_url``; raises :class:`BrokerUnavailable` for other schemes."""
    url = settings.broker_url.strip()
    if urlsplit(url).scheme not in BROKER_SCHEMES:
        raise BrokerUnavailable(
            f"无法使用 JINGYAN_BROKER_URL={redact(url)}：只支持 Redis（redis://主机:端口/库号）。"
        )
    app = Celery("jingyan", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a busy worker holds no second job another worker could run
        task_default_queue=INGEST_QUEUE,
        task_routes={INGEST_TASK: {"queue": INGEST_QUEUE}, DIGEST_TASK: {"queue": DIGEST_QUEUE}},
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        enable_utc=True,
        beat_schedule={
            "digests": {
                "task": DIGEST_TASK,
                "schedule": settings.digest_tick_s,
                # A tick nobody ran in time is dropped: the next one finds the same due digests.
                "options": {"queue": DIGEST_QUEUE, "expires": settings.digest_tick_s},
            }
        },
    )
    return app


def check_broker(app: Celery, timeout_s: float = 5.0) -> None:
    """Connect once; :class:`BrokerUnavailable` with a clear message when the broker is out of reach."""
    url = app.conf.broker_url
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=timeout_s)
            conn.default_channel.client.ping()
    except Exception as exc:
        raise BrokerUnavailable(
            f"无法连接 JINGYAN_BROKER_URL={redact(url)}（{type(exc).__name__}: {exc}）。"
            "请确认 Redis 已启动且地址正确；不设置 JINGYAN_BROKER_URL 则在服务进程内处理。"
        ) from exc


class StrandedJobs:
    """Sends again the jobs queued in the database that the broker no longer holds a message for.

    Redis keeps nothing on disk here, so a restart of it empties the queue. When the ingest queue is
    empty every job still queued a while has lost its message (a worker takes a message only when
    free, and marks its job running at once); a job sent twice meanwhile costs one read.
    """

    def __init__(self, app: Celery, queue: JobQueue, min_age_s: float = 30.0) -> None:
        self.app = app
        self.queue = queue
        self.min_age_s = min_age_s

    def __call__(self) -> int:
        """Re-send stranded jobs; how many were sent."""
        if self.queue.dispatch is None:
            return 0
        with self.app.connection_for_write() as conn:
            if conn.default_channel.client.llen(INGEST_QUEUE):
                return 0
        before = datetime.now(UTC) - timedelta(seconds=self.min_age_s)
        stranded = self.queue.queued_before(before.isoformat(timespec="seconds"))
        for job_id in stranded:
            self.queue.dispatch(job_id)
        if stranded:
            log.warning("%d queued jobs had no message in the broker; sent again", len(stranded))
        return len(stranded)


class TaskDispatch:
    """Sends one ingest message per queued job; the web process's ``JobQueue.dispatch`` with a broker."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_app(settings)

    def __call__(self, job_id: str) -> None:
        self.app.send_task(INGEST_TASK, args=[job_id], queue=INGEST_QUEUE)
