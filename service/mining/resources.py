"""Where the mining stage finds its data files, and the one jieba tokenizer it shares."""

from __future__ import annotations

import json
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = Path(os.environ.get("JINGYAN_CORPUS_DIR", ROOT / "corpus"))
MODELS_DIR = Path(os.environ.get("JINGYAN_MODELS_DIR", ROOT / "models" / "build"))
DICT_PATH = CORPUS_DIR / "dict" / "party_terms.txt"
TAXONOMY_PATH = CORPUS_DIR / "taxonomy.json"
ORGS_DIR = CORPUS_DIR / "orgs"
TOPICS_DIR = CORPUS_DIR / "topics"
GOLD_DIR = CORPUS_DIR / "gold"
TOPIC_MODEL_PATH = MODELS_DIR / "topic-classifier.joblib"
KIND_MODEL_PATH = MODELS_DIR / "kind-classifier.joblib"

_lock = threading.Lock()


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, Any]:
    """The topic taxonomy (corpus/taxonomy.json)."""
    return json.loads(TAXONOMY_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, Any]:
    """Unit suffixes, generic words and place lists (corpus/orgs/gazetteer.json)."""
    return json.loads((ORGS_DIR / "gazetteer.json").read_text(encoding="utf-8"))


def _table(name: str) -> list[list[str]]:
    rows = []
    for line in (ORGS_DIR / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


@lru_cache(maxsize=1)
def abbreviations() -> dict[str, str]:
    """Short unit stem → full stem (corpus/orgs/abbreviations.tsv)."""
    return {row[0]: row[1] for row in _table("abbreviations.tsv") if len(row) == 2}


@lru_cache(maxsize=1)
def party_bases() -> tuple[str, ...]:
    """Unit stems that belong to the Party committee (corpus/orgs/party_bases.txt)."""
    return tuple(row[0] for row in _table("party_bases.txt"))


@lru_cache(maxsize=1)
def domain_terms() -> tuple[str, ...]:
    """The Party-building dictionary's words (corpus/dict/party_terms.txt)."""
    words = []
    for line in DICT_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip():
            words.append(line.split(" ")[0])
    return tuple(words)


_tokenizer: Any = None
_pos_tokenizer: Any = None


def tokenizers() -> tuple[Any, Any]:
    """A private jieba Tokenizer and POSTokenizer with the domain dictionary, loaded once."""
    global _tokenizer, _pos_tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            from service.mining.posseg import FastPOSTokenizer

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            tok.load_userdict(str(DICT_PATH))
            _pos_tokenizer = FastPOSTokenizer(tok)
            _tokenizer = tok
    return _tokenizer, _pos_tokenizer
