"""Unit mentions: find the acting unit(s) at the start of a clause and normalise their names.

The finder reads the clause's opening words with jieba (domain dictionary loaded) and keeps the
run of name-like tokens before the first predicate word; the gazetteer in ``corpus/orgs`` decides
whether that run is a unit (it must end with a unit suffix and not be made of generic words only)
and how to normalise it. Rules are documented in ``corpus/orgs/README.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from service.mining import resources

NAME_POS = {"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "j", "b", "eng", "zg", "s", "f", "ng", "an", "nh"}
JOINERS = {"和", "与", "及", "、"}
LEAD_RE = re.compile(r"^(?:如|例如|比如|再如|其中|同时|此外|另外|并且|并|还有|像|其次|最后)[，,]?")
PLACE_RE = re.compile(r"^[\u4e00-\u9fff]{1,6}?(?:自治州|自治县|特别行政区|省|市|州|盟|县|区|旗)")
BAD_HEAD_RE = re.compile(r"^[经由对在向从据按把将被让为与和及同跟给以于即]")
NOT_IN_NAME_RE = re.compile(r"积极|响应|部署|领导|同意|要求|认真|贯彻|落实|决定|精神")


@dataclass(frozen=True)
class Mention:
    """A unit as written (``text``, offsets relative to the analysed string) and its normal form."""

    text: str
    start: int
    end: int
    name: str
    generic: bool


class OrgFinder:
    """Find and normalise unit names.

    Usage::

        finder = OrgFinder()
        actors, end = finder.actors_at("市政府办、水利局在其所属单位组建基层党组织")
        [m.name for m in actors]  # ['市政府办公室', '市水利局']
    """

    def __init__(self, window: int = 60) -> None:
        gaz = resources.gazetteer()
        self.window = window
        self.suffixes = tuple(sorted(gaz["suffixes"], key=len, reverse=True))
        self.generic_multi = tuple(sorted((g for g in gaz["generic"] if len(g) > 1), key=len, reverse=True))
        self.generic_single = {g for g in gaz["generic"] if len(g) == 1}
        self.generic_heads = set(gaz["generic_single_heads"])
        self.provinces = tuple(sorted(gaz["provinces"], key=len, reverse=True))
        self.municipalities = tuple(gaz["municipalities"])
        self.level_prefixes = tuple(gaz["level_prefixes"])
        self.abbreviations = resources.abbreviations()
        self.party_bases = resources.party_bases()
        _, self._pos = resources.tokenizers()

    # -- finding -----------------------------------------------------------------------------

    def actors_at(
        self, clause: str, subject: str | None = None, speaker: str | None = None
    ) -> tuple[list[Mention], int]:
        """Units acting at the start of ``clause`` and where the predicate starts (0 if none).

        ``subject`` completes bare 县/区 prefixes; ``speaker`` replaces ``工委``.
        """
        lead = LEAD_RE.match(clause)
        offset = lead.end() if lead else 0
        window = clause[offset : offset + self.window]
        run_end = self.name_run(window)
        if run_end <= 0:
            return [], 0
        run = window[:run_end]
        items = self._split_items(run)
        mentions: list[Mention] = []
        prefix: str | None = None
        for i, (text, start) in enumerate(items):
            text, start = self._trim_item(text, start)
            if not text:
                continue
            if i == 0 or prefix is None:
                prefix = self._prefix_of(text)
            name = self.normalise(text, prefix if i > 0 else None, subject, speaker)
            if name is None:
                continue
            mentions.append(
                Mention(text, offset + start, offset + start + len(text), name, self.is_generic(name))
            )
        if not mentions:
            return [], 0
        return mentions, offset + run_end

    def name_run(self, window: str, allow_end: bool = False) -> int:
        """Length of the run of name-like tokens at the start of ``window``.

        0 when no predicate follows the run, unless ``allow_end`` (a title made of a name only).
        """
        pos = 0
        tokens = list(self._pos.cut(window))
        for k, tok in enumerate(tokens):
            word, flag = tok.word, tok.flag
            nxt = tokens[k + 1].word if k + 1 < len(tokens) else ""
            if word in JOINERS:
                pos += len(word)
                continue
            if word in {"（", "）", "(", ")"}:
                pos += len(word)
                continue
            if word == "所属":
                pos += len(word)
                continue
            if word == "联合" and nxt.startswith(("党支部", "党委", "党总支")):
                pos += len(word)
                continue
            if word == "X" or re.fullmatch(r"[XＸ*＊]+", word):
                pos += len(word)
                continue
            if flag in NAME_POS or (flag == "m" and word.startswith("第")):
                pos += len(word)
                continue
            # Predicate reached: the run is an actor only if a predicate really follows it.
            if word.strip() in {"，", ",", "。", "；", "：", "“", "”", "、", ""}:
                return 0
            return pos
        return pos if allow_end else 0

    def is_place(self, text: str) -> bool:
        """Whether ``text`` is made of place-name tokens only (云南丽江, 青海玉树州)."""
        tokens = list(self._pos.cut(text))
        return bool(tokens) and all(t.flag == "ns" for t in tokens)

    def _split_items(self, run: str) -> list[tuple[str, int]]:
        """Split an enumeration ``A、B和C`` into items with their offsets in ``run``."""
        cut = run.find("等")
        if cut > 0:
            run = run[:cut]
        has_joint_unit = "联合" in run
        parts: list[tuple[str, int]] = []
        start = 0
        for m in re.finditer(r"、|和|与|及", run):
            piece = run[start : m.start()]
            if m.group() != "、" and (has_joint_unit or not piece.endswith(self.suffixes)):
                continue
            parts.append((piece, start))
            start = m.end()
        parts.append((run[start:], start))
        return [(p, s) for p, s in parts if p]

    def _trim_item(self, text: str, start: int) -> tuple[str, int]:
        """Cut an item to end at its last unit suffix; keep the part after ``所属``."""
        if "所属" in text:
            k = text.rfind("所属") + 2
            text, start = text[k:], start + k
        text = text.strip("（）() ")
        best = 0
        for i in range(len(text), 0, -1):
            if text[:i].endswith(self.suffixes):
                best = i
                break
        if best == 0:
            return "", start
        text = text[:best]
        if BAD_HEAD_RE.match(text) or NOT_IN_NAME_RE.search(text):
            return "", start
        return text, start

    # -- normalising -------------------------------------------------------------------------

    def _prefix_of(self, name: str) -> str | None:
        """The level/place prefix an enumeration's first item lends to the following items."""
        if name[:1] in self.level_prefixes and not PLACE_RE.match(name[1:] or "x"):
            return name[0]
        m = PLACE_RE.match(name)
        if m and m.end() < len(name):
            return m.group()
        return None

    def has_own_prefix(self, name: str) -> bool:
        """Whether ``name`` starts with a level char or a place name."""
        if name[:1] in self.level_prefixes:
            return True
        m = PLACE_RE.match(name)
        return bool(m and m.end() < len(name) and not self._is_generic_text(m.group()))

    def normalise(
        self,
        text: str,
        prefix: str | None = None,
        subject: str | None = None,
        speaker: str | None = None,
    ) -> str | None:
        """Normal form of a unit mention, or None if it is no unit at all."""
        name = text.strip()
        if not name or not name.endswith(self.suffixes):
            return None
        if speaker and name in {"工委", "机关工委", "市直机关工委", "我委"}:
            return speaker
        if prefix and not self.has_own_prefix(name):
            level = prefix
            if prefix in self.level_prefixes and name.startswith(self.party_bases):
                level = prefix + "委"
            name = level + name
        if subject and name[:1] in {"县", "区"} and subject.endswith(name[0]) and name[1:2] not in {"直", "级", "域"}:
            name = subject + name[1:]
        return self._expand(name)

    def _expand(self, name: str) -> str:
        for level in sorted({*self.level_prefixes, *(p + "委" for p in self.level_prefixes)}, key=len, reverse=True):
            if name.startswith(level):
                rest = name[len(level) :]
                full = self.abbreviations.get(rest)
                if full:
                    if full.startswith("委") and level.endswith("委"):
                        full = full[1:]
                    return level + full
        return name

    def _is_generic_text(self, text: str) -> bool:
        rest = re.sub(r"[（）()X\dＸ\s]", "", text)
        changed = True
        while rest and changed:
            changed = False
            for g in self.generic_multi:
                if rest.startswith(g):
                    rest, changed = rest[len(g) :], True
                    break
            if not changed and rest[:1] in self.generic_heads:
                rest, changed = rest[1:], True
        changed = True
        single_used = False
        while rest and changed:
            changed = False
            for g in self.generic_multi:
                if rest.endswith(g):
                    rest, changed = rest[: -len(g)], True
                    break
            if not changed and not single_used and rest[-1:] in self.generic_single:
                rest, changed, single_used = rest[:-1], True, True
        return not rest

    def is_generic(self, name: str) -> bool:
        """A name made only of generic words (社区党组织, 各部门, 镇党委) names no particular unit.

        A redacted name (``XX局``) still stands for a particular unit.
        """
        if re.match(r"^[XＸ*＊]+", name):
            return False
        return self._is_generic_text(name)

    # -- document subject --------------------------------------------------------------------

    def strip_province(self, name: str) -> str:
        """``云南丽江`` → ``丽江``, ``浙江省金华市民政局`` → ``金华市民政局``; municipalities keep 市."""
        for p in self.provinces:
            if name.startswith(p):
                rest = name[len(p) :]
                rest = re.sub(r"^(?:维吾尔自治区|壮族自治区|回族自治区|特别行政区|自治区|省|市)", "", rest)
                if not rest:
                    return p + "市" if p in self.municipalities else name
                return rest
        return name

    def body_form(self, place: str, body: str) -> str:
        """The spelling the body uses most for ``place`` (``咸阳`` → ``咸阳市``)."""
        if not place:
            return place
        if not place.endswith(self.suffixes):
            forms = Counter(re.findall(re.escape(place) + r"(?:自治州|自治县|市|县|区|州|旗|镇|乡)?", body))
            if forms:
                best = max(forms.items(), key=lambda kv: (len(kv[0]) > len(place), kv[1]))[0]
                return best
            return place
        m = re.match(r"^(.+?(?:市|州|盟))(.+?(?:区|县|旗|市))$", place)
        if m and body.count(m.group(2)) > body.count(place):
            return m.group(2)
        return place
