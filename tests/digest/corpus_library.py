"""Store corpus documents with chosen practices, for stories that drive the digest runner directly.

Each practice is the clause of the corpus text that names the unit and its quoted practice, with
its real span, so what a digest shows is what the document says.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.digest.clock import iso
from service.intake import Document, parse_file
from service.library import store
from service.mining.practice import Practice

CLAUSE_END = "，。；\n"


@dataclass
class Spec:
    """A practice to cut out of a document: the unit, the quoted name, its topic and tags."""

    org: str
    name: str
    topic: str
    tags: tuple[str, ...] = ()
    mention: str | None = None  # how the text names the unit, when not by its full name


# Practices the seed reports (point 二 思想政治教育 and point 四 作风建设 of the speech).
SEED_SPECS = (
    Spec("市委办公室", "日读一文", "思想建设", ("学习制度",)),
    Spec("市纪委监察局", "教育培训目标化", "思想建设", ("学习制度",)),
    Spec("市农业局", "五微", "思想建设", ("理论学习",)),
    Spec("市发改委", "三卡预警", "作风建设", ("监督执纪",)),
)

# A community-service practice from a Xianyang report in the sample corpus.
XIANYANG = "pb-lotjol__01.txt"
XIANYANG_SPECS = (Spec("咸阳市", "一年10件实事", "基层治理", ("为民办实事",), mention="咸阳"),)


def clause_practice(doc: Document, spec: Spec) -> Practice:
    """The clause from the unit's name to the end of the clause holding the quoted name."""
    at = doc.text.index(spec.name)
    mention = spec.mention or spec.org
    start = doc.text.rindex(mention, 0, at)
    close = doc.text.index("”", at)
    end = min(i for i in (doc.text.find(c, close) for c in CLAUSE_END) if i != -1)
    open_quote = doc.text.rindex("“", 0, at)
    return Practice(
        orgs=[spec.org],
        mentions=[mention],
        text=doc.text[start:end],
        name=doc.text[open_quote : close + 1],
        topic=spec.topic,
        kind="practice",
        span=(start, end),
        section=[],
        tags=list(spec.tags),
    )


def add_document(
    conn: sqlite3.Connection, path: Path, specs: tuple[Spec, ...], created_at: datetime
) -> list[int]:
    """Store ``path`` with the practices of ``specs`` as if ingested at ``created_at``; returns practice ids."""
    data = path.read_bytes()
    doc = parse_file(path)
    with store.transaction(conn):
        document_id = store.insert_document(
            conn, doc, sha256=hashlib.sha256(data).hexdigest(), filename=path.name, size=len(data)
        )
        ids = store.insert_practices(conn, document_id, [clause_practice(doc, s) for s in specs])
        conn.executemany("UPDATE practices SET created_at = ? WHERE id = ?", [(iso(created_at), i) for i in ids])
    return ids
