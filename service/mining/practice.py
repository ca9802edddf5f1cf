"""The Practice model: one thing a unit did (or is told to do), pointing into the document text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

TOPICS = (
    "政治建设",
    "思想建设",
    "组织建设",
    "党员教育管理",
    "作风建设",
    "纪律建设",
    "制度建设",
    "基层治理",
    "中心工作",
    "机关文化",
)

PRACTICE_KINDS = ("practice", "directive")


@dataclass
class Practice:
    """A practice extracted from a document.

    ``span`` is ``[start, end)`` into the document's clean text and ``text`` equals that slice;
    ``section`` is the heading path, outermost first.
    """

    orgs: list[str]
    mentions: list[str]
    text: str
    name: str | None
    topic: str
    kind: str
    span: tuple[int, int]
    section: list[str]
    tags: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    confidence: float = 0.5
    # The passage vector of :func:`passage_text` when the extractor ran with an encoder (ingest keeps it
    # for search); never serialised.
    vector: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(replace(self, vector=None))  # asdict would deep-copy the vector only to drop it
        d["span"] = list(self.span)
        d.pop("vector")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Practice:
        return cls(
            orgs=list(d["orgs"]),
            mentions=list(d.get("mentions", [])),
            text=d["text"],
            name=d.get("name"),
            topic=d["topic"],
            kind=d["kind"],
            span=(d["span"][0], d["span"][1]),
            section=list(d.get("section", [])),
            tags=list(d.get("tags", [])),
            keywords=list(d.get("keywords", [])),
            confidence=float(d.get("confidence", 0.5)),
        )


def passage_text(name: str | None, orgs: list[str], text: str) -> str:
    """The passage the encoder embeds for a practice: its name and units in front of its text.

    Search stores this vector and the topic classifier reads it, so one encoding serves both.
    """
    head = []
    if name and name not in text:
        head.append(name)
    named = [o for o in orgs if o not in text]
    if named:
        head.append("、".join(named))
    return ("：".join(["；".join(head), text]) if head else text)[:1000]
