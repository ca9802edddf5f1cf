"""Tables of the ``digest`` component: subscriptions, the digests sent for them and their practices.

A digest row is the unit of exactly-once delivery: it is created with its period and practice ids,
claimed (status ``sending``) in a transaction before anything leaves the machine, and closed as
``sent`` or ``failed`` (with the next retry time) afterwards.
"""

from __future__ import annotations

import sqlite3

from service.library.db import apply_migrations

COMPONENT = "digest"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE subscriptions (
        id            INTEGER PRIMARY KEY,
        email         TEXT,
        webhook_url   TEXT,
        topics_json   TEXT NOT NULL DEFAULT '[]',       -- OR'ed
        tags_json     TEXT NOT NULL DEFAULT '[]',       -- OR'ed; AND'ed with topics
        orgs_json     TEXT NOT NULL DEFAULT '[]',       -- OR'ed; AND'ed with the rest
        query         TEXT NOT NULL DEFAULT '',         -- optional saved search
        frequency     TEXT NOT NULL,                    -- daily | weekly
        send_at       TEXT NOT NULL,                    -- HH:MM, local time of the digest time zone
        weekday       INTEGER NOT NULL DEFAULT 1,       -- weekly: ISO weekday, 1 = Monday … 7 = Sunday
        active        INTEGER NOT NULL DEFAULT 1,
        last_slot_at  TEXT,                             -- last schedule slot handled (ISO UTC)
        created_at    TEXT NOT NULL,                    -- ISO UTC; the first digest starts here
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX subscriptions_email ON subscriptions(email);
    CREATE TABLE digests (
        id               INTEGER PRIMARY KEY,
        subscription_id  INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        channel          TEXT NOT NULL,                 -- email | webhook
        period_start     TEXT NOT NULL,                 -- ISO UTC
        period_end       TEXT NOT NULL,                 -- ISO UTC, inclusive
        status           TEXT NOT NULL,                 -- pending | sending | sent | failed | superseded
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        next_attempt_at  TEXT,                          -- ISO UTC; NULL once sent or given up
        claimed_at       TEXT,
        sent_at          TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    );
    CREATE INDEX digests_subscription ON digests(subscription_id, status);
    CREATE INDEX digests_due ON digests(status, next_attempt_at);
    -- No foreign key to practices: a digest keeps its record even when a document is deleted later.
    CREATE TABLE digest_items (
        digest_id    INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
        practice_id  INTEGER NOT NULL,
        PRIMARY KEY (digest_id, practice_id)
    );
    CREATE INDEX digest_items_practice ON digest_items(practice_id);
    """,
    # Ids are never handed out twice (AUTOINCREMENT), so a deleted subscription's id cannot pass to
    # a new one; each subscription gets a random secret its unsubscribe token is bound to.
    # Existing rows are copied with their ids and a fresh secret (older links stop working).
    """
    CREATE TABLE subscriptions_next (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        email               TEXT,
        webhook_url         TEXT,
        topics_json         TEXT NOT NULL DEFAULT '[]',
        tags_json           TEXT NOT NULL DEFAULT '[]',
        orgs_json           TEXT NOT NULL DEFAULT '[]',
        query               TEXT NOT NULL DEFAULT '',
        frequency           TEXT NOT NULL,
        send_at             TEXT NOT NULL,
        weekday             INTEGER NOT NULL DEFAULT 1,
        active              INTEGER NOT NULL DEFAULT 1,
        last_slot_at        TEXT,
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL,
        unsubscribe_secret  TEXT NOT NULL
    );
    INSERT INTO subscriptions_next(id, email, webhook_url, topics_json, tags_json, orgs_json, query, frequency,
        send_at, weekday, active, last_slot_at, created_at, updated_at, unsubscribe_secret)
    SELECT id, email, webhook_url, topics_json, tags_json, orgs_json, query, frequency,
        send_at, weekday, active, last_slot_at, created_at, updated_at, lower(hex(randomblob(16)))
    FROM subscriptions;
    DROP TABLE subscriptions;
    ALTER TABLE subscriptions_next RENAME TO subscriptions;
    CREATE INDEX subscriptions_email ON subscriptions(email);
    """,
    # Subscriptions belong to a user (NULL: made before accounts existed, or from the command line); one
    # for somebody else's address waits, inactive, for its recipient to confirm it (double opt-in).
    # A delivery failure keeps its technical cause apart from the message every user may read.
    """
    ALTER TABLE subscriptions ADD COLUMN owner_id INTEGER;
    ALTER TABLE subscriptions ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX subscriptions_owner ON subscriptions(owner_id);
    ALTER TABLE digests ADD COLUMN error_detail TEXT;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the digest tables up to date (needs the library tables for selection, not for DDL).

    Foreign keys are off while the scripts run: rebuilding ``subscriptions`` drops the old table,
    which would otherwise cascade into every digest of every subscription.
    """
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        version = apply_migrations(conn, COMPONENT, MIGRATIONS)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
    if broken:
        raise RuntimeError(f"digest tables fail their foreign key check after migration: {broken[:5]}")
    return version
