"""Topics: a scikit-learn classifier over clauses, plus section-heading and taxonomy cues."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from service.mining import resources
from service.mining.estimator import SavedEstimator, load_or_train
from service.mining.practice import TOPICS, passage_text


class TopicClassifier(SavedEstimator):
    """Clause → one of the ten topics: logistic regression over character n-gram TF-IDF, mixed with
    a second one over the clause's e5 passage vector when vectors are given.

    The vectors are the ones search stores (:func:`passage_text`), so ingest pays for them once.
    Without vectors (``jingyan extract`` with no model built) the n-gram model answers alone.

    Usage::

        clf = TopicClassifier().fit(texts, labels, vectors)   # vectors optional
        clf.predict(["推行“五微”学习法"])  # ['思想建设']
        clf.predict_proba(texts, vectors)
        clf.save(path); TopicClassifier.load(path)
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (2, 4),
        C: float = 8.0,
        max_iter: int = 2000,
        vector_weight: float = 0.5,
        vector_C: float = 16.0,
    ) -> None:
        self.ngram_range = ngram_range
        self.C = C
        self.max_iter = max_iter
        self.vector_weight = vector_weight
        self.vector_C = vector_C
        self.pipeline: Any = None
        self.vector_model: Any = None

    def fit(self, texts: list[str], labels: list[str], vectors: np.ndarray | None = None) -> TopicClassifier:
        """Train on labelled clauses (and their passage vectors, one row per clause, when given)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        self.pipeline = Pipeline(
            [
                ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, sublinear_tf=True, min_df=1)),
                ("clf", LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight="balanced")),
            ]
        )
        self.pipeline.fit(texts, labels)
        self.vector_model = None
        if vectors is not None:
            self.vector_model = LogisticRegression(C=self.vector_C, max_iter=self.max_iter, class_weight="balanced")
            self.vector_model.fit(np.asarray(vectors, dtype=np.float32), labels)
        return self

    @property
    def uses_vectors(self) -> bool:
        """Whether passage vectors change the answer (the model was trained with them)."""
        # getattr: a model saved before vectors existed has no such attribute
        return getattr(self, "vector_model", None) is not None and self.vector_weight > 0

    @property
    def classes(self) -> list[str]:
        """Topic labels in the column order of :meth:`predict_proba`."""
        return [str(c) for c in self.pipeline.classes_]

    def predict_proba(self, texts: list[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """Probabilities, one row per text, columns in :attr:`classes` order; ``vectors`` (one row per
        text) mix in the vector model."""
        probs = self.pipeline.predict_proba(texts)
        if vectors is None or not self.uses_vectors:
            return probs
        w = self.vector_weight
        return (1 - w) * probs + w * self.vector_model.predict_proba(np.asarray(vectors, dtype=np.float32))

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> list[str]:
        """The most likely topic per text."""
        return [self.classes[i] for i in self.predict_proba(texts, vectors).argmax(axis=1)]


def load_training_data(directory: Path | None = None) -> tuple[list[str], list[str]]:
    """Clauses and topics from ``corpus/topics/*.jsonl``."""
    directory = directory or resources.TOPICS_DIR
    texts: list[str] = []
    labels: list[str] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row["topic"] not in TOPICS:
                raise ValueError(f"{path.name}: unknown topic {row['topic']!r}")
            texts.append(row["text"])
            labels.append(row["topic"])
    return texts, labels


def gold_clauses(splits: tuple[str, ...] = ("train",)) -> tuple[list[str], list[str], list[str]]:
    """The sentence around each gold item of the labelled ``splits``, with the item's first topic and
    the passage an encoder would embed for it (:func:`passage_text` with the item's units)."""
    from service.mining.cues import find_name
    from service.mining.evaluate import load_labelled

    texts: list[str] = []
    labels: list[str] = []
    passages: list[str] = []
    for doc in load_labelled(splits=splits):
        text = doc.path.read_text(encoding="utf-8")
        for item in doc.items:
            k = text.find(item["key"])
            if k < 0:
                continue  # a key that differs from the text only in spacing or quote form
            a = max(text.rfind(c, 0, k) for c in "。；！？\n") + 1
            ends = [e for e in (text.find(c, k + len(item["key"])) for c in "。；！？\n") if e >= 0]
            clause = text[a : min(ends) if ends else len(text)]
            texts.append(clause)
            labels.append(item["topics"][0])
            passages.append(passage_text(find_name(clause)[0], list(item.get("orgs") or []), clause))
    return texts, labels, passages


def train(path: Path | None = None, encoder: Any = None) -> TopicClassifier:
    """Train on corpus/topics plus the train split's gold clauses and save to ``path``
    (default models/build/topic-classifier.joblib).

    ``encoder`` (default: the built e5 encoder, if there is one) embeds the training passages for the
    vector model; with no model built the n-gram model is trained alone.
    """
    texts, labels = load_training_data()
    gold_texts, gold_labels, gold_passages = gold_clauses()
    if encoder is None:
        from service.mining.embed import encoder_if_built

        encoder = encoder_if_built()
    vectors = None
    if encoder is not None:
        vectors = encoder.encode(texts + gold_passages, query=False)
    clf = TopicClassifier().fit(texts + gold_texts, labels + gold_labels, vectors)
    clf.save(path or resources.TOPIC_MODEL_PATH)
    return clf


_model: TopicClassifier | None = None
_model_lock = threading.Lock()


def default_classifier() -> TopicClassifier:
    """The saved classifier, trained into its path first if the file is missing (once per process)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = load_or_train(
                TopicClassifier, resources.TOPIC_MODEL_PATH, train,
                retrain_on=(OSError, EOFError, TypeError, AttributeError, ValueError),
            )
    return _model


class TopicAssigner:
    """Pick the topic and finer tags of a practice from its clause, name and section heading.

    Usage::

        assigner = TopicAssigner()
        topic, tags = assigner.run("市委办公室推行“日读一文”学习制度", ["二、思想政治教育持续深入。"])
    """

    def __init__(
        self,
        classifier: TopicClassifier | None = None,
        heading_weight: float = 0.2,
        heading_cue_bonus: float = 0.5,
        title_weight: float = 0.3,
        clause_cue_bonus: float = 0.1,
    ) -> None:
        self.classifier = classifier or default_classifier()
        self.heading_weight = heading_weight
        self.heading_cue_bonus = heading_cue_bonus
        self.title_weight = title_weight
        self.clause_cue_bonus = clause_cue_bonus
        tax = resources.taxonomy()["topics"]
        self.heading_cues = {t["topic"]: t.get("heading_cues", []) for t in tax}
        self.tags = {t["topic"]: t.get("tags", []) for t in tax}
        self.classes = self.classifier.classes
        # Tag cue words vote for their topic when they occur in the clause itself.
        self.clause_cues = [
            (self.classes.index(t["topic"]), [c for tag in t.get("tags", []) for c in tag["cues"] if len(c) >= 2])
            for t in tax
        ]

    def scores(
        self, texts: list[str], headings: list[str], title: str = "", vectors: np.ndarray | None = None
    ) -> np.ndarray:
        """Topic scores for many clauses at once (one classifier call for clauses, one for headings).

        A short report's ``title`` usually names its one theme; it counts with ``title_weight``.
        ``vectors`` are the clauses' passage vectors (see :class:`TopicClassifier`).
        """
        probs = self.classifier.predict_proba(texts, vectors)
        if self.clause_cue_bonus:
            for i, text in enumerate(texts):
                for col, cues in self.clause_cues:
                    hits = sum(1 for c in cues if c in text)
                    probs[i, col] += self.clause_cue_bonus * min(hits, 2)
        if title and self.title_weight:
            probs = probs + self.title_weight * self.classifier.predict_proba([title])[0]
        uniq = sorted({h for h in headings if h})
        if uniq:
            hp = dict(zip(uniq, self.classifier.predict_proba(uniq), strict=True))
            for i, h in enumerate(headings):
                if h:
                    probs[i] = probs[i] + self.heading_weight * hp[h] + self._cue_vector(h)
        return probs

    def _cue_vector(self, heading: str) -> np.ndarray:
        hits = [t for t, cues in self.heading_cues.items() if any(c in heading for c in cues)]
        vec = np.zeros(len(self.classes))
        for t in hits:
            vec[self.classes.index(t)] += self.heading_cue_bonus / len(hits)
        return vec

    def tags_for(self, topic: str, text: str) -> list[str]:
        """Finer tags of ``topic`` whose cue words occur in ``text``."""
        return [t["tag"] for t in self.tags.get(topic, []) if any(c in text for c in t["cues"])][:3]

    def run(self, text: str, section: list[str]) -> tuple[str, list[str]]:
        """Topic and tags of one clause under the heading path ``section``."""
        heading = section[-1] if section else ""
        row = self.scores([text], [heading])[0]
        topic = self.classes[int(np.argmax(row))]
        return topic, self.tags_for(topic, text)
