"""Helpers for stories told through the real HTTP API: the app, uploads, Word files written on the fly."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import docx
from fastapi.testclient import TestClient

from service.digest.clock import ManualClock
from service.digest.scheduler import DEFAULT_TIMEZONE


def upload(client: TestClient, name: str, data: bytes, timeout: float = 180.0) -> dict:
    """POST one file to /api/documents and wait until its job is done."""
    response = client.post("/api/documents", files=[("files", (name, data))])
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    deadline = time.monotonic() + timeout
    while job["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job still pending: {job}"
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    return job


def confirm_by_mail(client: TestClient, mail_server, address: str) -> None:
    """Play the recipient of a subscription somebody else made: open the confirmation mail's link, press 确认订阅."""
    from urllib.parse import urlsplit

    (mail,) = [m for m in mail_server.messages if m["To"] == address and "确认订阅" in m["Subject"]][-1:]
    link = urlsplit(re.search(r"https?://\S+/subscriptions/confirm\?token=\S+", mail.get_body().get_content()).group(0))
    token = link.query.removeprefix("token=")
    page = client.get(link.path, params={"token": token})
    assert page.status_code == 200 and "确认订阅" in page.text, page.text
    answer = client.post(link.path, data={"token": token})
    assert answer.status_code == 200 and "订阅已确认" in answer.text, answer.text


def word_file(title: str, *paragraphs: str) -> bytes:
    """A small exchange material as a .docx, the way units send them."""
    doc = docx.Document()
    doc.add_heading(title, level=1)
    for text in paragraphs:
        doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def catch_up(clock: ManualClock) -> None:
    """Bring the test clock to just after the real time the ingestion worker stamps practices with."""
    clock.set(max(clock.now(), datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)))


def far_send_at(hours: int = 12) -> str:
    """A daily ``send_at`` half a day away, so no scheduled slot falls inside a test driven by hand."""
    when = (datetime.now(UTC) + timedelta(hours=hours)).astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    return f"{when:%H:%M}"
