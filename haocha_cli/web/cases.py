"""The workbench's case pages: the work list /staff/cases and the case page /staff/cases/<id> with a form
for each action the account may take now. Every action calls the same core function as the matching
`haocha cases …` command, so one rule set (role, county, state) governs both. Another county's case
answers 404, exactly like a case that does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haocha_cli import cases, worklist
from haocha_cli.context import Context
from haocha_cli.errors import HaochaError
from haocha_cli.periods import resolve
from haocha_cli.service_lists import known_posts
from haocha_cli.web.auth import Session
from haocha_cli.web.pages import one
from haocha_cli.web.workbench import STAFF, Workbench, page_number, record_id, redirect, refusal

# What each action's button says, and what the page says once it is done.
ACTION_NAMES = {
    "classify": ("分类", "已分类。"), "revisit": ("记录回访", "已记录回访。"), "close": ("整改办结", "已办结，等待复评。"),
    "appeal": ("提出申诉", "已提出申诉，等待市局复核。"), "rerate": ("记录电话复评", "已记录复评。"),
    "approve": ("批准无需整改", "已批准无需整改。"), "reject": ("退回重新分类", "已退回县级局重新分类。"),
    "decide": ("申诉决定", "已作出申诉决定。"), "reopen": ("重新打开", "已重新打开。"),
    "set-post": ("变更责任岗位", "已变更责任岗位。"),
}
# The fields of an event's "after" that the history shows, with their Chinese labels (in this order).
FIELD_NAMES = {
    "state": "状态", "classification": "分类", "classify_reason": "理由", "revisit_outcome": "回访结果",
    "revisit_note": "回访情况", "measures": "整改措施", "responsible": "责任人", "rerate_level": "复评",
    "decision": "决定", "reason": "理由", "evidence": "证据", "note": "意见", "rectify_due": "整改期限",
    "revisit_due": "回访期限", "phone_masked": "电话", "rerate_source": "复评来源", "rerate_caller": "回访人",
    "followup_level": "追评", "post": "责任岗位", "department": "责任部门",
}
_VALUE_NAMES = {**cases.STATES, **cases.CLASSES, **cases.OUTCOMES, **cases.RERATE_SOURCES, "upheld": "申诉成立",
                "dismissed": "申诉不成立"}
STATUS_CHOICES = [("open", "未办结"), ("new", "待分类"), ("rectifying", "整改中"), ("awaiting_approval", "待市局审批"),
                  ("appealed", "申诉中"), ("reopened", "重新整改"), ("resolved", "已办结"), ("all", "全部")]


def _act(ctx: Context, case_id: int, action: str, form: dict[str, list[str]]) -> None:
    """One action through its core function (the same as `haocha cases <action>`)."""
    if action == "classify":
        cases.classify(ctx, case_id, one(form, "classification"), one(form, "reason"))
    elif action == "revisit":
        cases.revisit(ctx, case_id, one(form, "outcome"), one(form, "note"))
    elif action == "close":
        cases.close(ctx, case_id, one(form, "measures"), one(form, "responsible"))
    elif action == "appeal":
        cases.appeal(ctx, case_id, one(form, "reason"), one(form, "evidence"))
    elif action == "rerate":
        cases.rerate(ctx, case_id, one(form, "level"), one(form, "caller"))
    elif action == "approve":
        cases.approve(ctx, case_id, one(form, "note"))
    elif action == "reject":
        cases.reject(ctx, case_id, one(form, "reason"))
    elif action == "decide":
        cases.decide(ctx, case_id, one(form, "decision") == "uphold", one(form, "reason"))
    elif action == "reopen":
        cases.reopen(ctx, case_id, one(form, "reason"))
    elif action == "set-post":
        cases.set_post(ctx, case_id, one(form, "post"), one(form, "reason"))


def history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit events of a case as its page lists them: when, what (in Chinese), who, in which role, and
    the fields that matter."""
    rows = []
    for event in events:
        after = json.loads(event["after"]) if event["after"] else {}
        details = [(label, _VALUE_NAMES.get(str(after[key]), after[key])) for key, label in FIELD_NAMES.items()
                   if isinstance(after, dict) and after.get(key) not in (None, "")]
        rows.append({"at": event["at"], "what": cases.EVENT_NAMES.get(event["action"], event["action"]),
                     "person": event["person"] or "（未记录）", "role": event["operator"], "details": details})
    return rows


def routes(wb: Workbench) -> list[Route]:
    def case_view(ctx: Context, session: Session, case_id: int, status: int = 200, **extra: Any) -> Response:
        data = worklist.case_page(ctx, case_id)
        return wb.render("web/staff_case.html.j2", session, status, **data, events=history(data["history"]),
                         action_names=ACTION_NAMES,
                         classes=cases.CLASSES, outcomes=cases.OUTCOMES, rerate_levels=cases.RERATE_LEVELS,
                         rerate_sources=cases.RERATE_SOURCES, post_choices=list(known_posts(ctx.db)),
                         **{"phone": None, "done": None, "error": None, "error_detail": "", "values": {},
                            "failed_action": None, **extra})

    async def work_list(request: Request) -> Response:
        params = request.query_params

        def work(ctx: Context, session: Session, form) -> Response:
            start, end = params.get("from") or None, params.get("to") or None
            period = resolve(None, start, end) if (start or end) else None
            county = params.get("county") or None if session.account.role != "county" else None
            data = worklist.work_list(ctx, status=params.get("status") or None, county=county,
                                      window=params.get("window") or None, period=period,
                                      page=page_number(params.get("page")), post=params.get("post") or None)
            counties = [dict(r) for r in ctx.db.query("SELECT code, name FROM counties ORDER BY code")] \
                if session.account.role != "county" else []
            windows = [dict(r) for r in ctx.db.query(
                "SELECT code, name FROM windows" + (" WHERE county_code = ?" if data["county"] else "")
                + " ORDER BY code", [data["county"]] if data["county"] else [])]
            filters = {"status": params.get("status", ""), "window": params.get("window", ""),
                       "from": start or "", "to": end or "", "county": county or "", "post": params.get("post", "")}
            posts = list(dict.fromkeys([*known_posts(ctx.db), *([filters["post"]] if filters["post"] else [])]))
            return wb.render("web/staff_cases.html.j2", session, **data, filters=filters, counties=counties,
                             windows=windows, posts=posts, status_choices=STATUS_CHOICES, urgency_names=worklist.URGENCY)
        return await wb.page(request, work, roles=STAFF)

    async def case_get(request: Request) -> Response:
        def work(ctx: Context, session: Session, form) -> Response:
            case_id = record_id(request.path_params["case_id"], "case")
            done = request.query_params.get("done")
            return case_view(ctx, session, case_id, done=ACTION_NAMES[done][1] if done in ACTION_NAMES else None)
        return await wb.page(request, work, roles=STAFF)

    async def case_post(request: Request) -> Response:
        action = request.path_params["action"]

        def work(ctx: Context, session: Session, form) -> Response:
            case_id = record_id(request.path_params["case_id"], "case")
            if action not in ACTION_NAMES:
                cases.visible_case(ctx, case_id)  # another county's case: 404 before anything else
                return wb.error(session, 404, "页面不存在。")
            try:
                _act(ctx, case_id, action, form)
            except HaochaError as exc:
                status, text = refusal(exc)
                if status in (403, 404):
                    raise
                return case_view(ctx, session, case_id, status, error=text, error_detail=str(exc),
                                 failed_action=action, values={k: one(form, k) for k in form})
            return redirect(f"/staff/cases/{case_id}?done={action}")
        return await wb.page(request, work, roles=STAFF, post=True)

    async def contact(request: Request) -> Response:
        """The rater's phone, after an explicit 显示电话: an audit event, as `haocha cases contact`."""
        def work(ctx: Context, session: Session, form) -> Response:
            case_id = record_id(request.path_params["case_id"], "case")
            shown = cases.contact(ctx, case_id)
            return case_view(ctx, session, case_id, phone=shown["phone"])
        return await wb.page(request, work, roles=STAFF, post=True)

    return [
        Route("/staff/cases", work_list, methods=["GET"]),
        Route("/staff/cases/{case_id}", case_get, methods=["GET"]),
        Route("/staff/cases/{case_id}/contact", contact, methods=["POST"]),
        Route("/staff/cases/{case_id}/{action}", case_post, methods=["POST"]),
    ]
