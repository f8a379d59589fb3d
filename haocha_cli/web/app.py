"""`haocha serve`'s one application: the rating page (``rating.py``, /r) and the staff workbench (/staff/:
``login.py``, ``cases.py``, ``city.py``, ``admin.py`` over ``workbench.py``), in one process and on one port.

``create_app`` fails at once — before the first rater or member of staff — when the database, its key file
or the configuration cannot be used.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from haocha_cli.errors import InvalidInput
from haocha_cli.web import admin, city, login, rating
from haocha_cli.web import cases as case_pages
from haocha_cli.web.limits import RateLimiter
from haocha_cli.web.pages import SecurityHeaders
from haocha_cli.web.workbench import Workbench


def create_app(db_path: str | Path, config_path: str | Path | None = None, *,
               clock: Callable[[], float] = time.time, limiter: RateLimiter | None = None) -> Starlette:
    """The ASGI application for the database at ``db_path``.

    ``clock`` (Unix seconds) dates the rating forms; ``limiter`` holds the rate-limit counters (per address
    and per login address; the phone limit is counted in the database)."""
    limiter = limiter or RateLimiter()
    service = rating.Service(db_path, config_path, clock=clock, limiter=limiter)
    workbench = Workbench(db_path, service.config, service.bureau, limiter)

    def staff(request: Request) -> bool:
        return request.url.path.startswith("/staff")

    async def not_found(request: Request, exc: HTTPException) -> Response:
        if staff(request):
            return workbench.error(None, exc.status_code if exc.status_code == 405 else 404,
                                   "不支持这种访问方式。" if exc.status_code == 405 else "页面不存在。")
        return service.error("method" if exc.status_code == 405 else "not_found")

    async def server_error(request: Request, exc: Exception) -> Response:
        # uvicorn's log has the traceback; the page shows no internals.
        if staff(request):
            return workbench.error(None, 500, "系统出错，操作未保存。", "请稍后重试；如仍不能完成，请联系系统管理员。")
        return service.error("server_error")

    app = Starlette(
        routes=[*rating.routes(service), *login.routes(workbench), *city.routes(workbench),
                *case_pages.routes(workbench), *admin.routes(workbench)],
        exception_handlers={404: not_found, 405: not_found, 500: server_error},
    )
    # Starlette answers /r/ or /staff/cases/ with a redirect to an absolute URL built from the request's Host
    # header (Host: evil.example -> Location: http://evil.example/r?…): off. Every redirect of ours is a
    # relative path (workbench.redirect); a path with a stray slash is a page that does not exist.
    app.router.redirect_slashes = False
    app.state.service = service
    app.state.workbench = workbench
    app.add_middleware(SecurityHeaders)
    return app


def check_listen_address(host: str, port: int) -> None:
    """Refuse at once, in one line, an address this machine cannot listen on (the server would only log it
    and stop): a host it does not have, or a port another program holds."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise InvalidInput(f"--host {host} is not an address of this machine ({exc.strerror})",
                           "give an address such as 127.0.0.1, or 0.0.0.0 for every interface") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}",
                               "another program (another haocha serve?) holds the port: stop it, or give "
                               "another --port") from None
