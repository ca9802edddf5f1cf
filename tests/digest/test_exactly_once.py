"""A send interrupted by a crash is never repeated, and the ticker sends on schedule by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

from service.config import REPO_ROOT
from service.digest.clock import ManualClock
from service.digest.runner import INTERRUPTED
from service.digest.scheduler import DigestScheduler
from tests.digest.app_support import far_send_at
from tests.digest.conftest import digest_settings, make_runner
from tests.digest.corpus_library import SEED_SPECS
from tests.digest.test_runner import digests, store, subscribe

SHANGHAI = timedelta(hours=8)

CRASHING_RUN = """
from pathlib import Path
from service.config import Settings
from service.digest.runner import DigestRunner
from service.library.db import connect
settings = Settings(data_dir=Path({data!r}), base_url="http://jingyan.test", secret_key="test-secret",
                    webhook_allow_private=True)
DigestRunner(settings, connect=lambda: connect({db!r})).run(force=True)
"""


def test_a_send_cut_off_by_a_crash_is_not_repeated_and_nothing_is_lost(tmp_path, library_db, webhook):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    clock = ManualClock(start)
    subscribe(library_db, clock, webhook_url=webhook.url, topics=["思想建设"], frequency="daily",
              send_at=far_send_at())
    store(library_db, SEED_SPECS, clock.advance(timedelta(minutes=1)))

    # Another process claims the digest, posts it, and is killed while the webhook is still answering.
    webhook.hold.set()
    script = textwrap.dedent(CRASHING_RUN).format(data=str(tmp_path), db=str(library_db))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, env=env)
    try:
        assert webhook.arrived.wait(120), "the other process never posted"
    finally:
        proc.kill()
        proc.wait()
    webhook.release.set()
    (d,) = digests(library_db)
    assert d["status"] == "sending" and d["attempts"] == 1

    runner = make_runner(library_db, digest_settings(tmp_path), clock)
    clock.set(datetime.now(UTC) + timedelta(minutes=1))
    report = runner.run()
    assert report.recovered == [] and report.sent == []  # a claim this fresh may still be in flight

    clock.advance(timedelta(minutes=16))
    assert runner.run().recovered == [d["id"]]
    (d,) = digests(library_db)
    assert d["status"] == "failed" and d["last_error"] == INTERRUPTED and d["next_attempt_at"] is None
    assert webhook.requests == 1 and webhook.received == []

    # Nothing is lost: the next digest starts at the last successful one, so it carries them again.
    report = runner.run(force=True)
    assert len(report.sent) == 1
    newest, interrupted = digests(library_db)
    assert interrupted["status"] == "failed" and newest["status"] == "sent"
    assert sorted(newest["practice_ids"]) == sorted(d["practice_ids"])
    assert webhook.requests == 2 and len(webhook.received) == 1


def test_the_ticker_sends_a_due_digest_without_anyone_pressing_a_button(tmp_path, library_db, mail_server):
    clock = ManualClock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    runner = make_runner(library_db, digest_settings(tmp_path, mail_server), clock)
    subscribe(library_db, clock, email="daily@unit.test", topics=["思想建设"], frequency="daily", send_at="08:30")
    store(library_db, SEED_SPECS, clock.advance(timedelta(hours=1)))
    ticker = DigestScheduler(runner, interval_s=0.05)
    ticker.start()
    try:
        time.sleep(0.3)
        assert mail_server.messages == []  # 21:00 in Shanghai: not yet
        clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=UTC) - SHANGHAI)
        deadline = time.monotonic() + 20
        while not mail_server.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few more ticks must not send it again
    finally:
        ticker.stop()
    assert not ticker.running
    assert len(mail_server.messages) == 1 and mail_server.messages[0]["To"] == "daily@unit.test"
