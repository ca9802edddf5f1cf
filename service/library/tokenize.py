"""Chinese text → index terms: jieba search-mode words and character bigrams.

Words come from ``jieba.cut_for_search`` so that a long compound (中国农业发展银行) is indexed
together with its parts (农业, 银行) and a short query finds it. Character bigrams sit beside
the words because Chinese characters carry meaning on their own: a paraphrase often shares
characters (余热, 老同) with its target while sharing no whole jieba word.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import jieba

from service.config import REPO_ROOT

DICT_DIR = REPO_ROOT / "corpus" / "dict"

# Function words and report boilerplate that match almost every clause and only add noise.
STOPWORDS = frozenset(
    """
    的 了 和 与 及 或 等 在 是 为 对 把 被 将 以 由 从 向 于 之 其 这 那 也 都 就 并 而 又 还 个 中
    上 下 有 无 不 没 要 能 会 可 各 每 该 此 我们 他们 你们 我 你 他 她 它 着 过 地 得 所 如 即
    进行 开展 通过 工作 方面 有关 相关 一些 一个 一是 二是 三是 四是 五是 同时 以及 进一步 加强
    """.split()
)

_WORD = re.compile(r"[\w]+", re.UNICODE)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ASCII_RUN = re.compile(r"[A-Za-z0-9]+")

_lock = threading.Lock()
_ready = False


def _ensure_jieba() -> None:
    """Initialise jieba once, quietly, with the domain dictionary when the corpus ships one."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        jieba.setLogLevel(60)
        jieba.initialize()
        if DICT_DIR.is_dir():
            for path in sorted(DICT_DIR.glob("*.txt")):
                load_user_dict(path)
        _ready = True


def load_user_dict(path: Path) -> None:
    """Add a jieba user dictionary (``word [freq] [pos]`` per line) to the segmenter."""
    jieba.load_userdict(str(path))


def add_words(words: list[str]) -> None:
    """Make sure the given multi-character terms (synonym dictionary entries) stay whole."""
    _ensure_jieba()
    for word in words:
        if len(word) > 1 and _WORD.fullmatch(word):
            jieba.add_word(word)


def words(text: str) -> list[str]:
    """Search-mode jieba tokens of ``text``: lower-cased, punctuation and stopwords dropped, in order."""
    _ensure_jieba()
    out: list[str] = []
    for token in jieba.cut_for_search(text):
        token = token.strip().lower()
        if not token or token in STOPWORDS or not _WORD.fullmatch(token):
            continue
        out.append(token)
    return out


def bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every CJK run (a lone character stays a unigram), plus ASCII words."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            if run not in STOPWORDS:
                out.append(run)
            continue
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    out.extend(m.lower() for m in _ASCII_RUN.findall(text))
    return out


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression that ORs ``terms``, each quoted so user input can never be syntax.

    FTS5 treats a double-quoted string as a plain phrase; an embedded quote is doubled.
    Returns "" when there is nothing to search for.
    """
    seen: dict[str, None] = {}
    for term in terms:
        term = term.strip()
        if term:
            seen.setdefault(term, None)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in seen)
