"""The subscriber's story through the real HTTP API, a real SMTP server and a real webhook receiver."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.digest.app_support import catch_up, far_send_at, upload, word_file
from tests.digest.conftest import SEED
from tests.digest.servers import attachments, html_part, text_part

FINANCE = word_file(
    "市财政局机关党建工作交流材料",
    "一、强化理论武装",
    "市财政局推行“每周一学”学习制度，每周一早上组织党员干部集中学习党的创新理论，全年开展集中学习48次。",
)
AUDIT = word_file(
    "市审计局机关党建工作交流材料",
    "一、加强思想建设",
    "市审计局开设“审计讲堂”理论学习课堂，由支部书记轮流领学党的创新理论，全年开讲24期。",
)


def run(client, force=True):
    response = client.post("/api/digests/run", params={"force": force})
    assert response.status_code == 200, response.text
    return response.json()


def test_subscriber_gets_new_practices_once_even_when_the_mail_server_is_down(app_client, mail_server, clock):
    client = app_client
    created = client.post(
        "/api/subscriptions",
        json={"email": "staff@unit.test", "topics": ["思想建设"], "frequency": "daily", "send_at": far_send_at()},
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    upload(client, SEED.name, SEED.read_bytes())
    catch_up(clock)

    first = run(client)
    assert len(first["sent"]) == 1 and len(mail_server.messages) == 1
    mail = mail_server.messages[0]
    assert "市委办公室" in text_part(mail) and "日读一文" in text_part(mail)
    assert "三卡预警" not in text_part(mail) and "三卡预警" not in html_part(mail)
    (name, _), = attachments(mail)
    assert name.endswith(".docx")

    clock.advance(timedelta(minutes=1))
    assert run(client)["sent"] == [] and len(mail_server.messages) == 1

    upload(client, "市财政局交流材料.docx", FINANCE)
    catch_up(clock)
    assert len(run(client)["sent"]) == 1
    second = text_part(mail_server.messages[1])
    assert "每周一学" in second and "日读一文" not in second

    # The mail server goes down: the digest fails, is retried later, and goes out once when it is back.
    upload(client, "市审计局交流材料.docx", AUDIT)
    catch_up(clock)
    mail_server.stop()
    assert len(run(client)["failed"]) == 1
    failed = client.get("/api/digests", params={"status": "failed"}).json()["digests"]
    assert len(failed) == 1 and failed[0]["attempts"] == 1 and "邮件服务器" in failed[0]["last_error"]
    assert failed[0]["next_attempt_at"]
    clock.advance(timedelta(seconds=61))
    assert len(run(client, force=False)["failed"]) == 1
    mail_server.start()
    clock.advance(timedelta(minutes=3))
    assert len(run(client, force=False)["sent"]) == 1
    clock.advance(timedelta(minutes=1))
    run(client)
    assert len(mail_server.messages) == 3
    third = text_part(mail_server.messages[2])
    assert "审计讲堂" in third and "每周一学" not in third
    history = client.get("/api/digests", params={"subscription_id": sub["id"]}).json()["digests"]
    assert [d["status"] for d in history] == ["sent", "sent", "sent"]
    assert history[0]["attempts"] == 3

    # The unsubscribe link in the mail works without a login: opening it asks, the button acts.
    link = re.search(r"退订：(\S+)", third).group(1)
    assert link.startswith("http://jingyan.test/unsubscribe?token=")
    anonymous = TestClient(client.app)
    page = anonymous.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status_code == 200 and "确认退订" in page.text and "staff@unit.test" in page.text
    assert client.get(f"/api/subscriptions/{sub['id']}").json()["active"] is True
    token = urlsplit(link).query.removeprefix("token=")
    done = anonymous.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200 and "已退订" in done.text and "staff@unit.test" in done.text
    assert client.get(f"/api/subscriptions/{sub['id']}").json()["active"] is False
    assert client.get("/unsubscribe", params={"token": "1.forged"}).status_code == 400
    assert mail_server.messages[2]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert client.post(urlsplit(link).path + "?" + urlsplit(link).query).status_code == 200  # one-click


def test_webhook_answering_500_then_200_receives_the_digest_once(app_client, webhook, clock):
    client = app_client
    sub = client.post(
        "/api/subscriptions",
        json={"webhook_url": webhook.url, "topics": ["思想建设"], "frequency": "daily", "send_at": far_send_at()},
    ).json()
    upload(client, SEED.name, SEED.read_bytes())
    catch_up(clock)
    webhook.statuses = [500]

    assert len(run(client)["failed"]) == 1
    clock.advance(timedelta(minutes=1, seconds=1))
    assert len(run(client, force=False)["sent"]) == 1
    clock.advance(timedelta(minutes=5))
    run(client)

    assert webhook.requests == 2 and len(webhook.received) == 1
    payload = webhook.received[0]
    assert payload["subscription"]["id"] == sub["id"]
    units = [p["orgs"] for t in payload["topics"] for g in t["groups"] for p in g["practices"]]
    assert ["市委办公室"] in units


def test_subscriptions_are_managed_and_previewed_over_http(app_client, clock):
    client = app_client
    bad = client.post("/api/subscriptions", json={"email": "staff@unit.test", "topics": ["党建"]})
    assert bad.status_code == 422 and "未知主题" in bad.json()["detail"]
    assert client.post("/api/subscriptions", json={"topics": ["思想建设"]}).status_code == 422
    broken = client.post("/api/subscriptions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and "JSON" in broken.json()["detail"]

    sub = client.post("/api/subscriptions", json={"email": "staff@unit.test", "topics": ["思想建设"]}).json()
    client.post("/api/subscriptions", json={"email": "other@unit.test", "orgs": ["市委办公室"]})
    mine = client.get("/api/subscriptions", params={"email": "staff@unit.test"}).json()["subscriptions"]
    assert [s["id"] for s in mine] == [sub["id"]]
    assert sub["schedule"] == "每周一 08:30" and sub["timezone"] == "Asia/Shanghai"
    next_send = datetime.fromisoformat(sub["next_send_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (next_send.isoweekday(), next_send.hour, next_send.minute) == (1, 8, 30)
    assert next_send > clock.now()

    paused = client.patch(f"/api/subscriptions/{sub['id']}", json={"active": False}).json()
    assert paused["active"] is False and paused["next_send_at"] is None
    assert client.patch(f"/api/subscriptions/{sub['id']}", json={"frequency": "hourly"}).status_code == 422
    resumed = client.patch(f"/api/subscriptions/{sub['id']}", json={"active": True, "frequency": "daily"}).json()
    assert resumed["active"] is True and resumed["schedule"] == "每日 08:30"

    upload(client, SEED.name, SEED.read_bytes())
    catch_up(clock)
    preview = client.get(f"/api/subscriptions/{sub['id']}/preview").json()
    assert preview["count"] >= 1 and preview["topics"][0]["topic"] == "思想建设"
    assert client.get("/api/digests").json()["digests"] == []  # a preview sends and records nothing

    dry = client.post("/api/digests/run", params={"force": True, "dry_run": True}).json()
    assert dry["dry_run"] is True and dry["created"] and dry["sent"] == []
    assert client.get("/api/digests").json()["digests"] == []

    assert client.delete(f"/api/subscriptions/{sub['id']}").status_code == 200
    assert client.get(f"/api/subscriptions/{sub['id']}").status_code == 404


def test_the_service_runs_its_digest_ticker_by_default(tmp_path):
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.config import Settings

    settings = Settings(data_dir=tmp_path / "data", load_sample_corpus=False, model_dir=tmp_path / "no-model")
    app = create_app(settings)
    with TestClient(app):
        assert app.state.digest_scheduler.running
    assert not app.state.digest_scheduler.running


def test_a_saved_search_selects_what_the_search_index_finds(app_client, webhook, clock):
    client = app_client
    client.post("/api/subscriptions", json={"webhook_url": webhook.url, "query": "学习制度"})
    upload(client, SEED.name, SEED.read_bytes())
    catch_up(clock)
    run(client)
    (payload,) = webhook.received
    delivered = {p["id"]: p["text"] for t in payload["topics"] for g in t["groups"] for p in g["practices"]}
    assert any("日读一文" in t for t in delivered.values())
    # Without a model the service searches by keywords alone, so the digest holds exactly the search's hits.
    found = client.get("/api/search", params={"q": "学习制度", "limit": 100}).json()
    everything = client.get("/api/search", params={"q": "", "limit": 1}).json()["total"]
    assert set(delivered) == {h["practice"]["id"] for h in found["results"]}
    assert len(delivered) < everything
    assert payload["subscription"]["description"] == "检索：学习制度"
