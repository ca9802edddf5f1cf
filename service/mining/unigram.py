"""e5's XLM-R unigram tokenizer in a small memory footprint.

The ``tokenizers`` library holds the 250k-piece vocabulary in a byte trie of hash maps: ~280 MB
resident for this one model, more than the int8 encoder itself. Here the pieces live in one Python
dict (~40 MB) and the best segmentation is found by the same Viterbi search over piece scores;
normalisation and the whitespace/metaspace split are still done by ``tokenizers`` objects read from
the same ``tokenizer.json``. The ids equal the library's for every text (``tests/mining``
compares them over the sample corpus).

    >>> tok = UnigramTokenizer.from_file(Path("models/build/e5-small-onnx/tokenizer.json"))
    >>> tok.encode("query: 工地上建党组织")          # [0, ..., 2]
"""

from __future__ import annotations

import json
import re
from pathlib import Path

UNK_PENALTY = 10.0  # an unknown character scores this far below the rarest piece, as in SentencePiece


class UnigramTokenizer:
    """Text → XLM-R token ids: special tokens, normalisation, metaspace words, Viterbi over pieces."""

    def __init__(self, spec: dict, max_length: int = 256) -> None:
        from tokenizers import Tokenizer

        model = spec["model"]
        if model.get("type") != "Unigram":
            raise ValueError(f"tokenizer.json model is {model.get('type')}, expected Unigram")
        pieces = model["vocab"]
        self._ids: dict[str, int] = {}
        for i, (piece, _score) in enumerate(pieces):
            self._ids.setdefault(piece, i)
        self._scores = [float(score) for _piece, score in pieces]
        self._max_piece = max(len(piece) for piece, _score in pieces)
        self.unk_id = int(model["unk_id"])
        self._unk_score = min(self._scores) - UNK_PENALTY
        self.max_length = max_length
        special = {t["content"]: t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
        self._special = special
        self._special_re = re.compile("|".join(re.escape(s) for s in sorted(special, key=len, reverse=True)))
        template = spec["post_processor"]["single"]
        self.bos_id = special[template[0]["SpecialToken"]["id"]]
        self.eos_id = special[template[-1]["SpecialToken"]["id"]]
        # The library's normaliser and pre-tokeniser, attached to a vocabulary of the special tokens only.
        small_vocab = [[piece, 0.0] for piece in special]
        small_model = {**model, "vocab": small_vocab, "unk_id": list(special).index(pieces[self.unk_id][0])}
        small = dict(spec, added_tokens=[], post_processor=None, decoder=None, model=small_model)
        helper = Tokenizer.from_str(json.dumps(small))
        self._normalizer = helper.normalizer
        self._pre_tokenizer = helper.pre_tokenizer

    @classmethod
    def from_file(cls, path: Path, max_length: int = 256) -> UnigramTokenizer:
        """Read a ``tokenizers`` ``tokenizer.json`` holding a Unigram model."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), max_length=max_length)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with ``<s>`` … ``</s>``, truncated to ``max_length`` in all."""
        ids: list[int] = []
        pos = 0
        for match in self._special_re.finditer(text):
            ids += self._encode_plain(text[pos : match.start()])
            ids.append(self._special[match.group()])
            pos = match.end()
        ids += self._encode_plain(text[pos:])
        return [self.bos_id, *ids[: self.max_length - 2], self.eos_id]

    def _encode_plain(self, text: str) -> list[int]:
        if not text:
            return []
        normalized = self._normalizer.normalize_str(text) if self._normalizer else text
        words = self._pre_tokenizer.pre_tokenize_str(normalized) if self._pre_tokenizer else [(normalized, None)]
        out: list[int] = []
        for word, _span in words:
            out += self._viterbi(word)
        return out

    def _viterbi(self, word: str) -> list[int]:
        """Best-scoring split of ``word`` into pieces; runs of unknown characters become one ``<unk>``."""
        n = len(word)
        ids, scores = self._ids, self._scores
        best = [float("-inf")] * (n + 1)
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)  # (start, piece id) of the best path ending here
        best[0] = 0.0
        for start in range(n):
            here = best[start]
            if here == float("-inf"):
                continue
            single = False
            for end in range(start + 1, min(n, start + self._max_piece) + 1):
                pid = ids.get(word[start:end])
                if pid is None:
                    continue
                if end == start + 1:
                    single = True
                candidate = here + scores[pid]
                if back[end][1] == -1 or candidate > best[end]:
                    best[end], back[end] = candidate, (start, pid)
            if not single:
                candidate = here + self._unk_score
                if back[start + 1][1] == -1 or candidate > best[start + 1]:
                    best[start + 1], back[start + 1] = candidate, (start, self.unk_id)
        path: list[int] = []
        end = n
        while end > 0:
            start, pid = back[end]
            if not (pid == self.unk_id and path and path[-1] == self.unk_id):
                path.append(pid)
            end = start
        path.reverse()
        return path
