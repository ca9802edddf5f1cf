"""Keywords of a practice: its quoted name first, then jieba TF-IDF words with the domain dictionary."""

from __future__ import annotations

import re
import threading
from typing import Any

from service.mining import resources

STOP = set(
    "开展 工作 推进 进行 加强 建立 实现 提升 推动 通过 坚持 持续 不断 积极 深入 切实 充分 全面 进一步 有效 "
    "相关 方面 问题 情况 时间 一批 一体 一起 今年以来 近年来 目前 同时 其中 作用 活动 建设 发展 服务 落实 任务 优秀 各项 一线".split()
)


class KeywordExtractor:
    """Pick up to ``top_k`` keywords for a clause; domain terms are never split.

    Usage::

        KeywordExtractor().run("严格落实“三会一课”制度", name="“三会一课”制度")
        # ['三会一课', '制度', ...]
    """

    def __init__(self, top_k: int = 5) -> None:
        self.top_k = top_k
        self._tfidf: Any = None
        self._lock = threading.Lock()
        self.terms = set(resources.domain_terms())

    def _extractor(self) -> Any:
        with self._lock:
            if self._tfidf is None:
                import jieba.analyse

                tok, pos = resources.tokenizers()
                tfidf = jieba.analyse.TFIDF()
                tfidf.tokenizer = tok
                tfidf.postokenizer = pos
                self._tfidf = tfidf
        return self._tfidf

    def _tfidf_words(self, text: str) -> list[str]:
        """TF-IDF ranking with jieba's IDF table; dictionary-only cutting keeps it fast."""
        tfidf = self._extractor()
        freq: dict[str, float] = {}
        for w in tfidf.tokenizer.cut(text, HMM=False):
            w = w.strip()
            if len(w) < 2 or w.lower() in tfidf.stop_words:
                continue
            freq[w] = freq.get(w, 0.0) + 1.0
        scored = {w: n * tfidf.idf_freq.get(w, tfidf.median_idf) for w, n in freq.items()}
        # Domain terms first among equals: they are what staff search for.
        return sorted(scored, key=lambda w: (w in self.terms, scored[w]), reverse=True)

    def run(self, text: str, name: str | None = None) -> list[str]:
        """Keywords of ``text``: quoted names, domain terms present, then TF-IDF words."""
        out: list[str] = []
        for q in re.findall(r"[“《]([^“”《》]{2,30})[”》]", name or ""):
            out.append(q.strip())
        for q in re.findall(r"“([^“”]{2,16})”", text):
            out.append(q.strip())
        for w in self._tfidf_words(text[:400])[: self.top_k * 3]:
            if w in STOP or len(w) < 2 or re.fullmatch(r"[\dXＸ*.%]+", w):
                continue
            out.append(w)
        seen: list[str] = []
        for w in out:
            if w and w not in seen:
                seen.append(w)
        return seen[: self.top_k]
