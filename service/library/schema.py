"""Tables of the ``library`` component: documents, practices, their units and tags, ingestion jobs.

Other components (search index, digests) keep their own tables and migrations and only read these.
"""

from __future__ import annotations

import sqlite3

from service.library.db import apply_migrations

COMPONENT = "library"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE documents (
        id                 INTEGER PRIMARY KEY,
        sha256             TEXT NOT NULL UNIQUE,       -- of the original bytes
        filename           TEXT NOT NULL,
        format             TEXT,                       -- pdf | docx | txt | doc
        size               INTEGER NOT NULL,
        title              TEXT,
        kind               TEXT,                       -- 讲话 / 总结 / 交流材料 / 经验材料 / 报道 / 报告 / 其他
        org                TEXT,
        date               TEXT,                       -- ISO date when stated
        year               INTEGER,
        text               TEXT,                       -- the clean text every span points into
        structure_json     TEXT,                       -- Document.to_dict()
        near_duplicate_of  INTEGER REFERENCES documents(id) ON DELETE SET NULL,
        similarity         REAL,                       -- to near_duplicate_of
        created_at         TEXT NOT NULL               -- ISO timestamp, UTC
    );
    CREATE TABLE practices (
        id            INTEGER PRIMARY KEY,
        document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal       INTEGER NOT NULL,                -- order within the document
        text          TEXT NOT NULL,
        name          TEXT,
        topic         TEXT NOT NULL,
        kind          TEXT NOT NULL,                   -- practice | directive
        orgs_json     TEXT NOT NULL,
        mentions_json TEXT NOT NULL,
        keywords_json TEXT NOT NULL,
        section_json  TEXT NOT NULL,
        span_start    INTEGER NOT NULL,
        span_end      INTEGER NOT NULL,
        confidence    REAL NOT NULL,
        group_id      INTEGER,                         -- practice group (owned by the search component)
        created_at    TEXT NOT NULL                    -- when ingested; digests select on it
    );
    CREATE INDEX practices_document ON practices(document_id);
    CREATE INDEX practices_topic ON practices(topic);
    CREATE INDEX practices_created ON practices(created_at);
    CREATE TABLE practice_orgs (
        practice_id INTEGER NOT NULL REFERENCES practices(id) ON DELETE CASCADE,
        org         TEXT NOT NULL,
        PRIMARY KEY (practice_id, org)
    );
    CREATE INDEX practice_orgs_org ON practice_orgs(org);
    CREATE TABLE practice_tags (
        practice_id INTEGER NOT NULL REFERENCES practices(id) ON DELETE CASCADE,
        tag         TEXT NOT NULL,
        source      TEXT NOT NULL DEFAULT 'auto',      -- auto (mining) | staff
        removed     INTEGER NOT NULL DEFAULT 0,        -- staff removed an automatic tag
        PRIMARY KEY (practice_id, tag)
    );
    CREATE INDEX practice_tags_tag ON practice_tags(tag);
    CREATE TABLE jobs (
        id           TEXT PRIMARY KEY,                 -- uuid hex
        filename     TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        blob_path    TEXT NOT NULL,                    -- original bytes, kept by sha256
        status       TEXT NOT NULL,                    -- queued | running | done | failed
        stage        TEXT,                             -- parsing | mining | indexing …
        progress     REAL NOT NULL DEFAULT 0,
        error_code   TEXT,
        error        TEXT,                             -- one line a person can act on
        document_id  INTEGER REFERENCES documents(id) ON DELETE SET NULL,
        duplicate    TEXT,                             -- null | exact | near
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs(status, created_at);
    """,
    # How often the service died while this job ran: a file that keeps killing it must stop
    # being retried on every restart.
    """
    ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
    """,
    # The size of the original picks the lane a job may run in; a running job is leased to one
    # worker process, so only the jobs of a worker that is gone are taken back.
    """
    ALTER TABLE jobs ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until REAL;
    CREATE INDEX jobs_queued_size ON jobs(status, size, created_at);
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the library tables up to date."""
    return apply_migrations(conn, COMPONENT, MIGRATIONS)
