"""Who is asking, decided once per request: the workbench's sessions, logins and CSRF tokens.

The session lives in the cookie ``haocha_staff``: a random id and its signature (HMAC with a key derived from
the database's key file), HttpOnly, SameSite=Strict, Secure when the request came over HTTPS (the reverse
proxy's ``X-Forwarded-Proto``, or ``serve.https``). The database keeps only the id's SHA-256
(``web_sessions``), with the session's CSRF token, its login time (absolute lifetime ``serve.session_hours``)
and its last use (idle timeout ``serve.session_idle_minutes``). A session ends at logout, at either timeout,
when its account is disabled or its password reset, and — for the other sessions — when the password is
changed. Every POST carries the session's CSRF token (the login form a token bound to a cookie of its own).

The login rule itself (same refusal for an unknown user and a wrong password, the lock after repeated
failures) is the core's: ``accounts.authenticate``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils
from starlette.requests import Request
from starlette.responses import Response

from haocha_cli import audit
from haocha_cli.accounts import Account, get_account
from haocha_cli.clock import now, now_text
from haocha_cli.config import Config
from haocha_cli.db import transaction

SESSION_COOKIE = "haocha_staff"
LOGIN_COOKIE = "haocha_login"
CSRF_FIELD = "csrf_token"
_SEEN_EVERY_S = 60  # the last use is written at most once a minute: a page of reads is not a write each


@dataclass(frozen=True)
class Session:
    account: Account
    id_hash: str
    csrf_token: str


def session_key(data_key: bytes) -> bytes:
    """The key that signs session and login cookies: derived from the key file, never stored."""
    return hmac.new(data_key, b"haocha workbench session v1", hashlib.sha256).digest()


def _sign(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()[:40]


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def is_https(request: Request, config: Config) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return bool(config["serve.https"]) or request.url.scheme == "https" or forwarded == "https"


def set_cookie(response: Response, request: Request, config: Config, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/staff", httponly=True, samesite="strict",
                        secure=is_https(request, config))


def clear_cookie(response: Response, request: Request, config: Config, name: str) -> None:
    response.delete_cookie(name, path="/staff", httponly=True, samesite="strict", secure=is_https(request, config))


# --- sessions ---------------------------------------------------------------------------------------------


def start_session(db: sqlite_utils.Database, key: bytes, account: Account) -> str:
    """A new session of ``account``; returns the cookie's value."""
    session_id = secrets.token_urlsafe(32)
    at = now_text()
    with transaction(db):
        db["web_sessions"].insert({"id_hash": _id_hash(session_id), "account_id": account.id,
                                   "csrf_token": secrets.token_urlsafe(32), "created_at": at, "seen_at": at})
    return f"{session_id}.{_sign(key, 'session', session_id)}"


def load_session(db: sqlite_utils.Database, key: bytes, config: Config, cookie: str | None) -> Session | None:
    """The session the cookie names, if it is genuine, current and its account active; None otherwise (an
    expired session is removed)."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return None
    session_id, signature = cookie.split(".")
    if not hmac.compare_digest(_sign(key, "session", session_id), signature):
        return None
    id_hash = _id_hash(session_id)
    row = db.execute("SELECT account_id, csrf_token, created_at, seen_at FROM web_sessions WHERE id_hash = ?",
                     [id_hash]).fetchone()
    if row is None:
        return None
    account_id, csrf_token, created_at, seen_at = row
    at = now()
    created, seen = datetime.fromisoformat(created_at), datetime.fromisoformat(seen_at)
    account = get_account(db, account_id)
    expired = (at - seen > timedelta(minutes=int(config["serve.session_idle_minutes"]))
               or at - created > timedelta(hours=int(config["serve.session_hours"])))
    if account is None or not account.active or expired:
        with transaction(db):
            db.execute("DELETE FROM web_sessions WHERE id_hash = ?", [id_hash])
            if account is not None and expired:
                audit.record(db, account.operator, "login.expire", "accounts", account.username, None,
                             {"idle" if at - seen > timedelta(minutes=int(config["serve.session_idle_minutes"]))
                              else "lifetime": True})
        return None
    if (at - seen).total_seconds() >= _SEEN_EVERY_S:
        with transaction(db):
            db.execute("UPDATE web_sessions SET seen_at = ? WHERE id_hash = ?", [now_text(), id_hash])
    return Session(account, id_hash, csrf_token)


def end_session(db: sqlite_utils.Database, session: Session, address: str = "") -> None:
    """Logout: the session is removed (its cookie is worthless from now on)."""
    with transaction(db):
        db.execute("DELETE FROM web_sessions WHERE id_hash = ?", [session.id_hash])
        audit.record(db, session.account.operator, "login.logout", "accounts", session.account.username, None,
                     {"address": address})


def end_other_sessions(db: sqlite_utils.Database, session: Session) -> None:
    """After a password change: every other session of the account ends."""
    with transaction(db):
        db.execute("DELETE FROM web_sessions WHERE account_id = ? AND id_hash != ?",
                   [session.account.id, session.id_hash])


# --- CSRF -------------------------------------------------------------------------------------------------


def csrf_ok(session: Session, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), submitted.encode("utf-8", "replace"))


def login_token(key: bytes) -> tuple[str, str]:
    """(cookie value, form token) for the login form: the form's token is bound to the cookie."""
    nonce = secrets.token_urlsafe(24)
    return nonce, _sign(key, "login", nonce)


def login_token_ok(key: bytes, cookie: str | None, submitted: str) -> bool:
    if not cookie or not submitted or len(cookie) > 100:
        return False
    return hmac.compare_digest(_sign(key, "login", cookie).encode(), submitted.encode("utf-8", "replace"))
