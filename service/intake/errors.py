"""Intake failures carry a message a committee clerk can act on (Chinese) and the technical cause."""

from __future__ import annotations


class IntakeError(Exception):
    """A file that cannot be turned into a Document.

    ``code`` is stable for programs (``empty``, ``encrypted``, ``scanned`` …), ``message`` is the
    one line shown to a person, ``detail`` the technical cause.
    """

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(f"{message}（{detail}）" if detail else message)
        self.code = code
        self.message = message
        self.detail = detail

    def user_line(self) -> str:
        """One line for a terminal or a page: the advice, then the technical cause."""
        return f"{self.message}（技术原因：{self.detail}）" if self.detail else self.message
