"""The administrators' page of the workbench (系统管理员): /staff/accounts — add accounts, disable and enable
them, reset a password (a one-time password shown once, changed at the next login). The same core
functions as `haocha staff …`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haocha_cli import accounts
from haocha_cli.context import Context
from haocha_cli.errors import HaochaError
from haocha_cli.web.auth import Session
from haocha_cli.web.pages import one
from haocha_cli.web.workbench import ADMIN, Workbench, redirect, refusal

DONE = {"added": "已添加账号。", "disabled": "已停用账号，其登录会话已结束。", "enabled": "已启用账号。"}


def routes(wb: Workbench) -> list[Route]:
    def view(ctx: Context, session: Session, status: int = 200, **extra) -> Response:
        counties = [dict(r) for r in ctx.db.query("SELECT code, name FROM counties ORDER BY code")]
        values = {"error": "", "error_detail": "", "one_time": None, "done": None, "values": {}, **extra}
        return wb.render("web/staff_accounts.html.j2", session, status, accounts=accounts.list_accounts(ctx),
                         counties=counties, **values)

    async def listing(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            return view(ctx, session, done=DONE.get(request.query_params.get("done", "")))
        return await wb.page(request, work, roles=ADMIN)

    async def add(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            values = {k: one(form, k) for k in ("username", "name", "role")}
            try:
                accounts.add(ctx, values["username"], values["name"], values["role"], one(form, "password"))
            except HaochaError as exc:
                status, text = refusal(exc)
                return view(ctx, session, status, error=getattr(exc, "zh", text), error_detail=str(exc),
                            values=values)
            return redirect("/staff/accounts?done=added")
        return await wb.page(request, work, roles=ADMIN, post=True)

    async def change(request: Request) -> Response:
        username, what = request.path_params["username"], request.path_params["what"]

        def work(ctx: Context, session: Session, form) -> Response:
            if what == "reset":
                one_time = accounts.reset_password(ctx, username)
                # Shown once, on this response only (no-store): never stored in clear, never in a URL.
                return view(ctx, session, one_time={"username": username, "password": one_time})
            if what not in ("disable", "enable"):
                return wb.error(session, 404, "页面不存在。")
            accounts.set_active(ctx, username, what == "enable")
            return redirect(f"/staff/accounts?done={what}d")
        return await wb.page(request, work, roles=ADMIN, post=True)

    return [
        Route("/staff/accounts", listing, methods=["GET"]),
        Route("/staff/accounts", add, methods=["POST"]),
        Route("/staff/accounts/{username}/{what}", change, methods=["POST"]),
    ]
