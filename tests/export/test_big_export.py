"""The whole library downloads as one Word 汇编 however many practice groups a topic has."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import docx
import numpy as np
from fastapi.testclient import TestClient

from service.config import Settings
from service.intake import parse_bytes
from service.library import store
from service.library.ingest import indexed_practice
from service.library.library import Library
from service.mining.practice import Practice
from tests.signin import sign_in

GROUPS = 130
UNITS = ("甲街道", "乙街道")


def _sentence(unit: str, k: int) -> str:
    return f"{unit}推行“网格议事{k}号”工作法，组织网格员每周走访群众。"


def build_library(settings: Settings) -> None:
    """Two streets report the same 130 methods; stored, indexed and grouped as the library does it.

    Each method's vector stands in for the model's: the two streets' reports of method k share one
    direction, so the grouper (real, with its word overlap and labels) puts them in a group of their own.
    """
    library = Library(settings)
    conn = library.db.conn()
    for unit in UNITS:
        data = "\n".join([f"{unit}基层治理工作交流材料"] + [_sentence(unit, k) for k in range(GROUPS)]).encode()
        doc = parse_bytes(data, f"{unit}.txt", isolate=False)
        practices = []
        for k in range(GROUPS):
            text = _sentence(unit, k)
            start = doc.text.index(text)
            practices.append(
                Practice(orgs=[unit], mentions=[unit], text=text, name=f"“网格议事{k}号”工作法", topic="基层治理",
                         kind="practice", span=(start, start + len(text)), section=[])
            )
        items = [indexed_practice(p, 0, doc, None) for p in practices]
        vectors = np.eye(GROUPS, 384, dtype=np.float32)
        with store.transaction(conn):
            document_id = store.insert_document(
                conn, doc, sha256=hashlib.sha256(data).hexdigest(), filename=f"{unit}.txt", size=len(data)
            )
            ids = store.insert_practices(conn, document_id, practices)
            for item, pid in zip(items, ids, strict=True):
                item.id, item.document_id = pid, document_id
            library.index.add(conn, items, vectors)
            library.grouper.assign(conn, ids)
    library.close()


def test_whole_library_and_topic_word_export_with_130_groups_opens(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", load_sample_corpus=False, model_dir=Path("/nonexistent"),
                        digest_scheduler=False)
    build_library(settings)
    from service.api.app import create_app

    with TestClient(create_app(settings)) as client:
        sign_in(client, "staff")
        groups = client.get("/api/groups", params={"limit": 500}).json()
        sizes = [g["size"] for g in groups["groups"]]
        assert len(sizes) == GROUPS and set(sizes) == {2}
        for params in ({"format": "docx"}, {"format": "docx", "topic": "基层治理"}):
            response = client.get("/api/export", params=params)
            assert response.status_code == 200, response.text
            word = docx.Document(io.BytesIO(response.content))
            level2 = [p.text for p in word.paragraphs if p.style.name == "Heading 2"]
            assert len(level2) == GROUPS
            assert level2[110].startswith("（一百一十一）") and level2[-1].startswith("（一百三十）")
            assert sum(p.text.startswith(("1. ", "260. ")) for p in word.paragraphs) == 2
