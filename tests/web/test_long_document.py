"""A clerk opens a very long report (10,000 practices): the page and the API answer a page at a time, fast."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench.fixtures import store_long_report
from service.config import Settings
from tests.signin import sign_in

PRACTICES = 10_000


@pytest.fixture(scope="module")
def long_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, int, list[int]]]:
    """The seed speech copied until it holds 10,000 sentences, stored with each sentence as a practice."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("long") / "data", load_sample_corpus=False,
                        model_dir=Path("/nonexistent"), digest_scheduler=False)
    document_id, ids, _ = store_long_report(settings, copies=160, limit=PRACTICES)
    assert len(ids) == PRACTICES

    from service.api.app import create_app

    with TestClient(create_app(settings)) as client:
        yield sign_in(client, "staff"), document_id, ids


def _timed_get(client: TestClient, url: str):
    start = time.perf_counter()
    response = client.get(url)
    return response, time.perf_counter() - start


def test_the_document_page_of_ten_thousand_practices_opens_in_under_a_second(long_report):
    client, document_id, ids = long_report
    client.get(f"/documents/{document_id}?page=2")  # templates compiled, connection warm

    first, elapsed = _timed_get(client, f"/documents/{document_id}")
    assert first.status_code == 200
    assert elapsed < 1.0, f"first page took {elapsed:.2f} s"
    assert "10000 条" in first.text
    pages = int(re.search(r"分 (\d+) 页显示", first.text).group(1))
    assert pages >= PRACTICES // 100
    marked = set(map(int, re.findall(r'id="p-(\d+)"', first.text)))
    assert ids[0] in marked and 0 < len(marked) <= 110

    # The last practice's link opens the page that holds it.
    last, elapsed = _timed_get(client, f"/documents/{document_id}?practice={ids[-1]}")
    assert last.status_code == 200 and elapsed < 1.0
    assert f'id="p-{ids[-1]}"' in last.text and f'id="p-{ids[0]}"' not in last.text
    assert client.get(f"/documents/{document_id}?page={pages + 1}").status_code == 404


def test_every_practice_appears_on_exactly_one_page(long_report):
    client, document_id, ids = long_report
    first = client.get(f"/documents/{document_id}").text
    pages = int(re.search(r"分 (\d+) 页显示", first).group(1))
    seen: list[int] = []
    for page in range(1, pages + 1):
        seen += map(int, re.findall(r'id="p-(\d+)"', client.get(f"/documents/{document_id}?page={page}").text))
    assert sorted(seen) == sorted(ids)


def test_the_api_returns_practices_a_page_at_a_time(long_report):
    client, document_id, ids = long_report
    response, elapsed = _timed_get(client, f"/api/documents/{document_id}")
    body = response.json()
    assert response.status_code == 200 and elapsed < 1.0
    assert body["practice_count"] == PRACTICES and len(body["practices"]) == 200
    assert [p["id"] for p in body["practices"]] == ids[:200]
    tail = client.get(f"/api/documents/{document_id}", params={"practice_offset": 9_950, "practice_limit": 1000})
    assert [p["id"] for p in tail.json()["practices"]] == ids[9_950:]
    too_many = client.get(f"/api/documents/{document_id}", params={"practice_limit": 100_000})
    assert too_many.status_code == 422 and "经验做法条数" in too_many.json()["detail"]
