"""The ingestion worker in a process of its own, and the supervisor ``jingyan serve`` runs it under.

Parsing, mining, embedding and grouping are CPU-bound Python: run as a thread of the web process
they hold its interpreter lock and searches queue behind them. In a child process with one
torch/BLAS thread and a lower scheduling priority, ingestion takes at most about one core and
search keeps the other. The child works on the same ``jobs`` table through the same
:class:`~service.library.jobs.Worker`; the web process sees its writes through the database
(the vector generation token and ``PRAGMA data_version``).

The supervisor restarts a child that dies (its leased jobs go straight back to the queue) and
stops it with the service; the child also dies with its parent when that is killed outright.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from service.config import REPO_ROOT, Settings
from service.library.jobs import JobQueue, worker_name

if TYPE_CHECKING:
    from service.library.library import Library

log = logging.getLogger(__name__)

SETTINGS_ENV = "JINGYAN_WORKER_SETTINGS"
PARENT_ENV = "JINGYAN_WORKER_PARENT"
# One thread for every numeric library in the child: its job is to leave cores to search.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MALLOC_ARENA_MAX": "2",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
NICENESS = 10
WAKE_FD_ENV = "JINGYAN_WORKER_WAKE_FD"
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, then make sure the parent is still there."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the parent watch in ``main`` still ends the child
    if os.getppid() != parent:
        os._exit(0)


def _malloc_trim() -> Callable[[], None]:
    """Give the heap glibc keeps after a job back to the system (a big document's working set
    otherwise stays resident until the process ends)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return lambda: None
    return lambda: libc.malloc_trim(0)


def open_worker_library(settings: Settings) -> Library:
    """The library of an ingestion worker process, with its model loaded once for every job it will run.

    One BLAS/torch thread; the parser server starts before the model loads, so parse children
    fork from a small process. Shared by the child of ``jingyan serve`` and ``jingyan worker``.
    """
    from threadpoolctl import threadpool_limits

    if settings.encoder == "torch":
        import torch  # only the fp32 path loads torch; the ONNX encoder runs on one thread already

        torch.set_num_threads(1)
    threadpool_limits(1)

    from service.intake.guard import start_parser_server
    from service.library.library import Library, load_embedder

    start_parser_server()  # parse children fork from it, never from this process that holds the model

    library = Library(settings)
    library.set_embedder(load_embedder(settings))
    # The extractor (jieba, the unit tables, the clause and topic models) loads now rather than
    # inside the first upload's job, which would otherwise wait seconds for it.
    from service.mining import default_extractor

    default_extractor()
    log.info("ingestion worker %s: model loaded (%s)", worker_name(), settings.encoder if library.embedder else "none")
    return library


def ingest_handler(library: Library) -> Callable[[Any], None]:
    """The one function an ingestion job runs, whoever claimed it: ingest, then hand freed memory back."""
    trim = _malloc_trim()

    def run_job(job: Any) -> None:
        try:
            library.ingestor.run_job(job)
        finally:
            trim()

    return run_job


def _listen_for_wakeups(changed: threading.Event) -> None:
    """Set ``changed`` whenever the supervisor writes to the wake-up pipe (bytes written while the
    models loaded wait in the pipe)."""
    fd = int(os.environ.get(WAKE_FD_ENV, "-1"))
    if fd < 0:
        return

    def listen() -> None:
        while os.read(fd, 512):
            changed.set()

    threading.Thread(target=listen, name="jingyan-wake", daemon=True).start()


def main() -> int:
    """Entry point of the worker child: drain the queue until told to stop or orphaned."""
    parent = int(os.environ[PARENT_ENV])
    _die_with_parent(parent)
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")

    from service.library.jobs import Worker

    library = open_worker_library(settings)
    worker = Worker(library.queue, ingest_handler(library), poll_s=0.5, small_job_bytes=settings.small_job_bytes)
    # The web process tells of a new job (see WorkerSupervisor): claim it now, not at the next poll.
    _listen_for_wakeups(library.queue.changed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    log.info("ingestion worker %s started", worker.owner)
    while not stop.wait(1.0):
        if os.getppid() != parent:
            break
    # A job cut short here is taken back at once: its lease names this process, which is gone.
    worker.stop(timeout=5.0)
    library.db.close()
    os._exit(0)


class WorkerSupervisor:
    """Runs the worker child, restarts it when it dies and stops it with the service."""

    def __init__(self, settings: Settings, queue: JobQueue, restart_delay_s: float = 1.0) -> None:
        self.settings = settings
        self.queue = queue
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_fd: int | None = None  # write end of the current child's wake-up pipe
        self._wake_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        self._stop.clear()
        # The child is started from this long-lived thread: Linux delivers the parent-death
        # signal when the *thread* that forked it ends.
        self._thread = threading.Thread(target=self._run, name="jingyan-worker-supervisor", daemon=True)
        self._thread.start()
        threading.Thread(target=self._wake_on_new_jobs, name="jingyan-worker-wake", daemon=True).start()

    def _wake_on_new_jobs(self) -> None:
        """Pass the queue's "job queued" event on to the child, which otherwise finds a new upload
        only at its next poll (up to half a second later)."""
        while not self._stop.is_set():
            if not self.queue.changed.wait(1.0):
                continue
            self.queue.changed.clear()
            # under the lock: a closed descriptor's number may be reused by another file at once
            with self._wake_lock:
                if self._wake_fd is not None:
                    try:
                        os.write(self._wake_fd, b"\0")
                    except OSError:
                        pass  # a full pipe wakes it anyway; a dead child is restarted and polls on start

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 5)
            self._thread = None
        with self._wake_lock:
            if self._wake_fd is not None:
                os.close(self._wake_fd)
                self._wake_fd = None

    def _spawn(self) -> subprocess.Popen:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        env = os.environ | ONE_THREAD_ENV | {
            SETTINGS_ENV: self.settings.to_json(),
            PARENT_ENV: str(os.getpid()),
            WAKE_FD_ENV: str(read_end),
        }
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "service.library.worker_process"],
                cwd=REPO_ROOT, env=env, close_fds=True, pass_fds=(read_end,),
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        with self._wake_lock:
            if self._wake_fd is not None:
                os.close(self._wake_fd)
            self._wake_fd = write_end
        return proc

    def _run(self) -> None:
        delay = self.restart_delay_s
        while not self._stop.is_set():
            started = time.monotonic()
            proc = self._proc = self._spawn()
            while proc.poll() is None and not self._stop.wait(0.2):
                pass
            if self._stop.is_set():
                self._terminate(proc)
                break
            owner = worker_name(proc.pid)
            try:
                taken_back = self.queue.release(owner)
            except Exception:  # the next worker's own check takes them back anyway
                log.exception("could not take back the jobs of %s", owner)
                taken_back = 0
            self.restarts += 1
            log.warning(
                "ingestion worker %s exited with code %s; %d jobs queued again; restarting",
                proc.pid,
                proc.returncode,
                taken_back,
            )
            # A child that dies at once (a broken model, say) is restarted ever more slowly.
            delay = self.restart_delay_s if time.monotonic() - started > 60 else min(delay * 2, 30.0)
            self._stop.wait(delay)

    def _terminate(self, proc: subprocess.Popen) -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


if __name__ == "__main__":
    sys.exit(main())
