"""The database upgrades in place and deleting a document takes its practices along."""

from service.library.db import connect
from service.library.schema import MIGRATIONS, migrate


def test_migrations_are_idempotent_and_cascade(tmp_path):
    db = tmp_path / "library.sqlite"
    conn = connect(db)
    assert migrate(conn) == len(MIGRATIONS)
    assert migrate(conn) == len(MIGRATIONS)
    conn.execute(
        "INSERT INTO documents(id, sha256, filename, size, created_at) VALUES (1, 'x', 'a.txt', 1, '2024-01-01')"
    )
    conn.execute(
        "INSERT INTO practices(document_id, ordinal, text, topic, kind, orgs_json, mentions_json, keywords_json,"
        " section_json, span_start, span_end, confidence, created_at)"
        " VALUES (1, 0, 't', '思想建设', 'practice', '[]', '[]', '[]', '[]', 0, 1, 0.5, '2024-01-01')"
    )
    conn.execute("DELETE FROM documents WHERE id = 1")
    assert conn.execute("SELECT COUNT(*) FROM practices").fetchone()[0] == 0
