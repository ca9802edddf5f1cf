"""Digests sent by the runner to a real SMTP server and webhook on loopback, with a controllable clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import docx
import pytest

from service.digest import subscriptions as subs
from service.digest.clock import ManualClock
from service.digest.runner import list_digests
from service.digest.tokens import token_matches
from tests.digest.conftest import SAMPLES, SEED, digest_settings, make_runner, open_db
from tests.digest.corpus_library import SEED_SPECS, XIANYANG, XIANYANG_SPECS, Spec, add_document
from tests.digest.servers import MailServer, attachments, html_part, text_part

SHANGHAI = timedelta(hours=8)


@pytest.fixture
def clock() -> ManualClock:
    """Wednesday 2026-11-25, noon in Shanghai: far from any weekly Monday slot these stories could cross."""
    return ManualClock(datetime(2026, 11, 25, 4, 0, tzinfo=UTC))


def subscribe(path, clock, **payload):
    conn = open_db(path)
    try:
        return subs.create(conn, payload, clock.now())
    finally:
        conn.close()


def store(path, specs, when, source=SEED):
    conn = open_db(path)
    try:
        return add_document(conn, source, specs, when)
    finally:
        conn.close()


def digests(path, **kw):
    conn = open_db(path)
    try:
        return list_digests(conn, **kw)
    finally:
        conn.close()


def test_mail_holds_the_followed_topic_only_and_is_not_repeated(tmp_path, library_db, mail_server, clock):
    settings = digest_settings(tmp_path, mail_server)
    runner = make_runner(library_db, settings, clock)
    sub = subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设"], frequency="daily")
    store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=5)))
    clock.advance(timedelta(minutes=1))

    report = runner.run(force=True)

    assert len(report.sent) == 1 and len(mail_server.messages) == 1
    msg = mail_server.messages[0]
    assert msg["To"] == "staff@unit.test"
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(part for part in msg.iter_parts() if part.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    text, html = text_part(msg), html_part(msg)
    for body in (text, html):
        assert "市委办公室" in body and "日读一文" in body
        assert "三卡预警" not in body and "市发改委" not in body
    assert "思想建设" in msg["Subject"]
    assert "http://jingyan.test/practices/" in html
    (name, data), = attachments(msg)
    assert name.endswith(".docx")
    word = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert "日读一文" in word and "三卡预警" not in word
    token = msg["List-Unsubscribe"].split("token=")[1].rstrip(">")
    assert token_matches(token, sub.id, sub.unsubscribe_secret, settings.secret_key)

    clock.advance(timedelta(days=1))
    again = runner.run(force=True)
    assert again.created == [] and again.sent == []
    assert len(mail_server.messages) == 1
    (only,) = digests(library_db)
    assert only["status"] == "sent" and only["attempts"] == 1 and only["count"] == 3


def test_schedule_sends_at_the_subscribed_time_and_never_an_empty_mail(tmp_path, library_db, mail_server, clock):
    # Sunday 2026-11-29 20:00 in Shanghai.
    clock.set(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    subscribe(library_db, clock, email="weekly@unit.test", topics=["作风建设"], frequency="weekly",
              weekday=1, send_at="08:30")
    store(library_db, SEED_SPECS, clock.advance(timedelta(hours=1)))

    clock.set(datetime(2026, 11, 30, 8, 29, tzinfo=UTC) - SHANGHAI)  # Monday 08:29 local
    assert runner.run().created == [] and mail_server.messages == []

    clock.set(datetime(2026, 11, 30, 8, 31, tzinfo=UTC) - SHANGHAI)  # Monday 08:31 local
    assert len(runner.run().sent) == 1
    assert "三卡预警" in text_part(mail_server.messages[0])
    assert "日读一文" not in text_part(mail_server.messages[0])

    clock.advance(timedelta(hours=2))
    assert runner.run().created == []
    clock.advance(timedelta(days=7))  # next Monday: nothing new, so nothing is sent or recorded
    assert runner.run().created == []
    assert len(mail_server.messages) == 1 and len(digests(library_db)) == 1


def test_smtp_down_is_retried_with_backoff_and_sent_once_when_back(tmp_path, library_db, mail_server, clock):
    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设"])
    store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))
    mail_server.stop()

    clock.advance(timedelta(minutes=1))
    first = runner.run(force=True)
    assert first.sent == [] and len(first.failed) == 1
    (d,) = digests(library_db)
    assert d["status"] == "failed" and d["attempts"] == 1
    assert "邮件服务器" in d["last_error"]
    retry_at = datetime.fromisoformat(d["next_attempt_at"])
    assert retry_at == clock.now() + timedelta(minutes=1)

    clock.advance(timedelta(seconds=30))  # before the retry time: left alone
    assert runner.run().failed == []
    clock.advance(timedelta(seconds=31))  # still down: second attempt, longer wait
    runner.run()
    (d,) = digests(library_db)
    assert d["attempts"] == 2
    assert datetime.fromisoformat(d["next_attempt_at"]) == clock.now() + timedelta(minutes=2)

    mail_server.start()
    clock.advance(timedelta(minutes=2))
    assert len(runner.run().sent) == 1
    clock.advance(timedelta(hours=1))
    runner.run()
    assert len(mail_server.messages) == 1
    (d,) = digests(library_db)
    assert d["status"] == "sent" and d["attempts"] == 3 and d["next_attempt_at"] is None


def test_practices_arriving_during_a_failure_travel_with_the_next_digest(tmp_path, library_db, mail_server, clock):
    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设", "基层治理"])
    first_ids = store(library_db, SEED_SPECS[:1], clock.advance(timedelta(minutes=1)))
    mail_server.stop()
    clock.advance(timedelta(minutes=1))
    runner.run(force=True)

    new_ids = store(library_db, XIANYANG_SPECS, clock.advance(timedelta(minutes=1)), source=SAMPLES / XIANYANG)
    mail_server.start()
    clock.advance(timedelta(minutes=1))
    report = runner.run(force=True)

    assert len(report.sent) == 1 and len(mail_server.messages) == 1
    body = text_part(mail_server.messages[0])
    assert "日读一文" in body and "一年10件实事" in body
    newest, oldest = digests(library_db)
    assert oldest["status"] == "superseded"
    assert newest["status"] == "sent" and sorted(newest["practice_ids"]) == sorted(first_ids + new_ids)


def test_webhook_500_then_200_is_delivered_once(tmp_path, library_db, webhook, clock):
    runner = make_runner(library_db, digest_settings(tmp_path), clock)
    sub = subscribe(library_db, clock, webhook_url=webhook.url, topics=["思想建设", "作风建设"])
    store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))
    webhook.statuses = [500]

    clock.advance(timedelta(minutes=1))
    assert len(runner.run(force=True).failed) == 1
    assert "500" in digests(library_db)[0]["last_error"]
    clock.advance(timedelta(minutes=1))
    assert len(runner.run().sent) == 1
    clock.advance(timedelta(minutes=10))
    runner.run()

    assert webhook.requests == 2 and len(webhook.received) == 1
    payload = webhook.received[0]
    assert payload["subscription"]["id"] == sub.id and payload["count"] == 4
    assert [t["topic"] for t in payload["topics"]] == ["思想建设", "作风建设"]
    first = payload["topics"][0]["groups"][0]["practices"][0]
    assert first["orgs"] == ["市委办公室"] and first["url"].startswith("http://jingyan.test/practices/")
    assert first["document"]["filename"] == SEED.name
    assert "/unsubscribe?token=" in payload["unsubscribe_url"]


def test_tags_and_units_narrow_a_subscription(tmp_path, library_db, webhook, clock):
    runner = make_runner(library_db, digest_settings(tmp_path), clock)
    subscribe(library_db, clock, webhook_url=webhook.url, tags=["学习制度"], orgs=["市纪委监察局", "市发改委"])
    store(library_db, SEED_SPECS + (Spec("市委组织部", "四个一", "思想建设"),), clock.advance(timedelta(minutes=1)))
    clock.advance(timedelta(minutes=1))
    runner.run(force=True)
    (payload,) = webhook.received
    names = [p["name"] for t in payload["topics"] for g in t["groups"] for p in g["practices"]]
    assert names == ["“教育培训目标化”"]


def test_a_digest_that_keeps_failing_is_given_up_but_its_practices_go_out_with_the_next(
    tmp_path, library_db, mail_server, clock
):
    from service.digest.runner import MAX_ATTEMPTS, backoff

    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设"])
    ids = store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))
    mail_server.stop()
    clock.advance(timedelta(minutes=1))
    runner.run(force=True)
    for attempt in range(1, MAX_ATTEMPTS):
        clock.advance(backoff(attempt))
        runner.run()
    (d,) = digests(library_db)
    assert d["status"] == "failed" and d["attempts"] == MAX_ATTEMPTS and d["next_attempt_at"] is None
    assert backoff(MAX_ATTEMPTS) == timedelta(hours=6)  # the wait is capped

    mail_server.start()
    clock.advance(timedelta(days=1))
    assert runner.run().sent == []  # given up: not retried by itself
    assert len(runner.run(force=True).sent) == 1
    newest, _ = digests(library_db)
    assert sorted(newest["practice_ids"]) == sorted(i for i, s in zip(ids, SEED_SPECS, strict=True)
                                                    if s.topic == "思想建设")
    assert len(mail_server.messages) == 1


def test_a_paused_subscription_gets_no_pending_retry(tmp_path, library_db, mail_server, clock):
    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    sub = subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设"])
    store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))
    mail_server.stop()
    clock.advance(timedelta(minutes=1))
    runner.run(force=True)
    conn = open_db(library_db)
    subs.update(conn, sub.id, {"active": False}, clock.now())
    conn.close()

    mail_server.start()
    clock.advance(timedelta(minutes=5))
    runner.run()
    (d,) = digests(library_db)
    assert d["status"] == "cancelled" and "暂停" in d["last_error"]
    assert mail_server.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_from_settings_and_a_clear_error_when_it_is_refused(tmp_path, library_db, clock):
    server = MailServer(login=("jingyan", "right-password"))
    server.start()
    try:
        settings = digest_settings(tmp_path, server)
        settings.smtp_user, settings.smtp_password = "jingyan", "wrong-password"
        runner = make_runner(library_db, settings, clock)
        subscribe(library_db, clock, email="staff@unit.test", topics=["思想建设"])
        store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))
        clock.advance(timedelta(minutes=1))
        (failure,) = runner.run(force=True).failed
        assert "拒绝登录" in failure["error"] and "JINGYAN_SMTP_PASSWORD" in failure["error"]

        runner.settings.smtp_password = "right-password"
        clock.advance(timedelta(minutes=2))
        assert len(runner.run().sent) == 1 and len(server.messages) == 1
    finally:
        server.stop()
