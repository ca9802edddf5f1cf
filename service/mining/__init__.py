"""Mining: Document → practices (who did what, under what name, topic, kind), no storage."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from service.mining.practice import PRACTICE_KINDS, TOPICS, Practice

if TYPE_CHECKING:
    from service.intake.document import Document
    from service.mining.extractor import Extractor

__all__ = ["PRACTICE_KINDS", "TOPICS", "Practice", "default_extractor", "extract"]

_extractor: Extractor | None = None
_lock = threading.Lock()


def default_extractor() -> Extractor:
    """The shared Extractor; jieba, the dictionary and the topic model are loaded on first use."""
    global _extractor
    with _lock:
        if _extractor is None:
            from service.mining.extractor import Extractor
            from service.mining.train_kinds import default_classifier

            _extractor = Extractor(kinds=default_classifier())
    return _extractor


def extract(document: Document, encoder: Any = None) -> list[Practice]:
    """Practices and directives of ``document`` in reading order (see :class:`Extractor`).

    Pass the search encoder to have topics read the passage vectors too (and keep them on each
    practice); without it topics come from the text model alone.
    """
    return default_extractor().run(document, encoder)
