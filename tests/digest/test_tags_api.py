"""Staff tag practices; tags filter searches and subscriptions; removed automatic tags stay removed."""

from __future__ import annotations

from service.mining.practice import TOPICS
from tests.digest.app_support import catch_up, upload
from tests.digest.conftest import SEED


def practice_id(client, q: str, unit: str) -> int:
    hits = client.get("/api/search", params={"q": q}).json()["results"]
    return next(h["practice"]["id"] for h in hits if unit in h["practice"]["orgs"])


def test_staff_tags_filter_search_and_subscriptions(app_client, webhook, clock):
    client = app_client
    sub = client.post("/api/subscriptions", json={"webhook_url": webhook.url, "tags": ["读书活动"]}).json()
    upload(client, SEED.name, SEED.read_bytes())
    pid = practice_id(client, "日读一文", "市委办公室")

    added = client.post(f"/api/practices/{pid}/tags", json={"tag": "读书活动"})
    assert added.status_code == 201
    assert {"tag": "读书活动", "source": "staff"} in added.json()["tags"]
    assert client.post(f"/api/practices/{pid}/tags", json={"tag": " "}).status_code == 422

    tagged = client.get("/api/search", params={"tag": "读书活动"}).json()["results"]
    assert [h["practice"]["id"] for h in tagged] == [pid]
    counts = client.get("/api/tags").json()
    assert {"tag": "读书活动", "count": 1, "auto": 0, "staff": 1} in counts["tags"]
    assert [t["topic"] for t in counts["topics"]] == list(TOPICS)

    catch_up(clock)
    client.post("/api/digests/run", params={"force": True})
    (payload,) = webhook.received
    assert [p["id"] for t in payload["topics"] for g in t["groups"] for p in g["practices"]] == [pid]
    assert payload["subscription"]["id"] == sub["id"]

    removed = client.delete(f"/api/practices/{pid}/tags/读书活动")
    assert removed.status_code == 200 and "读书活动" not in [t["tag"] for t in removed.json()["tags"]]
    assert client.get("/api/search", params={"tag": "读书活动"}).json()["results"] == []
    assert client.delete(f"/api/practices/{pid}/tags/读书活动").status_code == 404


def test_removing_an_automatic_tag_marks_it_removed(app_client):
    client = app_client
    upload(client, SEED.name, SEED.read_bytes())
    auto = [t for t in client.get("/api/tags").json()["tags"] if t["auto"]]
    assert auto, "mining gave the seed's practices no finer tags"
    tag = auto[0]["tag"]
    pid = client.get("/api/search", params={"tag": tag}).json()["results"][0]["practice"]["id"]

    assert client.delete(f"/api/practices/{pid}/tags/{tag}").status_code == 200
    assert pid not in [h["practice"]["id"] for h in client.get("/api/search", params={"tag": tag}).json()["results"]]
    # Adding it back revives the automatic tag instead of creating a second one.
    again = client.post(f"/api/practices/{pid}/tags", json={"tag": tag}).json()["tags"]
    assert {"tag": tag, "source": "auto"} in again
