"""`haocha serve`: the rating page (评价页面) that the windows' QR codes open."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import say, state


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on: loopback by default, behind the bureau's reverse proxy."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    proxy_headers: bool = typer.Option(True, "--proxy-headers/--no-proxy-headers",
                                       help="Take the client address (for the rate limits) from X-Forwarded-For "
                                       "when the request comes from a trusted proxy."),
    forwarded_allow_ips: str | None = typer.Option(
        None, "--forwarded-allow-ips",
        help="Comma-separated addresses of the trusted proxies (default: the serve.forwarded_allow_ips setting, "
        "127.0.0.1,::1)."),
) -> None:
    """Serve the rating page the QR codes open (GET /r?w=…&t=…), the follow-up page /r/followup, and the
    staff workbench (工作台) under /staff/, where county and city staff log in with their accounts.

    Ratings go through the import path with source `serve`; a bad review opens its case at once and its
    county is notified. Run one process: the rate limits are counted in memory. Stop with Ctrl-C.
    docs/serve.md shows how to run it behind the bureau's reverse proxy with TLS; docs/workbench.md the
    workbench.

    Example:

        haocha --db bureau.db serve --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from haocha_cli.web.app import check_listen_address, create_app

    s = state(ctx)
    app = create_app(s.db_path, s.config_path)
    check_listen_address(host, port)
    allow = forwarded_allow_ips if forwarded_allow_ips is not None else \
        app.state.service.config["serve.forwarded_allow_ips"]
    trust = proxy_headers and bool(allow.strip())
    say(f"rating page for {s.db_path} at http://{host}:{port}/r?w=<window>&t=<token>, staff workbench at "
        f"http://{host}:{port}/staff/; "
        + (f"client addresses from X-Forwarded-For of {allow}" if trust else "X-Forwarded-For ignored")
        + " (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, proxy_headers=trust, forwarded_allow_ips=allow if trust else None,
                server_header=False)
