"""Title, kind, issuing unit and date of a document, read from its clean paragraphs.

Rules, in the order they are tried:

* **title** — the first paragraph that is not a salutation, closing or date line, has at most
  80 characters and does not end in ``。``; if that paragraph is long, a sentence or a numbered
  heading, the document has no title line and the file name without extension is used.
* **kind** — from the title first: ``工作报告`` → 报告; ``交流发言/经验交流/交流材料`` → 交流材料;
  ``…上的讲话/发言/致辞``, ``讲话稿`` → 讲话; ``召开/开展/举办/举行/组织/赴`` with
  ``会/活动/党课/总结…`` → 报道; any other ``讲话/致辞/发言`` → 讲话;
  ``经验材料/典型经验/做法/经验`` → 经验材料; ``工作总结/述职/总结`` → 总结; ``报告`` → 报告. Then from the opening text: a news
  byline (``本报…讯``, ``记者``, ``通讯员``, ``…日电``, ``来源：``) → 报道; a salutation (``同志们：``) → 讲话; an
  opening that dates an event (``近日``/``日前``/``M月D日，`` in the first sentence) → 报道.
  Practice reports from Party papers (``pb-lotjol``) therefore come out as 报道: they are news
  stories about a unit's practice, and mining reads 报道 and 经验材料 alike.
* **org** — the issuing unit where the document states one: a short line directly under the
  title or at the very end (signature, possibly followed by a date) that is an organisation
  name (``中共XX委``, ``…委员会``, ``…局``, ``…党支部`` …); a title of the form
  ``…国务院政府工作报告`` gives the body before ``政府工作报告``; for 报道, the subject unit that
  opens the title (``浙江省金华市民政局：…``, ``中条林局召开…``) when it is an organisation
  name. A bare place (``陕西咸阳：…``) and a newspaper byline (``本报咸阳讯``) are not taken.
* **date** — ISO ``YYYY-MM-DD``; ``YYYY-MM`` or ``YYYY`` when only that is stated. Taken from a
  date line in the first eight or last four paragraphs (``2024年11月5日``, ``（2024年11月5日）``,
  ``——2017年3月5日在…会议上``, ``二〇二四年十一月五日``, ``2021-05-31 来源：…``, a web page's
  ``2022-05-26 14:27``), else from a full date in the first
  sentence of the first body paragraph, else from a year that opens the title (``2024年工作要点``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.intake.clean import is_salutation
from service.intake.numbering import cn_to_int, leading_label

_CN_DIGIT = {
    "〇": "0",
    "○": "0",
    "零": "0",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_CN_YEAR = "[〇○零一二三四五六七八九]{4}"
_CN_SMALL = "[一二三四五六七八九十]{1,3}"

_DATE_FULL = re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?:(?P<d>\d{1,2})\s*日)?")
_DATE_CN = re.compile(rf"(?P<y>{_CN_YEAR})年(?P<m>{_CN_SMALL})月(?:(?P<d>{_CN_SMALL})日)?")
_DATE_DASH = re.compile(r"(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})")
_DATE_LINE = re.compile(
    r"^[（(——\-\s]*(?:(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?"
    rf"|{_CN_YEAR}年{_CN_SMALL}月(?:{_CN_SMALL}日)?"
    r"|(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2})"
    r"\s*(?:[)）]|在.{0,40}[上会]|\d{1,2}:\d{2}|来源|$)"
)
_TITLE_YEAR = re.compile(r"^(?P<y>(?:19|20)\d{2})\s*年")
_EVENT_DATE = re.compile(r"^(?:\d{1,2}月\d{1,2}日|近日|日前|近期|今年\d{1,2}月)")

_CLOSING = re.compile(r"^(?:谢谢大家|谢谢|以上报告|以上|特此报告|此致)")
_ORG_SUFFIX = re.compile(
    r"(?:委员会|党委|党组|工委|纪委|组织部|宣传部|统战部|政法委|委|党支部|支部|总支|党总支|局|厅|处|办公室|办|政府|"
    r"人大常委会|政协|法院|检察院|院|学院|大学|学校|中心|公司|集团|街道|社区|村|镇|乡|部|协会|联合会|工会|团委|"
    r"分会|研究会|管理局|保护区管理局|支队|大队|所|站)$"
)
_ORG_LINE = re.compile(r"^(?:中共|中国共产党)?[\u4e00-\u9fffA-Za-z0-9（）()·]{2,30}$")
_TITLE_BODY_REPORT = re.compile(r"^(?:(?:19|20)\d{2}年)?(?P<org>.+?)(?:政府)?工作报告")
_SUBJECT_END = re.compile(
    r"[：:]|召开|开展|组织|举办|举行|赴|推行|推进|用活|加强|抓实|以|持续|深化|创新|打造"
)
_ORG_CHARS = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9（）()·]{2,30}$")
# Province-level names: a title opening with one is a third-person report about that place.
_PLACE_START = re.compile(
    r"^(?:北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|"
    r"四川|贵州|云南|陕西|甘肃|青海|内蒙古|广西|西藏|宁夏|新疆)"
)
_SIGNED_ARTICLE = re.compile(
    r"(?:主席|书记|部长|省长|市长|县长|主任|局长|院长|校长)[\u4e00-\u9fff]{2,3}[：:]"
)
_CREDIT_LINE = re.compile(r"^(?:来源|文字|文|图片|图|摄影|编辑|责编|责任编辑|审核|初审|复审|终审|供稿)[：:]")
# Traditional forms of the characters the rules look for, so 講話 reads as 讲话.
_TO_SIMPLIFIED = str.maketrans(
    "講話報總結經驗發開會動們舉辦員記訊導組織議習討禮訓課黨覽謝業學機關黨員彙匯長縣鄉鎮區幹廳辦處統協聯團產紀運會",
    "讲话报总结经验发开会动们举办员记讯导组织议习讨礼训课党览谢业学机关党员汇汇长县乡镇区干厅办处统协联团产纪运会",
)
_COLUMN_PREFIX = re.compile(r"^(?:[^｜|丨]{1,12}[｜|丨]\s*|【[^】]{1,20}】)")

_KIND_TITLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("报告", re.compile(r"政府工作报告|工作报告(?!会)")),
    ("交流材料", re.compile(r"交流发言|经验交流|交流材料")),
    ("讲话", re.compile(r"上的(?:讲话|发言|致辞)|讲话稿|讲话提纲|(?:讲话|致辞)$")),
    (
        "报道",
        re.compile(
            r"(?:召开|开展|举办|举行|组织(?!部)|赴).{0,40}(?:会|活动|党课|党日|总结|学习|研讨|仪式|培训)"
        ),
    ),
    ("讲话", re.compile(r"讲话|致辞|发言")),
    ("经验材料", re.compile(r"经验材料|典型经验|经验做法|做法|经验")),
    ("总结", re.compile(r"工作总结|述职|总结")),
    ("报告", re.compile(r"报告")),
)
_NEWS_BYLINE = re.compile(r"本报\S{0,8}讯|(?:^|[（(])记者|通讯员|新华社|人民网|央广网|讯[（(]|日电|来源[：:]")


@dataclass
class Meta:
    """What :func:`read_meta` found; ``title_index`` is the title's paragraph (or None)."""

    title: str
    title_index: int | None
    kind: str
    org: str | None
    date: str | None


def read_meta(paragraphs: list[str], fallback_title: str) -> Meta:
    """Title, kind, org and date of a document given its clean paragraphs (see module rules)."""
    title_index = _find_title(paragraphs)
    title = paragraphs[title_index] if title_index is not None else fallback_title
    # Rules are written in simplified characters; match them on a simplified view of the text.
    simple = [p.translate(_TO_SIMPLIFIED) for p in paragraphs[:12]] + [
        p.translate(_TO_SIMPLIFIED) for p in paragraphs[max(12, len(paragraphs) - 8) :]
    ]
    simple_title = title.translate(_TO_SIMPLIFIED)
    kind = detect_kind(simple_title, simple, title_index)
    org = detect_org(title, paragraphs, title_index, kind)
    date = detect_date(title, paragraphs, title_index)
    return Meta(title, title_index, kind, org, date)


def _find_title(paragraphs: list[str]) -> int | None:
    for i, text in enumerate(paragraphs[:5]):
        if is_salutation(text) or _CLOSING.match(text) or _DATE_LINE.match(text):
            continue
        if leading_label(text) is not None:
            return None  # the document opens with its first numbered heading: it has no title line
        if len(text) <= 80 and not text.endswith("。"):
            return i
        return None
    return None


def detect_kind(title: str, paragraphs: list[str], title_index: int | None) -> str:
    """One of ``DOCUMENT_KINDS`` by the title, then by the opening paragraphs."""
    for kind, pattern in _KIND_TITLE_RULES:
        if pattern.search(title):
            return kind
    if _SIGNED_ARTICLE.search(title):
        return "其他"
    start = 0 if title_index is None else title_index + 1
    opening = paragraphs[start : start + 4]
    head = "\n".join(opening)[:400]
    if _NEWS_BYLINE.search(head):
        return "报道"
    if any(is_salutation(p) or p.startswith(("同志们", "各位代表")) for p in opening[:2]):
        return "讲话"
    body = next((p for p in opening if len(p) >= 40), "")
    if body and (_EVENT_DATE.match(body) or _DATE_FULL.match(body)):
        return "报道"
    if _PLACE_START.match(_COLUMN_PREFIX.sub("", title)) or any(
        _CREDIT_LINE.match(p) for p in paragraphs[-8:]
    ):
        return "报道"
    return "其他"


def _is_org_name(text: str) -> bool:
    return bool(_ORG_LINE.match(text)) and bool(_ORG_SUFFIX.search(text)) and not is_salutation(text)


def detect_org(title: str, paragraphs: list[str], title_index: int | None, kind: str) -> str | None:
    """The issuing (or, for 报道, the subject) unit where the document states it."""
    start = 0 if title_index is None else title_index + 1
    for text in paragraphs[start : start + 2]:
        if _is_org_name(text):
            return text
    tail = [p for p in paragraphs[-3:] if not _DATE_LINE.match(p)]
    if tail and len(paragraphs) > start + 2 and _is_org_name(tail[-1]):
        return tail[-1]
    m = _TITLE_BODY_REPORT.match(title)
    if m and _ORG_SUFFIX.search(m.group("org")):
        return m.group("org")
    if kind == "报道":
        return _title_subject(_COLUMN_PREFIX.sub("", title))
    return None


def _title_subject(title: str) -> str | None:
    """The organisation a news title opens with (``中条林局召开…`` → ``中条林局``), if any."""
    for m in _SUBJECT_END.finditer(title, 2):
        subject = title[: m.start()].strip()
        if len(subject) > 30:
            return None
        if _ORG_CHARS.match(subject) and _ORG_SUFFIX.search(subject):
            return subject
    return None


def _iso(y: str, m: str | None, d: str | None) -> str | None:
    year = int(y)
    if m is None:
        return f"{year:04d}"
    month = int(m)
    if not 1 <= month <= 12:
        return f"{year:04d}"
    if d is None:
        return f"{year:04d}-{month:02d}"
    day = int(d)
    if not 1 <= day <= 31:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def _cn_small(numeral: str | None) -> str | None:
    if not numeral:
        return None
    value = cn_to_int(numeral)
    return str(value) if value else None


def parse_date(text: str) -> str | None:
    """The first date written in ``text`` as ISO (``YYYY-MM-DD`` / ``YYYY-MM``), if any."""
    m = _DATE_FULL.search(text)
    if m:
        return _iso(m.group("y"), m.group("m"), m.group("d"))
    m = _DATE_DASH.search(text)
    if m:
        return _iso(m.group("y"), m.group("m"), m.group("d"))
    m = _DATE_CN.search(text)
    if m:
        year = "".join(_CN_DIGIT[c] for c in m.group("y"))
        return _iso(year, _cn_small(m.group("m")), _cn_small(m.group("d")))
    return None


def detect_date(title: str, paragraphs: list[str], title_index: int | None) -> str | None:
    """The document's date by the rules in the module docstring."""
    start = 0 if title_index is None else title_index + 1
    candidates = paragraphs[start : start + 8] + paragraphs[-4:]
    for text in candidates:
        if len(text) <= 60 and _DATE_LINE.match(text):
            found = parse_date(text)
            if found:
                return found
    body = next((p for p in paragraphs[start : start + 4] if len(p) >= 40), "")
    first_sentence = re.split(r"[。！？]", body, maxsplit=1)[0]
    m = _DATE_FULL.search(first_sentence)
    if m and m.group("d"):
        return _iso(m.group("y"), m.group("m"), m.group("d"))
    m = _TITLE_YEAR.match(title)
    if m:
        return m.group("y")
    return None
