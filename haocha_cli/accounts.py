"""Staff accounts (工作人员账号) of the workbench: who may log in, in which role, with which password.

Roles: ``admin`` (系统管理员: accounts, and everything the city may), ``city`` (市局 staff: approvals,
appeal decisions, spot-checks, oversight, reports), ``county:<code>`` (县级局 staff: their own county's
cases). Passwords are kept only as argon2id hashes (argon2-cffi); a password is never stored, printed or
logged in clear. Every change of an account is an audit event (entity ``accounts``); a disabled account
keeps its row, and so its name in the history.

``authenticate`` is the login rule: the same refusal for an unknown user and a wrong password, and an
account locked for ``serve.login_lock_minutes`` after ``serve.login_failures`` wrong passwords within
``serve.login_failure_minutes`` (a correct password is refused while it is locked).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from haocha_cli import audit
from haocha_cli.clock import now, now_text
from haocha_cli.context import Context, Operator, parse_role
from haocha_cli.db import transaction
from haocha_cli.errors import HaochaError, InvalidInput, InvalidTransition, NotFound

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")
ROLE_NAMES = {"admin": "系统管理员", "city": "市局", "county": "县级局"}
# argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane: about 30 ms a login on one core of a
# small server, so that a burst of logins does not exhaust it). argon2-cffi's own default (64 MiB, 3 passes,
# 4 lanes) took 190 ms on the 2-core test machine. A stored hash with other parameters still verifies and
# is re-hashed at its next login. Tests swap in a cheaper hasher.
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY: list[str] = []
# The one-time passwords of a reset: easy to read aloud over the phone (no 0/O, 1/l/I).
_ONE_TIME_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class LoginRefused(HaochaError):
    """A login that is refused: ``code`` says why (wrong, locked, disabled) for the page and the audit trail."""

    def __init__(self, code: str, message: str, hint: str | None = None, minutes: int = 0):
        super().__init__(message, hint)
        self.code = code
        self.minutes = minutes


class PasswordRejected(InvalidInput):
    """A new password that does not meet the rules; ``zh`` says why to the person at the workbench."""

    def __init__(self, message: str, hint: str, zh: str):
        super().__init__(message, hint)
        self.zh = zh


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    name: str
    role: str
    county_code: str | None
    must_change: bool
    active: bool
    county_name: str | None = None

    @property
    def role_text(self) -> str:
        return f"county:{self.county_code}" if self.role == "county" else self.role

    @property
    def operator(self) -> Operator:
        """The operator of this account's actions: its role, and its username as the person."""
        return Operator(self.role, self.county_code, self.username)


def _account(row: dict[str, Any]) -> Account:
    return Account(row["id"], row["username"], row["name"], row["role"], row["county_code"],
                   bool(row["must_change"]), bool(row["active"]), row.get("county_name"))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """What a listing or the audit trail shows of an account: never the hash."""
    return {"username": row["username"], "name": row["name"],
            "role": f"county:{row['county_code']}" if row["role"] == "county" else row["role"],
            "active": bool(row["active"])}


def _row(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM accounts WHERE username = ?", [(username or "").strip()]))
    if not rows:
        raise NotFound(f"there is no staff account {username!r}", "`haocha staff list` lists the accounts")
    return rows[0]


def check_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"the password is too short ({len(password)} characters)",
                               f"use at least {MIN_PASSWORD} characters", f"密码太短：至少 {MIN_PASSWORD} 个字符。")
    if username and password.strip().lower() == username.strip().lower():
        raise PasswordRejected("the password may not be the username", "choose another password",
                               "密码不能与用户名相同。")
    if password != password.strip():
        raise PasswordRejected("the password begins or ends with a space", "leave the spaces out",
                               "密码的开头和结尾不能是空格。")


def _hash(password: str) -> str:
    return hasher.hash(password)


def add(ctx: Context, username: str, name: str, role: str, password: str) -> dict[str, Any]:
    """A new account. Usernames are unique (case does not make a new one)."""
    ctx.require_admin("adding a staff account")
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise InvalidInput(f"username {username!r} is not valid",
                           "2–32 letters, digits, dots, hyphens or underscores, beginning with a letter or digit")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("the person's name (--name) is required", "e.g. --name 张三")
    role_name, county = parse_role(role, ctx.db)
    check_password(password, username)
    now_at = now_text()
    with transaction(ctx.db):
        if ctx.db.execute("SELECT 1 FROM accounts WHERE username = ?", [username]).fetchone():
            raise InvalidInput(f"a staff account {username!r} already exists", "choose another username")
        row = {"username": username, "name": name, "role": role_name, "county_code": county,
               "password_hash": _hash(password), "must_change": 0, "active": 1, "password_changed_at": now_at,
               "created_at": now_at, "updated_at": now_at}
        row["id"] = ctx.db["accounts"].insert(row).last_pk
        audit.record(ctx.db, ctx.operator, "account.add", "accounts", username, None, _public(row))
    return _public(row)


def list_accounts(ctx: Context) -> list[dict[str, Any]]:
    ctx.require_admin("the list of staff accounts")
    rows = ctx.db.query("SELECT a.*, c.name AS county_name, (SELECT max(at) FROM audit_events e WHERE"
                        " e.action = 'login.success' AND e.entity = 'accounts' AND e.entity_id = a.username)"
                        " AS last_login FROM accounts a LEFT JOIN counties c ON c.code = a.county_code"
                        " ORDER BY a.role, a.county_code, a.username")
    return [{**_public(r), "role_name": ROLE_NAMES[r["role"]] + (f" {r['county_name']}" if r["county_name"] else ""),
             "状态": "启用" if r["active"] else "停用", "must_change": bool(r["must_change"]),
             "locked_until": r["locked_until"], "last_login": r["last_login"], "created_at": r["created_at"]}
            for r in rows]


def set_password(ctx: Context, username: str, password: str, *, own: bool = False) -> dict[str, Any]:
    """A new password: by an administrator for anyone, or (``own``) by the account itself."""
    row = _row(ctx.db, username)
    if not (own and ctx.operator.person == row["username"]):
        ctx.require_admin(f"changing the password of {row['username']}")
    check_password(password, row["username"])
    with transaction(ctx.db):
        ctx.db["accounts"].update(row["id"], {"password_hash": _hash(password), "must_change": 0,
                                              "locked_until": None, "password_changed_at": now_text(),
                                              "updated_at": now_text()})
        ctx.db.execute("DELETE FROM login_failures WHERE account_id = ?", [row["id"]])
        audit.record(ctx.db, ctx.operator, "account.password", "accounts", row["username"], None,
                     {"by": "self" if own else "admin"})
    return _public(row)


def change_own_password(ctx: Context, current: str, new: str) -> dict[str, Any]:
    """The account acting (``ctx.operator.person``) changes its own password, giving the current one (after
    a reset: the one-time password)."""
    row = _row(ctx.db, ctx.operator.person)
    if not _verify(row["password_hash"], current):
        raise PasswordRejected("the current password is not right", "type the password you logged in with",
                               "当前密码不正确。")
    if new == current:
        raise PasswordRejected("the new password is the current one", "choose another password",
                               "新密码不能与当前密码相同。")
    return set_password(ctx, row["username"], new, own=True)


def reset_password(ctx: Context, username: str) -> str:
    """A one-time password (shown once to the administrator, never stored in clear) that the account must
    change at its next login. The account's sessions end; a lock is lifted."""
    ctx.require_admin("resetting a staff password")
    row = _row(ctx.db, username)
    one_time = "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(12))
    with transaction(ctx.db):
        ctx.db["accounts"].update(row["id"], {"password_hash": _hash(one_time), "must_change": 1,
                                              "locked_until": None, "password_changed_at": now_text(),
                                              "updated_at": now_text()})
        ctx.db.execute("DELETE FROM login_failures WHERE account_id = ?", [row["id"]])
        ctx.db.execute("DELETE FROM web_sessions WHERE account_id = ?", [row["id"]])
        audit.record(ctx.db, ctx.operator, "account.reset", "accounts", row["username"], None, {"must_change": True})
    return one_time


def set_active(ctx: Context, username: str, active: bool) -> dict[str, Any]:
    """Disable (its sessions end at once) or enable an account. Doing it twice is refused."""
    ctx.require_admin(("enabling" if active else "disabling") + " a staff account")
    row = _row(ctx.db, username)
    if bool(row["active"]) == active:
        raise InvalidTransition(f"staff account {row['username']} is already {'enabled' if active else 'disabled'}",
                                "nothing to change")
    if not active and row["username"] == ctx.operator.person:
        raise InvalidInput("an administrator cannot disable their own account", "another administrator does it")
    with transaction(ctx.db):
        ctx.db["accounts"].update(row["id"], {"active": int(active), "updated_at": now_text()})
        if not active:
            ctx.db.execute("DELETE FROM web_sessions WHERE account_id = ?", [row["id"]])
        audit.record(ctx.db, ctx.operator, "account.enable" if active else "account.disable", "accounts",
                     row["username"], {"active": not active}, {"active": active})
    return {**_public(row), "active": active}


def get_account(db: sqlite_utils.Database, account_id: int) -> Account | None:
    rows = list(db.query("SELECT a.*, c.name AS county_name FROM accounts a LEFT JOIN counties c"
                         " ON c.code = a.county_code WHERE a.id = ?", [account_id]))
    return _account(rows[0]) if rows else None


def _minutes(config, key: str) -> int:
    return int(config[key])


def authenticate(ctx: Context, username: str, password: str, address: str = "") -> Account:
    """The account whose username and password these are, once it is active and not locked; else
    ``LoginRefused``. Every outcome is an audit event (login.success, login.failure, login.lock,
    login.refused)."""
    config = ctx.config
    at = now()
    typed = (username or "").strip()[:64]
    rows = list(ctx.db.query("SELECT * FROM accounts WHERE username = ?", [typed])) if typed else []
    wrong = LoginRefused("wrong", "用户名或密码错误。", "请检查后重新输入；连续输错多次账号将被暂时锁定。")
    if not rows:
        _verify(_dummy_hash(), password)
        with transaction(ctx.db):
            audit.record(ctx.db, Operator("visitor", person="visitor"), "login.failure", "accounts", "?", None,
                         {"username": typed, "address": address, "reason": "unknown user"})
        raise wrong
    row = rows[0]
    account = _account(row)
    actor = account.operator
    if row["locked_until"] and at < datetime.fromisoformat(row["locked_until"]):
        left = int((datetime.fromisoformat(row["locked_until"]) - at).total_seconds() // 60) + 1
        with transaction(ctx.db):
            audit.record(ctx.db, actor, "login.refused", "accounts", account.username, None,
                         {"address": address, "reason": "locked"})
        raise LoginRefused("locked", "登录失败次数过多，该账号已暂时锁定。", f"请 {left} 分钟后再试，或请管理员重置密码。",
                           minutes=left)
    good = _verify(row["password_hash"], password)
    if good and not row["active"]:
        with transaction(ctx.db):
            audit.record(ctx.db, actor, "login.refused", "accounts", account.username, None,
                         {"address": address, "reason": "disabled"})
        raise LoginRefused("disabled", "该账号已停用。", "如需使用，请联系系统管理员。")
    if not good:
        window_start = (at - timedelta(minutes=_minutes(config, "serve.login_failure_minutes"))).isoformat(sep=" ")
        with transaction(ctx.db):
            ctx.db.execute("INSERT INTO login_failures (account_id, at) VALUES (?, ?)", [row["id"], now_text()])
            ctx.db.execute("DELETE FROM login_failures WHERE account_id = ? AND at < ?", [row["id"], window_start])
            failures = ctx.db.execute("SELECT count(*) FROM login_failures WHERE account_id = ?",
                                      [row["id"]]).fetchone()[0]
            audit.record(ctx.db, actor, "login.failure", "accounts", account.username, None,
                         {"address": address, "reason": "wrong password", "failures": failures})
            limit = int(config["serve.login_failures"])
            if limit and failures >= limit:
                until = (at + timedelta(minutes=_minutes(config, "serve.login_lock_minutes"))).isoformat(sep=" ")
                ctx.db["accounts"].update(row["id"], {"locked_until": until})
                ctx.db.execute("DELETE FROM login_failures WHERE account_id = ?", [row["id"]])
                audit.record(ctx.db, actor, "login.lock", "accounts", account.username, None,
                             {"until": until, "failures": failures})
        raise wrong
    with transaction(ctx.db):
        changes: dict[str, Any] = {"locked_until": None}
        if hasher.check_needs_rehash(row["password_hash"]):
            changes["password_hash"] = _hash(password)
        ctx.db["accounts"].update(row["id"], changes)
        ctx.db.execute("DELETE FROM login_failures WHERE account_id = ?", [row["id"]])
        audit.record(ctx.db, actor, "login.success", "accounts", account.username, None, {"address": address})
    return account


def _dummy_hash() -> str:
    """Verified when the username is unknown, so that the refusal takes as long as for a known user."""
    if not _DUMMY:
        _DUMMY.append(hasher.hash("not a password of anyone's"))
    return _DUMMY[0]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
