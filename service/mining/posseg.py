"""jieba's part-of-speech tagger with its HMM decoding done by NumPy.

jieba decodes runs of unknown characters (names, places) with a pure-Python Viterbi over about 250
states; over a corpus that decoding is most of the extractor's time. :class:`FastPOSTokenizer`
computes the same path with array operations: the same sums in the same order and the same
tie-breaking (``max`` over ``(score, state)`` pairs prefers the greater state), so every tag is
what jieba gives.

Usage::

    pos = FastPOSTokenizer(jieba.Tokenizer())
    [(t.word, t.flag) for t in pos.cut("杨淑涵同志回顾了工作")]
"""

from __future__ import annotations

from collections.abc import Iterator

import jieba.posseg
import numpy as np
from jieba.posseg import char_state_tab_P, emit_P, pair, start_P, trans_P

MIN_FLOAT = -3.14e100  # jieba's score of an emission it never saw


class HmmTables:
    """jieba's POS HMM as arrays: states in ascending order, so a higher index is a greater state."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = sorted(trans_P)
        self.index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        self.trans = np.full((n, n), -np.inf)
        for src, row in trans_P.items():
            for dst, p in row.items():
                self.trans[self.index[src], self.index[dst]] = p
        self.start = np.array([start_P[s] for s in self.states])
        self.leaves = np.isfinite(self.trans).any(axis=1)  # states that may be followed
        self.all = np.arange(n)
        self._emit: dict[str, np.ndarray] = {}
        self._allowed: dict[str, np.ndarray] = {}

    def emit(self, char: str) -> np.ndarray:
        vec = self._emit.get(char)
        if vec is None:
            vec = np.array([emit_P[s].get(char, MIN_FLOAT) for s in self.states])
            self._emit[char] = vec
        return vec

    def allowed(self, char: str) -> np.ndarray:
        """Indices (ascending) of the states jieba allows for ``char``; all states when it knows none."""
        idx = self._allowed.get(char)
        if idx is None:
            listed = char_state_tab_P.get(char)
            idx = self.all if listed is None else np.array(sorted(self.index[s] for s in listed))
            self._allowed[char] = idx
        return idx

    def viterbi(self, obs: str) -> list[tuple[str, str]]:
        """The best state path for ``obs``, equal to ``jieba.posseg.viterbi.viterbi``'s route."""
        cur = self.allowed(obs[0])
        score = self.start[cur] + self.emit(obs[0])[cur]
        steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (states, predecessors, best one)
        for char in obs[1:]:
            keep = self.leaves[cur]
            prev, prev_score = cur[keep], score[keep]
            expected = np.flatnonzero(np.isfinite(self.trans[prev]).any(axis=0))
            states = np.intersect1d(self.allowed(char), expected, assume_unique=True)
            if not states.size:
                states = expected if expected.size else self.all
            total = prev_score[:, None] + self.trans[np.ix_(prev, states)] + self.emit(char)[states][None, :]
            # max over (score, state): among equal scores the greatest predecessor wins
            best = total.shape[0] - 1 - np.argmax(total[::-1], axis=0)
            steps.append((states, prev, best))
            score = total[best, np.arange(states.size)]
            cur = states
        state = int(cur[len(score) - 1 - int(np.argmax(score[::-1]))])
        route = [state]
        for states, prev, best in reversed(steps):
            state = int(prev[best[int(np.searchsorted(states, state))]])
            route.append(state)
        return [self.states[i] for i in reversed(route)]


class FastPOSTokenizer(jieba.posseg.POSTokenizer):
    """``jieba.posseg.POSTokenizer`` whose unknown-word decoding uses :class:`HmmTables`."""

    _tables: HmmTables | None = None

    def _POSTokenizer__cut(self, sentence: str) -> Iterator[pair]:
        # jieba's own __cut, with the decoding swapped: B/M/E/S positions make words.
        if FastPOSTokenizer._tables is None:
            FastPOSTokenizer._tables = HmmTables()
        pos_list = FastPOSTokenizer._tables.viterbi(sentence)
        begin, nexti = 0, 0
        for i, char in enumerate(sentence):
            pos = pos_list[i][0]
            if pos == "B":
                begin = i
            elif pos == "E":
                yield pair(sentence[begin : i + 1], pos_list[i][1])
                nexti = i + 1
            elif pos == "S":
                yield pair(char, pos_list[i][1])
                nexti = i + 1
        if nexti < len(sentence):
            yield pair(sentence[nexti:], pos_list[nexti][1])
