"""Practice, directive or neither: a classifier over clauses, trained on the train split of corpus/gold.

The genre's surface rules (``cues``) still read every clause; their verdict and the cues behind it
are features here, beside the clause's own characters, so the model learns where a rule carries and
where it does not instead of a rule being written for one document.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from service.mining import cues
from service.mining.estimator import SavedEstimator

KINDS = ("practice", "directive", "other")
# Figures of things done (召开9次座谈会, 收集了1178条意见) are practices by the labelling rules.
COUNT_RE = re.compile(r"\d+(?:\.\d+)?(?:万|余|多)?(?:个|次|名|人|场|期|篇|项|条|份|户|家|所|支|批|处|间|本|课时|学时|余人|人次)")
LEAD_RE = re.compile(r"^(?:该[\u4e00-\u9fff]{1,3}|[\u4e00-\u9fff]{2,14}?(?:党委|党支部|党组|支部|学院|医院|公司|集团|局|委|办|县|市|区|镇|村|社区|街道))?"
                     r"(?:还|并|又|也|先后|相继|积极|认真|深入|广泛|大力|全面|定期|及时|通过)*")
FUTURE_RE = re.compile(r"将|计划|拟|下一步|今后|接下来|下阶段")
SAID_RE = re.compile(r"表示|指出|强调|认为|介绍|说|提出|希望|要求")
HONOUR_RE = re.compile(r"获得|荣获|获评|被评为|授予|入选|^获|^成为|被确定为|获批")
# The event a news report is about: on a date, a meeting or ceremony was held (4月26日，市一院召开…会议).
HELD_RE = re.compile(r"召开|举行|举办|开幕|闭幕")
EVENT_RE = re.compile(r"会议|大会|会$|仪式|典礼|座谈会|报告会|推进会|动员会")
MEETING_RE = re.compile(r"会议|大会|召开|主持|出席|参加")
# A news story's scene: a delegation's visit, who spoke about what, the date of the event.
VISIT_RE = re.compile(r"一行|来访|莅临|陪同|考察|到访|座谈|交流|调研")
TALK_RE = re.compile(r"介绍|致辞|发言|讲话|解读|讲解|阐释|阐述|宣布|宣读|作了|作题为|汇报")
DATE_RE = re.compile(r"\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|上午|下午|当天|近日|日前")
# A general aim (深化…改革, 提升…水平) rather than a concrete measure
GOAL_RE = re.compile(r"^(?:积极|持续|不断|全面|切实|进一步|着力)?(?:推进|深化|提升|提高|加强|强化|推动|促进|完善|增强)")


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
        "count": bool(COUNT_RE.search(text)),
        "verb_first": bool(cues.VERB_RE.match(LEAD_RE.sub("", text, count=1))),
        "done": "了" in text[:24],
        "future": bool(FUTURE_RE.search(text[:30])),
        "said": bool(SAID_RE.search(text)),
        "honour": bool(HONOUR_RE.search(text)),
        "meeting": bool(MEETING_RE.search(text)),
        "visit": bool(VISIT_RE.search(text)),
        "talk": bool(TALK_RE.search(text)),
        "dated_anywhere": bool(DATE_RE.search(text[:20])),
        "dated_event": bool(DATE_RE.search(text[:40]) and HELD_RE.search(text) and EVENT_RE.search(text)),
        "plain_goal": bool(GOAL_RE.search(text)) and not cues.QUOTE_RE.search(text),
    }
    out.update({k: bool(v) for k, v in flags.items()})
    if out.get("speech"):
        # the same cue means something else in a leader's speech than in a report
        out.update({f"speech&{k}": v for k, v in list(out.items()) if isinstance(v, bool) and k != "speech"})
        out["speech&rule"] = out["rule"]
    return out


class KindClassifier(SavedEstimator):
    """Clause + features → ``practice``, ``directive`` or None; TF-IDF of the clause's opening
    characters and one-hot features, logistic regression.

    Usage::

        clf = KindClassifier().fit(texts, feature_dicts, labels)   # labels from KINDS
        clf.decide("推行“日读一文”学习制度", feats)                  # 'practice'
        clf.save(path); KindClassifier.load(path)
    """

    def __init__(self, head_chars: int = 40, ngram_range: tuple[int, int] = (1, 2), C: float = 0.3,
                 class_weight: str | None = "balanced", threshold: float = 0.45, max_iter: int = 3000) -> None:
        self.head_chars = head_chars
        self.ngram_range = ngram_range
        self.C = C
        self.class_weight = class_weight
        self.threshold = threshold  # a kind needs this probability; chosen on the train split out of fold (train_kinds --cv) and dev
        self.max_iter = max_iter

    def _matrix(self, texts: list[str], feats: list[dict[str, Any]], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        heads = [t[: self.head_chars] for t in texts]
        if fit:
            return hstack([self.text_.fit_transform(heads), self.features_.fit_transform(feats)]).tocsr()
        return hstack([self.text_.transform(heads), self._one_hot(feats)]).tocsr()

    def _one_hot(self, feats: list[dict[str, Any]]) -> Any:
        """What the fitted DictVectorizer makes of ``feats`` (true flags and ``name=value`` strings as 1),
        built directly: its own transform spends most of an extraction's time on type checks."""
        from scipy.sparse import csr_matrix

        vocab = self.features_.vocabulary_
        sep = self.features_.separator
        rows: list[int] = []
        cols: list[int] = []
        for r, f in enumerate(feats):
            for k, v in f.items():
                if v is False:
                    continue
                j = vocab.get(f"{k}{sep}{v}" if isinstance(v, str) else k)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
        return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(feats), len(vocab)))

    def fit(self, texts: list[str], feats: list[dict[str, Any]], labels: list[str]) -> KindClassifier:
        """Train on clauses, their feature dicts and their gold kinds (``other`` for neither)."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.text_ = TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, sublinear_tf=True, min_df=2)
        self.features_ = DictVectorizer()
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight)
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
        return self.decide_many([text], [feats])[0]

    def decide_many(self, texts: list[str], feats: list[dict[str, Any]]) -> list[str | None]:
        """:meth:`decide` for many clauses in one model call."""
        if not texts:
            return []
        probs = self.predict_proba(texts, feats)
        cols = {c: i for i, c in enumerate(self.classes)}
        out: list[str | None] = []
        for row in probs:
            practice = row[cols["practice"]] if "practice" in cols else 0.0
            directive = row[cols["directive"]] if "directive" in cols else 0.0
            if practice >= self.threshold and practice >= directive:
                out.append("practice")
            elif directive >= self.threshold:
                out.append("directive")
            else:
                out.append(None)
        return out
