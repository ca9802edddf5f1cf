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

from service.mining import cues, resources

NAME_POS = {"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "j", "b", "eng", "zg", "s", "f", "ng", "an", "nh"}
JOINERS = {"和", "与", "及", "、", "等"}
LEAD_RE = re.compile(r"^(?:(?:如|例如|比如|再如|其中|同时|此外|另外|并且|并|还有|像|其次|最后)[，,]?)?(?:由(?![于此衷])(?=[\u4e00-\u9fff]{2,20}?(?:负责|牵头|统一)(?![^，。；]{0,12}的)))?")
PLACE_RE = re.compile(r"^[\u4e00-\u9fff]{1,6}?(?:自治州|自治县|特别行政区|省|市|州|盟|县|区|旗)")
BAD_HEAD_RE = re.compile(r"^(?:[经由对在向从据按把将被让为与和及同跟给以于即]|来自|包括|其中)")
# A website or a channel publishes; it does not act (…教育部政府门户网站, …客户端).
NOT_A_BODY_RE = re.compile(r"(?:网站|门户网|客户端|公众号|微信号|微博|频道|栏目)$|^(?:是|为|成为|作为|提高|提升|促进|带动|实现|加快|获|荣获|激励|邀请|特邀|会议|据|让|使|通过|依托|聘请|由)")
NOT_IN_NAME_RE = re.compile(r"积极|响应|部署|领导|同意|要求|认真|贯彻|落实|决定|精神|常态化|高度重视|面向|按照|根据")
UNIT_HEADS = ("公司", "集团", "中心", "局", "委员会", "协会", "学会", "研究院", "研究所", "党委", "党总支", "党支部", "办公室")
COMMON_WORDS = {
    "全部", "内部", "外部", "局部", "干部", "部分", "社会", "机会", "大会", "县乡", "市县", "乡镇", "县区", "镇村",
    "全区", "全市", "全县", "全省", "城市", "都市", "城区", "园区", "景区", "辖区", "片区", "街区", "校区", "山区",
    "农村", "乡村", "城乡", "市区", "地区", "本市", "全局", "本局", "当地", "基层", "各地", "全国", "一站", "驿站",
    "展厅", "大厅", "客厅", "餐厅", "门厅", "党员干部", "领导干部", "后台", "平台", "舞台", "讲台", "阳台", "前台", "社团", "集团", "团队", "场所", "住所", "处所", "机关干部", "青年干部", "基层干部", "村干部", "领会", "体会", "城镇", "村镇", "集镇", "小镇", "特色小镇", "城市群", "大都市", "都市圈", "时时处处", "到处", "各处", "好处", "难处", "支委", "聚会", "晚会", "约会",
}
NON_NAME_HEADS = set("在对以为将把从向由据按经让使被给于就并且而但也还又都已更再即如若")
STOP_FLAGS = {"v", "p", "d", "c", "u", "uj", "ul", "uz", "ug", "ud", "uv", "r", "m", "q", "ad", "x", "y", "e", "o", "t", "tg", "i"}
PREDICATE_WORDS = {
    "定期", "常态化", "持续", "不断", "积极", "主动", "认真", "率先", "先后", "分别", "共同", "专门", "迅速", "注重",
    "首创", "引导", "带领", "充分发挥", "发挥", "结合", "围绕", "针对", "聚焦", "按照", "根据", "通过", "依托", "坚持", "利用", "立足", "紧扣", "着力",
}
TITLE_WORD_RE = re.compile(
    r"(?:副|常务)?(?:书记|主任|局长|所长|副所长|院长|校长|部长|处长|科长|站长|队长|社长|主席|经理|董事长|负责人|支委|"
    r"同志|党员|老党员|居民|村民|老人|同学|学生|老师|民警|辅导员|班长|团支书|代表|学长|学姐|村医|成员|全体成员)"
)
PEOPLE_RE = re.compile(r"负责人|主任团|同学们|党员们|学生们|成员们|与会人员|与会同志|参会人员")
PERSON_AFTER_RE = re.compile(
    r"^(?:副|常务)?(?:书记|主任|局长|所长|院长|校长|部长|处长|科长|站长|队长|社长|主席|经理|董事长|负责人|委员|成员|支委|"
    r"党员|干部|职工|居民|村民|老人|同学|学生|教师|老师|民警|辅导员|班长|团支书|代表)"
)


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

    def __init__(self, window: int = 36) -> None:
        gaz = resources.gazetteer()
        self.window = window
        self.suffixes = tuple(sorted(gaz["suffixes"], key=len, reverse=True))
        self._suffix_re = re.compile("|".join(map(re.escape, self.suffixes)))
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
        """Units acting at the start of ``clause`` and where the predicate starts.

        Returns ``([], 0)`` when no unit opens the clause and ``([], -1)`` when a person does
        (``组织部负责人杨淑涵梳理了…``): such sentences tell a story, they state no measure.
        ``subject`` completes bare 县/区 prefixes; ``speaker`` replaces ``工委``.
        """
        lead = LEAD_RE.match(clause)
        offset = lead.end() if lead else 0
        window = clause[offset : offset + self.window]
        if re.match(r"^(?:他|她)", window):
            return [], -1
        # Cheap checks first: most clauses open with a verb or a preposition, or name no unit at all.
        if not window or window[0] in NON_NAME_HEADS or cues.VERB_RE.match(window):
            return [], 0
        if not self._suffix_re.search(window) and not TITLE_WORD_RE.search(window):
            return [], 0
        run, after = self._run(window, allow_end=False)
        if not run:
            return [], 0
        run_end = run[-1][2] + len(run[-1][0])
        person = after is not None and after[1].startswith("nr")
        if person or PERSON_AFTER_RE.match(window[run_end:]) or (run[-1][1].startswith("nr") and len(run) <= 3 and not run[-1][0].endswith(self.suffixes)):
            return [], -1
        mentions: list[Mention] = []
        prefix: str | None = None
        for i, item in enumerate(self._split_items(run)):
            item = self._trim_item(item)
            if not item:
                continue
            text = "".join(t[0] for t in item)
            start = item[0][2]
            if i == 0 or prefix is None:
                prefix = self._prefix_of(text)
            name = self.normalise(text, prefix if i > 0 else None, subject, speaker)
            if name is None:
                continue
            generic = self.is_generic(name) and name != speaker
            mentions.append(Mention(text, offset + start, offset + start + len(text), name, generic))
        if not mentions:
            return [], 0
        return mentions, offset + run_end

    def _run(self, window: str, allow_end: bool) -> tuple[list[tuple[str, str, int]], tuple[str, str] | None]:
        """Name-like tokens ``(word, flag, offset)`` opening ``window`` and the token after them.

        The run is empty when no predicate follows it, unless ``allow_end`` (a title that is a name).
        """
        tokens = [(t.word, t.flag) for t in self._pos.cut(window)]
        run: list[tuple[str, str, int]] = []
        pos = 0
        for k, (word, flag) in enumerate(tokens):
            nxt = tokens[k + 1][0] if k + 1 < len(tokens) else ""
            if TITLE_WORD_RE.fullmatch(word) and any(t[1] in NAME_POS for t in run):
                return run, ("同志", "nr")  # a person's title: the subject is a person
            special = (
                (word in JOINERS and bool(run))
                or word in {"（", "）", "(", ")", "所属"}
                or (word == "联合" and nxt.startswith(("党支部", "党委", "党总支")))
                or (word == "会同" and bool(nxt))
                or (word in {"各", "各级"} and not run)
                or bool(re.fullmatch(r"[XＸ*＊]+", word))
                or (flag == "m" and word.startswith("第"))
                or (flag.startswith("v") and nxt.startswith(UNIT_HEADS) and bool(run))
                # an idiom naming a service body (县心连心服务中心): kept when a unit word follows at once
                or (flag in {"i", "l"} and bool(run) and k + 1 < len(tokens)
                    and (run[-1][0] in self.level_prefixes or run[-1][1].startswith("ns"))
                    and self._is_unit_token((tokens[k + 1][0], tokens[k + 1][1], 0)))
                or (flag.startswith("v") and self._unit_ahead(tokens, k) and not cues.VERB_RE.fullmatch(word))
            )
            predicate = (
                word in PREDICATE_WORDS
                or cues.VERB_RE.fullmatch(word) is not None
                or flag in STOP_FLAGS
                or word.strip() in {"，", ",", "。", "；", "：", "“", "”", "《", "》", ""}
            )
            if special or not predicate:
                run.append((word, flag, pos))
                pos += len(word)
                continue
            if word.strip() in {"“", "《"} and run:
                return run, (word, flag)  # 北安市博物馆“…”主题活动: a unit and its named practice
            if word.strip() in {"，", ",", "。", "；", "：", "“", "”", "、", ""} or not run:
                return [], None
            return run, (word, flag)
        return (run, None) if allow_end else ([], None)

    def _unit_ahead(self, tokens: list[tuple[str, str]], k: int) -> bool:
        """A short verb-tagged word opening a name (a 学院, 中心 or 局 whose first word jieba tags as a verb):
        a unit word follows within three nouns."""
        if tokens[k][0] in PREDICATE_WORDS or len(tokens[k][0]) > 2 or k + 1 >= len(tokens):
            return False
        word, flag = tokens[k + 1]
        # a verb right before a unit word, a place or an enumeration governs it (拟定支部…, 帮助川口村…, 查看各支部…);
        # a name's first word is followed by a plain noun (应用技术学院)
        if flag.startswith("ns") or word.startswith(("各", "全")) or self._is_unit_token((word, flag, 0)) or len(word) == 1:
            return False
        for word, flag in tokens[k + 1 : k + 4]:
            if self._is_unit_token((word, flag, 0)):
                return True
            if flag not in NAME_POS:
                return False
        return False

    def name_run(self, window: str, allow_end: bool = False) -> int:
        """Length of the run of name-like tokens opening ``window`` (see :meth:`_run`)."""
        run, _ = self._run(window, allow_end)
        return run[-1][2] + len(run[-1][0]) if run else 0

    def names_person(self, clause: str) -> bool:
        """Whether the clause's opening words name a person (``…负责人徐旺达回顾了…``)."""
        head = clause[:24]
        if PEOPLE_RE.search(head):
            return True
        if not (TITLE_WORD_RE.search(head) or re.search(r"书记|主任|长|负责人|同志|说|表示|指出|强调|介绍|回顾|认为", head)):
            return False
        tokens = [(t.word, t.flag) for t in self._pos.cut(head)]
        for k, (word, flag) in enumerate(tokens):
            if flag.startswith("nr") and len(word) >= 2:
                nxt = tokens[k + 1][0] if k + 1 < len(tokens) else ""
                prev = tokens[k - 1][0] if k > 0 else ""
                # jieba tags many words nr; a person is a name next to a title or a speech verb.
                if TITLE_WORD_RE.fullmatch(prev) or re.search(r"(?:书记|主任|长|负责人|党员|成员)$", prev):
                    return True
                if nxt in {"同志", "说", "表示", "指出", "强调", "介绍", "回顾", "认为"}:
                    return True
        return False

    def words(self, text: str) -> list[tuple[str, str]]:
        """``(word, flag)`` pairs of ``text`` as the finder's tagger cuts it."""
        return [(t.word, t.flag) for t in self._pos.cut(text)]

    def is_place(self, text: str) -> bool:
        """Whether ``text`` is made of place-name tokens only (云南丽江, 青海玉树州)."""
        tokens = list(self._pos.cut(text))
        return bool(tokens) and all(t.flag == "ns" for t in tokens)

    def _split_items(self, run: list[tuple[str, str, int]]) -> list[list[tuple[str, str, int]]]:
        """Split an enumeration ``A、B和C等…`` into token lists, one per unit."""
        for k, tok in enumerate(run):
            if tok[0] == "等":
                run = run[:k]
                break
        joint = any("联合" in t[0] for t in run)
        items: list[list[tuple[str, str, int]]] = [[]]
        for tok in run:
            word = tok[0]
            current = items[-1]
            ends_unit = bool(current) and self._is_unit_token(current[-1])
            if word == "与" and ends_unit and not joint:
                break  # 甲与乙建立合作: 乙 is a partner, not an actor
            if word == "、" or (word in {"和", "及", "会同"} and ends_unit and not joint):
                items.append([])
                continue
            current.append(tok)
        return [it for it in items if it]

    def _is_unit_token(self, tok: tuple[str, str, int]) -> bool:
        word, flag = tok[0], tok[1]
        if word in COMMON_WORDS or flag in {"nz", "v", "vn", "m", "x"}:
            return False
        return word.endswith(self.suffixes)

    def _trim_item(self, item: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        """Cut an item to end at its last unit token; keep the part after ``所属``."""
        for k in range(len(item) - 1, -1, -1):
            if item[k][0] == "所属":
                item = item[k + 1 :]
                break
        while item and item[0][0] in {"（", "）", "(", ")", "和", "与", "及"}:
            item = item[1:]
        end = len(item)
        while end > 0 and not self._is_unit_token(item[end - 1]):
            end -= 1
        item = item[:end]
        if not item:
            return []
        text = "".join(t[0] for t in item)
        if BAD_HEAD_RE.match(text) or NOT_IN_NAME_RE.search(text):
            return []
        return item

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
        if not name or not name.endswith(self.suffixes) or NOT_A_BODY_RE.search(name):
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
                # Only a place follows a province in a name worth shortening: 山东大学, 山东省委 stay whole.
                if rest.startswith("委") or not (PLACE_RE.match(rest) or self.is_place(rest)):
                    return name
                return rest
        return name

    def body_form(self, place: str, body: str) -> str:
        """The spelling the body uses most for ``place`` (``咸阳`` → ``咸阳市``)."""
        if not place:
            return place
        extended = Counter(re.findall(re.escape(place) + r"(?:市|县|区|旗)", body))
        if extended and not place.endswith(("市", "县", "区", "旗")):
            return extended.most_common(1)[0][0]
        if not place.endswith(self.suffixes):
            forms = Counter(re.findall(re.escape(place) + r"(?:自治州|自治县|市|县|区|州|旗|镇|乡)?", body))
            if forms:
                best = max(forms.items(), key=lambda kv: (len(kv[0]) > len(place), kv[1]))[0]
                return best
            return place
        m = re.match(r"^(.+?(?:市|州|盟))([^市州盟]+?(?:区|县|旗))$", place)
        if m and body.count(m.group(2)) > body.count(place):
            return m.group(2)
        return place
