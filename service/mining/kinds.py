"""Practice, directive or neither: a classifier over clauses, trained on the train split of corpus/gold.

The genre's surface rules (``cues``) still read every clause; their verdict and the cues behind it
are features here, beside the clause's own characters, so the model learns where a rule carries and
where it does not instead of a rule being written for one document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from service.mining import cues

KINDS = ("practice", "directive", "other")


def features(rule: str | None, reason: str, text: str, **flags: bool) -> dict[str, Any]:
    """The structured features of one clause: the rules' verdict, its context flags and surface cues."""
    n = len(text)
    out: dict[str, Any] = {
        "rule": rule or "none",
        "reason": reason,
        "length": "<15" if n < 15 else "<40" if n < 40 else "<100" if n < 100 else "<200" if n < 200 else ">=200",
        "action": cues.has_action(text),
        "directive": cues.is_directive(text),
        "result": cues.is_result(text),
        "background": cues.is_background(text),
        "quote": cues.is_quote(text),
        "evaluation": cues.is_evaluation(text),
        "narrative": bool(cues.NARRATIVE_START_RE.match(text)),
        "dated": bool(cues.DATED_START_RE.match(text)),
        "generic_subject": bool(cues.GENERIC_SUBJECT_RE.match(text)),
        "item": bool(cues.ITEM_RE.match(text)),
        "named": cues.has_typed_name(text),
        "quoted": bool(cues.QUOTE_RE.search(text)),
        "digits": bool(re.search(r"\d", text)),
    }
    out.update({k: bool(v) for k, v in flags.items()})
    if out.get("speech"):
        # the same cue means something else in a leader's speech than in a report
        out.update({f"speech&{k}": v for k, v in list(out.items()) if isinstance(v, bool) and k != "speech"})
        out["speech&rule"] = out["rule"]
    return out


class KindClassifier:
    """Clause + features → ``practice``, ``directive`` or None; TF-IDF of the clause's opening
    characters and one-hot features, logistic regression.

    Usage::

        clf = KindClassifier().fit(texts, feature_dicts, labels)   # labels from KINDS
        clf.decide("推行“日读一文”学习制度", feats)                  # 'practice'
        clf.save(path); KindClassifier.load(path)
    """

    def __init__(self, head_chars: int = 60, ngram_range: tuple[int, int] = (1, 3), C: float = 2.0,
                 max_iter: int = 3000) -> None:
        self.head_chars = head_chars
        self.ngram_range = ngram_range
        self.C = C
        self.max_iter = max_iter

    def _matrix(self, texts: list[str], feats: list[dict[str, Any]], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        heads = [t[: self.head_chars] for t in texts]
        if fit:
            return hstack([self.text_.fit_transform(heads), self.features_.fit_transform(feats)]).tocsr()
        return hstack([self.text_.transform(heads), self.features_.transform(feats)]).tocsr()

    def fit(self, texts: list[str], feats: list[dict[str, Any]], labels: list[str]) -> KindClassifier:
        """Train on clauses, their feature dicts and their gold kinds (``other`` for neither)."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.text_ = TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, sublinear_tf=True, min_df=2)
        self.features_ = DictVectorizer()
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._matrix(texts, feats, fit=True), labels)
        return self

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.model_.classes_]

    def predict_proba(self, texts: list[str], feats: list[dict[str, Any]]) -> np.ndarray:
        """Probabilities, one row per clause, columns in :attr:`classes` order."""
        return self.model_.predict_proba(self._matrix(texts, feats))

    def decide(self, text: str, feats: dict[str, Any]) -> str | None:
        """The clause's kind, or None when it states neither a practice nor a directive."""
        row = self.predict_proba([text], [feats])[0]
        kind = self.classes[int(row.argmax())]
        return None if kind == "other" else kind

    def save(self, path: Path) -> None:
        """Persist the whole estimator with joblib."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: Path) -> KindClassifier:
        """Load an estimator saved by :meth:`save`."""
        import joblib

        obj = joblib.load(path)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds {type(obj).__name__}, not KindClassifier")
        return obj
