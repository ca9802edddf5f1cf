"""Deliver a rendered digest: e-mail over SMTP or a JSON POST to a webhook.

Both raise :class:`DeliveryError` with a Chinese message a clerk can act on plus the technical
cause; the caller records it on the digest and retries later.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from service.config import Settings
from service.digest.render import RenderedDigest

TIMEOUT_S = 30
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


class DeliveryError(RuntimeError):
    """A digest could not be delivered; ``str()`` is the Chinese message with its cause."""


def build_email(settings: Settings, to: str, digest: RenderedDigest, unsubscribe_url: str) -> EmailMessage:
    """multipart/mixed: multipart/alternative (plain text + HTML) and the .docx 汇编."""
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = formataddr(("经验库", settings.smtp_from))
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.partition("@")[2] or "jingyan.local")
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    msg.add_attachment(digest.docx, maintype=DOCX_TYPE[0], subtype=DOCX_TYPE[1], filename=digest.docx_filename)
    return msg


def send_email(settings: Settings, msg: EmailMessage) -> None:
    """Hand ``msg`` to the configured SMTP server (STARTTLS and login when configured)."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"邮件服务器 {where} 拒绝登录，请检查 JINGYAN_SMTP_USER/JINGYAN_SMTP_PASSWORD（{exc}）") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"邮件服务器 {where} 拒收收件人 {msg['To']}，请核对邮箱地址（{exc}）") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"无法通过邮件服务器 {where} 发送，稍后自动重试（{type(exc).__name__}: {exc}）") from exc
    if refused:
        raise DeliveryError(f"邮件服务器 {where} 拒收部分收件人：{', '.join(refused)}")


def post_webhook(url: str, payload: dict) -> None:
    """POST the digest as JSON; any status other than 2xx is a failure."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "jingyan-digest"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"推送地址 {url} 返回错误 {exc.code}，稍后自动重试") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise DeliveryError(f"无法连接推送地址 {url}，稍后自动重试（{type(exc).__name__}: {exc}）") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"推送地址 {url} 返回 {status}，稍后自动重试")
