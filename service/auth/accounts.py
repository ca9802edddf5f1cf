"""Users, passwords, API tokens and sign-in sessions.

Passwords are hashed with argon2id (argon2-cffi) and never stored or logged in clear. API tokens
and session ids are 256 random bits shown once; only their SHA-256 is stored, which is enough for
values that cannot be guessed (a slow hash only matters for passwords people choose).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("staff", "clerk", "admin")  # each role can do everything the ones before it can
ROLE_LABELS = {"admin": "管理员", "clerk": "材料管理员", "staff": "工作人员"}
NAME_RE = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
SESSION_HOURS = 12
TOKEN_PREFIX = "jy_"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("jingyan-no-such-user")


class AccountError(ValueError):
    """A user change that cannot be made; the message is Chinese and says why."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    email: str | None
    disabled: bool

    def can(self, role: str) -> bool:
        """True when this user's role includes ``role`` (admin ⊇ clerk ⊇ staff)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "role_label": ROLE_LABELS[self.role],
                "email": self.email, "disabled": self.disabled}


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(row["id"], row["name"], row["role"], row["email"], bool(row["disabled"]))


def check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountError(f"密码长度应为 {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} 个字符")


# ---------------------------------------------------------------- users


def add_user(conn: sqlite3.Connection, name: str, role: str, password: str, email: str | None = None) -> User:
    """Create a user; raises :class:`AccountError` on a bad name, role or password, or a taken name."""
    if not NAME_RE.match(name or ""):
        raise AccountError("用户名只能包含字母、数字、汉字和 _ . @ -，最多 64 个字符")
    if role not in ROLES:
        raise AccountError(f"角色只能是 {' / '.join(reversed(ROLES))}")
    check_password(password)
    if find_user(conn, name) is not None:
        raise AccountError(f"用户 {name} 已存在")
    stamp = now_iso()
    cur = conn.execute(
        "INSERT INTO users(name, role, password_hash, email, disabled, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 0, ?, ?)",
        (name, role, _hasher.hash(password), (email or "").strip() or None, stamp, stamp),
    )
    return get_user(conn, cur.lastrowid)


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())


def find_user(conn: sqlite3.Connection, name: str) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone())


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY id")]  # type: ignore[misc]


def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def set_disabled(conn: sqlite3.Connection, name: str, disabled: bool = True) -> User:
    """Disable (or enable) a user; a disabled user's sessions end at once and its tokens stop working."""
    user = _require(conn, name)
    conn.execute("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", (int(disabled), now_iso(), user.id))
    if disabled:
        conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    return get_user(conn, user.id)  # type: ignore[return-value]


def set_password(conn: sqlite3.Connection, name: str, password: str) -> User:
    """Replace a user's password; every session of that user ends."""
    user = _require(conn, name)
    check_password(password)
    conn.execute(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", (_hasher.hash(password), now_iso(), user.id)
    )
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    return user


def _require(conn: sqlite3.Connection, name: str) -> User:
    user = find_user(conn, name)
    if user is None:
        raise AccountError(f"没有用户 {name}")
    return user


def authenticate(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs and they are not disabled, else None."""
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(password), row["id"]))
    return _user(row)


# ---------------------------------------------------------------- API tokens


def create_token(conn: sqlite3.Connection, name: str) -> str:
    """A new API token for user ``name``; the caller shows it once, only its hash is kept."""
    user = _require(conn, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens(user_id, token_hash, created_at) VALUES (?, ?, ?)", (user.id, _digest(token), now_iso())
    )
    return token


def user_for_token(conn: sqlite3.Connection, token: str) -> User | None:
    """The enabled user an API token belongs to."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = conn.execute(
        "SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = ? AND u.disabled = 0",
        (_digest(token),),
    ).fetchone()
    return _user(row)


# ---------------------------------------------------------------- sessions


def start_session(conn: sqlite3.Connection, user: User) -> str:
    """A new session for ``user``; returns the cookie value (stored only as its hash)."""
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC).replace(microsecond=0)
    conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
    conn.execute(
        "INSERT INTO sessions(id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (_digest(session_id), user.id, now.isoformat(), (now + timedelta(hours=SESSION_HOURS)).isoformat()),
    )
    return session_id


def user_for_session(conn: sqlite3.Connection, session_id: str) -> User | None:
    """The enabled user of a live session."""
    if not session_id or len(session_id) > 100:
        return None
    row = conn.execute(
        "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0",
        (_digest(session_id), now_iso()),
    ).fetchone()
    return _user(row)


def end_session(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))
