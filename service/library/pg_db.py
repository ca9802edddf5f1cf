"""PostgreSQL databases for Jingyan: connection settings and throw-away databases for tests and measurements."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# The server every machine of the project runs (trust auth); JINGYAN_PG_ADMIN_URL points elsewhere.
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """Where databases are created and dropped (a superuser's connection to the ``postgres`` database)."""
    return os.environ.get("JINGYAN_PG_ADMIN_URL", DEFAULT_ADMIN_URL)


def create_database(url: str, name: str) -> str:
    """Create ``name`` with a UTF-8 ``LC_CTYPE`` (pg_trgm needs it for Chinese); returns its URL."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
        )
    return make_conninfo(url, dbname=name)


def drop_database(url: str, name: str) -> None:
    """Drop ``name``, closing whatever connections are left on it."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(prefix: str = "jingyan_tmp", url: str | None = None) -> Iterator[str]:
    """A new, uniquely named database for the duration of the block, dropped afterwards.

    Raises ``psycopg.OperationalError`` when the server does not answer: callers that need
    PostgreSQL must fail, not fall back.
    """
    url = url or admin_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    conninfo = create_database(url, name)
    try:
        yield conninfo
    finally:
        drop_database(url, name)


def database_name(conninfo: str) -> str:
    return conninfo_to_dict(conninfo).get("dbname", "")
