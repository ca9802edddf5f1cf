"""Deliver a rendered digest: e-mail over SMTP or a JSON POST to a webhook.

Both raise :class:`DeliveryError` with a Chinese message a clerk can act on plus the technical
cause; the caller records it on the digest and retries later.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import urljoin, urlsplit

from service.config import Settings
from service.digest.render import RenderedDigest
from service.digest.targets import TargetRefused, resolve

TIMEOUT_S = 30
MAX_REDIRECTS = 5
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


class DeliveryError(RuntimeError):
    """A digest could not be delivered.

    ``str()`` is the Chinese message anyone may read; ``detail`` the technical cause (socket errors,
    server answers) that only administrators see.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


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
        raise DeliveryError("邮件服务器拒绝登录，请管理员检查 JINGYAN_SMTP_USER/JINGYAN_SMTP_PASSWORD",
                            f"{where}: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"邮件服务器拒收收件人 {msg['To']}，请核对邮箱地址", f"{where}: {exc}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError("无法通过邮件服务器发送，稍后自动重试", f"{where}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise DeliveryError("邮件服务器拒收部分收件人", f"{where}: {', '.join(refused)}")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post_once(url: str, body: bytes, allow_private: bool) -> tuple[int, str | None]:
    """POST to ``url`` after checking where it goes; (status, Location)."""
    host, port, address = resolve(url, allow_private)[0]
    parts = urlsplit(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, TIMEOUT_S)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "jingyan-digest",
        })
        response = connection.getresponse()
        response.read(64 * 1024)  # read and drop: the remote's body is never stored or shown
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def post_webhook(url: str, payload: dict, allow_private: bool = False) -> None:
    """POST the digest as JSON; any final status other than 2xx is a failure.

    Redirects are followed (at most five), each hop checked like the first.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            status, location = _post_once(current, body, allow_private)
        except TargetRefused as exc:
            raise DeliveryError(str(exc), current) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError("无法连接推送地址，稍后自动重试", f"{current}: {type(exc).__name__}: {exc}") from exc
        if 300 <= status < 400 and location:
            current = urljoin(current, location)
            continue
        if not 200 <= status < 300:
            raise DeliveryError(f"推送地址返回错误 {status}，稍后自动重试", f"{current}: HTTP {status}")
        return
    raise DeliveryError("推送地址重定向次数过多", url)


def build_confirmation(settings: Settings, to: str, description: str, owner: str, link: str) -> EmailMessage:
    """The mail asking the owner of ``to`` to agree to a subscription somebody else made for them."""
    msg = EmailMessage()
    msg["Subject"] = "请确认订阅经验库摘要"
    msg["From"] = formataddr(("经验库", settings.smtp_from))
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.partition("@")[2] or "jingyan.local")
    msg.set_content(
        f"经验库用户 {owner} 为您的邮箱 {to} 订阅了经验做法摘要（{description}）。\n\n"
        f"如同意接收，请打开以下链接并点击“确认订阅”：\n{link}\n\n"
        "如果您不需要，请忽略本邮件，不会向您发送任何摘要。\n"
    )
    return msg
