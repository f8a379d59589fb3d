"""The staff workbench (工作台) over HTTP (Starlette's test client): logins, sessions, CSRF, every route for
every role, county scoping (another county's case is a 404), the case actions and what the database and
the audit trail hold afterwards."""

from __future__ import annotations

import re
import sqlite3

import pytest
from workbench_support import (
    COMMENT,
    LC_PHONE,
    NOW,
    PASSWORDS,
    build,
    client_for,
    csrf_of,
    hidden,
    logged_in,
    login,
    post,
)


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


@pytest.fixture
def bureau(db_path):
    build(db_path)
    return db_path


def rows(db_path, sql, params=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def alert(page: str) -> str:
    """The text of the page's message box (role="alert"), tags removed."""
    box = page.split('role="alert">', 1)[1].split("</div>", 1)[0]
    return re.sub(r"<[^>]+>|\s+", "", box)


def events(db_path, action_prefix):
    return rows(db_path, "SELECT action, operator, person, entity_id FROM audit_events WHERE action LIKE ?"
                " ORDER BY id", [action_prefix + "%"])


# --- login, sessions, lock ------------------------------------------------------------------------------


def test_the_login_form_has_username_password_and_a_csrf_token(bureau):
    page = client_for(bureau).get("/staff/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert hidden(page.text)["csrf_token"]
    assert page.headers["cache-control"] == "no-store"


def test_a_login_sets_a_strict_httponly_session_cookie_and_names_the_person(bureau):
    client = client_for(bureau)
    response = login(client, "lc")
    assert response.status_code == 303 and response.headers["location"] == "/staff/"
    cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("haocha_staff=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/staff" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert events(bureau, "login.success") == [("login.success", "county:370213", "lc", "lc")]


def test_behind_an_https_proxy_the_cookie_is_secure(bureau):
    client = client_for(bureau)
    page = client.get("/staff/login")
    response = client.post("/staff/login", headers={"X-Forwarded-Proto": "https"},
                           data={"username": "lc", "password": PASSWORDS["lc"],
                                 "csrf_token": hidden(page.text)["csrf_token"]})
    cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("haocha_staff=")][0]
    assert "Secure" in cookie


def test_unknown_user_and_wrong_password_get_the_same_refusal(bureau):
    unknown = login(client_for(bureau), "nobody", "whatever-password")
    wrong = login(client_for(bureau), "lc", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "用户名或密码错误" in unknown.text and "用户名或密码错误" in wrong.text
    assert alert(unknown.text) == alert(wrong.text) == (
        "用户名或密码错误。请检查后重新输入；连续输错多次账号将被暂时锁定。")
    assert [e[0] for e in events(bureau, "login.")] == ["login.failure", "login.failure"]


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(bureau, monkeypatch):
    client = client_for(bureau)
    for _ in range(5):
        assert login(client, "lc", "wrong-password-x").status_code == 401
    locked = login(client, "lc")
    assert locked.status_code == 423 and "已暂时锁定" in locked.text
    assert [e[0] for e in events(bureau, "login.")][-2:] == ["login.lock", "login.refused"]
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 10:16:00")  # 15 minutes later the lock is over
    assert login(client, "lc").status_code == 303


def test_failures_spread_beyond_fifteen_minutes_do_not_lock(bureau, monkeypatch):
    client = client_for(bureau)
    for minute in (0, 4, 8, 12, 16):
        monkeypatch.setenv("HAOCHA_NOW", f"2024-05-06 10:{minute:02d}:00")
        login(client, "lc", "wrong-password-x")
    assert login(client, "lc").status_code == 303


def test_the_address_limit_applies_to_logins(bureau, tmp_path):
    (tmp_path / "haocha.toml").write_text("[serve]\naddress_limit = 3\n", encoding="utf-8")
    client = client_for(bureau)
    for _ in range(3):
        login(client, "nobody", "whatever-password")
    assert login(client, "lc").status_code == 429


def test_an_idle_session_ends_after_30_minutes(bureau, monkeypatch):
    client = logged_in(bureau, "lc")
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 10:29:00")
    assert client.get("/staff/cases").status_code == 200
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 11:00:00")  # 31 minutes after the last use
    response = client.get("/staff/cases")
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login?next=/staff/cases")
    assert events(bureau, "login.expire")[-1][:3] == ("login.expire", "county:370213", "lc")


def test_a_session_used_all_day_ends_after_12_hours(bureau, monkeypatch):
    client = logged_in(bureau, "lc")
    for hour in range(10, 22):
        for minute in (0, 20, 40):
            monkeypatch.setenv("HAOCHA_NOW", f"2024-05-06 {hour:02d}:{minute:02d}:00")
            assert client.get("/staff/cases").status_code == 200, (hour, minute)
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 22:01:00")
    assert client.get("/staff/cases").status_code == 303


def test_a_disabled_account_cannot_log_in_and_its_session_stops_at_the_next_request(bureau, cli):
    client = logged_in(bureau, "lc")
    assert client.get("/staff/cases").status_code == 200
    assert cli("staff", "disable", "lc", operator="admin").exit_code == 0
    assert client.get("/staff/cases").status_code == 303
    refused = login(client_for(bureau), "lc")
    assert refused.status_code == 403 and "已停用" in refused.text


def test_logout_ends_the_session_for_good(bureau):
    client = logged_in(bureau, "lc")
    cookie = client.cookies.get("haocha_staff")
    assert post(client, "/staff/logout").status_code == 303
    again = client_for(bureau)
    again.cookies.set("haocha_staff", cookie, path="/staff")
    assert again.get("/staff/cases").status_code == 303
    assert events(bureau, "login.logout") == [("login.logout", "county:370213", "lc", "lc")]


def test_a_login_without_its_csrf_token_is_refused(bureau):
    client = client_for(bureau)
    client.get("/staff/login")
    response = client.post("/staff/login", data={"username": "lc", "password": PASSWORDS["lc"]})
    assert response.status_code == 403
    assert events(bureau, "login.") == []


def test_after_login_the_next_page_is_only_one_of_ours(bureau):
    assert login(client_for(bureau), "lc", next="/staff/cases/1").headers["location"] == "/staff/cases/1"
    assert login(client_for(bureau), "lc", next="https://evil.example/").headers["location"] == "/staff/"
    assert login(client_for(bureau), "lc", next="//evil.example/staff/").headers["location"] == "/staff/"


# --- every route for every role --------------------------------------------------------------------------

GETS = ["/staff/", "/staff/cases", "/staff/cases/1", "/staff/cases/3", "/staff/spotchecks", "/staff/reports",
        "/staff/accounts", "/staff/password"]
# status per role: anonymous, county 370213, city, admin (303 = to the login page / the county's work list)
EXPECTED = {
    "/staff/": (303, 303, 200, 200),
    "/staff/cases": (303, 200, 200, 200),
    "/staff/cases/1": (303, 200, 200, 200),
    "/staff/cases/3": (303, 404, 200, 200),
    "/staff/spotchecks": (303, 403, 200, 200),
    "/staff/reports": (303, 403, 200, 200),
    "/staff/accounts": (303, 403, 403, 200),
    "/staff/password": (303, 200, 200, 200),
}


@pytest.mark.parametrize("path", GETS)
def test_every_page_for_every_role(bureau, path):
    clients = [client_for(bureau), logged_in(bureau, "lc"), logged_in(bureau, "city"), logged_in(bureau, "root")]
    got = tuple(c.get(path).status_code for c in clients)
    assert got == EXPECTED[path]
    for client in clients[1:]:
        response = client.get(path)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"


POSTS = [  # (path, form, status for county 370213, city, admin) — each a refusal that must change nothing
    ("/staff/cases/3/classify", {"classification": "rectifiable"}, 404, 200, 200),
    ("/staff/cases/1/approve", {}, 403, 409, 409),
    ("/staff/spotchecks", {"period": "2024-05"}, 403, 303, 409),  # the admin: the period has its sample now
    ("/staff/accounts", {"username": "x1", "name": "X", "role": "city", "password": "long-enough-1"}, 403, 403, 303),
]


@pytest.mark.parametrize("path,form,county,city,admin", POSTS)
def test_every_action_for_every_role(bureau, path, form, county, city, admin):
    anonymous = client_for(bureau).post(path, data=form)
    assert anonymous.status_code == 403
    for user, expected in (("lc", county), ("city", city), ("root", admin)):
        client = logged_in(bureau, user)
        response = post(client, path, form)
        if expected == 200:  # the city is refused a county's action on the case page itself
            assert response.status_code in (403, 409), (user, response.status_code)
        else:
            assert response.status_code == expected, (user, response.text[-500:])


# Every staff route, and the test above or below that checks it for every role: a new route fails here
# until it is added to a matrix.
CHECKED_ROUTES = {
    ("GET", "/staff/"), ("GET", "/staff/cases"), ("GET", "/staff/cases/{case_id}"), ("GET", "/staff/spotchecks"),
    ("GET", "/staff/reports"), ("GET", "/staff/accounts"), ("GET", "/staff/password"),
    ("POST", "/staff/cases/{case_id}/{action}"), ("POST", "/staff/spotchecks"), ("POST", "/staff/accounts"),
    # login and logout: the login tests; the rest by the tests named after them
    ("GET", "/staff/login"), ("POST", "/staff/login"), ("POST", "/staff/logout"), ("POST", "/staff/password"),
    ("POST", "/staff/cases/{case_id}/contact"), ("GET", "/staff/spotchecks/{sample_id}"),
    ("POST", "/staff/spotchecks/check/{check_id}/record"), ("POST", "/staff/spotchecks/check/{check_id}/contact"),
    ("GET", "/staff/reports/{name}"), ("POST", "/staff/accounts/{username}/{what}"),
    # a redirect to /staff/ for everyone (it shows nothing): test_serve's hostile Host header test
    ("GET", "/staff"),
}


def test_every_staff_route_is_in_a_role_matrix(bureau):
    from haocha_cli.web.app import create_app

    routes = {(method, route.path) for route in create_app(bureau).routes if route.path.startswith("/staff")
              for method in route.methods - {"HEAD"}}
    assert routes == CHECKED_ROUTES


@pytest.mark.parametrize("path", ["/staff/spotchecks/1", "/staff/reports/daily-2024-05-06.html"])
def test_city_pages_refuse_a_county_and_an_anonymous_visitor(bureau, path):
    assert logged_in(bureau, "lc").get(path).status_code == 403
    assert client_for(bureau).get(path).status_code == 303
    for path_post in ("/staff/spotchecks/check/1/record", "/staff/spotchecks/check/1/contact",
                      "/staff/accounts/lc/reset", "/staff/accounts/lc/disable"):
        assert post(logged_in(bureau, "lc"), path_post, {"outcome": "confirmed"}).status_code == 403
        assert client_for(bureau).post(path_post, data={"outcome": "confirmed"}).status_code == 403
    assert rows(bureau, "SELECT count(*) FROM spot_checks") == [(0,)]
    assert rows(bureau, "SELECT must_change, active FROM accounts WHERE username = 'lc'") == [(0, 1)]


def test_another_countys_case_answers_exactly_like_one_that_does_not_exist(bureau):
    client = logged_in(bureau, "lc")
    other, missing = client.get("/staff/cases/3"), client.get("/staff/cases/999")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace("case 3", "case N") == missing.text.replace("case 999", "case N")
    posted, posted_missing = (post(client, f"/staff/cases/{n}/classify", {"classification": "rectifiable"})
                              for n in (3, 999))
    assert posted.status_code == posted_missing.status_code == 404
    assert "黄岛" not in other.text and "13700001111" not in other.text
    assert rows(bureau, "SELECT state FROM cases WHERE id = 3") == [("new",)]


def test_the_work_list_shows_only_the_countys_own_cases_most_urgent_first(bureau):
    page = logged_in(bureau, "lc").get("/staff/cases").text
    assert 'href="/staff/cases/1"' in page and 'href="/staff/cases/2"' in page
    assert 'href="/staff/cases/3"' not in page and 'href="/staff/cases/4"' not in page
    assert "HD01" not in page and "黄岛" not in page
    # The real-name case's return visit is due today (1 working day): it comes first.
    assert page.index('href="/staff/cases/1"') < page.index('href="/staff/cases/2"')
    assert "回访到期" in page
    city = logged_in(bureau, "city").get("/staff/cases", params={"county": "370211"}).text
    assert 'href="/staff/cases/3"' in city and 'href="/staff/cases/1"' not in city


def test_the_work_list_filters_and_pages(bureau, db_path):
    client = logged_in(bureau, "lc")
    assert 'href="/staff/cases/2"' not in client.get("/staff/cases", params={"window": "LC01"}).text
    assert "没有符合条件的案件" in client.get("/staff/cases", params={"status": "resolved"}).text
    assert "没有符合条件的案件" in client.get("/staff/cases", params={"from": "2024-05-07", "to": "2024-05-08"}).text
    bad = client.get("/staff/cases", params={"page": "x"})
    assert bad.status_code == 400


# --- the case page and its actions ---------------------------------------------------------------------


def test_the_case_page_shows_the_rating_escaped_and_no_phone_until_asked(bureau):
    client = logged_in(bureau, "lc")
    page = client.get("/staff/cases/1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "\x1b" not in page and "\\x1b]0;PWNED\\x07" in page and "\u202e" not in page and "\\u202e" in page
    assert "服务规范" in page  # the ticked problem, by name
    assert LC_PHONE not in page and "139****5678" in page
    assert 'action="/staff/cases/1/contact"' in page
    shown = post(client, "/staff/cases/1/contact")
    assert shown.status_code == 200 and LC_PHONE in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert events(bureau, "case.contact") == [("case.contact", "county:370213", "lc", "1")]
    assert COMMENT not in page


def test_a_county_classifies_and_closes_a_case_in_the_browser(bureau):
    client = logged_in(bureau, "lc")
    token = csrf_of(client)
    done = post(client, "/staff/cases/2/classify", {"classification": "rectifiable", "reason": ""}, token=token)
    assert done.status_code == 303 and done.headers["location"] == "/staff/cases/2?done=classify"
    page = client.get("/staff/cases/2?done=classify").text
    assert "已分类" in page and 'action="/staff/cases/2/close"' in page
    closed = post(client, "/staff/cases/2/close", {"measures": "窗口人员服务规范培训", "responsible": "王五"}, token=token)
    assert closed.status_code == 303
    assert rows(bureau, "SELECT state, measures, responsible FROM cases WHERE id = 2") == [
        ("closed", "窗口人员服务规范培训", "王五")]
    assert [e for e in events(bureau, "case.") if e[3] == "2"][-2:] == [
        ("case.classify", "county:370213", "lc", "2"), ("case.close", "county:370213", "lc", "2")]
    history = client.get("/staff/cases/2").text
    assert "整改办结" in history and "lc" in history and "窗口人员服务规范培训" in history


def test_a_refused_action_keeps_what_was_typed_and_changes_nothing(bureau):
    client = logged_in(bureau, "lc")
    response = post(client, "/staff/cases/2/classify", {"classification": "no_action", "reason": ""})
    assert response.status_code == 400 and "填写的内容有误" in response.text
    assert rows(bureau, "SELECT state FROM cases WHERE id = 2") == [("new",)]
    assert 'value="no_action" checked' in response.text  # what was chosen is still chosen
    wrong_state = post(client, "/staff/cases/2/close", {"measures": "培训", "responsible": "王五"})
    assert wrong_state.status_code == 409 and "当前状态不允许此操作" in wrong_state.text
    assert rows(bureau, "SELECT state, measures FROM cases WHERE id = 2") == [("new", None)]


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(bureau):
    client = logged_in(bureau, "lc")
    missing = client.post("/staff/cases/2/classify", data={"classification": "rectifiable"})
    wrong = client.post("/staff/cases/2/classify", data={"classification": "rectifiable", "csrf_token": "x" * 43})
    other_session = csrf_of(logged_in(bureau, "lc"))
    foreign = client.post("/staff/cases/2/classify", data={"classification": "rectifiable", "csrf_token": other_session})
    assert missing.status_code == wrong.status_code == foreign.status_code == 403
    assert "安全令牌" in missing.text
    assert rows(bureau, "SELECT state FROM cases WHERE id = 2") == [("new",)]


def test_the_city_approves_a_no_action_classification(bureau):
    county = logged_in(bureau, "lc")
    post(county, "/staff/cases/2/classify", {"classification": "no_action", "reason": "评价人误选窗口"})
    assert 'action="/staff/cases/2/approve"' not in county.get("/staff/cases/2").text
    city = logged_in(bureau, "city")
    home = city.get("/staff/").text
    assert 'href="/staff/cases/2#form-approve"' in home
    assert post(city, "/staff/cases/2/approve", {"note": "已核实"}).status_code == 303
    assert rows(bureau, "SELECT state FROM cases WHERE id = 2") == [("no_action",)]
    assert events(bureau, "case.approve") == [("case.approve", "city", "city", "2")]


def test_appeal_and_decision_through_the_browser(bureau):
    county = logged_in(bureau, "lc")
    post(county, "/staff/cases/1/appeal", {"reason": "恶意差评", "evidence": "录音 0506-01"})
    city = logged_in(bureau, "city")
    assert "恶意差评" in city.get("/staff/").text
    assert post(city, "/staff/cases/1/decide", {"decision": "uphold", "reason": "录音证实"}).status_code == 303
    assert rows(bureau, "SELECT state FROM cases WHERE id = 1") == [("excluded",)]
    assert rows(bureau, "SELECT filed_by, decided_by FROM appeals") == [("county:370213 (lc)", "city (city)")]


def test_revisit_and_rerate(bureau):
    county = logged_in(bureau, "lc")
    token = csrf_of(county)
    assert post(county, "/staff/cases/1/revisit", {"outcome": "reached", "note": "已致歉"}, token=token).status_code == 303
    post(county, "/staff/cases/1/classify", {"classification": "rectifiable"}, token=token)
    post(county, "/staff/cases/1/close", {"measures": "培训", "responsible": "王五"}, token=token)
    assert post(county, "/staff/cases/1/rerate", {"level": "满意"}, token=token).status_code == 303
    assert rows(bureau, "SELECT state, revisit_outcome, rerate_level FROM cases WHERE id = 1") == [
        ("rerated", "reached", "满意")]


# --- city pages -----------------------------------------------------------------------------------------


def test_the_city_start_page(bureau):
    page = logged_in(bureau, "city").get("/staff/").text
    assert "今日新增差评" in page and "各县级局超期情况" in page and "本月满意指数" in page
    assert "李沧区" in page and "黄岛区" in page


def test_spot_checks_in_the_browser(bureau):
    city = logged_in(bureau, "city")
    token = csrf_of(city)
    county = logged_in(bureau, "lc")
    post(county, "/staff/cases/2/classify", {"classification": "no_action", "reason": "误评"})
    drawn = post(city, "/staff/spotchecks", {"period": "2024-05", "seed": "7"}, token=token)
    assert drawn.status_code == 303 and drawn.headers["location"] == "/staff/spotchecks/1"
    page = city.get("/staff/spotchecks/1").text
    check_id = rows(bureau, "SELECT id FROM spot_checks WHERE case_id = 2")[0][0]
    assert f'action="/staff/spotchecks/check/{check_id}/record"' in page
    recorded = post(city, f"/staff/spotchecks/check/{check_id}/record", {"outcome": "confirmed", "note": "属实"},
                    token=token)
    assert recorded.status_code == 303
    assert rows(bureau, "SELECT outcome, checked_by FROM spot_checks WHERE id = ?", [check_id]) == [
        ("confirmed", "city (city)")]
    assert "city (city)" in city.get("/staff/spotchecks/1").text


def test_reports_are_served_to_the_city_only_and_only_from_the_listing(bureau, cli):
    assert cli("report", "daily", "--date", "2024-05-06", "--out", str(bureau.parent / "reports"),
               operator="city").exit_code == 0
    city = logged_in(bureau, "city")
    listing = city.get("/staff/reports").text
    assert "daily-2024-05-06.html" in listing
    report = city.get("/staff/reports/daily-2024-05-06.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert city.get("/staff/reports/..%2Fhaocha.db").status_code == 404
    assert city.get("/staff/reports/haocha.db").status_code == 404
    assert logged_in(bureau, "lc").get("/staff/reports/daily-2024-05-06.html").status_code == 403


# --- administrators ----------------------------------------------------------------------------------------


def test_an_administrator_adds_an_account_and_resets_a_password(bureau):
    admin = logged_in(bureau, "root")
    token = csrf_of(admin)
    added = post(admin, "/staff/accounts", {"username": "zhao", "name": "赵六", "role": "county:370213",
                                            "password": "zhao-pass-01"}, token=token)
    assert added.status_code == 303
    short = post(admin, "/staff/accounts", {"username": "qian", "name": "钱七", "role": "city", "password": "short"},
                 token=token)
    assert short.status_code == 400 and "密码太短" in short.text
    reset = post(admin, "/staff/accounts/zhao/reset", token=token)
    one_time = reset.text.split('class="phone">')[1].split("<")[0]
    assert len(one_time) == 12
    assert one_time not in admin.get("/staff/accounts").text  # shown once
    assert rows(bureau, "SELECT must_change FROM accounts WHERE username = 'zhao'") == [(1,)]
    stored = rows(bureau, "SELECT password_hash FROM accounts WHERE username = 'zhao'")[0][0]
    assert one_time not in stored and stored.startswith("$argon2id$")
    zhao = client_for(bureau)
    first = login(zhao, "zhao", one_time)
    assert first.status_code == 303 and first.headers["location"] == "/staff/password"
    assert zhao.get("/staff/cases").headers["location"] == "/staff/password"
    changed = post(zhao, "/staff/password", {"current_password": one_time, "new_password": "zhao-new-pass-1",
                                             "new_password2": "zhao-new-pass-1"})
    assert changed.status_code == 303
    assert zhao.get("/staff/cases").status_code == 200
    assert [e[0] for e in events(bureau, "account.")][-3:] == ["account.add", "account.reset", "account.password"]
    disabled = post(admin, "/staff/accounts/zhao/disable", token=token)
    assert disabled.status_code == 303 and zhao.get("/staff/cases").status_code == 303


def test_changing_the_password_ends_the_other_sessions(bureau):
    phone, desk = logged_in(bureau, "lc"), logged_in(bureau, "lc")
    changed = post(desk, "/staff/password", {"current_password": PASSWORDS["lc"], "new_password": "licang-pass-2",
                                             "new_password2": "licang-pass-2"})
    assert changed.status_code == 303
    assert desk.get("/staff/cases").status_code == 200
    assert phone.get("/staff/cases").status_code == 303
    wrong = post(desk, "/staff/password", {"current_password": "nope-nope-nope", "new_password": "licang-pass-3",
                                           "new_password2": "licang-pass-3"})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text


def test_unknown_staff_pages_and_methods_get_the_workbench_error_view(bureau):
    client = logged_in(bureau, "lc")
    missing = client.get("/staff/nothing-here")
    assert missing.status_code == 404 and "页面不存在" in missing.text and "工作台" in missing.text
    assert client.put("/staff/cases").status_code == 405
    assert client.get("/staff/cases/abc").status_code == 404
    assert client.get("/staff/cases/" + "9" * 40).status_code == 404
