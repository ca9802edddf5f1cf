"""Subscribing on a user's behalf: whose subscription it is, double opt-in, and where webhooks may point.

A subscription belongs to the user who made it; only they and administrators may read or change it.
One for an address that is not the user's own waits, inactive, until its recipient follows the link
in a confirmation mail. A webhook URL whose host is (or resolves to) a loopback, private or reserved
address is refused unless the service allows intranet receivers.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from service.auth.accounts import User
from service.config import Settings
from service.digest import subscriptions as subs
from service.digest.deliver import DeliveryError, build_confirmation, send_email
from service.digest.targets import TargetRefused, resolve
from service.digest.tokens import confirm_url
from service.library.store import transaction


class NotOwner(PermissionError):
    """The subscription is somebody else's."""


def owned(conn: sqlite3.Connection, subscription_id: int, user: User) -> subs.Subscription:
    """The subscription when ``user`` made it or is an administrator; NotOwner or SubscriptionNotFound otherwise."""
    sub = subs.get(conn, subscription_id)
    if not user.can("admin") and sub.owner_id != user.id:
        raise NotOwner(subscription_id)
    return sub


def check_webhook(settings: Settings, payload: Any) -> None:
    """Refuse (as a SubscriptionError) a webhook URL that points at this machine or the intranet."""
    url = payload.get("webhook_url") if isinstance(payload, dict) else None
    if isinstance(url, str) and url.strip():
        try:
            resolve(url.strip(), settings.webhook_allow_private, must_resolve=False)
        except TargetRefused as exc:
            raise subs.SubscriptionError(str(exc), "webhook_url") from exc


def needs_confirmation(user: User, email: str | None) -> bool:
    """True for an e-mail address that is not the user's own."""
    return bool(email) and (user.email or "").strip().lower() != (email or "").strip().lower()


def send_confirmation(settings: Settings, sub: subs.Subscription, user: User) -> str | None:
    """Mail the recipient a confirmation link; the Chinese reason when the mail could not go out."""
    link = confirm_url(settings.base_url, sub.id, sub.unsubscribe_secret, settings.secret_key)
    try:
        send_email(settings, build_confirmation(settings, sub.email or "", sub.describe(), user.name, link))
    except DeliveryError as exc:
        return str(exc)
    return None


def subscribe(
    conn: sqlite3.Connection, settings: Settings, now: datetime, payload: Any, user: User
) -> tuple[subs.Subscription, str | None]:
    """Create ``user``'s subscription; (subscription, why the confirmation mail failed or None)."""
    check_webhook(settings, payload)
    email = payload.get("email") if isinstance(payload, dict) else None
    pending = needs_confirmation(user, email if isinstance(email, str) else None)
    with transaction(conn):
        sub = subs.create(conn, payload, now, owner_id=user.id, confirmed=not pending)
    return sub, (send_confirmation(settings, sub, user) if pending else None)


def change(
    conn: sqlite3.Connection, settings: Settings, now: datetime, subscription_id: int, payload: Any, user: User
) -> subs.Subscription:
    """Apply ``user``'s change to their subscription; a new address not their own must be confirmed again."""
    check_webhook(settings, payload)
    email = payload.get("email") if isinstance(payload, dict) else None
    with transaction(conn):
        current = owned(conn, subscription_id, user)
        sub = subs.update(conn, subscription_id, payload, now)
        readdressed = isinstance(email, str) and email.strip() not in ("", current.email or "")
        pending = readdressed and needs_confirmation(user, sub.email)
        if pending:
            sub = subs.await_confirmation(conn, sub.id)
    if pending:
        send_confirmation(settings, sub, user)
    return sub
