"""Query expansion from the Party-building concept dictionary ``corpus/synonyms.tsv``.

Each row: trigger terms ``|``-separated, a tab, expansion terms ``|``-separated, a tab and the
direction: ``↔`` (either side finds the other) or ``→`` (only the left side expands: ``工地 →
项目`` must not turn every 项目 query into a building-site query). Lines starting with ``#`` are
comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from service.config import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "corpus" / "synonyms.tsv"


@dataclass
class SynonymTable:
    """Trigger term → the terms a query containing it should also look for."""

    expansions: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> SynonymTable:
        """Read the dictionary; a missing file gives an empty table (search works, unexpanded)."""
        path = path or DEFAULT_PATH
        table = cls()
        if not path.is_file():
            return table
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                continue
            left = [t.strip() for t in cols[0].split("|") if t.strip()]
            right = [t.strip() for t in cols[1].split("|") if t.strip()]
            both_ways = len(cols) < 3 or cols[2].strip() != "→"
            for term in left:
                table._add(term, [t for t in left + right if t != term])
            if both_ways:
                for term in right:
                    table._add(term, [t for t in left + right if t != term])
        return table

    def _add(self, term: str, more: list[str]) -> None:
        have = self.expansions.setdefault(term, [])
        for t in more:
            if t not in have:
                have.append(t)

    def terms(self) -> list[str]:
        """Every term the table knows (to keep them whole in the segmenter)."""
        out = set(self.expansions)
        for more in self.expansions.values():
            out.update(more)
        return sorted(out)

    def expand(self, query: str) -> list[str]:
        """Expansion terms for every trigger that occurs in ``query`` (longest triggers first, no repeats)."""
        found: list[str] = []
        for trigger in sorted(self.expansions, key=len, reverse=True):
            if trigger in query:
                for term in self.expansions[trigger]:
                    if term not in query and term not in found:
                        found.append(term)
        return found
