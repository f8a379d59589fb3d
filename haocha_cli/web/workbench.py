"""The staff workbench's plumbing (工作台): one place that, for every staff request, resolves the session,
checks the CSRF token of a POST and the account's role, opens the request's own database connection and
``Context`` (the account as the operator, its username as the person), and turns a ``HaochaError`` into the
page's error view with the right status. The pages themselves are in ``cases.py`` (work list and case page),
``city.py`` (the city's start page, spot-checks, reports) and ``admin.py`` (accounts).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from haocha_cli import cases, files
from haocha_cli.accounts import ROLE_NAMES
from haocha_cli.config import Config
from haocha_cli.context import Context
from haocha_cli.db import open_db
from haocha_cli.errors import HaochaError, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from haocha_cli.privacy import load_keys
from haocha_cli.untrusted import show_controls
from haocha_cli.web.auth import CSRF_FIELD, SESSION_COOKIE, Session, csrf_ok, load_session, session_key
from haocha_cli.web.limits import RateLimiter
from haocha_cli.web.pages import HEADERS, ascii_number, environment, one, read_form

log = logging.getLogger("haocha.workbench")

BUSY_TIMEOUT_MS = 10_000
STAFF = frozenset({"admin", "city", "county"})
CITY = frozenset({"admin", "city"})
ADMIN = frozenset({"admin"})
# (status, what the page says) per kind of refusal; the core's own message is shown beneath it.
_REFUSALS: list[tuple[type[HaochaError], int, str]] = [
    (NotFound, 404, "未找到：该记录不存在，或不属于您所在的单位。"),
    (PermissionDenied, 403, "您的账号无权进行此操作。"),
    (InvalidTransition, 409, "该案件的当前状态不允许此操作（可能已由他人处理），请查看最新情况。"),
    (InvalidInput, 400, "填写的内容有误，未保存。"),
]
STATUS_TEXT = {400: "输入有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的访问方式", 409: "状态已变化",
               413: "提交内容过长", 429: "操作过于频繁", 500: "系统出错", 503: "系统繁忙"}


def refusal(exc: HaochaError) -> tuple[int, str]:
    for kind, status, text in _REFUSALS:
        if isinstance(exc, kind):
            return status, text
    return 400, "操作未能完成。"


def safe_next(path: str | None) -> str:
    """Where to go after the login: only a page of the workbench itself (never another site)."""
    if path and path.startswith("/staff/") and not path.startswith("//") and "\\" not in path and len(path) < 300:
        return path
    return "/staff/"


def redirect(url: str) -> RedirectResponse:
    """303 See Other to a path of ours: the Location is relative, never built from the request's Host."""
    return RedirectResponse(url, status_code=303, headers=HEADERS)


class Workbench:
    """What every staff page needs; one per app."""

    def __init__(self, db_path: str | Path, config: Config, bureau: str, limiter: RateLimiter):
        self.db_path = Path(db_path)
        self.config = config
        self.bureau = bureau
        self.limiter = limiter
        self.modes = files.modes(config)
        self.key = session_key(load_keys(self.db_path, config["qr.secret_env"]).data_key)
        self.env = environment(state_name=lambda s: cases.STATES.get(s, s), shown=show_controls)

    @contextmanager
    def database(self) -> Iterator[Any]:
        db = open_db(self.db_path, create=False, modes=self.modes)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            yield db
        finally:
            db.conn.close()

    # -- rendering --

    def render(self, template: str, session: Session | None, status: int = 200, /, **values: Any) -> HTMLResponse:
        account = session.account if session else None
        user = None
        if account is not None:
            county = account.county_name or account.county_code
            user = {"username": account.username, "name": account.name, "role": account.role,
                    "role_name": ROLE_NAMES[account.role] + (f" · {county}" if county else ""),
                    "county": account.county_code}
        html = self.env.get_template(template).render(
            bureau=self.bureau, user=user, csrf=session.csrf_token if session else "", csrf_field=CSRF_FIELD,
            **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(self, session: Session | None, status: int, message: str, detail: str = "") -> HTMLResponse:
        return self.render("web/staff_error.html.j2", session, status, status_text=STATUS_TEXT.get(status, "出错"),
                           message=message, detail=detail)

    # -- the request cycle --

    async def page(self, request: Request, work: Callable[[Context, Session, dict[str, list[str]]], Response], *,
                   roles: frozenset[str] = STAFF, post: bool = False, password_page: bool = False) -> Response:
        """Run ``work(ctx, session, form)`` for a logged-in account of one of ``roles``; ``post``: a form
        that must carry the session's CSRF token. Without a session: to the login page (a GET), or 403."""
        form: dict[str, list[str]] | str = {}
        if post:
            form = await read_form(request)  # a message code when unreadable: refused after the session check
        cookie = request.cookies.get(SESSION_COOKIE)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return await run_in_threadpool(self._run, cookie, target, work, roles, post, password_page, form)

    def _run(self, cookie: str | None, target: str, work, roles: frozenset[str], post: bool, password_page: bool,
             form: dict[str, list[str]] | str) -> Response:
        try:
            with self.database() as db:
                session = load_session(db, self.key, self.config, cookie)
                if session is None:
                    if post:
                        return self.error(None, 403, "登录已过期或尚未登录，操作未保存。", "请重新登录后再操作。")
                    return redirect("/staff/login?next=" + quote(safe_next(target), safe="/"))
                if isinstance(form, str):
                    return self.error(session, 413 if form == "too_large" else 400, "提交的内容无法识别或过长。")
                if post and not csrf_ok(session, one(form, CSRF_FIELD)):
                    log.warning("refused: a POST without the session's CSRF token (%s)", session.account.username)
                    return self.error(session, 403, "表单校验未通过（缺少或错误的安全令牌），操作未保存。",
                                      "请回到页面重新操作；如反复出现，请退出后重新登录。")
                if session.account.must_change and not password_page:
                    return redirect("/staff/password")
                if session.account.role not in roles:
                    return self.error(session, 403, "您的账号无权访问此页面。")
                ctx = Context(db, self.db_path, self.config, session.account.operator)
                try:
                    return work(ctx, session, form)
                except HaochaError as exc:
                    status, text = refusal(exc)
                    return self.error(session, status, text, str(exc))
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return self.error(None, 503, "系统繁忙，操作未保存。", "请稍等片刻后重试。")
            raise
        except HaochaError as exc:  # the database or its key file cannot be used
            log.error("workbench unavailable: %s", exc)
            return self.error(None, 503, "工作台暂时无法使用。", "请联系系统管理员。")


def page_number(text: str | None) -> int:
    if not text:
        return 1
    number = ascii_number(text, 6)
    if not number:
        raise InvalidInput(f"page {text[:20]!r} is not a page number", "use 1, 2, 3 …")
    return number


def record_id(text: str, what: str = "记录") -> int:
    """An id from the URL; anything that is not a plain number is a page that does not exist."""
    number = ascii_number(text, 18)
    if number is None:
        raise NotFound(f"{what} {text[:20]!r} does not exist", "check the link")
    return number
