"""A clerk uploads materials, watches the jobs, and finds practices in the library."""

from __future__ import annotations

import re

import docx

from tests.library.conftest import SAMPLES, SEED, ingest, upload, wait_for


def retyped(text: str) -> str:
    """The seed as someone re-typed it: spaces, half-width punctuation, a few words changed."""
    text = text.replace("，", ", ").replace("。", "。\n")
    text = text.replace("同志们", "各位同志").replace("进一步", "更进一步", 2)
    return re.sub(r"(\n)", r"\1  ", text) + "\n（根据录音整理）"


def test_uploaded_speech_becomes_searchable(client):
    [job] = ingest(client, (SEED.name, SEED.read_bytes()))
    assert job["status"] == "done", job
    assert job["document_id"] and job["duplicate"] is None and job["progress"] == 1

    found = client.get("/api/search", params={"q": "学习制度"}).json()
    assert found["total"] > 0
    top = found["results"][:5]
    assert any("日读一文" in r["practice"]["text"] and "市委办公室" in r["practice"]["orgs"] for r in top), (
        top
    )
    assert top[0]["document"]["id"] == job["document_id"]
    assert set(found["facets"]) >= {"topic", "org", "year", "kind"}

    doc = client.get(f"/api/documents/{job['document_id']}").json()
    practice = top[0]["practice"]
    start, end = practice["span"]
    assert doc["text"][start:end] == practice["text"]
    assert client.get(f"/api/practices/{practice['id']}").json()["practice"]["id"] == practice["id"]
    listed = client.get("/api/documents").json()
    assert listed["total"] == 1 and listed["documents"][0]["practice_count"] == len(doc["practices"]) > 0


def test_same_bytes_twice_make_one_document(client):
    data = SEED.read_bytes()
    first, second = ingest(client, ("讲话.txt", data), ("讲话-副本.txt", data))
    again = upload(client, ("讲话-再次上传.txt", data))[0]
    # Already in the library: answered at the door, no work queued.
    assert again["status"] == "done" and again["duplicate"] == "exact"
    assert first["document_id"] == second["document_id"] == again["document_id"]
    assert {first["duplicate"], second["duplicate"]} == {None, "exact"}
    assert client.get("/api/documents").json()["total"] == 1
    doc = client.get(f"/api/documents/{first['document_id']}").json()
    texts = [p["text"] for p in doc["practices"]]
    assert len(texts) == len(set(texts))


def test_retyped_copy_is_stored_but_flagged_as_near_duplicate(client):
    [original] = ingest(client, (SEED.name, SEED.read_bytes()))
    copy = retyped(SEED.read_text(encoding="utf-8")).encode("gb18030")
    [job] = ingest(client, ("交流会讲话（整理稿）.txt", copy))
    assert job["status"] == "done" and job["duplicate"] == "near"
    doc = client.get(f"/api/documents/{job['document_id']}").json()
    assert doc["near_duplicate_of"] == original["document_id"]
    assert 0.8 <= doc["similarity"] < 1
    flagged = client.get("/api/documents", params={"status": "near_duplicate"}).json()
    assert [d["id"] for d in flagged["documents"]] == [job["document_id"]]

    # A different unit's material is not a near-duplicate of the speech.
    other = SAMPLES / "pb-lotjol__01.txt"
    [unrelated] = ingest(client, (other.name, other.read_bytes()))
    assert unrelated["status"] == "done" and unrelated["duplicate"] is None


def test_corrupt_file_fails_with_a_reason_and_leaves_the_library_alone(client):
    [good] = ingest(client, (SEED.name, SEED.read_bytes()))
    pdf = (SAMPLES / "hust-partygov-pdf__01.pdf").read_bytes()
    broken, empty = ingest(client, ("损坏的材料.pdf", pdf[: len(pdf) // 5]), ("空白.txt", b"   \n"))
    for job in (broken, empty):
        assert job["status"] == "failed", job
        assert job["error_code"] and re.search(r"[\u4e00-\u9fff]", job["error"]), job
        assert job["document_id"] is None
    assert empty["error_code"] == "empty"
    assert client.get("/api/documents").json()["total"] == 1
    assert client.get(f"/api/documents/{good['document_id']}").status_code == 200
    assert client.get("/api/search", params={"q": "学习制度"}).json()["total"] > 0
    failed = client.get("/api/jobs", params={"status": "failed"}).json()
    assert {j["id"] for j in failed["jobs"]} == {broken["id"], empty["id"]}
    # The original was kept: the clerk may retry it (it fails again for the same reason).
    retried = client.post(f"/api/jobs/{broken['id']}/retry")
    # The worker may already have picked it up again by the time the answer arrives.
    assert retried.status_code == 202 and retried.json()["status"] in ("queued", "running", "failed")
    [again] = wait_for(client, [broken["id"]])
    assert again["status"] == "failed" and again["error_code"] == broken["error_code"]


def test_deleted_document_is_gone_from_search(client):
    [job] = ingest(client, (SEED.name, SEED.read_bytes()))
    doc_id = job["document_id"]
    original = client.get(f"/api/documents/{doc_id}/original")
    assert original.status_code == 200 and original.content == SEED.read_bytes()
    assert original.headers["content-type"].startswith("text/plain")
    assert client.delete(f"/api/documents/{doc_id}").status_code == 200
    assert client.get(f"/api/documents/{doc_id}").status_code == 404
    found = client.get("/api/search", params={"q": "日读一文 学习制度"}).json()
    assert all(r["document"] is None or r["document"]["id"] != doc_id for r in found["results"])
    assert found["total"] == 0
    # Its practices left their groups too: group sizes add up to the practices still stored.
    groups = client.get("/api/groups", params={"limit": 500}).json()["groups"]
    stored = client.get("/api/documents", params={"limit": 200}).json()["documents"]
    assert sum(g["size"] for g in groups) == sum(d["practice_count"] for d in stored)
    assert client.delete(f"/api/documents/{doc_id}").status_code == 404


def test_same_speech_saved_as_word_is_linked_to_the_text_version(client, tmp_path):
    [original] = ingest(client, (SEED.name, SEED.read_bytes()))
    word = docx.Document()
    for line in SEED.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            word.add_paragraph(line.strip())
    path = tmp_path / "交流会讲话.docx"
    word.save(path)
    [job] = ingest(client, (path.name, path.read_bytes()))
    assert job["status"] == "done" and job["duplicate"] == "near"
    doc = client.get(f"/api/documents/{job['document_id']}").json()
    assert doc["near_duplicate_of"] == original["document_id"] and doc["format"] == "docx"
