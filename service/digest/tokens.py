"""Signed unsubscribe tokens: a link in a mail works without a login but cannot be forged.

A token is ``<subscription id>.<HMAC-SHA256 of "unsubscribe:<id>" with settings.secret_key>``
(base64url, 128 bits kept). It never expires: an old mail's link still unsubscribes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _signature(subscription_id: int, secret_key: str) -> str:
    mac = hmac.new(secret_key.encode("utf-8"), f"unsubscribe:{subscription_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).decode("ascii").rstrip("=")


def make_token(subscription_id: int, secret_key: str) -> str:
    """The token for the unsubscribe link of ``subscription_id``."""
    return f"{subscription_id}.{_signature(subscription_id, secret_key)}"


def read_token(token: str, secret_key: str) -> int | None:
    """The subscription id a valid token stands for, else None."""
    head, _, sig = (token or "").strip().partition(".")
    if not head.isdigit() or not sig:
        return None
    subscription_id = int(head)
    if not hmac.compare_digest(sig, _signature(subscription_id, secret_key)):
        return None
    return subscription_id


def unsubscribe_url(base_url: str, subscription_id: int, secret_key: str) -> str:
    """``{base_url}/unsubscribe?token=…``."""
    return f"{base_url.rstrip('/')}/unsubscribe?token={make_token(subscription_id, secret_key)}"
