"""Score the extractor against the labelled corpus (corpus/gold) by the rules of LABELLING.md.

A predicted practice is matched to the gold item with the longest key contained in its text
(both normalised: NFKC, whitespace removed, “” → ", 《》 → <>). Optional items give neither credit
nor blame; a prediction whose best key belongs to an item of the other kind is a false positive.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from service.intake.document import Document
from service.mining import resources
from service.mining.practice import Practice

SPLITS = ("train", "dev", "test")
_QUOTES = str.maketrans({"“": '"', "”": '"', "《": "<", "》": ">"})


def normalise(text: str) -> str:
    """The comparison form of keys and predicted texts."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text.translate(_QUOTES)))


@dataclass
class DocScore:
    """Counts for one document; ratios are computed over sums so splits can be pooled."""

    file: str
    split: str
    genre: str = ""
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    units_ok: int = 0
    topics_ok: int = 0
    misses: list[dict] = field(default_factory=list)
    extra: list[Practice] = field(default_factory=list)
    wrong_kind: list[tuple[dict, Practice]] = field(default_factory=list)
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


def units_credited(gold: dict, predicted: list[str]) -> bool:
    """At least half of the gold units matched by a predicted name (containment either way)."""
    if gold.get("orgs_any") or not gold.get("orgs"):
        return True
    pred = [normalise(o) for o in predicted if o]
    hits = sum(any(p in g or g in p for p in pred) for g in (normalise(o) for o in gold["orgs"]))
    return 2 * hits >= len(gold["orgs"])


def best_item(gold: list[dict], text: str) -> int | None:
    """Index of the gold item with the longest key inside ``text``, or None."""
    t = normalise(text)
    best, best_len = None, -1
    for i, g in enumerate(gold):
        k = normalise(g["key"])
        if k and k in t and len(k) > best_len:
            best, best_len = i, len(k)
    return best


def match(gold: list[dict], predicted: list[Practice], file: str = "", split: str = "dev", genre: str = "") -> DocScore:
    """Score one document's predictions against its gold items."""
    counted = [g for g in gold if not g.get("optional")]
    score = DocScore(file, split, genre, gold=len(counted))
    taken: set[int] = set()
    for p in predicted:
        i = best_item(gold, p.text)
        if i is not None and gold[i].get("optional"):
            continue  # a borderline item: neither credit nor blame
        score.predicted += 1
        if i is None or i in taken:
            score.extra.append(p)
            continue
        g = gold[i]
        if g["kind"] != p.kind:
            score.wrong_kind.append((g, p))
            continue
        taken.add(i)
        score.matched += 1
        if units_credited(g, p.orgs):
            score.units_ok += 1
        else:
            score.wrong_units.append((g, p))
        if p.topic in g["topics"]:
            score.topics_ok += 1
        else:
            score.wrong_topics.append((g, p))
    score.misses = [g for i, g in enumerate(gold) if i not in taken and not g.get("optional")]
    return score


@dataclass
class LabelledDocument:
    """One labelled file with its split, genre and gold items.

    The file lives in corpus/samples (the sample library loaded on first start) or corpus/labelled
    (documents kept for training and measurement only).
    """

    file: str
    source: str
    split: str
    genre: str
    items: list[dict]

    @property
    def path(self) -> Path:
        labelled = resources.CORPUS_DIR / "labelled" / self.file
        return labelled if labelled.exists() else resources.CORPUS_DIR / "samples" / self.file


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header line."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    head = lines[0].split("\t")
    return [dict(zip(head, ln.split("\t"), strict=False)) for ln in lines[1:]]


def load_labelled(gold_dir: Path | None = None, splits: Iterable[str] = SPLITS) -> list[LabelledDocument]:
    """All labelled documents of the wanted splits, sorted by file name.

    The split belongs to the source (``splits.tsv``), so one publisher is never in two splits.
    """
    gold_dir = gold_dir or resources.GOLD_DIR
    split_of = {r["source"]: r["split"] for r in read_tsv(gold_dir / "splits.tsv")}
    wanted = set(splits)
    out = []
    for row in read_tsv(gold_dir / "documents.tsv"):
        split = split_of[row["source"]]
        if split not in wanted:
            continue
        stem = row["file"].rsplit(".", 1)[0]
        lines = (gold_dir / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
        items = [json.loads(ln) for ln in lines if ln.strip()]
        out.append(LabelledDocument(row["file"], row["source"], split, row["genre"], items))
    return sorted(out, key=lambda d: d.file)


def evaluate(
    parse: Callable[[Path], Document],
    extract: Callable[[Document], list[Practice]],
    gold_dir: Path | None = None,
    splits: Iterable[str] = SPLITS,
) -> list[DocScore]:
    """Score every labelled document of ``splits``; ``parse`` turns a document path into a Document."""
    out = []
    for doc in load_labelled(gold_dir, splits):
        document = parse(doc.path)
        out.append(match(doc.items, extract(document), doc.file, doc.split, doc.genre))
    return out
