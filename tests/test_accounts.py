"""Staff accounts (`haocha staff …`) and the person in every audit event: argon2id hashes, refusals,
account changes as audit events, the OS login as the command line's person."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3

import pytest
from argon2 import PasswordHasher
from support import ok

from haocha_cli import accounts
from haocha_cli.accounts import LoginRefused
from haocha_cli.context import open_context

LOGIN = "os:" + pwd.getpwuid(os.geteuid()).pw_name


def add(cli, username="zhangsan", password="zhangsan-pw-1", role="county:370213", name="张三", operator="admin"):
    return cli("staff", "add", username, "--name", name, "--role", role, "--password-stdin", operator=operator,
               input=password + "\n")


def stored(db_path, username):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT password_hash, active, role, county_code FROM accounts WHERE username = ?",
                            [username]).fetchone()
    finally:
        conn.close()


def account_events(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT action, operator, person, entity_id, after FROM audit_events"
                            " WHERE entity = 'accounts' ORDER BY id").fetchall()
    finally:
        conn.close()


def authenticate(db_path, username, password):
    ctx = open_context(db_path, "admin")
    try:
        return accounts.authenticate(ctx, username, password)
    finally:
        ctx.db.close()


def test_the_stored_value_is_an_argon2id_hash_that_verifies(cli, db_path, monkeypatch):
    monkeypatch.undo()  # the production hasher, not the tests' cheap one
    assert ok(add(cli)).stderr.strip() == "added staff account zhangsan (张三, county:370213)"
    password_hash = stored(db_path, "zhangsan")[0]
    assert password_hash.startswith("$argon2id$") and "zhangsan-pw-1" not in password_hash
    assert "m=19456,t=2,p=1" in password_hash  # OWASP's argon2id parameters
    assert PasswordHasher().verify(password_hash, "zhangsan-pw-1")
    assert authenticate(db_path, "zhangsan", "zhangsan-pw-1").role_text == "county:370213"


def test_a_wrong_password_and_a_disabled_account_are_refused(cli, db_path):
    ok(add(cli))
    with pytest.raises(LoginRefused) as wrong:
        authenticate(db_path, "zhangsan", "not-the-password")
    assert wrong.value.code == "wrong"
    ok(cli("staff", "disable", "zhangsan", operator="admin"))
    with pytest.raises(LoginRefused) as disabled:
        authenticate(db_path, "zhangsan", "zhangsan-pw-1")
    assert disabled.value.code == "disabled"
    assert stored(db_path, "zhangsan")[1] == 0
    ok(cli("staff", "enable", "zhangsan", operator="admin"))
    assert authenticate(db_path, "zhangsan", "zhangsan-pw-1").username == "zhangsan"


def test_account_changes_are_audit_events_naming_the_os_login(cli, db_path):
    ok(add(cli))
    ok(cli("staff", "passwd", "zhangsan", "--password-stdin", input="another-pw-22\n", operator="admin"))
    ok(cli("staff", "disable", "zhangsan", operator="admin"))
    ok(cli("staff", "enable", "zhangsan", operator="admin"))
    got = [(a, o, p, e) for a, o, p, e, _after in account_events(db_path)]
    assert got == [("account.add", "admin", LOGIN, "zhangsan"), ("account.password", "admin", LOGIN, "zhangsan"),
                   ("account.disable", "admin", LOGIN, "zhangsan"), ("account.enable", "admin", LOGIN, "zhangsan")]
    for *_rest, after in account_events(db_path):
        assert "pw" not in (after or "")  # never a password, never a hash
    assert ok(cli("audit", "verify")).stderr.startswith("audit trail intact")


def test_refusals_say_why_and_add_nothing(cli, db_path):
    ok(add(cli))
    cases = [
        (add(cli, username="lisi", password="short"), "Error: the password is too short (5 characters) (use at "
         "least 10 characters)"),
        (add(cli), "Error: a staff account 'zhangsan' already exists (choose another username)"),
        (add(cli, username="ZhangSan"), "Error: a staff account 'ZhangSan' already exists (choose another username)"),
        (add(cli, username="wang", role="mayor"), "Error: role 'mayor' is not valid (use admin, city or "
         "county:<code>, e.g. county:370213)"),
        (add(cli, username="wang", role="county:370299"), "Error: role 'county:370299' names an unknown county "
         "370299 (known counties: 370202 市南区, 370203 市北区, 370211 黄岛区, 370212 崂山区, 370213 李沧区, 370214 城阳区,"
         " 370215 即墨区, 370281 胶州市, 370283 平度市, 370285 莱西市)"),
        (add(cli, username="a b"), "Error: username 'a b' is not valid (2–32 letters, digits, dots, hyphens or "
         "underscores, beginning with a letter or digit)"),
        (add(cli, username="wang", password="wang"), "Error: the password is too short (4 characters) (use at "
         "least 10 characters)"),
        (add(cli, username="wangwangwang", password="wangwangwang"), "Error: the password may not be the username "
         "(choose another password)"),
        (add(cli, username="zhao", operator="city"), "Error: adding a staff account is the administrators' "
         "(系统管理员) task; city may not do it (an administrator (role admin) does it)"),
        (add(cli, username="zhao", operator="county:370213"), "Error: adding a staff account is the "
         "administrators' (系统管理员) task; county:370213 may not do it (an administrator (role admin) does it)"),
        (cli("staff", "disable", "nobody", operator="admin"), "Error: there is no staff account 'nobody' (`haocha staff list` lists "
         "the accounts)"),
        (cli("staff", "enable", "zhangsan", operator="admin"), "Error: staff account zhangsan is already enabled (nothing to change)"),
    ]
    for result, message in cases:
        assert (result.exit_code, result.stderr.strip()) == (1, message)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT username FROM accounts").fetchall() == [("zhangsan",)]


def test_without_a_terminal_the_password_must_come_from_stdin(cli):
    result = cli("staff", "add", "zhangsan", "--name", "张三", "--role", "city", operator="admin")
    assert (result.exit_code, result.stderr.strip()) == (
        1, "Error: there is no terminal to ask for the password (give --password-stdin and pipe it in)")


def test_the_list_shows_no_hash(cli):
    ok(add(cli))
    listed = json.loads(ok(cli("staff", "list", "--format", "json", operator="admin")).stdout)
    assert [(a["username"], a["role"], a["状态"]) for a in listed] == [("zhangsan", "county:370213", "启用")]
    assert "argon2" not in ok(cli("staff", "list", "--format", "csv", operator="admin")).stdout


def test_the_person_is_the_os_login_whatever_the_role_or_the_environment(cli, db_path, monkeypatch, tmp_path):
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    ok(cli("calendar", "add-holiday", "2024-05-10", "--note", "测试", operator="city"))
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT operator, person FROM audit_events ORDER BY id DESC LIMIT 1").fetchone() == (
        "city", LOGIN)
    # Every event written since the migration names a person.
    assert conn.execute("SELECT count(*) FROM audit_events WHERE person = ''").fetchone()[0] == 0
    assert json.loads(ok(cli("audit", "log", "--person", LOGIN, "--limit", "1", "--format", "json")).stdout)[0][
        "person"] == LOGIN
