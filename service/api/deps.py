"""Shared request dependencies: the library of this app and this thread's database connection."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import Depends, Request

from service.library.library import Library


def get_library(request: Request) -> Library:
    return request.app.state.library


def get_conn(request: Request) -> sqlite3.Connection:
    return get_library(request).db.conn()


LibraryDep = Annotated[Library, Depends(get_library)]
ConnDep = Annotated[sqlite3.Connection, Depends(get_conn)]
