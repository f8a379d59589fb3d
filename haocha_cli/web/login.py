"""The workbench's login, logout and own-password pages: /staff/login, /staff/logout, /staff/password."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haocha_cli import accounts
from haocha_cli.accounts import LoginRefused, PasswordRejected
from haocha_cli.context import Context, Operator
from haocha_cli.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    clear_cookie,
    end_other_sessions,
    end_session,
    load_session,
    login_token,
    login_token_ok,
    set_cookie,
    start_session,
)
from haocha_cli.web.pages import client_address, one, read_form
from haocha_cli.web.workbench import STAFF, Workbench, redirect, safe_next

_LOGIN_STATUS = {"wrong": 401, "locked": 423, "disabled": 403}


def routes(wb: Workbench) -> list[Route]:
    def login_page(request: Request, status: int = 200, message: str = "", hint: str = "",
                   username: str = "") -> Response:
        cookie, token = login_token(wb.key)
        response = wb.render("web/staff_login.html.j2", None, status, login_csrf=token, message=message, hint=hint,
                             username=username, next=safe_next(request.query_params.get("next")),
                             bye="bye" in request.query_params)
        set_cookie(response, request, wb.config, LOGIN_COOKIE, cookie, max_age=3600)
        return response

    async def login_get(request: Request) -> Response:
        def work() -> Response:
            with wb.database() as db:
                if load_session(db, wb.key, wb.config, request.cookies.get(SESSION_COOKIE)) is not None:
                    return redirect("/staff/")
            return login_page(request)
        return await run_in_threadpool(work)

    async def login_post(request: Request) -> Response:
        address = client_address(request)
        minutes = int(wb.config["serve.address_minutes"])
        if not wb.limiter.hit(("login", address), int(wb.config["serve.address_limit"]), minutes * 60):
            return wb.error(None, 429, "登录尝试过于频繁。", f"请 {minutes} 分钟后再试。")
        form = await read_form(request)
        if isinstance(form, str):
            return wb.error(None, 400, "提交的内容无法识别。")
        if not login_token_ok(wb.key, request.cookies.get(LOGIN_COOKIE), one(form, "csrf_token")):
            return wb.error(None, 403, "登录表单已失效（缺少或错误的安全令牌）。", "请刷新登录页面后重新登录。")
        username, password = one(form, "username").strip(), one(form, "password")

        def work() -> Response:
            with wb.database() as db:
                ctx = Context(db, wb.db_path, wb.config, Operator("visitor", person="visitor"))
                try:
                    account = accounts.authenticate(ctx, username, password, address)
                except LoginRefused as refused:
                    return login_page(request, _LOGIN_STATUS[refused.code], refused.message, refused.hint or "",
                                      username[:64])
                cookie = start_session(db, wb.key, account)
            target = "/staff/password" if account.must_change else safe_next(one(form, "next"))
            response = redirect(target)
            set_cookie(response, request, wb.config, SESSION_COOKIE, cookie)
            clear_cookie(response, request, wb.config, LOGIN_COOKIE)
            return response
        return await run_in_threadpool(work)

    async def logout(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            end_session(ctx.db, session, client_address(request))
            response = redirect("/staff/login?bye=1")
            clear_cookie(response, request, wb.config, SESSION_COOKIE)
            return response
        return await wb.page(request, work, post=True, password_page=True)

    async def password_get(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            return wb.render("web/staff_password.html.j2", session, forced=session.account.must_change,
                             message="", done="done" in request.query_params)
        return await wb.page(request, work, roles=STAFF, password_page=True)

    async def password_post(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            new, again = one(form, "new_password"), one(form, "new_password2")
            if new != again:
                return wb.render("web/staff_password.html.j2", session, 400, forced=session.account.must_change,
                                 message="两次输入的新密码不一致。", done=False)
            try:
                accounts.change_own_password(ctx, one(form, "current_password"), new)
            except PasswordRejected as exc:
                return wb.render("web/staff_password.html.j2", session, 400, forced=session.account.must_change,
                                 message=exc.zh, done=False)
            end_other_sessions(ctx.db, session)
            return redirect("/staff/password?done=1")
        return await wb.page(request, work, post=True, password_page=True)

    return [
        Route("/staff/login", login_get, methods=["GET"]),
        Route("/staff/login", login_post, methods=["POST"]),
        Route("/staff/logout", logout, methods=["POST"]),
        Route("/staff/password", password_get, methods=["GET"]),
        Route("/staff/password", password_post, methods=["POST"]),
    ]

