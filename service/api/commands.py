"""CLI commands of the service: ``jingyan serve``."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.config import Settings


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from service.api.app import create_app

    settings = Settings.from_env()
    settings.host, settings.port = args.host, args.port
    settings.worker_process = True  # ingestion in its own process, so it never holds this one's GIL
    _limit_malloc_arenas()
    # One BLAS thread per request: the search's matrix product is well under a millisecond on one
    # core, while OpenBLAS threads spinning against each other on a busy two-core machine took 10 ms.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if args.data:
        settings.data_dir = Path(args.data)
    if args.no_sample_corpus:
        settings.load_sample_corpus = False
    # The worker reports progress through the log as well as /api/jobs.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port)
    return 0


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas: with one per request thread, freed memory stays
    fragmented across them and the resident size only grows."""
    import ctypes

    m_arena_max = -8
    try:
        ctypes.CDLL("libc.so.6").mallopt(m_arena_max, arenas)
    except (OSError, AttributeError):
        pass  # not glibc


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="启动服务（网页与 API）")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    s.add_argument("--no-sample-corpus", action="store_true", help="首次启动时不导入示例材料")
    s.set_defaults(func=_serve)
