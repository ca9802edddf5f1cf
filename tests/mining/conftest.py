"""Fixtures for the mining stage: documents parsed from corpus/samples through the real intake."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.intake import parse_file
from service.intake.document import Document
from service.mining import extract
from service.mining.practice import Practice

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"


@pytest.fixture(scope="session")
def seed_document() -> Document:
    return parse_file(SEED)


@pytest.fixture(scope="session")
def encoder():  # noqa: ANN201 - OnnxEmbedder
    """The service's default encoder (int8 ONNX), as ingest passes it to the extractor."""
    from service.mining.embed import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def seed_practices(seed_document: Document, encoder) -> list[Practice]:  # noqa: ANN001
    """The seed's practices as ingest extracts them: topics read the passage vectors too."""
    return extract(seed_document, encoder)


def practice_with(practices: list[Practice], phrase: str) -> Practice:
    """The one extracted practice whose text holds ``phrase``."""
    hits = [p for p in practices if phrase in p.text]
    assert len(hits) == 1, f"{phrase!r} found in {len(hits)} practices"
    return hits[0]


def assert_spans_point_at_text(document: Document, practices: list[Practice]) -> None:
    for p in practices:
        assert document.text[p.span[0] : p.span[1]] == p.text
