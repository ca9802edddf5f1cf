"""Real delivery endpoints on loopback: an aiosmtpd SMTP server and an HTTP webhook receiver."""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts; can be stopped and restarted."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.login = login  # when set, only this user/password may send
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()
        ) == self.login
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        extra = {}
        if self.login:
            # Loopback only, so plain-text AUTH without TLS is acceptable here.
            extra = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **extra)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class WebhookReceiver:
    """An HTTP server that records JSON POSTs and answers with the next status in ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.requests = 0
        # When ``hold`` is set the next request waits until ``release`` is set (a send in flight).
        self.hold = threading.Event()
        self.arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.hold.is_set():
                    receiver.hold.clear()
                    receiver.arrived.set()
                    receiver.release.wait(30)
                    return
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def html_part(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def text_part(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def attachments(msg: EmailMessage) -> list[tuple[str, bytes]]:
    return [(part.get_filename(), part.get_content()) for part in msg.iter_attachments()]
