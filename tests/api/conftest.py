"""The odd-input stories use the digest stage's running app (same fixtures)."""

from tests.digest.conftest import app_client, clock, mail_server  # noqa: F401
