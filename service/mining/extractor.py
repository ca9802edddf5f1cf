"""Document → practices: who did what, under what name, pointing at the clause it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.intake.document import Document
from service.mining import cues
from service.mining.keywords import KeywordExtractor
from service.mining.orgs import Mention, OrgFinder
from service.mining.practice import Practice
from service.mining.text import (
    LEVEL1_RE,
    Segment,
    comma_clauses,
    is_heading_line,
    is_subtitle_line,
    split_sentences,
    sub_segment,
    to_simplified,
)
from service.mining.topics import TopicAssigner

NUMBER_PREFIX_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]{1,3}、|（[一二三四五六七八九十]{1,3}）|\([一二三四五六七八九十]{1,3}\))")
TITLE_SPLIT_RE = re.compile(r"[｜|丨【】！!？?_]|\s+[-—–]+\s*|(?<=\D)[-—–]+(?=\D)|\s{1,}")
TITLE_COLON_RE = re.compile(r"^([^：:，,“”]{2,16})[：:]")
SPEECH_RE = re.compile(r"讲话|致辞|发言")


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
    candidates: list[_Candidate] = field(default_factory=list)


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
        min_confidence: float = 0.3,
    ) -> None:
        self.finder = finder or OrgFinder()
        self.topics = topics or TopicAssigner()
        self.keywords = keywords or KeywordExtractor()
        self.min_confidence = min_confidence

    # -- public ------------------------------------------------------------------------------

    def run(self, document: Document) -> list[Practice]:
        """All practices of ``document`` in reading order."""
        text = document.text
        if not text.strip():
            return []
        simp = to_simplified(text)
        blocks = self._blocks(document, simp)
        ctx = self._context(document, simp, blocks)
        self._walk(blocks, ctx)
        return self._finish(ctx, text)

    # -- structure ---------------------------------------------------------------------------

    def _blocks(self, document: Document, simp: str) -> list[_Block]:
        """Headings and paragraphs in reading order, with heading paths."""
        out: list[_Block] = []
        for path, sec in document.iter_sections():
            a, b = sec.heading_span
            if b > a:
                out.append(_Block(Segment(simp[a:b], a, b), list(path), True, sec.level))
        for path, para in document.iter_paragraphs():
            a, b = para.span
            if b > a:
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
        title = to_simplified(document.title or "")
        head = simp[:600]
        is_speech = bool(SPEECH_RE.search(title)) or "同志们" in head
        speaker = None
        if is_speech:
            for body in ("市直机关工委", "县直机关工委", "区直机关工委", "省直机关工委", "机关工委"):
                if body in simp:
                    speaker = body
                    break
            if speaker is None and "工委" in simp:
                speaker = "工委"
        body_text = simp[len(title) :] if simp.startswith(title) else simp
        subject = None if is_speech else self._subject(title, body_text, blocks)
        ctx = _Context(subject, speaker, is_speech, title)
        ctx.default_actor = speaker if is_speech else subject
        return ctx

    def _subject(self, title: str, body: str, blocks: list[_Block]) -> str | None:
        """The unit or place a report is about: from the title, else the body's first named unit."""
        m = TITLE_COLON_RE.match(title)
        if m:
            cand = self._place_or_unit(m.group(1).strip(), body, allow_end=True)
            if cand:
                return cand
        segments = [s for s in TITLE_SPLIT_RE.split(title) if s and len(s) >= 2]
        for allow_end in (False, True):
            for seg in segments:
                cand = self._place_or_unit(seg, body, allow_end)
                if cand:
                    return cand
        for blk in blocks[:6]:
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
                core = re.sub(r"(?:市|县|区|州)$", "", name)
                if core and core in body:
                    return self.finder.body_form(name, body)
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
        seen_level1 = False
        for i, blk in enumerate(blocks):
            t = blk.seg.text.strip()
            if blk.heading:
                if blk.level == 1 and re.match(r"^\s*一、", t) and seen_level1 and ctx.is_speech:
                    directive_mode = True
                seen_level1 = seen_level1 or blk.level == 1
                if directive_mode:
                    self._heading_directive(blk, ctx)
                continue
            if i == 0 and t == ctx.title.strip():
                continue
            if i <= 1 and (t.endswith("...") or t.endswith("…")) and len(t) > 40:
                continue  # a teaser line repeating the opening of the text
            if cues.OPINIONS_CUE_RE.search(t) and len(t) <= 80:
                directive_mode = True
                continue
            if is_subtitle_line(t):
                continue
            if ctx.is_speech and not seen_level1 and not directive_mode:
                continue  # a speech's opening words greet and set the scene
            self._paragraph(blk, ctx, directive_mode)

    def _heading_directive(self, blk: _Block, ctx: _Context) -> None:
        m = NUMBER_PREFIX_RE.match(blk.seg.text)
        start = blk.seg.start + (m.end() if m else 0)
        seg = sub_segment(blk.seg, start, blk.seg.end)
        if not seg.text:
            return
        orgs = [ctx.default_actor] if ctx.default_actor else []
        ctx.candidates.append(_Candidate(seg, "directive", [], orgs, blk.path, seg.text, 0.8))

    def _paragraph(self, blk: _Block, ctx: _Context, directive_mode: bool) -> None:
        meeting_mode = False
        last_actor: list[str] = []
        heading = blk.path[-1] if blk.path else ""
        sentences = split_sentences(blk.seg.text, blk.seg.start)
        for si, sent in enumerate(sentences):
            st = sent.text
            # "X。如A…，B…": X sums up the examples that follow; the examples are the practices.
            nxt = sentences[si + 1].text if si + 1 < len(sentences) else ""
            summary = nxt.startswith(("如", "例如", "比如"))
            if cues.MEETING_CUE_RE.search(st[:12]) or cues.DIRECTIVE_HEAD_RE.match(st):
                meeting_mode = True
            for piece, mentions in self._pieces(sent, ctx):
                pt = piece.text
                kind = self._kind(pt, directive_mode, meeting_mode)
                if kind is None:
                    continue
                if directive_mode and blk.path and kind == "directive":
                    continue  # in a speech's opinions part the headings are the directives
                specific = [m for m in mentions if not m.generic]
                if kind == "practice" and not specific and (summary or cues.is_evaluation(pt)):
                    continue
                if specific:
                    orgs = _dedupe([m.name for m in specific])
                    if kind == "practice":
                        last_actor = orgs
                elif mentions and last_actor and any(a.endswith(mentions[0].text) for a in last_actor):
                    orgs = list(last_actor)
                else:
                    orgs = [ctx.default_actor] if ctx.default_actor else []
                conf = self._confidence(pt, kind, bool(specific), mentions)
                if conf < self.min_confidence:
                    continue
                ctx.candidates.append(_Candidate(piece, kind, specific, orgs, blk.path, heading, conf))

    def _pieces(self, sent: Segment, ctx: _Context) -> list[tuple[Segment, list[Mention]]]:
        """One sentence → one piece per unit clause when several units act in it, else itself."""
        clauses = comma_clauses(sent)
        found: list[tuple[int, list[Mention]]] = []
        for k, clause in enumerate(clauses[:12]):
            mentions, pred = self.finder.actors_at(clause.text, ctx.subject, ctx.speaker)
            if mentions and pred:
                found.append((k, mentions))
        specific = [(k, ms) for k, ms in found if any(not m.generic for m in ms)]
        if len(specific) >= 2:
            out = []
            for j, (k, ms) in enumerate(specific):
                start = clauses[k].start if j > 0 else sent.start
                if j == 0 and k > 0:
                    start = sent.start
                end = clauses[specific[j + 1][0]].start if j + 1 < len(specific) else sent.end
                piece = sub_segment(sent, start, end)
                piece = self._trim_piece(piece)
                shift = piece.start - clauses[k].start
                out.append((piece, [_shift(m, -shift) for m in ms]))
            return out
        if specific:
            return [(self._trim_piece(sent), specific[0][1])]
        if found:
            return [(self._trim_piece(sent), found[0][1])]
        return [(self._trim_piece(sent), [])]

    def _trim_piece(self, seg: Segment) -> Segment:
        """Drop a leading ``如`` and what follows an enumeration's closing ``等等，``."""
        text = seg.text
        start, end = seg.start, seg.end
        lead = re.match(r"^(?:如|例如|比如|再如)(?=[\u4e00-\u9fff])", text)
        if lead:
            start += lead.end()
        cut = re.search(r"等等[，,]", text)
        if cut:
            end = seg.start + cut.start() + 2
        return sub_segment(seg, start, end)

    def _kind(self, text: str, directive_mode: bool, meeting_mode: bool) -> str | None:
        """``practice``, ``directive`` or None (background, result, quote, item heading)."""
        if len(text) < 6 or cues.is_quote(text):
            return None
        item_heading = bool(cues.ITEM_RE.match(text)) and len(text) <= 25
        if directive_mode or meeting_mode:
            if cues.is_directive(text) or (cues.ITEM_RE.match(text) and not item_heading and cues.has_action(text)):
                return "directive"
            if directive_mode:
                return None
        elif cues.is_directive(text) and not cues.is_result(text):
            return "directive"
        if item_heading or cues.is_result(text) or cues.is_background(text):
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

    def _finish(self, ctx: _Context, original: str) -> list[Practice]:
        cands = ctx.candidates
        if not cands:
            return []
        cands.sort(key=lambda c: c.seg.start)
        scores = self.topics.scores([c.seg.text[:300] for c in cands], [c.heading for c in cands])
        classes = self.topics.classes
        out: list[Practice] = []
        for c, row in zip(cands, scores, strict=True):
            topic = classes[int(row.argmax())]
            name, _ = cues.find_name(c.seg.text)
            a, b = c.seg.start, c.seg.end
            text = original[a:b]
            if name is not None:
                k = c.seg.text.find(name)
                name = text[k : k + len(name)] if k >= 0 else name
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
                )
            )
        return out


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x and x not in out:
            out.append(x)
    return out


def _shift(m: Mention, delta: int) -> Mention:
    return Mention(m.text, m.start + delta, m.end + delta, m.name, m.generic)
