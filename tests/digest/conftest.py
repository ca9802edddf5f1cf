"""Fixtures for the digest stories: loopback SMTP and webhook servers, a library built from the corpus."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import REPO_ROOT, Settings
from service.digest import schema as digest_schema
from service.digest.clock import ManualClock
from service.digest.runner import DigestRunner
from service.library import schema as library_schema
from service.library.db import connect
from tests.digest.servers import MailServer, WebhookReceiver
from tests.signin import sign_in

# The subscriber the signed-in test client is: subscriptions to this address need no confirmation.
OWN_EMAIL = "staff@unit.test"

SAMPLES = REPO_ROOT / "corpus" / "samples"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def digest_settings(tmp_path: Path, mail_server: MailServer | None = None) -> Settings:
    """Settings pointing at the loopback SMTP server; the ticker is off so tests drive every run."""
    return Settings(
        data_dir=tmp_path / "data",
        load_sample_corpus=False,
        base_url="http://jingyan.test",
        secret_key="test-secret",
        smtp_host="127.0.0.1",
        smtp_port=mail_server.port if mail_server else 1,
        smtp_from="jingyan@jingyan.test",
        digest_scheduler=False,
        # The test webhook receivers listen on loopback, which production refuses.
        webhook_allow_private=True,
    )


@pytest.fixture
def library_db(tmp_path: Path) -> Path:
    """An empty library database with the library and digest tables."""
    path = tmp_path / "library.sqlite"
    conn = connect(path)
    library_schema.migrate(conn)
    digest_schema.migrate(conn)
    conn.close()
    return path


def make_runner(path: Path, settings: Settings, clock: ManualClock) -> DigestRunner:
    return DigestRunner(settings, connect=lambda: connect(path), clock=clock)


def open_db(path: Path) -> sqlite3.Connection:
    return connect(path)


@pytest.fixture
def app_client(tmp_path: Path, mail_server: MailServer, clock: ManualClock) -> Iterator[TestClient]:
    """The whole service over HTTP (keyword search only, ticker off), digests on the test clock,
    signed in as an administrator whose own address is ``OWN_EMAIL``."""
    from service.api.app import create_app

    settings = digest_settings(tmp_path, mail_server)
    settings.model_dir = tmp_path / "no-model"
    app = create_app(settings)
    app.state.digest_runner.clock = clock
    with TestClient(app) as client:
        yield sign_in(client, "admin", email=OWN_EMAIL)
