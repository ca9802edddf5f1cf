"""Downloading search results, topics and hand-picked practices through ``GET /api/export``."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import docx

from tests.digest.app_support import upload
from tests.digest.conftest import SEED


def test_a_topic_downloads_as_a_word_compilation_with_a_chinese_filename(app_client):
    client = app_client
    upload(client, SEED.name, SEED.read_bytes())

    response = client.get("/api/export", params={"format": "docx", "topic": "思想建设"})
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('思想建设经验做法汇编')}" in disposition
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    doc = docx.Document(io.BytesIO(response.content))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "思想建设经验做法汇编"
    assert [p.text for p in doc.paragraphs if p.style.name == "Heading 1"] == ["一、思想建设"]
    assert any("日读一文" in t for t in texts) and not any("三卡预警" in t for t in texts)


def test_search_results_and_chosen_practices_download_as_csv_and_json(app_client):
    client = app_client
    upload(client, SEED.name, SEED.read_bytes())
    hits = client.get("/api/search", params={"q": "日读一文"}).json()["results"]
    chosen = [h["practice"]["id"] for h in hits[:2]]

    found = client.get("/api/export", params={"format": "csv", "q": "日读一文"})
    assert found.status_code == 200 and found.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(found.content.decode("utf-8-sig"))))
    assert any("日读一文" in r["做法内容"] and r["来源文件"] == SEED.name for r in rows)

    picked = client.get("/api/export", params={"format": "json", "ids": ",".join(map(str, chosen))})
    data = json.loads(picked.content)
    assert [p["id"] for p in data["practices"]] == chosen

    wrong = client.get("/api/export", params={"format": "pdf"})
    assert wrong.status_code == 422 and "docx" in wrong.json()["detail"]
    missing = client.get("/api/export", params={"ids": "999999"})
    assert missing.status_code == 404 and "没有符合条件" in missing.json()["detail"]


def test_a_search_exports_its_answers_best_first_and_only_those(app_client):
    client = app_client
    upload(client, SEED.name, SEED.read_bytes())
    found = client.get("/api/search", params={"q": "学习制度", "limit": 100}).json()
    assert 0 < found["total"] < 40  # the count means answers, not every practice sharing a word
    best = found["results"][0]["practice"]["text"]

    response = client.get("/api/export", params={"format": "docx", "q": "学习制度"})
    assert response.status_code == 200, response.text
    doc = docx.Document(io.BytesIO(response.content))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["检索结果（按相关度排序）"]
    entries = [p.text for p in doc.paragraphs if p.text[:1].isdigit() and ". " in p.text[:5]]
    assert len(entries) == found["total"]
    assert best in entries[0]
    assert any("日读一文" in e for e in entries[:3])


def test_csv_export_of_uploads_named_like_formulas_cannot_run_in_a_spreadsheet(app_client):
    client = app_client
    for name in ("=HYPERLINK(A1).txt", "@SUM(A1).txt"):
        upload(client, name, SEED.read_bytes() + name.encode())
    pid = client.get("/api/search", params={"q": "日读一文"}).json()["results"][0]["practice"]["id"]
    assert client.post(f"/api/practices/{pid}/tags", json={"tag": "+1+1"}).status_code == 201

    response = client.get("/api/export", params={"format": "csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    files = {r["来源文件"] for r in rows}
    assert files == {"'=HYPERLINK(A1).txt", "'@SUM(A1).txt"}
    assert any(r["标签"].startswith("'+1+1") for r in rows)
    risky = [c for r in rows for c in r.values() if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert risky == []
