"""CLI commands of the service: ``jingyan serve``."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from service.config import DEFAULT_SECRET_KEY, Settings


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses no other machine can reach."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_default_secret(settings: Settings) -> str | None:
    """Why the service must not start: reachable from the network while signing with the known default key."""
    if settings.secret_key.strip() not in ("", DEFAULT_SECRET_KEY) or is_loopback(settings.host):
        return None
    if os.environ.get("JINGYAN_ALLOW_DEFAULT_SECRET", "") in ("1", "true", "yes"):
        return None
    return (
        f"拒绝启动：服务将监听 {settings.host}（其他计算机可以访问），但 JINGYAN_SECRET_KEY 为空或仍是公开的默认值。"
        "该密钥用于签名会话表单校验码和退订、确认链接，使用默认值时任何人都能伪造这些链接。\n"
        "请设置随机密钥后再启动，例如：\n"
        "    export JINGYAN_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')\n"
        "仅供测试时可设置 JINGYAN_ALLOW_DEFAULT_SECRET=1 跳过此检查。"
    )


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
    refusal = refuse_default_secret(settings)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    _check_backends(settings)
    _print_first_admin_hint(settings)
    # The worker reports progress through the log as well as /api/jobs.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port)
    return 0


def _check_backends(settings: Settings) -> None:
    """Stop start-up (``StartRefused``) when the database or the broker named in the settings cannot be used."""
    from service.library.library import check_database

    check_database(settings)
    if settings.broker_url:
        from service.broker.app import check_broker, make_app

        check_broker(make_app(settings))


def _print_first_admin_hint(settings: Settings) -> None:
    from service.api.app import first_admin_hint
    from service.auth import accounts
    from service.auth import schema as auth_schema
    from service.library.db import connect
    from service.library.library import database_path

    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    conn = connect(database_path(settings))
    try:
        auth_schema.migrate(conn)
        if accounts.count_users(conn) == 0:
            print(first_admin_hint(settings), flush=True)
    finally:
        conn.close()


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
