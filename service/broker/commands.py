"""CLI commands of a scaled deployment: ``jingyan worker`` and ``jingyan beat``."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

from service.config import Settings


def _settings(args: argparse.Namespace, command: str) -> Settings | None:
    settings = Settings.from_env()
    if args.data:
        settings.data_dir = Path(args.data)
    if not settings.broker_url:
        print(
            f"jingyan {command} 需要设置 JINGYAN_BROKER_URL（例如 redis://127.0.0.1:6379/0）；"
            "未设置时 jingyan serve 在自己的进程内处理上传和摘要，无需另起进程。",
            file=sys.stderr,
        )
        return None
    return settings


def _worker(args: argparse.Namespace) -> int:
    from service.broker.app import DIGEST_QUEUE, INGEST_QUEUE, check_broker, make_app
    from service.library.library import check_database
    from service.library.worker_process import NICENESS, ONE_THREAD_ENV

    settings = _settings(args, "worker")
    if settings is None:
        return 2
    check_database(settings)
    app = make_app(settings)
    check_broker(app)
    os.environ.update(ONE_THREAD_ENV)
    os.nice(NICENESS)  # like the `serve` child: on a shared host, searches come first
    # Celery takes over logging when the worker starts; until then (loading the model) log here.
    logging.basicConfig(level=args.loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from service.broker.tasks import WorkerRuntime, install

    runtime = WorkerRuntime(app, settings)  # the model loads here, once for every task of this process
    install(app, runtime)
    runtime.start()
    try:
        # One job at a time in this process (parse children are forked per job); run more
        # `jingyan worker` processes, on this host or others sharing the data directory, to scale.
        worker = app.Worker(
            hostname=f"jingyan-{os.getpid()}@{socket.gethostname()}",
            pool="solo",
            concurrency=1,
            queues=[INGEST_QUEUE, DIGEST_QUEUE],
            loglevel=args.loglevel,
            without_gossip=True,
            without_mingle=True,
        )
        worker.start()
    finally:
        runtime.stop()
    return int(worker.exitcode or 0)


def _beat(args: argparse.Namespace) -> int:
    from celery.apps.beat import Beat

    from service.broker.app import check_broker, make_app

    settings = _settings(args, "beat")
    if settings is None:
        return 2
    app = make_app(settings)
    check_broker(app)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    Beat(
        app=app,
        schedule=str(Path(settings.data_dir) / "celerybeat-schedule"),
        loglevel=args.loglevel,
        max_interval=min(settings.digest_tick_s, 60.0),
    ).run()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("worker", help="启动 Celery 处理进程（需 JINGYAN_BROKER_URL）：解析入库与发送摘要")
    w.add_argument("--data", default=None, help="数据目录（默认 ./data，各进程须共用同一目录）")
    w.add_argument("--loglevel", default="INFO")
    w.set_defaults(func=_worker)
    b = sub.add_parser("beat", help="启动 Celery 定时进程（需 JINGYAN_BROKER_URL）：按订阅时间安排摘要")
    b.add_argument("--data", default=None, help="数据目录（默认 ./data），定时记录保存在其中")
    b.add_argument("--loglevel", default="INFO")
    b.set_defaults(func=_beat)
