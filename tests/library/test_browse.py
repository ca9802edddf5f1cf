"""A staff member browses: filters and pages through documents, opens a practice, its look-alikes and groups."""

from __future__ import annotations

from tests.library.conftest import SAMPLES, SEED, ingest

OTHERS = ["pb-lotjol__06.txt", "hust-partygov__03.txt"]


def test_browse_documents_practices_and_groups(client):
    jobs = ingest(client, (SEED.name, SEED.read_bytes()), *((n, (SAMPLES / n).read_bytes()) for n in OTHERS))
    assert [j["status"] for j in jobs] == ["done"] * 3
    seed_id = jobs[0]["document_id"]

    page = client.get("/api/documents", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["documents"]) == 2
    rest = client.get("/api/documents", params={"limit": 2, "offset": 2}).json()
    assert {d["id"] for d in page["documents"] + rest["documents"]} == {j["document_id"] for j in jobs}
    seed_doc = client.get(f"/api/documents/{seed_id}").json()
    by_title = client.get("/api/documents", params={"q": seed_doc["title"][:6]}).json()
    assert seed_id in [d["id"] for d in by_title["documents"]]
    by_kind = client.get("/api/documents", params={"kind": seed_doc["kind"]}).json()
    assert seed_id in [d["id"] for d in by_kind["documents"]]
    assert all(d["kind"] == seed_doc["kind"] for d in by_kind["documents"])

    # Browsing: no query, one topic.
    topic = seed_doc["practices"][0]["topic"]
    browsed = client.get("/api/search", params={"topic": topic, "limit": 50}).json()
    assert browsed["total"] >= 1
    assert all(r["practice"]["topic"] == topic for r in browsed["results"])

    practice = next(p for p in seed_doc["practices"] if "日读一文" in p["text"])
    similar = client.get(f"/api/practices/{practice['id']}/similar", params={"limit": 5}).json()
    assert all(r["document"]["id"] != seed_id for r in similar["results"])
    same_doc = client.get(
        f"/api/practices/{practice['id']}/similar", params={"limit": 5, "same_document": True}
    ).json()
    assert all(r["practice"]["id"] != practice["id"] for r in same_doc["results"])
    assert client.get("/api/practices/999999").status_code == 404

    groups = client.get("/api/groups").json()["groups"]
    assert groups and sum(g["size"] for g in groups) <= sum(
        d["practice_count"] for d in page["documents"] + rest["documents"]
    )
    group = client.get(f"/api/groups/{practice['group_id']}").json()
    assert practice["id"] in [p["practice"]["id"] for p in group["practices"]]
    assert client.get("/api/groups/999999").status_code == 404
    assert client.get("/").url.path == "/docs"
