"""The city's pages of the workbench (市局): the start page /staff/ (today's new bad reviews, overdue cases by
county, the approvals and appeals waiting, the flags of the last 7 days, this month's index by county), the
spot-checks /staff/spotchecks (draw a period's sample, list it, record outcomes, the phone on an explicit
click), and the reports `haocha report` has written, /staff/reports. A county account starts at its work
list instead, and is refused every page here (403).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haocha_cli import flags, spotchecks, worklist
from haocha_cli.context import Context
from haocha_cli.errors import NotFound
from haocha_cli.periods import parse_period
from haocha_cli.web.auth import Session
from haocha_cli.web.pages import HEADERS, ascii_number, one
from haocha_cli.web.workbench import CITY, STAFF, Workbench, record_id, redirect

REPORT_SUFFIXES = (".html", ".md", ".csv")


def reports_folder(wb: Workbench) -> Path:
    """Where `haocha report --out` writes for cron: ``serve.reports_dir``, relative to the database's folder."""
    folder = Path(wb.config["serve.reports_dir"])
    return folder if folder.is_absolute() else wb.db_path.resolve().parent / folder


def report_files(wb: Workbench) -> list[dict[str, object]]:
    folder = reports_folder(wb)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix in REPORT_SUFFIXES and not p.name.startswith(".")]
    return [{"name": p.name, "size": p.stat().st_size} for p in sorted(files, key=lambda p: p.name, reverse=True)]


def routes(wb: Workbench) -> list[Route]:
    async def home(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            if session.account.role == "county":
                return redirect("/staff/cases")
            return wb.render("web/staff_home.html.j2", session, **worklist.city_overview(ctx),
                             flag_rules=flags.RULE_NAMES)
        return await wb.page(request, work, roles=STAFF)

    async def samples(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            return wb.render("web/staff_spotchecks.html.j2", session, samples=spotchecks.list_samples(ctx),
                             error="", period=request.query_params.get("period", ""))
        return await wb.page(request, work, roles=CITY)

    async def draw(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            seed = one(form, "seed").strip()
            data = spotchecks.draw_sample(ctx, parse_period(one(form, "period")),
                                          ascii_number(seed, 18),
                                          one(form, "new_version") == "1")
            return redirect(f"/staff/spotchecks/{data['sample']}")
        return await wb.page(request, work, roles=CITY, post=True)

    def sample_view(ctx: Context, session: Session, sample_id: int, phone: dict | None = None,
                    status: int = 200, error: str = "") -> Response:
        sample = spotchecks.get_sample(ctx, sample_id)
        checks = spotchecks.list_checks(ctx, sample_id=sample_id)
        return wb.render("web/staff_sample.html.j2", session, status, sample=sample, checks=checks,
                         outcomes=spotchecks.OUTCOMES, reasons=spotchecks.REASONS, phone=phone, error=error)

    async def sample(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            return sample_view(ctx, session, record_id(request.path_params["sample_id"], "sample"))
        return await wb.page(request, work, roles=CITY)

    async def record(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            check_id = record_id(request.path_params["check_id"], "spot-check")
            check = spotchecks.record_check(ctx, check_id, one(form, "outcome"), one(form, "note"))
            return redirect(f"/staff/spotchecks/{check['sample_id']}#check-{check_id}")
        return await wb.page(request, work, roles=CITY, post=True)

    async def check_contact(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            check_id = record_id(request.path_params["check_id"], "spot-check")
            shown = spotchecks.contact(ctx, check_id)
            sample_id = ctx.db.execute("SELECT sample_id FROM spot_checks WHERE id = ?", [check_id]).fetchone()[0]
            return sample_view(ctx, session, sample_id, phone=shown)
        return await wb.page(request, work, roles=CITY, post=True)

    async def reports(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            return wb.render("web/staff_reports.html.j2", session, files=report_files(wb),
                             folder=str(reports_folder(wb)))
        return await wb.page(request, work, roles=CITY)

    async def report_file(request: Request) -> Response:
        name = request.path_params["name"]

        def work(ctx: Context, session: Session, form) -> Response:
            # Only a file the listing offers: no path of the request reaches the file system.
            if name not in {f["name"] for f in report_files(wb)}:
                raise NotFound(f"report {name[:60]!r} does not exist", "the reports page lists them")
            path = reports_folder(wb) / name
            media = mimetypes.guess_type(name)[0] or "text/plain"
            if path.suffix in (".md", ".csv"):
                media = "text/plain"
            return Response(path.read_bytes(), media_type=media + "; charset=utf-8", headers=HEADERS)
        return await wb.page(request, work, roles=CITY)

    async def staff_root(request: Request) -> Response:
        return redirect("/staff/")  # what staff type; relative, as every redirect of ours

    return [
        Route("/staff", staff_root, methods=["GET"]),
        Route("/staff/", home, methods=["GET"]),
        Route("/staff/spotchecks", samples, methods=["GET"]),
        Route("/staff/spotchecks", draw, methods=["POST"]),
        Route("/staff/spotchecks/{sample_id}", sample, methods=["GET"]),
        Route("/staff/spotchecks/check/{check_id}/record", record, methods=["POST"]),
        Route("/staff/spotchecks/check/{check_id}/contact", check_contact, methods=["POST"]),
        Route("/staff/reports", reports, methods=["GET"]),
        Route("/staff/reports/{name}", report_file, methods=["GET"]),
    ]
