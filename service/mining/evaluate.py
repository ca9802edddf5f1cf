"""Score the extractor against the labelled dev set in corpus/dev (precision, recall, units, topics)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from service.intake.document import Document
from service.mining import resources
from service.mining.practice import Practice


@dataclass
class DocScore:
    """Counts for one document; ratios are computed over sums so splits can be pooled."""

    file: str
    split: str
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    units_ok: int = 0
    topics_ok: int = 0
    misses: list[dict] = field(default_factory=list)
    extra: list[Practice] = field(default_factory=list)
    wrong_units: list[tuple[dict, Practice]] = field(default_factory=list)
    wrong_topics: list[tuple[dict, Practice]] = field(default_factory=list)

    def add(self, other: DocScore) -> None:
        """Pool ``other``'s counts into this one."""
        self.gold += other.gold
        self.predicted += other.predicted
        self.matched += other.matched
        self.units_ok += other.units_ok
        self.topics_ok += other.topics_ok

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def unit_accuracy(self) -> float:
        return self.units_ok / self.matched if self.matched else 0.0

    @property
    def topic_accuracy(self) -> float:
        return self.topics_ok / self.matched if self.matched else 0.0


def match(gold: list[dict], predicted: list[Practice], file: str = "", split: str = "dev") -> DocScore:
    """One-to-one greedy matching: each gold practice takes the first free prediction whose text
    holds its phrase and whose kind agrees; a prediction lumping several gold practices scores once."""
    score = DocScore(file, split, gold=len(gold), predicted=len(predicted))
    used: set[int] = set()
    for g in gold:
        hit = next(
            (i for i, p in enumerate(predicted) if i not in used and g["phrase"] in p.text and p.kind == g["kind"]),
            None,
        )
        if hit is None:
            score.misses.append(g)
            continue
        used.add(hit)
        p = predicted[hit]
        score.matched += 1
        if set(p.orgs) == set(g["orgs"]):
            score.units_ok += 1
        else:
            score.wrong_units.append((g, p))
        if p.topic == g["topic"]:
            score.topics_ok += 1
        else:
            score.wrong_topics.append((g, p))
    score.extra = [p for i, p in enumerate(predicted) if i not in used]
    return score


def load_gold(directory: Path | None = None) -> list[dict]:
    """All labelled documents, sorted by file name."""
    directory = directory or resources.DEV_DIR
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]


def evaluate(
    parse: Callable[[Path], Document],
    extract: Callable[[Document], list[Practice]],
    samples_dir: Path | None = None,
    gold_dir: Path | None = None,
) -> list[DocScore]:
    """Score every labelled document; ``parse`` turns a sample path into a Document."""
    samples_dir = samples_dir or resources.CORPUS_DIR / "samples"
    out = []
    for doc in load_gold(gold_dir):
        document = parse(samples_dir / doc["file"])
        out.append(match(doc["practices"], extract(document), doc["file"], doc["split"]))
    return out
