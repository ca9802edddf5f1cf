"""Subscriptions are private to their owners, another's address must agree first, webhooks stay off the intranet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.digest.targets import TargetRefused, resolve
from tests.digest.app_support import catch_up, confirm_by_mail, far_send_at, upload
from tests.digest.conftest import SEED, digest_settings
from tests.digest.servers import MailServer
from tests.signin import sign_in


def _client(app_client: TestClient, role: str, name: str, email: str) -> TestClient:
    return sign_in(TestClient(app_client.app), role, name=name, email=email)


def test_staff_see_only_their_own_subscriptions_and_admins_see_all(app_client):
    li = _client(app_client, "staff", "li", "li@unit.test")
    wang = _client(app_client, "staff", "wang", "wang@unit.test")
    mine = li.post("/api/subscriptions", json={"email": "li@unit.test", "topics": ["思想建设"]})
    assert mine.status_code == 201 and mine.json()["active"] is True  # one's own address: no confirmation
    sub_id = mine.json()["id"]

    assert [s["id"] for s in li.get("/api/subscriptions").json()["subscriptions"]] == [sub_id]
    assert wang.get("/api/subscriptions").json()["subscriptions"] == []
    assert wang.get("/api/subscriptions", params={"email": "li@unit.test"}).json()["subscriptions"] == []
    for answer in (
        wang.get(f"/api/subscriptions/{sub_id}"),
        wang.get(f"/api/subscriptions/{sub_id}/preview"),
        wang.patch(f"/api/subscriptions/{sub_id}", json={"active": False}),
        wang.delete(f"/api/subscriptions/{sub_id}"),
    ):
        assert answer.status_code == 403 and "li@unit.test" not in answer.text
    assert "li@unit.test" not in wang.get(f"/subscriptions/{sub_id}/preview").text
    assert "li@unit.test" not in wang.get("/subscriptions").text

    # The administrator sees every address, but never another person's unsubscribe link.
    listed = app_client.get("/api/subscriptions").json()["subscriptions"]
    (seen,) = [s for s in listed if s["id"] == sub_id]
    assert seen["email"] == "li@unit.test" and "unsubscribe_url" not in seen
    assert "unsubscribe_url" in li.get(f"/api/subscriptions/{sub_id}").json()


def test_a_subscription_for_someone_elses_address_waits_for_their_confirmation(app_client, mail_server, clock):
    zhang = _client(app_client, "staff", "zhang", "zhang@unit.test")
    created = zhang.post("/api/subscriptions", json={"email": "chief@unit.test", "frequency": "daily",
                                                     "send_at": far_send_at()})
    assert created.status_code == 201
    sub = created.json()
    assert sub["confirmed"] is False and sub["active"] is False and "确认邮件已发送" in sub["notice"]
    (mail,) = mail_server.messages
    assert mail["To"] == "chief@unit.test" and "zhang" in mail.get_body().get_content()
    # It cannot be switched on around the recipient, and nothing is sent to it meanwhile.
    resumed = zhang.patch(f"/api/subscriptions/{sub['id']}", json={"active": True})
    assert resumed.status_code == 422 and "尚未经收件人确认" in resumed.json()["detail"]
    upload(app_client, SEED.name, SEED.read_bytes())
    catch_up(clock)
    assert app_client.post("/api/digests/run", params={"force": True}).json()["sent"] == []
    assert len(mail_server.messages) == 1

    confirm_by_mail(TestClient(app_client.app), mail_server, "chief@unit.test")
    assert zhang.get(f"/api/subscriptions/{sub['id']}").json()["active"] is True
    # Confirmed, it sends what arrives from now on.
    upload(app_client, "pb-lotjol__11.txt", (SEED.parent / "pb-lotjol__11.txt").read_bytes())
    catch_up(clock)
    assert len(app_client.post("/api/digests/run", params={"force": True}).json()["sent"]) == 1
    assert mail_server.messages[-1]["To"] == "chief@unit.test" and "确认" not in mail_server.messages[-1]["Subject"]
    # Readdressing it to yet another address asks again.
    moved = zhang.patch(f"/api/subscriptions/{sub['id']}", json={"email": "deputy@unit.test"})
    assert moved.json()["confirmed"] is False and moved.json()["active"] is False
    assert mail_server.messages[-1]["To"] == "deputy@unit.test"


def test_delivery_failures_keep_socket_details_from_non_admins(app_client, clock):
    chen = _client(app_client, "staff", "chen", "chen@unit.test")
    # A closed port on loopback (this test app allows intranet receivers, as JINGYAN_WEBHOOK_ALLOW_PRIVATE=1 does).
    sub = chen.post("/api/subscriptions", json={"webhook_url": "http://127.0.0.1:9/hook"}).json()
    upload(app_client, SEED.name, SEED.read_bytes())
    catch_up(clock)
    report = app_client.post("/api/digests/run", params={"force": True}).json()
    assert len(report["failed"]) == 1
    (seen,) = chen.get("/api/digests", params={"subscription_id": sub["id"]}).json()["digests"]
    assert seen["last_error"] == "无法连接推送地址，稍后自动重试" and "error_detail" not in seen
    (admin_view,) = app_client.get("/api/digests", params={"subscription_id": sub["id"]}).json()["digests"]
    assert "127.0.0.1:9" in admin_view["error_detail"] and "Error" in admin_view["error_detail"]


@pytest.fixture
def strict_client(tmp_path: Path, mail_server: MailServer) -> Iterator[TestClient]:
    """The service with the production default: no webhooks into loopback, private or link-local ranges."""
    from service.api.app import create_app

    settings = digest_settings(tmp_path, mail_server)
    settings.webhook_allow_private = False
    settings.model_dir = tmp_path / "no-model"
    with TestClient(create_app(settings)) as client:
        yield sign_in(client, "staff", email="staff@unit.test")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.1.2.3/hook",
     "http://192.168.0.10/hook", "http://169.254.169.254/latest/meta-data", "http://224.0.0.1/",
     "http://0.0.0.0:8000/", "http://240.0.0.1/", "http://[::ffff:127.0.0.1]/"],
)
def test_webhooks_to_loopback_private_link_local_multicast_or_reserved_targets_are_refused(strict_client, url):
    answer = strict_client.post("/api/subscriptions", json={"webhook_url": url})
    assert answer.status_code == 422, answer.text
    assert "已拒绝" in answer.json()["detail"] and "JINGYAN_WEBHOOK_ALLOW_PRIVATE" in answer.json()["detail"]


def test_delivery_checks_the_target_again(tmp_path):
    """A name that later resolves to loopback is refused when the digest goes out, not only when subscribing."""
    with pytest.raises(TargetRefused):
        resolve("http://localhost:8000/hook")
    assert resolve("http://localhost:8000/hook", allow_private=True)[0][2] in ("127.0.0.1", "::1")
    assert resolve("http://no-such-host.invalid/hook", must_resolve=False) == []
    from service.digest.deliver import DeliveryError, post_webhook

    with pytest.raises(DeliveryError, match="已拒绝"):
        post_webhook("http://127.0.0.1:9/hook", {"x": 1})
