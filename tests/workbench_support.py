"""Test support for the staff workbench: a two-county database with accounts, and a client that logs in
through the real login form (its CSRF token and cookies) and posts forms with the session's token."""

from __future__ import annotations

import re
import warnings

from cases_support import add_ratings

from haocha_cli import accounts
from haocha_cli.context import open_context
from haocha_cli.web import app as web_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette >= 1 prefers httpx2 and says so once, on import
    from starlette.testclient import TestClient

NOW = "2024-05-06 10:00:00"  # a Monday
PASSWORDS = {"lc": "licang-pass-1", "hd": "huangdao-pass-1", "city": "city-pass-0001", "root": "admin-pass-001"}
ROLES = {"lc": "county:370213", "hd": "county:370211", "city": "city", "root": "admin"}
NAMES = {"lc": "李沧甲", "hd": "黄岛乙", "city": "市局丙", "root": "管理员丁"}
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
LC_PHONE = "13912345678"
COMMENT = '<script>alert(1)</script>\x1b]0;PWNED\x07 排队\u202e太久'


def build(db_path) -> dict[str, int]:
    """Cases 1–2 in 李沧区 (370213; case 1 real-name with a phone and a comment), cases 3–4 in 黄岛区
    (370211); accounts lc, hd, city, root."""
    add_ratings(db_path, [
        {"rated_at": "2024-05-06 08:30:00", "window": "LC01", "level": "不满意", "phone": LC_PHONE,
         "comment": COMMENT, "problems": ["C1"], "scores": {"C1": 1, "D1": 2}},
        {"rated_at": "2024-05-06 08:40:00", "window": "LC02", "level": "非常不满意"},
        {"rated_at": "2024-05-06 08:50:00", "window": "HD01", "level": "不满意", "phone": "13700001111",
         "comment": "黄岛的差评"},
        {"rated_at": "2024-05-06 09:00:00", "window": "HD02", "level": "非常不满意"},
    ])
    ctx = open_context(db_path, "admin")
    try:
        for key, role in ROLES.items():
            accounts.add(ctx, key, NAMES[key], role, PASSWORDS[key])
    finally:
        ctx.db.close()
    return {"lc_real": 1, "lc_anon": 2, "hd_real": 3, "hd_anon": 4}


def client_for(db_path, address: str = "198.51.100.9") -> TestClient:
    return TestClient(web_app.create_app(db_path), client=(address, 40000), follow_redirects=False)


def hidden(page: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(page))


def login(client: TestClient, user: str, password: str | None = None, **extra):
    page = client.get("/staff/login")
    assert page.status_code == 200, page.text
    form = {"username": user, "password": PASSWORDS.get(user, "") if password is None else password,
            "csrf_token": hidden(page.text)["csrf_token"], **extra}
    return client.post("/staff/login", data=form)


def logged_in(db_path, user: str) -> TestClient:
    client = client_for(db_path)
    response = login(client, user)
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient, path: str = "/staff/password") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return hidden(page.text)["csrf_token"]


def post(client: TestClient, path: str, data: dict | None = None, *, token: str | None = None):
    """A form POST with the session's CSRF token (read from a page of the account)."""
    return client.post(path, data={**(data or {}), "csrf_token": token or csrf_of(client)})

