"""Surface cues of the genre: what makes a clause a reported practice, a directive, or neither."""

from __future__ import annotations

import re

ACTION_VERBS = (
    "推行 实行 推出 推广 建立 建起 健全 完善 开展 制定 制订 出台 组建 改建 新建 新组建 设立 设置 选派 打造 创新 探索 实施 "
    "举办 组织 召开 坚持 倡导 成立 上线 开通 开设 编制 整合 配备 配强 划分 推动 推进 深化 构建 搭建 引入 引进 培育 "
    "发出 制作 划拨 创设 依托 采取 运用 利用 印发 编印 选树 评选 表彰 招募 推荐 挖掘 下沉 下放 布局 统筹 建设 发放 "
    "安装 启动 签订 参观 观看 传达 诵读 悬挂 讲授 宣讲 走访 慰问 结对 联建 共建 排查 整治 指导 流转 盘活 建成 形成 "
    "担任 认领 纳管 匹配 对接 提供 选配 明确 梳理 压减 上报 设计 推选 赴 重温 学习 研讨 换届 进行 抽查 发动 号召 "
    "前往 开办 创办 落实 实现 用好 强化 规范 优化 加强 聚焦 围绕 针对 做好 抓好 抓实 用活 织密 畅通 拓展 构筑 "
    "出资 改造 投入 组织开展 创建 申报 建章立制 设"
).split()

VERB_RE = re.compile("|".join(sorted(ACTION_VERBS, key=len, reverse=True)))

NAME_TYPES = (
    "学习制度 工作机制 工作法 学习法 学习活动 制度 机制 活动 模式 行动 工程 改革 品牌 平台 专栏 项目 体系 计划 服务 "
    "清单 课堂 架构 专班 阵地 党课 讲堂 大讲堂 建设 竞赛 队伍 志愿服务队 服务队 队 工作室 食堂 端口 档案 标准 "
    "专题教育 教育 培训 知识竞赛 实践活动 主题党日活动 专题学习研讨会 研讨会 会议 交流总结会议 基地 方式 做法 要求 载体 理念"
).split()
NAME_TYPE_RE = re.compile("(?:" + "|".join(sorted(NAME_TYPES, key=len, reverse=True)) + ")")
FIGURATIVE_RE = re.compile(r"\s*(?:作用|角色|效应|精神|之称|难题|问题|短板|瓶颈|现象)")
# a type word may follow a short modifier: “党建+业务”双融合工作法
TYPED_TAIL_RE = re.compile(r"[\u4e00-\u9fff]{0,3}?" + NAME_TYPE_RE.pattern)
QUOTE_RE = re.compile(r"《[^《》]{1,60}》|(?:“[^“”]{1,40}”\s*)+")

# Modal 要 as in 要深入开展…, not 需要/重要/主要/要求/要点.
MODAL_RE = re.compile(
    r"(?:^|[，,；]|^[^，。；：“”]{2,10}?(?:党委|党组|支部|集体|班子|干部|党员|部门|单位)|各[^，。；]{0,14}?|我们|大家|全市|全县|全局|全体|同志们)"
    r"(?:(?:一定|务必|必须|切实|都|还|更|也|既|又|首先|重点|就是)?(?<![需重主首纲只想概摘提])要(?![求素点闻件领害])|必须|务必|应当|一定要)"
)
DIRECTIVE_HEAD_RE = re.compile(
    r"^(?:会议|会上)?(?:要求|强调|明确|指出|号召|提出|希望|鼓励)[，,：:]|^(?:他|她)(?:要求|号召|希望)(?![^，。；]{0,12}(?:表示|感谢))"
)
# A delegation's visit or an exchange with visitors: an event, not a measure of the host or the guest.
VISIT_RE = re.compile(
    r"一行\d*人?(?:先后|首先)?(?:来访|莅临|到访|来到|赴|前往|参观|调研|考察)|(?:来访|莅临|到访)(?:我|本)"
    r"|(?:调研|考察|参观|走访)了?我(?:校|院|局|委|市|县|区|单位)|与来访|(?:来访|调研)人员"
)
# A speaker announcing demands (陈某提出三点要求：一是…): what follows the colon is directives.
DEMAND_INTRO_RE = re.compile(
    r"(?:提出|作出|提了)了?(?:[一两二三四五六七八九十几]点|具体|明确|以下|如下|殷切|几点)?(?:工作)?(?:要求|希望|意见)[：:]"
)
MEETING_CUE_RE = re.compile(r"(?:会议|会上|讲话|他|她|书记|局长|主任|院长)(?:要求|强调|明确|指出|号召|提出|希望)[，,：:]")
OPINIONS_CUE_RE = re.compile(
    r"(?:讲|谈|提)(?:以下|下面|这么)?(?:几点|[两三四五六]点)(?:意见|要求|建议|看法|想法)|(?:下面|下一步)[，,]?我(?:讲|谈|提)"
)
RESULT_START_RE = re.compile(
    r"^(?:.{0,40}?(?:同比|环比|降幅|增幅|满意率)|此次|本次|截至|截止|目前|至此|迄今|累计|共计|共|已|这些|此举|由此|这一|这项|如今|从而|进而|因此|同时也|这是|这种|经过|通过这|"
    r"实现了|进一步|有效|大大|明显|全面提升|得到了|受到|取得|展示了|彰显了|增强了|激发了|筑牢了|活跃了|维护了|规范了|严格了|"
    r"提升了|提高了|促进了|推动了|带动了|解决了|惠及|今年以来[，,]?(?:已|累计|共|全市已|全县已)|去年以来[，,]?(?:已|累计|共))"
)
QUOTE_SPEECH_RE = re.compile(r"(?:说|表示|介绍|介绍说|感慨|感慨道|称赞|赞叹|赞叹道|点赞|笑着说|高兴地说|告诉记者|坦言)[。！]?$")
NARRATIVE_START_RE = re.compile(
    r"^(?:近日|日前|如今|今天|昨天|走进|来到|而后|随后|之后|然后|接着|其间|会后|会上[，,]|[^，。]{0,8}结束后|展望未来|"
    r"在[^，。]{0,20}(?:带领下|陪同下|指导下|见证下)|其他与会|刚才|今天|"
    r"他|她|他们|她们|大家|同学们|党员们|师生们|与会|全体(?:党员|成员|师生|干部)|"
    r"小朋友|居民|村民|群众|记者|笔者|队员|网格长|网格员|老人|志愿者们|二人|三位)"
)
DATED_START_RE = re.compile(r"^(?:(?:\d{4}年)?\d{1,2}月(?:\d{1,2}日)?(?:至\d{1,2}日)?(?:\d{1,2}时许?)?|(?:今年|去年)(?:\d{1,2}月\w{0,3}|汛期|夏天|冬天|春节|国庆))[，,]")
SPEECH_REPORT_RE = re.compile(r"这次会议|这次会|本次会议|今天的会议|召开这次|(?:(?:表示|指出|强调|说|谈到|分享道|写道|感慨道|认为|祝愿|希望|提出)[，：:]|(?:将|会)(?:持续|继续|进一步|以此))")
CONTINUATION_RE = re.compile(r"^(?:还|更|并|也|且|又|同时)")
TAKE_AS_RE = re.compile(r"^(?:[^，。]{0,12}[，,])?(?:将|把)[^，。；]{2,40}?(?:作为|纳入|列入|融入|延伸|下沉|建到|设到|建在|打造成)")
BACKGROUND_RE = re.compile(r"^(?:作为|因为|因(?!地制宜|村施策|人而异|需|时)|由于|鉴于)|(?:^|[，,])(?:位于|地处|素有)|(?:是全省|是全国|来自全国|随着|的生动体现)")
EVAL_RE = re.compile(
    r"得到了?(?:较好|有效|全面)?(?:的)?落实|初见成效|日趋|不断(?:规范|完善|强化|深入|提升)|进一步(?:规范|健全|完善)(?!了)"
    r"|制度健全|程序规范|较好(?:地|的)|取得(?:了)?(?:明显|显著|积极)?成效|已成为|成为了"
    r"|思路清晰|效果明显|成效明显|特色鲜明|亮点纷呈|是重点|是关键|才是关键|是目的|同样实现"
    r"|(?:实行|推行|实施|开展|运行)以来"
)
GENERIC_SUBJECT_RE = re.compile(r"^(?:各[^，。]{0,20}?|绝大多数|大多数|部分单位|部分|多数|有的|一些|广大|全体)")
ITEM_RE = re.compile(r"^(?:[一二三四五六七八九十]是|第[一二三四五六七八九十]，|其[一二三四五六七八九十]，)")


def has_action(text: str) -> bool:
    """Whether the clause contains an action verb of the genre (or ``将…作为/纳入…``)."""
    return bool(VERB_RE.search(text) or TAKE_AS_RE.match(text))


def is_directive(text: str) -> bool:
    """``要…`` / ``各…要…`` / ``必须…`` / ``会议要求，…``: telling someone what to do.

    After ``会议指出，`` or ``强调，`` what follows is a demand only when it is worded as one
    (``强调，要…`` or a verb first); ``会议指出，大讨论是…`` judges, it demands nothing.
    """
    head = text[:40]
    if MODAL_RE.search(head):
        return True
    m = DIRECTIVE_HEAD_RE.match(head)
    if not m:
        return False
    if re.search(r"(?:指出|强调|明确)[，,：:]$", m.group()):
        return bool(VERB_RE.match(text[m.end():]))
    return True


def is_result(text: str) -> bool:
    """A clause that reports an effect or a figure, not a measure."""
    return bool(RESULT_START_RE.match(text))


def is_quote(text: str) -> bool:
    """Words of a resident or an official, not a measure of the unit."""
    t = text.strip()
    if t.startswith("“"):
        close = t.find("”")
        if close < 0 or close >= len(t) * 0.6:
            return True
    return bool(QUOTE_SPEECH_RE.search(t))


def is_evaluation(text: str) -> bool:
    """A summary judgement (``…得到了较好落实``, ``…不断规范完善``) rather than a measure."""
    return bool(EVAL_RE.search(text))


def is_background(text: str) -> bool:
    """Setting the scene: geography, history, the problem before the measure."""
    return bool(BACKGROUND_RE.search(text))


def has_typed_name(text: str) -> bool:
    """A 《title》 or a quotation followed by a practice type (“三卡预警”制度, “五微”学习法)."""
    return any(
        m.group().startswith("《") or TYPED_TAIL_RE.match(text, m.end()) for m in QUOTE_RE.finditer(text)
    )


def find_name(text: str) -> tuple[str | None, tuple[int, int] | None]:
    """The practice's name: a 《title》 or “quoted” name plus a following type noun.

    Returns the name and its offsets in ``text``; a book title wins over a quotation, a
    quotation after the action verb wins over one before it.
    """
    matches = list(QUOTE_RE.finditer(text))
    if not matches:
        return None, None
    # Figurative quotes (发挥“娘家”作用) name no practice.
    matches = [m for m in matches if not FIGURATIVE_RE.match(text, m.end())]
    if not matches:
        return None, None
    titles = [m for m in matches if m.group().startswith("《")]
    typed = [m for m in matches if TYPED_TAIL_RE.match(text, m.end())]
    verb = VERB_RE.search(text)
    if titles:
        m = titles[0]
    elif typed:
        m = typed[0]
    else:
        after = [m for m in matches if verb and m.start() >= verb.start()]
        m = (after or matches)[0]
    start, end = m.start(), m.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    inner = re.sub(r"[“”《》\s]", "", text[start:end])
    if len(inner) <= 1:
        return None, None
    tail = TYPED_TAIL_RE.match(text, end)
    if tail and not text[start:end].startswith("《"):
        end = tail.end()
    return text[start:end], (start, end)
