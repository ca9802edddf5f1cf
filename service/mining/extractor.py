"""Document → practices: who did what, under what name, pointing at the clause it came from."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.intake.document import Document
from service.mining import cues
from service.mining.keywords import KeywordExtractor
from service.mining.kinds import KindClassifier
from service.mining.kinds import features as _features
from service.mining.orgs import Mention, OrgFinder
from service.mining.practice import Practice, passage_text
from service.mining.text import (
    LEVEL1_RE,
    Segment,
    comma_clauses,
    is_heading_line,
    is_subtitle_line,
    measure_clauses,
    split_sentences,
    sub_segment,
    to_simplified,
)
from service.mining.topics import TopicAssigner

TITLE_SPLIT_RE = re.compile(r"[｜|丨【】！!？?_]|\s+[-—–]+\s*|(?<=\D)[-—–]+(?=\D)|\s{1,}")
TITLE_COLON_RE = re.compile(r"^([^：:，,“”]{2,16})[：:]")
SPEECH_RE = re.compile(r"讲话|致辞|发言")
ADDRESS_RE = re.compile(r"同志们|各位代表|各位委员|各位领导")
SPEAKING_FOR_RE = re.compile(r"我代表([\u4e00-\u9fff]{2,12}?)[，,、向]")
AUTHOR_RE = re.compile(
    r"^(.{2,14}?)(?:党委|党组|党工委)?(?:副)?(?:书记|主席|主任|局长|市长|县长|区长|部长|院长|校长|厅长|董事长|负责人)"
)
INLINE_ITEM_RE = re.compile(r"^(?:（[一二三四五六七八九十]{1,3}）|[一二三四五六七八九十]是|\d{1,2}[．.、])")
PLAN_HEADING_RE = re.compile(
    r"(?:下一步|今后|明年|下阶段|下一阶段|\d{4}年)[^，。]{0,6}(?:打算|思路|计划|安排|任务|重点|目标|要求)"
    r"|工作任务|总体要求|工作思路|工作打算|工作计划|主要任务|重点任务|几点意见|几点要求"
)
REVIEW_HEADING_RE = re.compile(r"回顾|主要成效|主要成绩|工作成效|取得的成绩|主要做法|经验做法|特点")
PROBLEM_HEADING_RE = re.compile(r"存在的?(?:主要)?问题|问题和不足|不足之处|困难和问题|差距和不足")
OWN_WORK_RE = re.compile(r"我们|我委|我局|我部|我院|我厅|工委|一年来|过去一年")
# A speaker's line in an exchange-meeting digest: 浙江省政协主席 葛慧君, XX市委组织部部长 XXX：,
# 省政协党组书记、主席 某某, 市教育局 王某某发言. The unit is what stands before the first title.
_SPEAKER_TITLE = (
    r"(?:党组|党委|党工委|党总支|党支部|纪委|纪检组)?(?:常务)?(?:副)?"
    r"(?:书记|主席|主任|部长|局长|厅长|院长|校长|县长|市长|区长|州长|镇长|乡长|主委|董事长|总经理|负责人|处长|所长|社长"
    r"|理事长|秘书长|会长|行长|站长|检察长|组长)"
)
_SPEAKER_END = r"[\s　]*(?:作)?(?:交流|典型|经验)?(?:发言)?[）)】]?[：:]?$"
SPEAKER_LINE_RE = re.compile(
    r"^(?:——|—|--)?[（(【]?(?P<unit>[\u4e00-\u9fffXＸ×*]{2,30}?)" + _SPEAKER_TITLE + r"(?:[、，,兼]" + _SPEAKER_TITLE + r")*"
    r"[\s　·]*(?P<name>[\u4e00-\u9fffXＸ×*]{2,4})?" + _SPEAKER_END
)
# No title: a unit, a space and a name (市教育局 王某某发言), or a unit and its 发言 (市教育局交流发言).
UNIT_SPEAKER_RE = re.compile(
    r"^(?:——|—|--)?[（(【]?(?P<unit>[\u4e00-\u9fffXＸ×*]{2,30}?)(?:[\s　·]+(?P<name>[\u4e00-\u9fffXＸ×*]{2,4}))?"
    r"[\s　]*(?:作)?(?:交流|典型|经验)?发言[）)】]?[：:]?$"
    r"|^[（(【]?(?P<unit2>[\u4e00-\u9fffXＸ×*]{2,30}?)[\s　·]+(?P<name2>[\u4e00-\u9fffXＸ×*]{2,4})[）)】]?[：:]$"
)
# The same inside a digest's paragraph: 经济学院本科2013级国贸党支部书记潘婷以“坚持”为关键词介绍了…
INLINE_SPEAKER_RE = re.compile(
    r"^(?P<unit>[\u4e00-\u9fff\dXＸ×*]{2,30}?(?:党组|党委|党工委|党总支|党支部)?)(?:常务)?(?:副)?"
    r"(?:书记|主席|主任|部长|局长|厅长|院长|校长|县长|市长|区长|镇长|乡长|董事长|总经理|负责人|组织委员|宣传委员|委员|代表|党员|辅导员)"
    r"[\u4e00-\u9fffXＸ×*]{0,4}?[，,]?(?:以|就|围绕|结合|从|首先|重点|分别|详细)?[^。；]{0,40}?"
    r"(?:介绍|分享|汇报|交流|发言|讲述|展示)"
)
# …施西代表艺术教育中心学生党支部为大家介绍了…: the body spoken for
ON_BEHALF_RE = re.compile(
    r"代表(?P<unit>[\u4e00-\u9fff\dXＸ×*]{2,30}?(?:党组|党委|党总支|党支部|支部|学院|中心|公司|局|委|办))"
    r"(?:为|向)?(?:大家|与会人员|全体)?(?:作了?)?(?:介绍|分享|汇报|交流|发言)"
)
NUMBER_LABEL_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]{1,3}[、．.]|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[、．.])\s*")
HEADING_UNIT_RE = re.compile(r"^[（(【]?(?P<unit>[\u4e00-\u9fffXＸ×*]{2,24}?)[）)】]?[：:]")
# How a report names its own body without its proper name: 医院党委, 集团公司党委, 学校, 该院.
SELF_NAME_RE = re.compile(r"(?:该|本|我|全)?(?:医院|院|学校|校|学院|公司|集团公司|集团|单位|中心)(?:党委|党总支|党支部|党组)?")
# An author's line under a title: 湖州市财政局, ——湖州市财政局在全市…会议上的交流发言, 中共某某县委组织部 经验材料.
BYLINE_RE = re.compile(
    r"^(?P<unit>[\u4e00-\u9fffXＸ×*]{2,30}?)(?:[\s　]*(?:在[^，。]{2,40}(?:上|中)的?)?(?:交流|典型|经验)?(?:发言|材料|汇报|讲话)"
    r"(?:材料|稿)?|[\s　]*(?:\d{4}年\d{1,2}月(?:\d{1,2}日)?)?)$"
)
# What kind of proper name each self-name stands for.
SELF_NAMES = (
    (re.compile(r"医院|院$"), "医院|[一二三四五六七八九]院"),  # 市一院: a numbered hospital's usual short name
    (re.compile(r"学校|校|学院"), "大学|学院|学校|中学|小学"),
    (re.compile(r"公司|集团"), "公司|集团"),
)
STORY_LEDE_RE = re.compile(r"^(?:近日|日前|如今|眼下|走进|来到|记者|笔者)")
GENERIC_LEADS = ("各", "部分", "全体", "广大", "有关", "相关", "一些", "有的")


@dataclass
class _Block:
    """A heading or paragraph of the document, on the Simplified copy."""

    seg: Segment
    path: list[str]
    heading: bool
    level: int = 0


@dataclass
class _Context:
    """What the extractor knows about the whole document."""

    subject: str | None
    speaker: str | None
    is_speech: bool
    title: str
    default_actor: str | None = None
    section_actor: str | None = None  # the unit of the current speaker's section in a digest
    candidates: list[_Candidate] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)  # clauses weighed, kinds decided per document
    collected: list[tuple[str, dict[str, object]]] | None = None  # every piece and its features, for training


@dataclass
class _Pending:
    """A clause the walk weighed, waiting for its kind: the rules' verdict and the classifier's features."""

    seg: Segment
    mentions: list[Mention]
    specific: list[Mention]
    rule: str | None
    feats: dict[str, object]
    directive_mode: bool
    section: list[str]
    heading: str
    actor: list[str]
    paragraph: int
    voice: list[str]  # the unit a speaker in this sentence speaks for (国贸党支部书记潘婷介绍了…)
    speaker_unit: str | None = None  # the unit of the digest section the clause is in


@dataclass
class _Candidate:
    seg: Segment
    kind: str
    mentions: list[Mention]
    orgs: list[str]
    section: list[str]
    heading: str
    confidence: float


class Extractor:
    """Extract practices (and directives) from a parsed Document.

    Usage::

        from service.intake import parse_file
        practices = Extractor().run(parse_file(Path("corpus/samples/seed__000_d56bd712dbae6b12.txt")))
        practices[1].orgs, practices[1].name  # (['市委办公室'], '“日读一文、…”学习制度')

    Works on ``iter_sections()`` headings and ``iter_paragraphs()``; when the document has no
    section tree, numbered lines (``一、…``) are taken as headings. Traditional characters are
    matched on a Simplified copy of the same length, so spans point into the original text.
    """

    def __init__(
        self,
        finder: OrgFinder | None = None,
        topics: TopicAssigner | None = None,
        keywords: KeywordExtractor | None = None,
        kinds: KindClassifier | None = None,
        min_confidence: float = 0.3,
    ) -> None:
        self.finder = finder or OrgFinder()
        self.topics = topics or TopicAssigner()
        self.keywords = keywords or KeywordExtractor()
        self.kinds = kinds
        self.min_confidence = min_confidence

    # -- public ------------------------------------------------------------------------------

    def run(self, document: Document, encoder: Any = None) -> list[Practice]:
        """All practices of ``document`` in reading order.

        With an ``encoder`` (``encode(texts, query=False)``, as search uses) each practice's passage
        vector is computed in one batch, read by the topic classifier and kept on ``Practice.vector``.
        """
        if not document.text.strip():
            return []
        ctx = self._walked(document)
        self._decide(ctx)
        return self._finish(ctx, document.text, encoder)

    def pieces(self, document: Document) -> list[tuple[str, dict[str, object]]]:
        """Every clause the extractor weighs, with the features :class:`KindClassifier` reads."""
        if not document.text.strip():
            return []
        return self._walked(document, collect=True).collected or []

    def _walked(self, document: Document, collect: bool = False) -> _Context:
        """The document's context after one walk over its blocks (clauses weighed, kinds not yet decided)."""
        simp = to_simplified(document.text)
        blocks = self._blocks(document, simp)
        ctx = self._context(document, simp, blocks)
        ctx.collected = [] if collect else None
        self._walk(blocks, ctx)
        return ctx

    # -- structure ---------------------------------------------------------------------------

    def _blocks(self, document: Document, simp: str) -> list[_Block]:
        """Headings and paragraphs in reading order, with heading paths."""
        out: list[_Block] = []
        items: list[tuple[int, int]] = []
        sections = document.iter_sections()
        item_starts = sorted(s.heading_span[0] for _, s in sections if s.number and s.number.endswith("是"))
        for path, sec in sections:
            a, b = sec.heading_span
            if b <= a:
                continue
            if sec.number and sec.number.endswith("是"):
                # An 一是… item is read as the text it opens up to the next item or line end, its lead
                # clause included: the clause often names the practice (二是开展“林业大讲堂”活动。邀请专家…).
                end = simp.find("\n", a)
                end = len(simp) if end < 0 else end
                end = min([end, *(x for x in item_starts if x > a)])
                items.append((a, end))
                out.append(_Block(Segment(simp[a:end], a, end), list(path[:-1]), False))
            else:
                out.append(_Block(Segment(simp[a:b], a, b), list(path), True, sec.level))
        heading_spans = {blk.seg.start for blk in out if blk.heading}
        for path, para in document.iter_paragraphs():
            a, b = para.span
            inside_item = any(s <= a < e for s, e in items)
            if b > a and a not in heading_spans and not inside_item:  # a heading repeated as a paragraph is read once
                out.append(_Block(Segment(simp[a:b], a, b), list(path), False))
        out.sort(key=lambda blk: (blk.seg.start, not blk.heading))
        if document.sections:
            return out
        # No section tree: numbered lines become headings so paths and the speech's second part work.
        path: list[str] = []
        for blk in out:
            t = blk.seg.text.strip()
            if is_heading_line(t):
                level = 1 if LEVEL1_RE.match(t) else 2
                path = [t] if level == 1 else [*path[:1], t]
                blk.heading, blk.level = True, level
            blk.path = list(path)
        return out

    def _context(self, document: Document, simp: str, blocks: list[_Block]) -> _Context:
        title = to_simplified(document.title or "")[:120]
        head = simp[:600]
        is_speech = document.kind == "讲话" or bool(SPEECH_RE.search(title)) or bool(ADDRESS_RE.search(head))
        speaker = None
        if is_speech:
            for body in ("市直机关工委", "县直机关工委", "区直机关工委", "省直机关工委", "机关工委"):
                if body in simp:
                    speaker = body
                    break
            if speaker is None:
                m = SPEAKING_FOR_RE.search(head)
                if m:
                    speaker = m.group(1)
                elif "工委" in simp:
                    speaker = "工委"
        if is_speech and speaker is None and document.org:
            speaker = to_simplified(document.org)
        own = self._byline_unit(blocks, title)
        if is_speech and own and speaker in (None, "工委"):
            speaker = own  # a unit's own exchange speech: 我们 is the unit under the title
        body_text = simp[len(title) :] if simp.startswith(title) else simp
        subject = None if is_speech else (own or self._subject(title, body_text, blocks))
        if subject is None and not is_speech and document.org:
            subject = self.finder.strip_province(to_simplified(document.org))  # the issuing unit intake found
        if subject and SELF_NAME_RE.fullmatch(subject):
            subject = self._proper_name(subject, body_text) or subject
        ctx = _Context(subject, speaker, is_speech, title)
        ctx.default_actor = speaker if is_speech else subject
        return ctx

    def _byline_unit(self, blocks: list[_Block], title: str) -> str | None:
        """The unit a line under the title names as the author (——湖州市财政局在全市…会议上的交流发言,
        湖州市财政局), or None."""
        for blk in blocks[:3]:
            t = blk.seg.text.strip()
            if t == title.strip() or not t:
                continue
            if len(t) > 60 or re.search(r"[。；;！？]", t):
                return None
            line = re.sub(r"^(?:——|—|--|-)\s*", "", t)
            m = BYLINE_RE.match(line)
            unit = self._unit_named(m.group("unit")) if m else None
            if unit and not self.finder.is_generic(unit):
                return self.finder.strip_province(unit)
        return None

    def _proper_name(self, self_name: str, body: str) -> str | None:
        """The body's most frequent proper name of the kind a generic self-name stands for
        (学校 → 南开大学, 医院 → 盐城市第一人民医院), named at least twice; else None."""
        heads = next((h for k, h in SELF_NAMES if k.search(self_name)), None)
        if heads is None:
            return None
        counts: Counter[str] = Counter()
        found = Counter(re.findall(r"[\u4e00-\u9fff]{1,8}(?:" + heads + ")", body[:20000]))
        for text, n in found.most_common(20):
            tokens = self.finder.words(text)
            starts = [0]
            for tok in tokens:
                starts.append(starts[-1] + len(tok[0]))
            for k, (word, flag) in zip(starts, tokens, strict=False):
                # a proper name opens with a place, a name or a level (南开大学, 盐城市第一人民医院, 市一院), not 深化公立医院
                if not (flag.startswith(("ns", "nt", "nr", "nz", "j")) or (len(word) > 1 and word[0] in self.finder.level_prefixes)) or k >= len(text) - 2 or text[k:].startswith(self.finder.generic_multi):
                    continue
                cand = text[k:]
                mentions, _ = self.finder.actors_at(cand + "开展")
                if mentions and not mentions[0].generic and mentions[0].start == 0 and mentions[0].end == len(cand):
                    counts[self.finder.strip_province(cand)] += n
                    break
        named = [(n, c) for n, c in counts.most_common() if c >= 2 and not SELF_NAME_RE.fullmatch(n)]
        return named[0][0] if named else None

    def _subject(self, title: str, body: str, blocks: list[_Block]) -> str | None:
        """The unit or place a report is about: from the title, else the body's first named unit."""
        m = TITLE_COLON_RE.match(title)
        if m:
            head = m.group(1).strip()
            # A signed article (四川省政协主席田向利：…) speaks for the author's unit.
            signed = AUTHOR_RE.match(head)
            if signed and self.finder.normalise(signed.group(1)):
                return self.finder.strip_province(signed.group(1))
            cand = self._place_or_unit(head, body, allow_end=True)
            if cand:
                return cand
        segments = [s for s in TITLE_SPLIT_RE.split(title) if s and len(s) >= 2]
        for allow_end in (False, True):
            for seg in segments:
                cand = self._place_or_unit(seg, body, allow_end)
                if cand:
                    return cand
        for blk in blocks[:12]:
            if blk.heading or blk.seg.text.strip() == title.strip():
                continue
            for sent in split_sentences(blk.seg.text)[:3]:
                for clause in comma_clauses(sent):
                    mentions, _ = self.finder.actors_at(clause.text)
                    for mnt in mentions:
                        if not mnt.generic:
                            return self.finder.body_form(self.finder.strip_province(mnt.name), body)
        return None

    def _place_or_unit(self, seg: str, body: str, allow_end: bool) -> str | None:
        run_end = self.finder.name_run(seg, allow_end=allow_end)
        if run_end <= 0:
            return None
        run = seg[:run_end]
        mentions, _ = self.finder.actors_at(run + "开展" if allow_end else seg)
        for mnt in mentions:
            if not mnt.generic:
                name = self.finder.strip_province(mnt.name)
                # 市林业局机关党建工作…: the unit, not its offices
                name = re.sub(r"(?<=[局委办厅部院])机关$", "", name)
                core = re.sub(r"(?:市|县|区|州)$", "", name)
                if core and core in body:
                    return self.finder.body_form(name, body)
                if not name.endswith(("市", "县", "区", "州", "省", "旗", "镇", "乡", "村")):
                    return name  # a unit named in the title needs no echo in the body
                return None
        place = self.finder.strip_province(run)
        if place != run or self.finder.is_place(run):
            core = re.sub(r"(?:市|县|区|州)$", "", place)
            if core and core in body:
                return self.finder.body_form(place, body)
        return None

    # -- walking the text --------------------------------------------------------------------

    def _walk(self, blocks: list[_Block], ctx: _Context) -> None:
        directive_mode = False
        problems = False
        seen_level1 = False
        subheading = ""
        own_section: bool | None = None  # does this section of a speech report the speaker's own work?
        top_level = min((b.level for b in blocks if b.heading), default=1)
        speaker_level = 0  # depth of the section a speaker's line opened; a heading at or above it closes it
        for i, blk in enumerate(blocks):
            t = blk.seg.text.strip()
            unit = self._speaker_unit(t, heading=blk.heading)
            lead = None if unit or blk.heading else self._speaker_lead(blk.seg.text)
            if lead:
                unit, cut = lead
                blk = _Block(sub_segment(blk.seg, blk.seg.start + cut, blk.seg.end), blk.path, False, blk.level)
                t = blk.seg.text.strip()
            if unit and not (i == 0 and t == ctx.title.strip()):
                ctx.section_actor = unit
                speaker_level = blk.level if blk.heading else len(blk.path)
                own_section = True
                if not lead and (blk.heading or len(t) <= 40):
                    continue
            elif blk.heading and ctx.section_actor and blk.level <= speaker_level:
                ctx.section_actor = None
            if blk.heading:
                own_section = True if ctx.section_actor else None
                if blk.level == top_level:
                    # A plan or task section (下一步打算, 政府工作任务) directs; a problems section
                    # (存在的问题) reports neither; a review section (工作回顾) reports practices.
                    if PLAN_HEADING_RE.search(t):
                        directive_mode = True
                    elif REVIEW_HEADING_RE.search(t):
                        directive_mode = False
                    elif re.match(r"^\s*一、", t) and seen_level1 and ctx.is_speech:
                        directive_mode = True
                    problems = bool(PROBLEM_HEADING_RE.search(t))
                    seen_level1 = True
                if directive_mode and not problems:
                    self._heading_directive(blk, ctx)
                continue
            if problems:
                continue
            if i == 0 and t == ctx.title.strip():
                continue
            if i <= 1 and (t.endswith("...") or t.endswith("…")) and len(t) > 40:
                continue  # a teaser line repeating the opening of the text
            if cues.OPINIONS_CUE_RE.search(t) and len(t) <= 80:
                directive_mode = True
                continue
            if is_subtitle_line(t):
                subheading = t  # a news-style subheading: context for the topic, not a practice
                continue
            if own_section is None and ctx.speaker and seen_level1:
                own_section = bool(OWN_WORK_RE.search(t[:80])) or ctx.speaker in t[:80]
            self._paragraph(blk, ctx, directive_mode, subheading, bool(own_section))

    def _speaker_unit(self, line: str, heading: bool) -> str | None:
        """The unit a speaker's line (浙江省政协主席 葛慧君, 市教育局 王某某发言) or a ``unit：`` heading names;
        a numbered heading's label is no part of it (一、浙江省政协：…, （二）市教育局 王某某)."""
        line = NUMBER_LABEL_RE.sub("", line) if heading else line
        if len(line) <= 40 and not re.search(r"[。；;！？]", line):
            for unit, _ in _speaker_lines(line):
                if named := self._unit_named(unit):
                    return named
        if heading:
            m = HEADING_UNIT_RE.match(line)
            if m:
                return self._unit_named(m.group("unit"))
        return None

    def _speaker_lead(self, line: str) -> tuple[str, int] | None:
        """A speaker's line run into the speech (浙江省政协主席 葛慧君：我们…): the unit and where the speech starts."""
        k = line.find("：", 0, 41)
        if k < 0:
            k = line.find(":", 0, 41)
        if k < 4 or k + 1 >= len(line):
            return None
        for unit, speaker_named in _speaker_lines(line[: k + 1]):
            # untitled, only a unit and a person's name make a speaker line (not any phrase before a colon)
            if speaker_named and (named := self._unit_named(unit)):
                return named, k + 1
        return None

    def _unit_named(self, unit: str) -> str | None:
        """The normal form of ``unit`` when the whole text is one particular body's name, else None."""
        mentions, _ = self.finder.actors_at(unit + "开展")
        named = [mnt for mnt in mentions if not mnt.generic]
        if named and named[0].start == 0 and named[0].end == len(unit):
            return self.finder.strip_province(named[0].name) if len(named[0].name) > 4 else named[0].name
        # a speaker's unit may hold words the segmenter does not take for a name (经济学院本科2013级国贸党支部):
        # its place before the speaker's title vouches for it when it ends like a body and holds no verb
        name = self.finder.normalise(unit)
        if name and not self.finder.is_generic(name) and not cues.VERB_RE.search(unit) and not unit.startswith(GENERIC_LEADS):
            return name
        return None

    def _actor(self, ctx: _Context) -> list[str]:
        """Who acts when a clause names nobody: the current speaker's unit, else the document's actor."""
        actor = ctx.section_actor or ctx.default_actor
        return [actor] if actor else []

    def _heading_directive(self, blk: _Block, ctx: _Context) -> None:
        seg = sub_segment(blk.seg, blk.seg.start, blk.seg.end)
        if not seg.text or PLAN_HEADING_RE.search(seg.text):
            return  # 四、下一步工作打算 announces the directives, it is none itself
        ctx.candidates.append(_Candidate(seg, "directive", [], self._actor(ctx), blk.path, seg.text, 0.8))

    def _paragraph(
        self, blk: _Block, ctx: _Context, directive_mode: bool, subheading: str = "", own_section: bool = False
    ) -> None:
        meeting_mode = False
        heading = blk.path[-1] if blk.path else subheading
        sentences = _split_at_meeting_cue(_merge_continuations(split_sentences(blk.seg.text, blk.seg.start)))
        # A paragraph opening with a date, a scene or a quotation tells a story (the news lede).
        first = re.sub(r"^本报\S{0,8}讯（[^）]{0,30}）", "", sentences[0].text) if sentences else ""
        story = bool(STORY_LEDE_RE.match(first) or cues.is_quote(first))
        outer_actor = ctx.section_actor
        for si, sent in enumerate(sentences):
            st = sent.text
            speaker = ON_BEHALF_RE.search(st[:60]) or INLINE_SPEAKER_RE.match(st)
            unit = self._unit_named(speaker.group("unit")) if speaker else None
            if unit:
                # 国贸党支部书记潘婷介绍了…，包括…: what the speaker reports is their unit's, to the paragraph's end
                ctx.section_actor = unit
            voice = [unit] if unit else []
            if cues.MEETING_CUE_RE.search(st[:12]) or cues.DIRECTIVE_HEAD_RE.match(st) or cues.DEMAND_INTRO_RE.search(st):
                meeting_mode = True
            # "X。如A…，B…": X sums up the examples that follow; the examples are the practices.
            nxt = sentences[si + 1].text if si + 1 < len(sentences) else ""
            summary = nxt.startswith(("如", "例如", "比如"))
            # A very short first sentence followed by more is an inline heading (加大人才引进力度。).
            lead_in = si == 0 and len(sentences) > 1 and len(st.rstrip("。：:")) <= 14 and not cues.has_typed_name(st)
            previous_rule: str | None = None
            for piece, mentions, person, later in self._pieces(sent, ctx):
                # 国贸党支部书记潘婷介绍了…，包括…: the speaker reports their unit's measures, not their own deeds
                person = person and not unit
                pt = piece.text
                specific = [m for m in mentions if not m.generic]
                rule, reason = self._rule(
                    pt, ctx, directive_mode, meeting_mode, bool(blk.path), si == 0, person, lead_in, summary, story,
                    own_section, mentions,
                )
                if later and previous_rule == "directive" and rule == "practice":
                    rule, reason = "directive", "demand_part"  # the sentence's modal governs each listed demand
                previous_rule = rule
                feats = _features(
                    rule, reason, directive_mode=directive_mode, meeting_mode=meeting_mode,
                    speech=ctx.is_speech and not ctx.section_actor,  # a speaker section of a digest is a unit reporting its own work
                    own_section=own_section, story=story, summary=summary, lead_in=lead_in, person=person,
                    specific=bool(specific), mentioned=bool(mentions), first=si == 0, in_section=bool(blk.path),
                    speaker_section=bool(ctx.section_actor), later=later, text=pt,
                )
                if ctx.collected is not None:
                    ctx.collected.append((pt, feats))
                ctx.pending.append(
                    _Pending(piece, mentions, specific, rule, feats, directive_mode, blk.path, heading,
                             self._actor(ctx), id(blk), voice, ctx.section_actor)
                )
        ctx.section_actor = outer_actor

    def _decide(self, ctx: _Context) -> None:
        """Kinds for every weighed clause at once (one classifier call per document), then units.

        A clause naming no unit but repeating the tail of the last acting unit's name (该局, 局党组)
        inherits that unit, within one paragraph.
        """
        pending = ctx.pending
        if not pending:
            return
        if self.kinds is not None:
            kinds = self.kinds.decide_many([p.seg.text for p in pending], [p.feats for p in pending])
        else:
            kinds = [p.rule for p in pending]
        last_actor: list[str] = []
        paragraph = None
        for p, kind in zip(pending, kinds, strict=True):
            if p.paragraph != paragraph:
                paragraph, last_actor = p.paragraph, []
            if kind == "practice" and p.directive_mode:
                # a plan or opinions section reports nothing done: only the rules' directives stand
                kind = "directive" if p.rule == "directive" else None
            if kind is None:
                continue
            if kind == "directive":
                # units named in a directive are its addressees; it belongs to whoever issues it
                orgs = list(p.actor)
            elif p.voice:
                orgs = last_actor = list(p.voice)
            elif p.specific:
                orgs = _dedupe([self._as_subject(m.name, ctx, p.speaker_unit) for m in p.specific])
                last_actor = orgs
            elif p.mentions and last_actor and any(a.endswith(p.mentions[0].text) for a in last_actor):
                orgs = list(last_actor)
            else:
                orgs = list(p.actor)
            conf = self._confidence(p.seg.text, kind, bool(p.specific), p.mentions)
            ctx.candidates.append(_Candidate(p.seg, kind, p.specific, orgs, p.section, p.heading, conf))

    def _rule(
        self,
        pt: str,
        ctx: _Context,
        directive_mode: bool,
        meeting_mode: bool,
        in_section: bool,
        first: bool,
        person: bool,
        lead_in: bool,
        summary: bool,
        story: bool,
        own_section: bool,
        mentions: list[Mention],
    ) -> tuple[str | None, str]:
        """The genre's surface rules: the kind they give a piece (or None) and the rule that decided."""
        kind = self._kind(pt, directive_mode, meeting_mode)
        inline_item = directive_mode and first and bool(INLINE_ITEM_RE.match(pt))
        if inline_item:
            return "directive", "inline_item"  # （一）大力推进…。 an item heading run into its paragraph
        if kind is None:
            return None, "surface"
        if directive_mode and in_section and kind == "directive":
            return None, "opinion_body"  # in a speech's opinions part the headings are the directives
        specific = any(not m.generic for m in mentions)
        if kind == "directive" and not cues.DIRECTIVE_HEAD_RE.match(re.sub(r"^(?:他|她)", "", pt)) and (
            cues.NARRATIVE_START_RE.match(pt) or re.search(r"(?:表示|认为)[，,：:]", pt[:20])
        ):
            return None, "reported_intent"  # what people in a news story said they would do is reported
        if kind == "practice":
            if person:
                return None, "person"
            if lead_in:
                return None, "lead_in"
            if cues.is_evaluation(pt):
                return None, "evaluation"
            if cues.NARRATIVE_START_RE.match(pt):
                return None, "narrative"
            if not specific and (summary or story or cues.DATED_START_RE.match(pt)):
                return None, "story"
            # In a summing-up speech "各…" sentences sum up; in a unit's report they describe
            # how its measure runs below it.
            if ctx.is_speech and not specific and mentions and mentions[0].text.startswith(GENERIC_LEADS):
                return None, "generic_lead"
            # A summing-up speech states unattributed summaries; the speaker's own work is
            # attributable when the section is about it, or the measure has a name.
            if (
                ctx.is_speech
                and not specific
                and not own_section
                and not cues.QUOTE_RE.search(pt)
                and not OWN_WORK_RE.search(pt[:30])
            ):
                return None, "speech_summary"
        if self._confidence(pt, kind, specific, mentions) < self.min_confidence:
            return None, "confidence"
        return kind, "rule"

    def _as_subject(self, name: str, ctx: _Context, speaker_unit: str | None = None) -> str:
        """Province dropped; a longer spelling of the document's subject becomes the subject, and so does
        the body's own generic name for itself (医院党委, 集团公司党委 in a report about that hospital or
        group; 学校 in the section of a digest where ``speaker_unit``, a university, speaks)."""
        name = self.finder.strip_province(name)
        subject = ctx.subject
        own = speaker_unit or subject
        if own and SELF_NAME_RE.fullmatch(name):
            return own
        if subject and subject.endswith(("市", "县", "区", "州", "旗")) and name != subject and name.endswith(subject):
            return subject
        return name

    def _pieces(self, sent: Segment, ctx: _Context) -> list[tuple[Segment, list[Mention], bool, bool]]:
        """One sentence → one piece per listed measure of each acting unit.

        The sentence is first cut where a new unit acts, then where a new measure opens (``…，组织…、
        参观…``). The first flag says a person, not a unit, opens the sentence; the second marks a
        measure after the first one of its unit's clause.
        """
        out: list[tuple[Segment, list[Mention], bool, bool]] = []
        for piece, mentions, person in self._unit_pieces(sent, ctx):
            j = 0
            for part in measure_clauses(piece, _opens_measure, _ends_on_verb):
                # 要认真履行主体责任，切实加强基层组织建设，…: each demand of a directive is its own
                parts = measure_clauses(part, _opens_demand, _ends_on_verb, "，,") if cues.is_directive(part.text) else [part]
                for sub in parts:
                    out.append((sub, mentions, person, j > 0))
                    j += 1
        return out

    def _unit_pieces(self, sent: Segment, ctx: _Context) -> list[tuple[Segment, list[Mention], bool]]:
        """One sentence → one piece per unit clause when several units act in it, else itself."""
        clauses = comma_clauses(sent)
        found: list[tuple[int, list[Mention]]] = []
        person = False
        for k, clause in enumerate(clauses[:12]):
            mentions, pred = self.finder.actors_at(clause.text, ctx.subject, ctx.speaker)
            if pred == -1 and k <= 1 and not found:
                person = True
            if mentions and pred > 0:
                found.append((k, mentions))
        specific = [(k, ms) for k, ms in found if any(not m.generic for m in ms)]
        if not specific and any(self.finder.names_person(c.text) for c in clauses[:3]):
            person = True
        if len(specific) >= 2:
            out = []
            for j, (k, ms) in enumerate(specific):
                start = sent.start if j == 0 else clauses[k].start
                end = clauses[specific[j + 1][0]].start if j + 1 < len(specific) else sent.end
                piece = self._trim_piece(sub_segment(sent, start, end), lead=j == 0 and k == 0)
                out.append((piece, ms, False))
            return out
        if specific:
            return [(self._trim_piece(sent, lead=specific[0][0] == 0), specific[0][1], False)]
        if found:
            return [(self._trim_piece(sent), found[0][1], person)]
        return [(self._trim_piece(sent), [], person)]

    def _trim_piece(self, seg: Segment, lead: bool = False) -> Segment:
        """Drop a leading ``如`` before a unit and what follows an enumeration's closing ``等等，``."""
        text = seg.text
        start, end = seg.start, seg.end
        m = re.match(r"^(?:如|例如|比如|再如)(?=[\u4e00-\u9fff])", text) if lead else None
        if m:
            start += m.end()
        cut = re.search(r"等等[，,]", text)
        if cut:
            end = seg.start + cut.start() + 2
        return sub_segment(seg, start, end)

    def _kind(self, text: str, directive_mode: bool, meeting_mode: bool) -> str | None:
        """``practice``, ``directive`` or None (background, result, quote, item heading)."""
        if len(text) < 6 or cues.is_quote(text):
            return None
        # 一是提前谋划部署。 heads the item; 二是开展“林业大讲堂”活动。 already names the practice
        item_heading = bool(cues.ITEM_RE.match(text)) and len(text) <= 25 and not cues.has_typed_name(text)
        if directive_mode or meeting_mode:
            if cues.is_directive(text) or (cues.ITEM_RE.match(text) and not item_heading and cues.has_action(text)):
                return "directive"
            # what the meeting noted or stressed around its demands is commentary, not a measure
            return None
        if cues.is_directive(text) and not cues.is_result(text):
            return "directive"
        if item_heading or cues.is_result(text) or cues.is_background(text):
            return None
        if cues.SPEECH_REPORT_RE.search(text[:50]) or cues.VISIT_RE.search(text[:60]):
            return None
        if not cues.has_action(text):
            return None
        if cues.GENERIC_SUBJECT_RE.match(text) and not cues.QUOTE_RE.search(text):
            return None
        return "practice"

    def _confidence(self, text: str, kind: str, explicit: bool, mentions: list[Mention]) -> float:
        score = 0.45
        if explicit:
            score += 0.2
        if cues.QUOTE_RE.search(text):
            score += 0.15
        if re.search(r"\d", text) and not explicit:
            score -= 0.05
        if mentions and not explicit:
            score -= 0.05
        if kind == "directive":
            score += 0.05
        if len(text) > 200:
            score -= 0.1
        return round(max(0.05, min(0.95, score)), 2)

    # -- output ------------------------------------------------------------------------------

    def _finish(self, ctx: _Context, original: str, encoder: Any = None) -> list[Practice]:
        cands = ctx.candidates
        if not cands:
            return []
        cands.sort(key=lambda c: c.seg.start)
        texts, names = [], []
        for c in cands:
            name, _ = cues.find_name(c.seg.text)
            text = original[c.seg.start : c.seg.end]
            if name is not None:
                k = c.seg.text.find(name)
                name = text[k : k + len(name)] if k >= 0 else name
            texts.append(text)
            names.append(name)
        vectors = None
        if encoder is not None:
            vectors = encoder.encode(
                [passage_text(n, c.orgs, t) for c, n, t in zip(cands, names, texts, strict=True)], query=False
            )
        title = ctx.title if not ctx.is_speech else ""
        # The title of a report names the theme of what was done; directives range wider.
        practices = [i for i, c in enumerate(cands) if c.kind == "practice"]
        directives = [i for i, c in enumerate(cands) if c.kind != "practice"]
        scores = np.zeros((len(cands), len(self.topics.classes)))
        for idx, t in ((practices, title), (directives, "")):
            if idx:
                scores[idx] = self.topics.scores(
                    [cands[i].seg.text[:300] for i in idx], [cands[i].heading for i in idx], t,
                    None if vectors is None else vectors[idx],
                )
        classes = self.topics.classes
        out: list[Practice] = []
        for i, (c, row) in enumerate(zip(cands, scores, strict=True)):
            topic = classes[int(row.argmax())]
            name, text = names[i], texts[i]
            a, b = c.seg.start, c.seg.end
            out.append(
                Practice(
                    orgs=c.orgs,
                    mentions=_dedupe([m.text for m in c.mentions]),
                    text=text,
                    name=name,
                    topic=topic,
                    kind=c.kind,
                    span=(a, b),
                    section=list(c.section),
                    tags=self.topics.tags_for(topic, c.seg.text),
                    keywords=self.keywords.run(c.seg.text, name),
                    confidence=c.confidence,
                    vector=None if vectors is None else vectors[i],
                )
            )
        return out


# Verbs that open an aim or an elaboration of the measure before them (…，推动小事在小区化解), not a new one.
_AIM_VERBS = frozenset("推动 推进 加强 强化 深化 落实 实现 优化 用好 抓好 做好 抓实 规范 聚焦 围绕 针对 统筹 构建 用活 织密 畅通 拓展 构筑 明确 形成 利用 依托 运用 采取 进行 发动".split())


_NOUN_HEADS = ("单位", "部门", "中心", "机构", "企业", "主体", "人员")


def _speaker_lines(line: str) -> list[tuple[str, bool]]:
    """The unit each speaker-line pattern finds in ``line``, titled pattern first, and whether the line
    names its speaker: by a title (省政协主席) or, without one, by a person's name after the unit."""
    found = []
    for pattern in (SPEAKER_LINE_RE, UNIT_SPEAKER_RE):
        m = pattern.match(line)
        if m is None:
            continue
        groups = m.groupdict()
        unit = groups.get("unit") or groups.get("unit2")
        if unit:
            found.append((unit, pattern is SPEAKER_LINE_RE or bool(groups.get("name") or groups.get("name2"))))
    return found


def _opens_measure(text: str) -> bool:
    """Whether a listed part opens with a measure's own verb (组织…, 参观…, 将…纳入…), not an aim's."""
    m = cues.VERB_RE.match(text)
    if m and text[m.end():].startswith(_NOUN_HEADS):
        return False  # 建设单位, 服务中心: the verb modifies a body's head noun, it opens no measure
    return bool((m and m.group() not in _AIM_VERBS) or cues.TAKE_AS_RE.match(text))


def _opens_demand(text: str) -> bool:
    """Whether a part of a directive opens with a verb: in a demand, aims (加强…, 提升…) count too."""
    return bool(cues.VERB_RE.match(text))


_VERB_AT_END_RE = re.compile(f"(?:{cues.VERB_RE.pattern})$")


def _ends_on_verb(text: str) -> bool:
    """``…组建`` in ``组建、改建基层党组织``: the verb waits for the object after the next verb."""
    return bool(_VERB_AT_END_RE.search(text))


def _split_at_meeting_cue(sentences: list[Segment]) -> list[Segment]:
    """``…的成果巩固，会议要求，要…``: what follows the meeting's demand is a separate directive;
    so is what follows an announcement of demands (``陈某提出三点要求：一是…``)."""
    out: list[Segment] = []
    for sent in sentences:
        intro = cues.DEMAND_INTRO_RE.search(sent.text)
        if intro and intro.end() < len(sent.text) - 4:
            out.append(sub_segment(sent, sent.start, sent.start + intro.end()))
            out.append(sub_segment(sent, sent.start + intro.end(), sent.end))
            continue
        m = cues.MEETING_CUE_RE.search(sent.text, 6)
        if m:
            k = m.start()
            while k > 0 and sent.text[k - 1] not in "，,；;。":
                k -= 1
            if k > 0:
                out.append(sub_segment(sent, sent.start, sent.start + k))
                out.append(sub_segment(sent, sent.start + k, sent.end))
                continue
        out.append(sent)
    return out


def _merge_continuations(sentences: list[Segment]) -> list[Segment]:
    """Glue ``…；还…`` / ``…；更…`` back to the sentence they continue: one measure, one clause."""
    out: list[Segment] = []
    for sent in sentences:
        if out and out[-1].text.endswith(("；", ";")) and cues.CONTINUATION_RE.match(sent.text):
            prev = out[-1]
            gap = sent.start - prev.end
            out[-1] = Segment(prev.text + " " * gap + sent.text, prev.start, sent.end)
            continue
        out.append(sent)
    return out


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x and x not in out:
            out.append(x)
    return out


def _shift(m: Mention, delta: int) -> Mention:
    return Mention(m.text, m.start + delta, m.end + delta, m.name, m.generic)
