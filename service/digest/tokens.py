"""Signed unsubscribe tokens: a link in a mail works without a login but cannot be forged.

A token is ``<subscription id>.<HMAC-SHA256 of "unsubscribe:<id>:<secret>">`` (base64url, 128 bits
kept), keyed with ``settings.secret_key``. ``secret`` is random and stored with the subscription,
so knowing an id and the key is not enough to forge a link, and a link of a deleted subscription
never acts on a later one. A token never expires: an old mail's link still unsubscribes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Longest token ever issued: 19 digits (a 64-bit id), a dot and 22 base64url characters.
MAX_TOKEN_CHARS = 64
MAX_ID = 2**63 - 1


def new_secret() -> str:
    """A fresh per-subscription secret (128 random bits, hex)."""
    return secrets.token_hex(16)


def _signature(subscription_id: int, subscription_secret: str, secret_key: str, purpose: str = "unsubscribe") -> str:
    message = f"{purpose}:{subscription_id}:{subscription_secret}".encode()
    mac = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).decode("ascii").rstrip("=")


def make_token(subscription_id: int, subscription_secret: str, secret_key: str, purpose: str = "unsubscribe") -> str:
    """The token for the unsubscribe (or, with ``purpose="confirm"``, the confirmation) link of one subscription."""
    return f"{subscription_id}.{_signature(subscription_id, subscription_secret, secret_key, purpose)}"


def token_subscription_id(token: str) -> int | None:
    """The subscription id a token names (not yet verified), or None when it is not a token at all."""
    token = (token or "").strip()
    if len(token) > MAX_TOKEN_CHARS:
        return None
    head, _, sig = token.partition(".")
    if not head.isascii() or not head.isdigit() or len(head) > 19 or not sig:
        return None
    subscription_id = int(head)
    return subscription_id if 0 < subscription_id <= MAX_ID else None


def token_matches(
    token: str, subscription_id: int, subscription_secret: str, secret_key: str, purpose: str = "unsubscribe"
) -> bool:
    """True when ``token`` was issued for this subscription (its id and its secret) and this purpose."""
    if token_subscription_id(token) != subscription_id:
        return False
    sig = token.strip().partition(".")[2]
    expected = _signature(subscription_id, subscription_secret, secret_key, purpose)
    return hmac.compare_digest(sig.encode(), expected.encode())


def unsubscribe_url(base_url: str, subscription_id: int, subscription_secret: str, secret_key: str) -> str:
    """``{base_url}/unsubscribe?token=…``."""
    token = make_token(subscription_id, subscription_secret, secret_key)
    return f"{base_url.rstrip('/')}/unsubscribe?token={token}"


def confirm_url(base_url: str, subscription_id: int, subscription_secret: str, secret_key: str) -> str:
    """``{base_url}/subscriptions/confirm?token=…``: the link of the mail asking a recipient to agree."""
    token = make_token(subscription_id, subscription_secret, secret_key, "confirm")
    return f"{base_url.rstrip('/')}/subscriptions/confirm?token={token}"
