"""An unsubscribe link acts on the subscription it was mailed for, and only on that one."""

from __future__ import annotations

from urllib.parse import urlsplit

from service.digest import schema as digest_schema
from service.digest.tokens import make_token
from service.library import schema as library_schema
from service.library.db import apply_migrations, connect
from tests.digest.app_support import confirm_by_mail, far_send_at


def subscribe(client, mail_server, email: str) -> dict:
    """Subscribe ``email`` (not the signed-in user's own address) and confirm it as its recipient would."""
    created = client.post("/api/subscriptions", json={"email": email, "frequency": "daily", "send_at": far_send_at()})
    assert created.status_code == 201, created.text
    assert created.json()["active"] is False and created.json()["confirmed"] is False
    confirm_by_mail(client, mail_server, email)
    return {**created.json(), **client.get(f"/api/subscriptions/{created.json()['id']}").json()}


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def test_an_old_link_never_unsubscribes_whoever_subscribes_after_a_delete(app_client, mail_server):
    client = app_client
    alice = subscribe(client, mail_server, "alice@unit.test")
    alice_link = path_of(alice["unsubscribe_url"])
    assert client.delete(f"/api/subscriptions/{alice['id']}").status_code == 200

    bob = subscribe(client, mail_server, "bob@unit.test")
    assert bob["id"] != alice["id"]  # ids are never handed out twice
    for answer in (client.get(alice_link), client.post(alice_link)):
        assert answer.status_code == 400 and "退订未成功" in answer.text
    assert client.get(f"/api/subscriptions/{bob['id']}").json()["active"] is True

    # Bob's own link opens a confirmation page that changes nothing; pressing its button (or the mail
    # client's one-click POST to the same link) unsubscribes.
    page = client.get(path_of(bob["unsubscribe_url"]))
    assert page.status_code == 200 and "确认退订" in page.text
    assert client.get(f"/api/subscriptions/{bob['id']}").json()["active"] is True
    assert client.post(path_of(bob["unsubscribe_url"])).status_code == 200
    assert client.get(f"/api/subscriptions/{bob['id']}").json()["active"] is False


def test_a_token_made_from_the_id_and_the_default_key_is_refused(app_client, mail_server):
    client = app_client
    carol = subscribe(client, mail_server, "carol@unit.test")
    key = app_client.app.state.settings.secret_key
    for secret in ("", "0" * 32):
        forged = make_token(carol["id"], secret, key)
        assert client.get("/unsubscribe", params={"token": forged}).status_code == 400
        assert client.post("/api/unsubscribe", json={"token": forged}).status_code == 400
    assert client.get(f"/api/subscriptions/{carol['id']}").json()["active"] is True


def test_upgrading_keeps_every_subscription_and_its_digests(tmp_path):
    path = tmp_path / "library.sqlite"
    conn = connect(path)
    library_schema.migrate(conn)
    apply_migrations(conn, digest_schema.COMPONENT, digest_schema.MIGRATIONS[:1])  # the first layout
    conn.execute(
        "INSERT INTO subscriptions(id, email, frequency, send_at, created_at, updated_at)"
        " VALUES (7, 'old@unit.test', 'daily', '08:30', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
    )
    conn.execute(
        "INSERT INTO digests(subscription_id, channel, period_start, period_end, status, created_at, updated_at)"
        " VALUES (7, 'email', 'a', 'b', 'sent', 'c', 'd')"
    )

    digest_schema.migrate(conn)

    row = conn.execute("SELECT id, email, unsubscribe_secret FROM subscriptions").fetchone()
    assert (row["id"], row["email"]) == (7, "old@unit.test") and len(row["unsubscribe_secret"]) == 32
    assert [r[0] for r in conn.execute("SELECT subscription_id FROM digests")] == [7]
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.execute("DELETE FROM subscriptions WHERE id = 7")
    conn.execute(
        "INSERT INTO subscriptions(email, frequency, send_at, created_at, updated_at, unsubscribe_secret)"
        " VALUES ('new@unit.test', 'daily', '08:30', 'x', 'x', 'y')"
    )
    assert conn.execute("SELECT id FROM subscriptions").fetchone()[0] == 8
    assert conn.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0  # deleting still cascades
    conn.close()
