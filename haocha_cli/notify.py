"""Notifications (通知): a new bad review reaches its county; each working morning every county gets its overdue
and due-soon cases and the city a summary per county. docs/notifications.md.

Messages wait in the ``notifications`` table (the outbox) and go out through apprise (企业微信 and 钉钉
robots, e-mail by SMTP, a JSON webhook) to the URLs haocha.toml gives per county (``notify.counties``) and
for the city (``notify.city``). The outbox names its target (a county code or ``city``) and never a URL: the
URLs hold robot keys and passwords, and are read from the configuration when a message is sent.

- ``enqueue_opened`` runs inside the transaction that opens the cases (``cases.open_cases``, for file imports
  and the rating page alike), so a case and its message are written together or not at all; only a county
  with a channel gets messages.
- ``deliver_pending`` runs after the commit (the import command, ``haocha notify send`` from cron, a background
  thread of the rating page via ``deliver_in_background``). It never raises for a failed send: the error is
  kept on the message, which is tried again at the next run. More than ``notify.group_over`` new cases waiting
  for one county go out as one message (the first few and the count).

A message holds the case number, county, window, item, level, deadlines and the workbench link — never the
rater's phone (not even masked) and never the comment.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from haocha_cli.clock import now, now_text, today
from haocha_cli.config import LEVELS, Config
from haocha_cli.db import transaction
from haocha_cli.errors import ConfigError, InvalidInput, NotifyError

if TYPE_CHECKING:
    from haocha_cli.context import Context

CITY = "city"
KINDS = {"case_opened": "新差评", "daily": "每日整改提醒", "summary": "市局每日汇总"}
STATUSES = {"pending": "待发送", "sent": "已发送", "failed": "发送失败，待重试", "cancelled": "已取消"}
WAITING = ("pending", "failed")
GROUP_LINES = 5  # a grouped message lists this many cases, then the count of the rest
LIST_LINES = 10  # a morning list names at most this many cases (robots cut long messages)
CLAIM_MINUTES = 10  # a delivery run that died gives its messages up after this long
ERROR_CHARS = 300
IMPORT_BUDGET_SECONDS = 30  # an import waits at most this long for its messages to go out
_APPRISE_LOGGER = "apprise"
_LOG = logging.getLogger("haocha.notify")


# --- channels --------------------------------------------------------------------------------------------


def channels(config: Config, target: str) -> list[str]:
    """The apprise URLs of a target: a county code, or ``city``."""
    if target == CITY:
        return list(config["notify.city"])
    return list(config["notify.counties"].get(target) or [])


def notified_counties(config: Config) -> set[str]:
    """The counties with at least one channel: only they get messages queued."""
    return {code for code, urls in config["notify.counties"].items() if urls}


def check_channels(ctx: Context) -> None:
    """Every URL configured is one apprise accepts, and every county named under ``notify.counties`` exists.
    Checked here, where notifications are sent and the database is at hand, rather than at every load of the
    configuration (loading apprise takes about half a second). An error names the entry, never the URL."""
    where = f"{ctx.config.path}: " if ctx.config.path else ""
    lists = {"notify.city": ctx.config["notify.city"],
             **{f"notify.counties.{code}": urls for code, urls in ctx.config["notify.counties"].items()}}
    for name, urls in lists.items():
        for number, url in enumerate(urls, 1):
            problem = url_problem(url)
            if problem:
                raise ConfigError(f"{where}{name} entry {number} ({problem}) is not a notification URL apprise"
                                  " accepts", "docs/notifications.md shows the URL of each channel")
    named = set(ctx.config["notify.counties"])
    if not named:
        return
    known = [r[0] for r in ctx.db.execute("SELECT code FROM counties ORDER BY code")]
    unknown = sorted(named - set(known))
    if unknown:
        from haocha_cli.catalogue import county_list

        where = f"{ctx.config.path}: " if ctx.config.path else ""
        raise ConfigError(f"{where}notify.counties names unknown county {', '.join(unknown)}",
                          f"known counties: {county_list(ctx.db)}")


@cache
def _apprise() -> Any:
    """apprise, loaded on first use (it takes a moment), with its log kept off stderr: what goes wrong with a
    send is captured and recorded on the message instead."""
    with warnings.catch_warnings():  # apprise imports modules Python has deprecated: not the bureau's concern
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        logging.getLogger(_APPRISE_LOGGER).addHandler(logging.NullHandler())
        apprise.Apprise.instantiate("json://localhost")  # loads the plugins now, under this filter
    return apprise


def _asset() -> Any:
    return _apprise().AppriseAsset(app_id="haocha", app_desc="好差评")


class _CallLog(logging.Handler):
    """apprise's warnings and errors of one send. apprise may send from a worker thread, but it carries the
    caller's context there: a record belongs to this send when the context names this handler (a web thread
    may be sending at the same time)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _CURRENT_LOG.get() is self:
            self.messages.append(record.getMessage())


_CURRENT_LOG: contextvars.ContextVar[_CallLog | None] = contextvars.ContextVar("haocha_notify_log", default=None)


@contextmanager
def _captured() -> Iterator[list[str]]:
    handler = _CallLog()
    token = _CURRENT_LOG.set(handler)
    logger = logging.getLogger(_APPRISE_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        _CURRENT_LOG.reset(token)


def _plugin(url: str) -> Any:
    """apprise's service for ``url``, or None when apprise does not accept it."""
    apprise = _apprise()
    with _captured():
        try:
            return apprise.Apprise.instantiate(url, asset=_asset())
        except Exception:  # a plugin that throws on a strange URL: not a URL apprise accepts
            return None


def label(url: str) -> str:
    """The scheme only (``wecombot://…``): what an error may show of a URL that may hold a key."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"{scheme}://…" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,19}", scheme) else "no scheme://"


def url_problem(url: str) -> str | None:
    """None when apprise accepts ``url``; else what may be shown of it (its scheme)."""
    return None if _plugin(url) is not None else label(url)


def masked_url(url: str) -> str:
    """The URL as apprise prints it with privacy on (keys and passwords starred), without its options."""
    plugin = _plugin(url)
    if plugin is None:
        return label(url)
    return plugin.url(privacy=True).split("?", 1)[0]


def fingerprint(url: str) -> str:
    """What the outbox keeps of a channel that has a message: a hash, never the URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _scrub(url: str, text: str) -> str:
    """An error text without the URL's secrets (apprise masks them already; this is the second lock)."""
    text = text.replace(url, label(url))
    for part in re.split(r"[:/@?&=#]+", url):
        if len(part) >= 6 and not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", part):
            text = text.replace(part, "****")
    return " ".join(text.split())[:ERROR_CHARS]


def send(url: str, title: str, body: str) -> str | None:
    """Send one message to one channel. None when it went out, else why not (never raises: apprise and the
    network may throw anything). apprise's own timeouts apply (4 s to connect and 4 s to read by default;
    ``?cto=`` and ``?rto=`` on the URL change them)."""
    with _captured() as log:
        try:
            apprise = _apprise()
            plugin = apprise.Apprise.instantiate(url, asset=_asset())
            if plugin is None:
                return f"{label(url)} is not a URL apprise accepts"
            sender = apprise.Apprise(asset=_asset())
            sender.add(plugin)
            sent = bool(sender.notify(body=body, title=title))
        except Exception as exc:
            sent = False
            log.append(f"{type(exc).__name__}: {exc}")
    if sent:
        return None
    return _scrub(url, "; ".join(dict.fromkeys(log)) or "apprise reported a failure")


# --- what a message says ---------------------------------------------------------------------------------


@dataclass
class _Names:
    counties: dict[str, str]
    windows: dict[str, str]
    items: dict[str, str]

    def county(self, code: str) -> str:
        return self.counties.get(code, code)


def _names(db: sqlite_utils.Database, windows: set[str] | None = None) -> _Names:
    """County, window and item names: a few queries for a whole batch, never one per case."""
    counties = dict(db.execute("SELECT code, name FROM counties").fetchall())
    items = dict(db.execute("SELECT code, name FROM items").fetchall())
    names: dict[str, str] = {}
    if windows is None:
        names = dict(db.execute("SELECT code, name FROM windows").fetchall())
    else:
        codes = sorted(windows)
        for i in range(0, len(codes), 500):
            part = codes[i:i + 500]
            names.update(db.execute(f"SELECT code, name FROM windows WHERE code IN ({','.join('?' * len(part))})",
                                    part).fetchall())
    return _Names(counties, names, items)


def _base(config: Config) -> str:
    return str(config["serve.base_url"] or "").rstrip("/")


def case_link(config: Config, case_id: int) -> str:
    """The case's page in the workbench, or '' when ``serve.base_url`` is not set."""
    base = _base(config)
    return f"{base}/staff/cases/{case_id}" if base else ""


def _list_link(config: Config) -> str:
    base = _base(config)
    return f"工作台：{base}/staff/cases" if base else ""


def _case_parts(case: dict[str, Any], names: _Names) -> list[str]:
    window = f"{case['window_code']} {names.windows.get(case['window_code'], '')}".strip()
    item = names.items.get(case["item_code"] or "", case["item_code"] or "")
    return [p for p in (f"案件 #{case['id']}", names.county(case["county_code"]), window, item,
                        LEVELS[int(case["level"]) - 1]) if p]


# A deadline counted without its year's notice (the case's calendar_note, in full on the case page), in short.
UNKNOWN_MAKEUP = "期限未含调休（当年放假通知尚未导入）"


def _opened_message(case: dict[str, Any], names: _Names, config: Config) -> tuple[str, str]:
    parts = _case_parts(case, names)
    parts.append(f"评价时间 {str(case['rated_at'])[:16]}")
    if case.get("revisit_due"):
        parts.append(f"回访期限 {case['revisit_due']}")
    parts.append(f"整改期限 {case['rectify_due']}")
    if case.get("calendar_note"):
        parts.append(UNKNOWN_MAKEUP)
    link = case_link(config, case["id"])
    title = f"新差评待处理：案件 #{case['id']}（{names.county(case['county_code'])}）"
    return title, " · ".join(parts) + (f"\n处理：{link}" if link else "")


def _grouped_message(rows: list[dict[str, Any]], county: str, config: Config) -> tuple[str, str]:
    lines = [row["body"].split("\n", 1)[0] for row in rows[:GROUP_LINES]]
    if len(rows) > GROUP_LINES:
        lines.append(f"… 另有 {len(rows) - GROUP_LINES} 件")
    if _list_link(config):
        lines.append(_list_link(config))
    return f"新差评待处理：{county} {len(rows)} 件", "\n".join(lines)


# --- the outbox --------------------------------------------------------------------------------------------


def enqueue_opened(ctx: Context, cases: list[dict[str, Any]]) -> int:
    """Queue one message per newly opened case (rows as inserted into ``cases``, with ``id``), for the
    counties that have a channel. Runs in the caller's transaction. Returns the number queued."""
    told = notified_counties(ctx.config)
    chosen = [c for c in cases if c["county_code"] in told]
    if not chosen:
        return 0
    names = _names(ctx.db, {c["window_code"] for c in chosen})
    rows = []
    for case in chosen:
        title, body = _opened_message(case, names, ctx.config)
        rows.append((case["county_code"], case["id"], title, body, case["opened_at"]))
    with transaction(ctx.db):
        ctx.db.conn.executemany(
            "INSERT INTO notifications (kind, target, case_id, title, body, created_at)"
            " VALUES ('case_opened', ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _queue(db: sqlite_utils.Database, kind: str, target: str, key: str, title: str, body: str) -> bool:
    """Queue a morning message once per target and day; False when it was queued before."""
    return db.execute(
        "INSERT OR IGNORE INTO notifications (kind, target, dedup_key, title, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", [kind, target, key, title, body, now_text()]).rowcount == 1


@dataclass
class Delivery:
    """What a delivery run did."""

    messages: int = 0  # messages that went out (a grouped one carries many notifications)
    sent: int = 0  # notifications now sent to every channel of their target
    failed: int = 0  # notifications still waiting after a failed send (tried again at the next run)
    waiting: int = 0  # notifications not tried in this run (their channel failed earlier, or time ran out)
    first_failures: int = 0  # of the failed, those that had not failed before (cron need not mail the rest again)
    errors: list[str] = field(default_factory=list)  # one line per failed send: "李沧区 json://…: why"

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "sent": self.sent, "failed": self.failed, "waiting": self.waiting,
                "first_failures": self.first_failures, "errors": list(self.errors)}

    def warning(self) -> str | None:
        """The one line an import prints when something could not be sent."""
        if not self.failed and not self.waiting:
            return None
        count = self.failed + self.waiting
        why = "; ".join(self.errors[:2]) + (" …" if len(self.errors) > 2 else "")
        return (f"warning: {count} notification{'s' if count != 1 else ''} could not be sent"
                f"{f' ({why})' if why else ''}; they will be retried by haocha notify send")


def deliver_pending(ctx: Context, *, budget_seconds: float | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Delivery:
    """Send what waits in the outbox (new, and failed before) and record each outcome. Never raises for a
    send that fails; the message keeps its error and is tried again at the next run.

    ``budget_seconds`` bounds the run (no new send starts after it): what is left waits for the next run.
    ``progress(done, total)`` is told of the recipients (counties, the city) done of those with messages.
    Safe to run in several processes at once: each run claims the messages it sends.
    """
    return _deliver(ctx.db, ctx.config, budget_seconds, progress)


def deliver_in_background(db_path: str | Path, config: Config, *,
                          budget_seconds: float | None = 60) -> threading.Thread:
    """``deliver_pending`` in a thread of its own with its own database connection, for the rating page: call
    it after the transaction that opened the cases has committed; the request does not wait. Whatever
    goes wrong stays in the outbox for `haocha notify send`."""

    def run() -> None:
        from haocha_cli.db import open_db

        try:
            db = open_db(db_path, create=False)
        except Exception:
            _LOG.warning("notifications not sent now: the database could not be opened; haocha notify send"
                         " sends them", exc_info=True)
            return
        try:
            result = _deliver(db, config, budget_seconds)
            if result.warning():
                _LOG.warning("%s", result.warning())
        except Exception:
            _LOG.warning("notifications not sent now; haocha notify send sends them", exc_info=True)
        finally:
            db.conn.close()

    thread = threading.Thread(target=run, name="haocha-notify", daemon=True)
    thread.start()
    return thread


def _deliver(db: sqlite_utils.Database, config: Config, budget_seconds: float | None,
             progress: Callable[[int, int], None] | None = None) -> Delivery:
    report = Delivery()
    started = time.monotonic()
    claim = secrets.token_hex(8)
    stamp = now()
    with transaction(db):
        db.execute("UPDATE notifications SET claim = :claim, claimed_until = :until WHERE status IN"
                   " ('pending', 'failed') AND (claimed_until IS NULL OR claimed_until < :now)",
                   {"claim": claim, "until": (stamp + timedelta(minutes=CLAIM_MINUTES)).isoformat(sep=" "),
                    "now": stamp.isoformat(sep=" ")})
    try:
        rows = [dict(r) for r in db.query(
            "SELECT id, kind, target, title, body, attempts, status, delivered_to FROM notifications"
            " WHERE status IN ('pending', 'failed') AND claim = ? ORDER BY target, id", [claim])]
        if not rows:
            return report
        names = _names(db, set())
        by_target: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row["done"] = set(json.loads(row["delivered_to"] or "[]"))
            row["was"] = row["status"]
            by_target.setdefault(row["target"], []).append(row)
        out_of_time = False
        for done, (target, waiting) in enumerate(by_target.items()):
            if progress is not None:
                progress(done, len(by_target))
            who = "市局" if target == CITY else names.county(target)
            urls = channels(config, target)
            if not urls:
                error = f"{who}：haocha.toml 中没有通知渠道 (no channel for {target})"
                _record(db, waiting, None, error, urls)
                report.errors.append(f"{who}: no channel in haocha.toml")
                continue
            for url in urls:
                mark = fingerprint(url)
                for message_rows, title, body in _messages([r for r in waiting if mark not in r["done"]],
                                                          who, config):
                    if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                        out_of_time = True
                        break
                    error = send(url, title, body)
                    _record(db, message_rows, mark, error and f"{label(url)}: {error}", urls)
                    if error is None:
                        report.messages += 1
                    else:
                        report.errors.append(f"{who} {label(url)}: {error}")
                        break  # this channel is down: the rest of its messages wait for the next run
                if out_of_time:
                    break
            if out_of_time:
                break
        if progress is not None and not out_of_time:
            progress(len(by_target), len(by_target))
        for row in rows:
            if row["status"] == "sent":
                report.sent += 1
            elif row.get("failed_now"):
                report.failed += 1
                report.first_failures += row["was"] == "pending"
            else:
                report.waiting += 1
    finally:
        with transaction(db):
            db.execute("UPDATE notifications SET claim = NULL, claimed_until = NULL"
                       " WHERE status IN ('pending', 'failed') AND claim = ?", [claim])
    return report


def _messages(rows: list[dict[str, Any]], county: str,
              config: Config) -> Iterator[tuple[list[dict[str, Any]], str, str]]:
    """(notifications, title, body) of each message to send: new cases one by one, or all in one message
    when more than ``notify.group_over`` wait; the morning messages one by one."""
    opened = [r for r in rows if r["kind"] == "case_opened"]
    if len(opened) > int(config["notify.group_over"]):
        title, body = _grouped_message(opened, county, config)
        yield opened, title, body
    else:
        for row in opened:
            yield [row], row["title"], row["body"]
    for row in rows:
        if row["kind"] != "case_opened":
            yield [row], row["title"], row["body"]


def _record(db: sqlite_utils.Database, rows: list[dict[str, Any]], mark: str | None, error: str | None,
            urls: list[str]) -> None:
    """The outcome of one send (to the channel ``mark``) for the notifications it carried."""
    stamp = now_text()
    every = {fingerprint(u) for u in urls}
    updates = []
    for row in rows:
        if error is None and mark is not None:
            row["done"].add(mark)
            if every <= row["done"]:
                row["status"] = "sent"
        else:
            row["status"] = "failed"
            row["failed_now"] = True
            row["last_error"] = error
        row["attempts"] += 1
        sent = row["status"] == "sent"
        updates.append((row["status"], row["attempts"], row.get("last_error"), stamp, stamp if sent else None,
                        json.dumps(sorted(row["done"])), int(sent), int(sent), row["id"]))
    with transaction(db):
        # A sent message gives its claim up at once: the run's release at the end looks at waiting ones only.
        db.conn.executemany(
            "UPDATE notifications SET status = ?, attempts = ?, last_error = coalesce(?, last_error),"
            " last_attempt_at = ?, sent_at = coalesce(?, sent_at), delivered_to = ?,"
            " claim = CASE WHEN ? THEN NULL ELSE claim END, claimed_until = CASE WHEN ? THEN NULL ELSE claimed_until END"
            " WHERE id = ?", updates)


# --- the working morning -----------------------------------------------------------------------------------


def _due_line(case: dict[str, Any], names: _Names, alert: str, left: int | None) -> str:
    parts = _case_parts(case, names)
    if "rectification overdue" in alert:
        parts.append(f"整改期限 {case['rectify_due']}（已超期）")
    elif "due soon" in alert:
        parts.append(f"整改期限 {case['rectify_due']}（{'今天到期' if not left else f'还剩 {left} 个工作日'}）")
    if "return visit overdue" in alert:
        parts.append(f"回访期限 {case['revisit_due']}（回访已超期）")
    if case.get("calendar_note"):
        parts.append(UNKNOWN_MAKEUP)
    return " · ".join(parts)


def queue_daily(ctx: Context, *, force: bool = False) -> dict[str, Any]:
    """Queue the working morning's messages: each county with a channel its overdue and due-soon cases (none
    when it has neither), the city (``notify.city``) a summary per county. Once per target and day; on a
    non-working day nothing, unless ``force``. Deliver them with ``deliver_pending``."""
    from haocha_cli.bureau_calendar import load_calendar
    from haocha_cli.cases import OPEN_STATES, _alerts

    check_channels(ctx)
    day = today()
    cal = load_calendar(ctx.db)
    result: dict[str, Any] = {"day": day.isoformat(), "workday": cal.is_workday(day), "queued": [],
                              "already": [], "quiet": []}
    if not result["workday"] and not force:
        return result
    counties = notified_counties(ctx.config)
    city = bool(channels(ctx.config, CITY))
    if not counties and not city:
        return result
    soon = int(ctx.config["deadlines.due_soon_days"])
    open_list = ",".join("?" * len(OPEN_STATES))
    cases = ctx.db.query(
        "SELECT id, county_code, window_code, item_code, level, state, real_name, revisit_due, revisit_first_at,"
        f" rectify_due, calendar_note FROM cases WHERE state IN ({open_list}) OR (real_name = 1 AND revisit_first_at IS NULL"
        " AND state != 'excluded' AND revisit_due < ?) ORDER BY rectify_due, id", [*OPEN_STATES, day.isoformat()])
    names = _names(ctx.db)
    lists: dict[str, dict[str, list[str]]] = {}
    counts: dict[str, dict[str, int]] = {}
    counted: dict[str, int] = {}
    for case in cases:
        left, alert = _alerts(case, day, cal, soon, counted)
        code = case["county_code"]
        tally = counts.setdefault(code, {"open": 0, "overdue": 0, "soon": 0})
        tally["open"] += case["state"] in OPEN_STATES
        kind = "overdue" if "overdue" in alert else "soon" if "due soon" in alert else None
        if kind is None:
            continue
        tally[kind] += 1
        if code in counties:
            lists.setdefault(code, {"overdue": [], "soon": []})[kind].append(_due_line(case, names, alert, left))
    with transaction(ctx.db):
        for code in sorted(counties):
            county = names.county(code)
            found = lists.get(code)
            if not found:
                result["quiet"].append(code)
                continue
            title = (f"整改提醒 {day.isoformat()}（{county}）：超期 {len(found['overdue'])} 件，"
                     f"即将到期 {len(found['soon'])} 件")
            lines: list[str] = []
            shown = 0
            for kind, heading in (("overdue", "超期 {n} 件："), ("soon", f"即将到期 {{n}} 件（{soon} 个工作日内）：")):
                if found[kind]:
                    lines.append(heading.format(n=len(found[kind])))
                    lines.extend(found[kind][:max(LIST_LINES - shown, 0)])
                    shown += min(len(found[kind]), max(LIST_LINES - shown, 0))
            total = len(found["overdue"]) + len(found["soon"])
            if total > shown:
                lines.append(f"… 另有 {total - shown} 件未列出")
            if _list_link(ctx.config):
                lines.append(_list_link(ctx.config))
            queued = _queue(ctx.db, "daily", code, f"daily:{day.isoformat()}:{code}", title, "\n".join(lines))
            result["queued" if queued else "already"].append(code)
        if city:
            total = {k: sum(t[k] for t in counts.values()) for k in ("open", "overdue", "soon")}
            title = (f"好差评整改日报 {day.isoformat()}（{ctx.config['city_name']}）：待办 {total['open']} 件，"
                     f"超期 {total['overdue']} 件，即将到期 {total['soon']} 件")
            lines = [f"{names.county(code)}：待办 {t['open']} 件 · 超期 {t['overdue']} 件 · 即将到期 {t['soon']} 件"
                     for code, t in sorted(counts.items()) if t["open"] or t["overdue"]]
            if not lines:
                lines = ["全市没有待办的整改案件。"]
            base = _base(ctx.config)
            if base:
                lines.append(f"工作台：{base}/staff/")
            queued = _queue(ctx.db, "summary", CITY, f"daily:{day.isoformat()}:{CITY}", title, "\n".join(lines))
            result["queued" if queued else "already"].append(CITY)
    return result


# --- a test message, the listing ---------------------------------------------------------------------------


def resolve_target(ctx: Context, county: str | None, city: bool) -> tuple[str, str]:
    """(target, name) of ``--county CODE`` or ``--city``; the target must have a channel."""
    if bool(county) == bool(city):
        raise InvalidInput("name one target: --county CODE or --city", "e.g. --county 370213")
    if city:
        target, name = CITY, "市局"
        setting = "notify.city"
    else:
        from haocha_cli.catalogue import resolve_county

        county = resolve_county(ctx.db, county)  # 李沧区 or 李沧 as well as 370213
        row = ctx.db.execute("SELECT name FROM counties WHERE code = ?", [county]).fetchone()
        target, name = str(county), row[0]
        setting = f"notify.counties.{county}"
    if not channels(ctx.config, target):
        where = ctx.config.path or "haocha.toml"
        raise ConfigError(f"{name} has no notification channel: {setting} is not set in {where}",
                          "docs/notifications.md shows how to add one")
    return target, name


def send_test(ctx: Context, county: str | None = None, city: bool = False) -> list[dict[str, Any]]:
    """Send a test message to every channel of a county (or the city) now, not through the outbox. Returns one
    row per channel (masked); raises NotifyError naming the channels that failed."""
    ctx.require_city("sending a test notification")
    check_channels(ctx)
    target, name = resolve_target(ctx, county, city)
    title = f"haocha 通知测试（{name}）"
    body = f"这是一条测试消息：{name}的好差评通知渠道已接通。发送时间 {now_text()}"
    rows = []
    for url in channels(ctx.config, target):
        error = send(url, title, body)
        rows.append({"target": target, "channel": masked_url(url), "sent": error is None, "error": error})
    failed = [r for r in rows if not r["sent"]]
    if failed:
        raise NotifyError(f"the test message to {name} could not be sent: "
                          + "; ".join(f"{r['channel']}: {r['error']}" for r in failed),
                          "check the URL in haocha.toml and that this server can reach the channel")
    return rows


def parse_status(status: str | None) -> tuple[str, ...]:
    if not status or status == "all":
        return tuple(STATUSES)
    if status == "waiting":
        return WAITING
    if status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not known", f"use all, waiting, {', '.join(STATUSES)}")
    return (status,)


def list_notifications(ctx: Context, status: str | None = None, county: str | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """The outbox, newest first: what was sent, what waits and why. A county sees its own messages."""
    county = ctx.county_scope(county, "see the notifications")
    statuses = parse_status(status)
    where = [f"status IN ({','.join('?' * len(statuses))})"]
    params: list[Any] = list(statuses)
    if county:
        where.append("target = ?")
        params.append(county)
    params.append(limit)
    return [
        {"id": r["id"], "kind": r["kind"], "target": r["target"], "case": r["case_id"], "status": r["status"],
         "状态": STATUSES[r["status"]], "attempts": r["attempts"], "last_error": r["last_error"],
         "created_at": r["created_at"], "last_attempt_at": r["last_attempt_at"], "sent_at": r["sent_at"],
         "title": r["title"]}
        for r in ctx.db.query(f"SELECT * FROM notifications WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                              params)
    ]


def waiting_count(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM notifications WHERE status IN ('pending', 'failed')").fetchone()[0]
