"""The workbench in a real browser: headless Chromium driven by Selenium (Debian's `chromium` and
`chromium-driver`, installed by .ci/run when missing), against `haocha serve`'s app under uvicorn.

A county user logs in, sees only its own cases, classifies and closes one; a city user approves a
no-action classification; the county user cannot reach another county's case; the pages fit a 360 px
phone and a 1366 px office screen without scrolling sideways. The database rows and the audit trail's
persons are checked afterwards. Slow: run by .ci/run's slow step (`pytest -m slow`)."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time

import pytest
import uvicorn
from workbench_support import NOW, PASSWORDS, build

from haocha_cli.web.app import create_app

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def server(db_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    build(db_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(db_path), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db_path
    running.should_exit = True
    thread.join(5)


@pytest.fixture
def browser():
    assert CHROMIUM and DRIVER, "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                     "--lang=zh-CN"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def log_in(browser, base: str, user: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(base + "/staff/login")
    browser.find_element(By.NAME, "username").send_keys(user)
    browser.find_element(By.NAME, "password").send_keys(PASSWORDS[user])
    follow(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))


def follow(browser, element) -> None:
    """Click a link or a form's button and wait for the next page: a click does not wait for it, so the next
    look at the page (or the next ``get``) could otherwise see the old page or overtake the redirect."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")

    def gone(_driver) -> bool:  # the old page's element is stale: chromedriver says so in two ways
        try:
            page.is_enabled()
        except WebDriverException:  # StaleElementReferenceException, or "Node … does not belong to the document"
            return True
        return False

    element.click()
    WebDriverWait(browser, 20).until(gone)


def submit(browser, action: str, **fields: str) -> None:
    """Fill the case page's form of ``action`` (text fields by name, radio buttons by value), send it and wait
    for the answer's page."""
    from selenium.webdriver.common.by import By

    form = browser.find_element(By.ID, f"form-{action}")
    for name, value in fields.items():
        radios = form.find_elements(By.CSS_SELECTOR, f'input[type=radio][name="{name}"][value="{value}"]')
        if radios:
            radios[0].click()
        else:
            form.find_element(By.NAME, name).send_keys(value)
    follow(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def fits(browser) -> bool:
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_county_and_city_work_the_loop_in_a_browser(server, browser):
    from selenium.webdriver.common.by import By

    base, db_path = server
    log_in(browser, base, "lc")
    assert browser.current_url == base + "/staff/cases"  # a county starts at its work list
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.list a")]
    assert links == ["#1", "#2"]  # 李沧区's own cases; 黄岛区's 3 and 4 are not there
    assert "黄岛" not in browser.page_source

    follow(browser, browser.find_element(By.LINK_TEXT, "#2"))
    submit(browser, "classify", classification="rectifiable")
    assert "已分类" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    submit(browser, "close", measures="窗口服务规范培训", responsible="王五")
    assert "已办结" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text

    browser.get(base + "/staff/cases/1")
    submit(browser, "classify", classification="no_action", reason="评价人误选窗口")
    browser.get(base + "/staff/cases/3")  # another county's case
    assert "页面不存在" in browser.title and "黄岛" not in browser.page_source

    for width in (360, 1366):
        browser.set_window_size(width, 800)
        for path in ("/staff/cases", "/staff/cases/1"):
            browser.get(base + path)
            assert fits(browser), (width, path)

    log_in(browser, base, "city")
    browser.set_window_size(1366, 800)
    assert browser.current_url == base + "/staff/"
    follow(browser, browser.find_element(By.CSS_SELECTOR, 'a[href="/staff/cases/1#form-approve"]'))
    submit(browser, "approve", note="已核实")
    assert "已批准" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    for width in (360, 1366):
        browser.set_window_size(width, 800)
        browser.get(base + "/staff/")
        assert fits(browser), width

    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT id, state, measures, responsible FROM cases WHERE id IN (1, 2, 3) ORDER BY id"
                        ).fetchall() == [(1, "no_action", None, None), (2, "closed", "窗口服务规范培训", "王五"),
                                         (3, "new", None, None)]
    assert conn.execute("SELECT entity_id, action, operator, person FROM audit_events WHERE action IN"
                        " ('case.classify', 'case.close', 'case.approve') ORDER BY id").fetchall() == [
        ("2", "case.classify", "county:370213", "lc"), ("2", "case.close", "county:370213", "lc"),
        ("1", "case.classify", "county:370213", "lc"), ("1", "case.approve", "city", "city")]


def test_a_post_without_the_csrf_token_is_refused_in_the_browser(server, browser):
    from selenium.webdriver.common.by import By

    base, db_path = server
    log_in(browser, base, "lc")
    browser.get(base + "/staff/cases/2")
    browser.execute_script("document.querySelector('#form-classify input[name=csrf_token]').remove()")
    submit(browser, "classify", classification="rectifiable")
    assert "安全令牌" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert sqlite3.connect(db_path).execute("SELECT state FROM cases WHERE id = 2").fetchone() == ("new",)
