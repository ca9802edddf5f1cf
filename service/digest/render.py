"""Turn a digest's practices into what is delivered: HTML + plain text mail, webhook JSON, the .docx.

Pure: practices (already read from the library) and a subscription in, strings and bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

from service.digest.subscriptions import Subscription
from service.library.export import (
    UNGROUPED,
    ExportPractice,
    arrange,
    cn_number,
    practice_heading,
    source_line,
    to_docx,
)

HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family:'Microsoft YaHei','PingFang SC','Noto Sans CJK SC',sans-serif;color:#222;max-width:760px;margin:0 auto;padding:16px;line-height:1.7">
<h1 style="font-size:22px;color:#b00;border-bottom:2px solid #b00;padding-bottom:6px">经验库 · 新增经验做法摘要</h1>
<p style="color:#555">{{ period }}，按您的订阅（{{ description }}）新收录经验做法 <strong>{{ count }}</strong> 条，完整汇编见附件。</p>
{% for topic in topics %}
<h2 style="font-size:19px;margin-top:24px">{{ topic.number }}、{{ topic.topic }}</h2>
{% for group in topic.groups %}
{% if group.show_label %}<h3 style="font-size:17px;color:#444">（{{ group.number }}）{{ group.label }}</h3>{% endif %}
{% for p in group.practices %}
<div style="margin:10px 0 14px;padding-left:10px;border-left:3px solid #e5c07b">
<p style="margin:0"><strong>{{ p.heading }}</strong></p>
<p style="margin:4px 0">{{ p.text }}</p>
<p style="margin:0;font-size:13px;color:#666">{{ p.source }} · <a href="{{ p.url }}">查看原文出处</a></p>
</div>
{% endfor %}{% endfor %}{% endfor %}
<hr style="border:none;border-top:1px solid #ddd;margin-top:28px">
<p style="font-size:12px;color:#888">您收到这封邮件是因为订阅了经验库摘要（{{ schedule }}）。
<a href="{{ unsubscribe_url }}">退订</a></p>
</body></html>
"""

_env = Environment(autoescape=True)
_html = _env.from_string(HTML_TEMPLATE)


@dataclass
class RenderedDigest:
    """Everything a channel needs to deliver one digest."""

    subject: str
    text: str
    html: str
    payload: dict[str, Any]
    docx: bytes
    docx_filename: str


def period_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%Y-%m-%d %H:%M} 至 {b:%Y-%m-%d %H:%M}"


def structure(practices: Sequence[ExportPractice]) -> list[dict[str, Any]]:
    """Topic → group → practices as plain data (shared by HTML, text and webhook JSON)."""
    out = []
    for t_index, (topic, groups) in enumerate(arrange(practices).items(), start=1):
        only_ungrouped = list(groups) == [UNGROUPED]
        out.append(
            {
                "number": cn_number(t_index),
                "topic": topic,
                "groups": [
                    {
                        "number": cn_number(g_index),
                        "label": label,
                        "group_id": items[0].group_id if label != UNGROUPED else None,
                        "show_label": not only_ungrouped,
                        "practices": [
                            {
                                "id": p.id,
                                "orgs": p.orgs,
                                "name": p.name,
                                "heading": practice_heading(p),
                                "text": p.text,
                                "kind": p.kind,
                                "tags": p.tags,
                                "source": source_line(p),
                                "document": {"id": p.document_id, "title": p.doc_title, "filename": p.doc_filename},
                                "url": p.url,
                            }
                            for p in items
                        ],
                    }
                    for g_index, (label, items) in enumerate(groups.items(), start=1)
                ],
            }
        )
    return out


def render(
    sub: Subscription,
    practices: Sequence[ExportPractice],
    start: datetime,
    end: datetime,
    unsubscribe_url: str,
    tz: ZoneInfo,
    digest_id: int | None = None,
    with_docx: bool = True,
) -> RenderedDigest:
    """Render the digest of ``practices`` for ``sub`` covering ``[start, end]`` (``with_docx=False``: no 汇编)."""
    topics = structure(practices)
    local_end = end.astimezone(tz)
    focus = "、".join(t["topic"] for t in topics[:3]) + ("等" if len(topics) > 3 else "")
    subject = f"经验库摘要：新增经验做法{len(practices)}条（{focus}）{local_end:%Y-%m-%d}"
    period = period_text(start, end, tz)
    html = _html.render(
        subject=subject,
        period=period,
        description=sub.describe(),
        count=len(practices),
        topics=topics,
        schedule=sub.schedule_text(),
        unsubscribe_url=unsubscribe_url,
    )
    text = _plain_text(sub, topics, len(practices), period, unsubscribe_url)
    payload = {
        "type": "jingyan.digest",
        "digest_id": digest_id,
        "subscription": {"id": sub.id, "description": sub.describe(), "schedule": sub.schedule_text()},
        "subject": subject,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "count": len(practices),
        "topics": [
            {
                "topic": t["topic"],
                "groups": [
                    {"label": g["label"], "group_id": g["group_id"], "practices": g["practices"]}
                    for g in t["groups"]
                ],
            }
            for t in topics
        ],
        "unsubscribe_url": unsubscribe_url,
    }
    docx = to_docx(practices, title="经验做法汇编", on=local_end.date()) if with_docx else b""
    return RenderedDigest(subject, text, html, payload, docx, f"经验做法汇编_{local_end:%Y%m%d}.docx")


def _plain_text(sub: Subscription, topics: list[dict], count: int, period: str, unsubscribe_url: str) -> str:
    lines = [
        "经验库 · 新增经验做法摘要",
        f"{period}，按您的订阅（{sub.describe()}）新收录经验做法 {count} 条，完整汇编见附件。",
        "",
    ]
    for t in topics:
        lines.append(f"{t['number']}、{t['topic']}")
        for g in t["groups"]:
            if g["show_label"]:
                lines.append(f"（{g['number']}）{g['label']}")
            for p in g["practices"]:
                lines += [f"· {p['heading']}", f"  {p['text']}", f"  {p['source']}", f"  {p['url']}", ""]
    lines += ["——", f"您订阅了经验库摘要（{sub.schedule_text()}）。退订：{unsubscribe_url}", ""]
    return "\n".join(lines)
