"""Tables of the ``auth`` component: users, their API tokens and sign-in sessions, and the audit log.

The audit log is append-only: triggers refuse every UPDATE and DELETE on it, so not even a bug in
this service can rewrite who did what.
"""

from __future__ import annotations

import sqlite3

from service.library.db import apply_migrations

COMPONENT = "auth"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE users (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role           TEXT NOT NULL,                -- admin | clerk | staff
        password_hash  TEXT NOT NULL,                -- argon2id, never the password
        email          TEXT,                         -- the user's own address (subscriptions need no confirmation)
        disabled       INTEGER NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE api_tokens (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash  TEXT NOT NULL UNIQUE,            -- SHA-256 of a 256-bit random token
        created_at  TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE sessions (
        id_hash     TEXT PRIMARY KEY,                -- SHA-256 of the cookie value
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,                       -- ISO UTC
        user    TEXT,                                -- user name; NULL for anonymous
        action  TEXT NOT NULL,
        target  TEXT,
        detail  TEXT,
        ip      TEXT
    );
    CREATE INDEX audit_user ON audit_log(user, action, at);
    CREATE INDEX audit_action ON audit_log(action, at);
    CREATE INDEX audit_ip ON audit_log(ip, action, at);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the auth tables up to date."""
    return apply_migrations(conn, COMPONENT, MIGRATIONS)
