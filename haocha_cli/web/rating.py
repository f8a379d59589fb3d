"""`haocha serve`'s rating page (评价页面): the page a window's QR code opens, on Starlette.

A rater scans a window's code (``/r?w=LC01&t=<token>``), picks the service item and one of the five levels,
optionally scores the indicators of the window's mode and, for a bad review, ticks the problems and writes a
comment. The submission goes through ``importer.import_records`` (source ``serve``): the same validation,
batch, aggregates and case opening as a file import, in one short transaction. The rater gets a reference
number (评价编号); with it one follow-up rating (追评) can be made later at ``/r/followup``.

Integrity: the token must verify for the window (403; an old sticker's, of the previous secret, is accepted
in the grace period after `qr rotate` and the rating flagged old_token); every form carries a signed nonce, so a POST without
a fresh form is refused (403); the nonce is the rating id, so sending a form twice stores one rating; a
hidden trap field catches form-filling robots; submissions are limited per client address (429, in memory:
run one process) and per phone (429, counted in the database inside the rating's own write transaction).
A field that is not of the shape the page gives it is a 400, never an error page. Nothing is written unless
the rating is accepted.

Every request opens its own connection (WAL, busy timeout) and keeps its write transaction short, so cron
imports and county staff at the terminal share the database. docs/serve.md describes running it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from haocha_cli import files, notify, qr_tokens
from haocha_cli.clock import now_text
from haocha_cli.config import LEVELS, Config, load_config
from haocha_cli.context import Context, Operator
from haocha_cli.db import get_meta, open_db
from haocha_cli.errors import HaochaError
from haocha_cli.indicators import in_force, in_scope
from haocha_cli.privacy import normalize_phone
from haocha_cli.web.limits import RateLimiter
from haocha_cli.web.pages import HEADERS, ascii_number, client_address, environment, one, read_form

log = logging.getLogger("haocha.serve")

SOURCE = "serve"
CHANNEL = "二维码"  # national channel kind of a scanned window code
REFERENCE_LENGTH = 12  # base32 characters: 60 bits, so a reference cannot be guessed for someone else's 追评
FOLLOWUP_SUFFIX = "#2"  # rating id of the follow-up: reference + "#2" (评价次数 2), unique per source
MAX_FIELD_CHARS = 64  # window codes, tokens, nonces, items, levels, phones
ISSUED_DIGITS = 12  # a form's issue time, Unix seconds in ASCII digits (10 until the year 2286)
BUSY_TIMEOUT_MS = 10_000  # a rater waits at most this long for a cron import's write lock, then gets 503
LEVELS_SHOWN = list(reversed(LEVELS))  # 非常满意 first, the order raters know from every other 好差评 page
TRAP_FIELD = "website"
_REFERENCE = re.compile(rf"[A-Z2-7]{{{REFERENCE_LENGTH}}}")
_SIGNATURE = re.compile(r"[0-9a-f]{32}")  # what sign_form gives
_REFERENCE_JUNK = re.compile(r"[\s\-_–—.·]+")
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})
# What the rater reads, by code. The importer's reject codes (importer.REASONS) are among them, so a row
# the core path refuses gets the same message as the page's own check. (status, message, what to do)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "link_incomplete": (400, "二维码链接不完整。", "请用手机直接扫描窗口上张贴的二维码，不要手动输入或截取链接。"),
    "token_invalid": (403, "二维码校验未通过：这不是该窗口的有效评价二维码。",
                      "请直接扫描窗口上张贴的二维码进行评价；如二维码已更换，请扫描新的二维码。"),
    "window_unknown": (404, "未找到该窗口。", "请扫描正在使用的窗口上的二维码，或咨询大厅工作人员。"),
    "window_inactive": (410, "该窗口已停用，不再接受评价。", "请扫描正在使用的窗口上的二维码，或咨询大厅工作人员。"),
    "form_invalid": (403, "评价表单无效，提交未被接受（表单不是由本评价页面生成的）。",
                     "请重新扫描窗口上的二维码，在打开的评价页面中填写并提交。"),
    "form_expired": (403, "评价页面打开时间过长，已失效。", "请重新扫描窗口上的二维码后评价。"),
    "form_malformed": (400, "提交的表单内容格式不正确，提交未被接受。",
                       "请重新扫描窗口上的二维码，在打开的评价页面中填写并提交。"),
    "link_invalid": (400, "二维码链接格式不正确。", "请用手机直接扫描窗口上张贴的二维码，不要手动输入或截取链接。"),
    "trap_filled": (400, "提交未被接受：表单中一个应当留空的隐藏项被填写了（浏览器的自动填表功能可能会这样做）。",
                    "请关闭自动填表后，重新扫描二维码评价。"),
    "too_large": (413, "提交的内容过长。", "请缩短文字评价后，重新扫描二维码评价。"),
    "form_encoding": (400, "提交的内容无法识别。", "请用手机浏览器重新扫描二维码评价。"),
    "rate_address": (429, "提交过于频繁，暂时不能再提交。", "请 {minutes} 分钟后再试。"),
    "rate_phone": (429, "该联系电话的评价次数已达上限。", "请 {minutes} 分钟后再试，或不填电话进行匿名评价。"),
    "level_missing": (400, "请选择总体满意度。", "在五个选项中选择一项。"),
    "level_invalid": (400, "总体满意度只能是：非常满意、满意、基本满意、不满意、非常不满意。", "请在五个选项中重新选择一项。"),
    "item_missing": (400, "请选择您办理的事项。", "如列表中没有，请选择“其他事项”。"),
    "item_unknown": (400, "所选事项不在本局的办理事项目录中。", "请从列表中重新选择。"),
    "score_invalid": (400, "分项评分只能是 1 至 5 分，或不评。", "请重新选择分项评分。"),
    "score_scope": (400, "所评的分项不适用于该窗口。", "请只对页面上列出的分项评分。"),
    "problem_unknown": (400, "所勾选的问题不在该窗口的评价指标中。", "请只勾选页面上列出的问题。"),
    "indicator_version": (400, "评价指标体系已更新，所评的分项已不再使用。", "请重新扫描窗口上的二维码，在新打开的评价页面中评价。"),
    "comment_too_long": (400, "文字评价最多 {max} 字，您填写了 {length} 字。", "请删减后再提交，已填写的内容都保留在下方。"),
    "phone_invalid": (400, "联系电话格式不正确。",
                      "请填写 11 位手机号码或带区号的固定电话；不想留电话可以留空，即为匿名评价。"),
    "reference_invalid": (400, "评价编号格式不正确。", "评价编号是 12 位字母和数字（如 ABCD-EFGH-JKLM），请核对后重新输入。"),
    "reference_unknown": (404, "未找到该评价编号。", "请核对评价完成页上显示的评价编号后重新输入。"),
    "followup_done": (409, "该评价已经追评过，每条评价只能追评一次。", "如有其他问题，请咨询大厅工作人员。"),
    "busy": (503, "系统繁忙，评价暂未保存。", "请稍等片刻后再次点击提交，已填写的内容都保留在页面上。"),
    "unavailable": (503, "评价系统暂时无法使用，评价未保存。", "请稍后再试，或咨询大厅工作人员。"),
    "not_found": (404, "页面不存在。", "请用手机扫描窗口上张贴的二维码进入评价页面。"),
    "method": (405, "不支持这种访问方式。", "请用手机扫描窗口上张贴的二维码进入评价页面。"),
    "server_error": (500, "系统出错，评价未保存。", "请稍后重新扫描二维码评价；如仍不能提交，请告知大厅工作人员。"),
    "rejected": (400, "评价未能保存。", "请重新扫描二维码后评价；如仍不能提交，请咨询大厅工作人员。"),
}
# Importer reject codes that cannot come from this page's own fields map to the generic message.
_FIELD_ERRORS = {"level_missing", "level_invalid", "item_unknown", "score_invalid", "score_scope", "problem_unknown",
                 "indicator_version", "phone_invalid"}


# --- references and signed forms ---------------------------------------------------------------------------


def new_reference() -> str:
    """A fresh 12-character base32 reference: the form's nonce, the rating id and the rater's 评价编号."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:REFERENCE_LENGTH]


def format_reference(reference: str) -> str:
    """ABCD-EFGH-JKLM: easier to copy by hand."""
    return "-".join(reference[i:i + 4] for i in range(0, len(reference), 4))


def normalize_reference(text: str) -> str | None:
    """The reference as stored, from what a rater typed (any case, dashes or spaces, 0/1/8 for O/I/B)."""
    value = _REFERENCE_JUNK.sub("", text or "").upper().translate(_LOOKALIKES)
    return value if _REFERENCE.fullmatch(value) else None


def form_key(qr_secret: bytes) -> bytes:
    """The key that signs forms: derived from the QR secret, so rotating it also voids open forms."""
    return hmac.new(qr_secret, b"haocha serve form v1", hashlib.sha256).digest()


def sign_form(key: bytes, purpose: str, subject: str, token: str, nonce: str, issued: int) -> str:
    """The signature a rendered form carries: over its purpose (rate / followup), window or reference, token,
    nonce and issue time (Unix seconds)."""
    message = "\n".join([purpose, subject, token, nonce, str(issued)]).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def check_form(key: bytes, purpose: str, subject: str, token: str, nonce: str, issued: str, signature: str,
               max_age_s: int, now_s: float) -> str | None:
    """None when the form is genuine and fresh, else the message code: form_invalid (a field missing, or not
    signed by us), form_malformed (a field not of the shape our forms give it), form_expired."""
    if not (issued and nonce and signature):
        return "form_invalid"
    issued_s = ascii_number(issued, ISSUED_DIGITS)
    if issued_s is None or not _REFERENCE.fullmatch(nonce) or not _SIGNATURE.fullmatch(signature):
        return "form_malformed"
    expected = sign_form(key, purpose, subject, token, nonce, issued_s)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return "form_invalid"
    age = now_s - issued_s
    if age < -300:  # issued in the future beyond clock jitter: not a form this server made
        return "form_invalid"
    if max_age_s and age > max_age_s:
        return "form_expired"
    return None


def check_link(code: str, token: str) -> None:
    """Refuses a window code or token that is missing (link_incomplete) or overlong (link_invalid)."""
    if not code or not token:
        raise _Refused("link_incomplete")
    if len(code) > MAX_FIELD_CHARS or len(token) > MAX_FIELD_CHARS:
        log.warning("refused: a link with an overlong window code or token")
        raise _Refused("link_invalid")


# --- the service ------------------------------------------------------------------------------------------


class _Rater(Operator):
    """Who writes a rating from the page: recorded as ``serve`` on the batch and in the audit trail."""

    def __str__(self) -> str:
        return SOURCE


RATER = _Rater(SOURCE, person="rater")  # the anonymous rater, through the page


class _Refused(Exception):  # noqa: N818 - a control-flow signal: render this message's page
    def __init__(self, code: str, **values: Any):
        super().__init__(code)
        self.code = code
        self.values = values


class Service:
    """The page's logic, independent of Starlette's request objects (each public method returns a Response)."""

    def __init__(self, db_path: str | Path, config_path: str | Path | None = None,
                 clock: Callable[[], float] = time.time, limiter: RateLimiter | None = None):
        self.db_path = Path(db_path)
        self.config: Config = load_config(config_path, db_path=db_path)
        self.clock = clock
        self.limiter = limiter or RateLimiter()
        self.modes = files.modes(self.config)  # the group of -wal/-shm, as the CLI gives it
        self.env = environment(ref=format_reference)
        with self.context() as ctx:  # fail at start, not at the first rater: no database, no key, bad secret
            qr_tokens.make_token(ctx.keys.qr_secret, "check")
            self.bureau = get_meta(ctx.db, "city_bureau_name") or self.config["bureau_name"]

    # -- plumbing --

    @contextmanager
    def context(self):
        db = open_db(self.db_path, create=False, modes=self.modes)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            yield Context(db, self.db_path, self.config, RATER)
        finally:
            db.conn.close()

    def setting(self, key: str) -> int:
        return int(self.config[key])

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(bureau=self.bureau, **values)
        # The headers are set here as well as by the middleware: a 500 page is sent from outside it.
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(self, code: str, **values: Any) -> HTMLResponse:
        status, message, hint = MESSAGES[code]
        return self.page("web/rate_error.html.j2", status, code=code, message=message.format(**values),
                         hint=hint.format(**values))

    def over_address_limit(self, address: str) -> HTMLResponse | None:
        """Count one submission or reference look-up of ``address``; the 429 page when it is one too many."""
        minutes = self.setting("serve.address_minutes")
        if self.limiter.hit(("address", address), self.setting("serve.address_limit"), minutes * 60):
            return None
        log.warning("rate limit: too many submissions from one client address")
        return self.error("rate_address", minutes=minutes)

    def guarded(self, work: Callable[[], Response]) -> Response:
        try:
            return work()
        except _Refused as refused:
            return self.error(refused.code, **refused.values)
        except HaochaError as exc:
            log.error("rating page unavailable: %s", exc)
            return self.error("unavailable")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return self.error("busy")
            raise

    def window(self, ctx: Context, code: str, token: str) -> dict[str, Any]:
        """The window named by a scanned link, once its token verifies; refuses otherwise."""
        check_link(code, token)
        # The token is checked before the window is looked up, so the page tells nobody which codes exist.
        # An old sticker's token (the previous secret, within the grace period after `qr rotate`) is accepted:
        # the importer marks the rating token_ok 2 by the same rule, and the flag scan flags it old_token.
        verdict = qr_tokens.check_token(ctx.keys, code, token, now_text(), self.setting("qr.token_length"))
        if verdict == qr_tokens.TOKEN_BAD:
            log.warning("refused: the QR token does not verify for window %r", code)
            raise _Refused("token_invalid")
        return self.window_row(ctx, code)

    def window_row(self, ctx: Context, code: str) -> dict[str, Any]:
        rows = list(ctx.db.query(
            "SELECT w.code, w.name, w.kind, w.active, w.county_code, c.name AS county_name FROM windows w"
            " JOIN counties c ON c.code = w.county_code WHERE w.code = ?", [code]))
        if not rows:
            raise _Refused("window_unknown")
        if not rows[0]["active"]:
            raise _Refused("window_inactive")
        rows[0]["indicators"] = _indicators(ctx.db, rows[0]["kind"])
        return rows[0]

    # -- the first rating --

    def rate_form(self, code: str, token: str) -> Response:
        def work() -> Response:
            with self.context() as ctx:
                window = self.window(ctx, code, token)
                nonce = new_reference()
                hidden = {"w": code, "t": token, **self.signed(ctx, "rate", code, token, nonce)}
                return self.rate_page(ctx, window, hidden, {}, [])
        return self.guarded(work)

    def signed(self, ctx: Context, purpose: str, subject: str, token: str, nonce: str) -> dict[str, str]:
        """The hidden fields that make a form genuine: nonce, issue time, signature."""
        issued = int(self.clock())
        key = form_key(ctx.keys.qr_secret)
        return {"n": nonce, "ts": str(issued), "sig": sign_form(key, purpose, subject, token, nonce, issued)}

    def _form_keys(self) -> list[bytes]:
        """The keys a genuine form may be signed with: the current secret's, and within the grace period after
        a rotation the previous one's (a form opened just before `qr rotate` is still sent). Read for every form
        checked (before any database work), so a rotated secret counts at once."""
        from haocha_cli.privacy import load_keys

        keys = load_keys(self.db_path, self.config["qr.secret_env"])
        signing = [form_key(keys.qr_secret)]
        if keys.qr_previous and keys.qr_previous_until and now_text() <= keys.qr_previous_until \
                and keys.qr_previous_until > keys.qr_rotated_at:
            signing.append(form_key(keys.qr_previous))
        return signing

    def rate_page(self, ctx: Context, window: dict[str, Any], hidden: dict[str, str], values: dict[str, Any],
                  errors: list[str], status: int = 200) -> HTMLResponse:
        items = [dict(r) for r in ctx.db.query("SELECT code, name FROM items WHERE active ORDER BY code")]
        return self.page("web/rate.html.j2", status, followup=None, window=window, items=items,
                         indicators=_indicators(ctx.db, window["kind"]), levels=LEVELS_SHOWN,
                         bad_levels=self.config["bad_levels"], hidden=hidden, values=values, errors=errors, comment_max=self.setting("serve.comment_max_chars"),
                         trap=TRAP_FIELD)

    def rate_submit(self, form: dict[str, list[str]]) -> Response:
        def work() -> Response:
            code, token = one(form, "w"), one(form, "t")
            nonce = one(form, "n")
            check_link(code, token)
            self.check_form(form, "rate", code, token)
            with self.context() as ctx:
                window = self.window(ctx, code, token)
                hidden = {"w": code, "t": token, "n": nonce, "ts": one(form, "ts"), "sig": one(form, "sig")}
                if self.stored(ctx, nonce):
                    return self.done_page(ctx, window, nonce, repeated=True)
                values, errors = self.read_fields(form, window["kind"], ctx, with_item=True, with_phone=True)
                if errors:
                    return self.rate_page(ctx, window, hidden, values, errors, 400)
                phone_hash = ctx.vault.hash(values["phone_digits"]) if values["phone"] else None
                record = {
                    "rating_id": nonce, "rated_at": now_text(), "window_code": window["code"], "channel": CHANNEL,
                    "item_code": values["item_code"], "level": values["level"], "case_no": nonce,
                    "rating_round": "1", "comment": values["comment"], "rater_phone": values["phone_digits"],
                    "anonymous": "否" if values["phone"] else "是", "qr_token": token,
                    "problems": ",".join(values["problems"]), "scores": _scores_json(values["scores"]),
                }
                try:
                    outcome = self.store(ctx, record, nonce, phone_hash)
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        return self.rate_page(ctx, window, hidden, values, [_message("busy")], 503)
                    raise
                if outcome == "duplicate":
                    return self.done_page(ctx, window, nonce, repeated=True)
                if outcome != "accepted":
                    return self.store_refused(ctx, window, hidden, values, outcome)
                self.tell_county(window)
                return self.done_page(ctx, window, nonce, repeated=False)
        return self.guarded(work)

    def check_form(self, form: dict[str, list[str]], purpose: str, subject: str, token: str) -> None:
        if any(v.strip() for v in form.get(TRAP_FIELD, [])):
            log.warning("refused: the trap field was filled")
            raise _Refused("trap_filled")
        for key in self._form_keys():
            problem = check_form(key, purpose, subject, token, one(form, "n"), one(form, "ts"), one(form, "sig"),
                                 self.setting("serve.form_max_age_minutes") * 60, self.clock())
            if problem != "form_invalid":  # genuine under this key (fresh, or expired), or malformed
                break
        if problem:
            log.warning("refused: %s (%s form)", problem, purpose)
            raise _Refused(problem)

    def stored(self, ctx: Context, rating_id: str) -> bool:
        return ctx.db.execute("SELECT 1 FROM ratings WHERE source = ? AND rating_id = ?",
                              [SOURCE, rating_id]).fetchone() is not None

    def store(self, ctx: Context, record: dict[str, str], nonce: str, phone_hash: str | None = None) -> str:
        """Import one rating through the core path: "accepted", "duplicate", or the reject's code and reason.

        The import runs inside this transaction (as a savepoint), so a refused or duplicate submission is
        rolled back whole: no batch, no reject row, nothing half-written. The phone's limit is checked in the
        same write transaction, so parallel submissions (Starlette's thread pool, or another process) cannot
        all pass the check before any of them is stored."""
        from haocha_cli.importer import import_records

        conn = ctx.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            limited = phone_hash is not None and self.phone_limit_reached(ctx, phone_hash, record["rated_at"])
            if limited:
                repeated = self.stored(ctx, record["rating_id"])  # this very form, sent again: not one more
            else:
                summary = import_records(ctx, [record], source=SOURCE, file_name=f"{SOURCE}:{nonce}", fmt="form")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if limited:
            conn.execute("ROLLBACK")
            if repeated:
                return "duplicate"
            log.warning("rate limit: too many ratings from one phone")
            raise _Refused("rate_phone", minutes=self.setting("serve.phone_minutes"))
        if summary.get("accepted") == 1:
            conn.execute("COMMIT")
            return "accepted"
        conn.execute("ROLLBACK")
        if summary.get("status") == "already imported" or summary.get("duplicate"):
            return "duplicate"
        first = (summary.get("first_rejects") or [{"code": "rejected", "reason": ""}])[0]
        log.warning("the importer refused a rating from the page: %s: %s", first["code"], first["reason"])
        return f"{first['code']}\t{first['reason']}"

    def phone_limit_reached(self, ctx: Context, phone_hash: str, rated_at: str) -> bool:
        """Whether the phone already has serve.phone_limit first ratings from this page within
        serve.phone_minutes before ``rated_at``: counted in the database (index ratings_serve_contact), so the
        count holds across threads, processes and restarts."""
        limit = self.setting("serve.phone_limit")
        if not limit:
            return False
        since = datetime.fromisoformat(rated_at) - timedelta(minutes=self.setting("serve.phone_minutes"))
        # The literal 'serve' lets SQLite use the partial index (a bound parameter would not).
        (count,) = ctx.db.execute(
            "SELECT count(*) FROM ratings WHERE source = 'serve' AND rating_round = 1"
            " AND contact_id = (SELECT id FROM contacts WHERE phone_hash = ?) AND rated_at > ?",
            [phone_hash, since.isoformat(sep=" ")]).fetchone()
        return count >= limit

    def store_refused(self, ctx: Context, window: dict[str, Any], hidden: dict[str, str], values: dict[str, Any],
                      outcome: str) -> Response:
        code, reason = outcome.split("\t", 1)
        if code in _FIELD_ERRORS:
            return self.rate_page(ctx, window, hidden, values, [_message(code)], 400)
        if code in ("window_inactive", "window_unknown"):
            raise _Refused(code)
        return self.page("web/rate_error.html.j2", 400, code=code, message=MESSAGES["rejected"][1],
                         hint=MESSAGES["rejected"][2] + f"（原因代码：{code}）")

    def read_fields(self, form: dict[str, list[str]], kind: str, ctx: Context, *, with_item: bool,
                    with_phone: bool) -> tuple[dict[str, Any], list[str]]:
        """The rater's answers, checked; (values to store or show again, Chinese messages)."""
        errors: list[str] = []
        values: dict[str, Any] = {"item": "", "item_code": "", "phone": "", "phone_digits": ""}
        level = form.get("level", [])
        values["level"] = level[0] if len(level) == 1 else ""
        if not level or (len(level) == 1 and not level[0].strip()):
            errors.append(_message("level_missing"))
        elif len(level) != 1 or level[0] not in LEVELS:
            errors.append(_message("level_invalid"))
            values["level"] = ""
        if with_item:
            item = one(form, "item").strip()
            values["item"] = item
            if not item:
                errors.append(_message("item_missing"))
            elif item != "-":
                found = ctx.db.execute("SELECT code FROM items WHERE code = ? AND active", [item]).fetchone()
                if found is None:
                    errors.append(_message("item_unknown"))
                    values["item"] = ""
                else:
                    values["item_code"] = found[0]
        shown = _indicators(ctx.db, kind)
        allowed = {code for code, _n, _p, _d in shown}
        known = {code for code, *_ in _indicators(ctx.db, None)}
        scores: dict[str, int] = {}
        score_error = None
        for name, given in form.items():
            if not name.startswith("s_"):
                continue
            code = name[2:]
            text = given[0].strip() if len(given) == 1 else "x"
            if text == "":
                continue  # 不评
            if code not in known:
                score_error = score_error or "score_invalid"
            elif code not in allowed:
                score_error = score_error or "score_scope"
            elif text not in ("1", "2", "3", "4", "5"):
                score_error = score_error or "score_invalid"
            else:
                scores[code] = int(text)
        if score_error:
            errors.append(_message(score_error))
        values["scores"] = dict(sorted(scores.items()))
        values["scores_open"] = bool(scores or score_error)
        problems = [p for p in dict.fromkeys(form.get("p", [])) if p]
        if any(p not in allowed for p in problems):
            errors.append(_message("problem_unknown"))
            problems = [p for p in problems if p in allowed]
        values["problems_ticked"] = problems
        # Problem tags belong to a bad review: with any other level they are dropped, not refused (without
        # JavaScript the boxes are always on the page, and a rater may tick one, then choose 满意).
        values["problems"] = problems if values["level"] in self.config["bad_levels"] else []
        comment = one(form, "comment").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        values["comment"] = comment.strip()
        limit = self.setting("serve.comment_max_chars")
        if limit and len(values["comment"]) > limit:
            errors.append(_message("comment_too_long", max=limit, length=len(values["comment"])))
        if with_phone:
            phone = one(form, "phone").strip()
            values["phone"] = phone[:MAX_FIELD_CHARS]
            if phone:
                digits = normalize_phone(phone) if len(phone) <= MAX_FIELD_CHARS else None
                if digits is None:
                    errors.append(_message("phone_invalid"))
                else:
                    values["phone_digits"] = digits
        return values, errors

    def done_page(self, ctx: Context, window: dict[str, Any], reference: str, *, repeated: bool) -> HTMLResponse:
        row = ctx.db.execute(
            "SELECT r.level, r.anonymous, (SELECT count(*) FROM cases c WHERE c.rating_id = r.id) FROM ratings r"
            " WHERE r.source = ? AND r.rating_id = ?", [SOURCE, reference]).fetchone()
        level, anonymous, cases = row if row else (None, 1, 0)
        return self.page("web/rate_result.html.j2", kind="rating", window=window, reference=reference,
                         repeated=repeated, level=LEVELS[level - 1] if level else "", case_opened=bool(cases),
                         real_name=not anonymous, rectify_days=self.setting("deadlines.rectify_days"),
                         revisit_days=self.setting("deadlines.revisit_days"))

    # -- the follow-up rating (追评) --

    def original(self, ctx: Context, reference: str) -> dict[str, Any]:
        rows = list(ctx.db.query(
            "SELECT r.id, r.rating_id, r.rated_at, r.window_code, r.item_code, r.level, r.channel, r.anonymous,"
            " k.phone_enc, k.phone_masked, i.name AS item_name FROM ratings r"
            " LEFT JOIN contacts k ON k.id = r.contact_id LEFT JOIN items i ON i.code = r.item_code"
            " WHERE r.source = ? AND r.rating_id = ? AND r.rating_round = 1", [SOURCE, reference]))
        if not rows:
            raise _Refused("reference_unknown")
        return rows[0]

    def followup_lookup(self, reference_text: str | None, status: int = 200, error: str | None = None) -> Response:
        return self.page("web/rate_lookup.html.j2", status, reference=reference_text or "",
                         errors=[_message(error)] if error else [])

    def followup_form(self, reference_text: str) -> Response:
        reference = normalize_reference(reference_text)
        if reference is None:
            return self.followup_lookup(reference_text[:MAX_FIELD_CHARS], 400, "reference_invalid")

        def work() -> Response:
            with self.context() as ctx:
                original = self.original(ctx, reference)
                if self.followed_up(ctx, reference) is not None:
                    raise _Refused("followup_done")
                window = self.window_row(ctx, original["window_code"])
                hidden = {"ref": reference, **self.signed(ctx, "followup", reference, "", new_reference())}
                return self.followup_page(window, original, reference, hidden, {}, [])
        return self.guarded(work)

    def followup_page(self, window: dict[str, Any], original: dict[str, Any], reference: str,
                      hidden: dict[str, str], values: dict[str, Any], errors: list[str],
                      status: int = 200) -> HTMLResponse:
        followup = {"reference": reference, "rated_at": original["rated_at"][:16],
                    "level": LEVELS[original["level"] - 1], "item_name": original["item_name"] or "其他事项",
                    "phone_masked": original["phone_masked"]}
        return self.page("web/rate.html.j2", status, followup=followup, window=window, items=[],
                         indicators=window["indicators"], levels=LEVELS_SHOWN,
                         bad_levels=self.config["bad_levels"], hidden=hidden, values=values,
                         errors=errors, comment_max=self.setting("serve.comment_max_chars"), trap=TRAP_FIELD)

    def followup_submit(self, form: dict[str, list[str]]) -> Response:
        def work() -> Response:
            given = one(form, "ref")
            reference = normalize_reference(given) or ""
            if given and not reference:
                raise _Refused("form_malformed")
            nonce = one(form, "n")
            self.check_form(form, "followup", reference, "")
            with self.context() as ctx:
                original = self.original(ctx, reference)
                window = self.window_row(ctx, original["window_code"])
                hidden = {"ref": reference, "n": nonce, "ts": one(form, "ts"), "sig": one(form, "sig")}
                rating_id = reference + FOLLOWUP_SUFFIX
                earlier = self.followed_up(ctx, reference)
                if earlier is not None:
                    if earlier["rating_id"] == rating_id and self.same_form(ctx, rating_id, nonce):
                        return self.followup_done(ctx, window, reference, repeated=True)
                    raise _Refused("followup_done")
                values, errors = self.read_fields(form, window["kind"], ctx, with_item=False, with_phone=False)
                if errors:
                    return self.followup_page(window, original, reference, hidden, values, errors, 400)
                # The same rater: the follow-up keeps the first rating's item, channel and phone (for 回访).
                phone = ctx.vault.reveal(original["phone_enc"]) if original["phone_enc"] else ""
                record = {
                    "rating_id": rating_id, "rated_at": now_text(), "window_code": window["code"],
                    "channel": original["channel"], "item_code": original["item_code"], "level": values["level"],
                    "case_no": reference, "rating_round": "2", "comment": values["comment"], "rater_phone": phone,
                    "anonymous": "是" if original["anonymous"] else "否",
                    "problems": ",".join(values["problems"]), "scores": _scores_json(values["scores"]),
                }
                try:
                    outcome = self.store(ctx, record, nonce)
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        return self.followup_page(window, original, reference, hidden, values,
                                                  [_message("busy")], 503)
                    raise
                if outcome == "duplicate":
                    if self.same_form(ctx, rating_id, nonce):
                        return self.followup_done(ctx, window, reference, repeated=True)
                    raise _Refused("followup_done")
                if outcome.startswith("case_rated_twice\t"):  # one made meanwhile, by the import's own check
                    raise _Refused("followup_done")
                if outcome != "accepted":
                    code = outcome.split("\t", 1)[0]
                    if code in _FIELD_ERRORS:
                        return self.followup_page(window, original, reference, hidden, values,
                                                  [_message(code)], 400)
                    return self.store_refused(ctx, window, hidden, values, outcome)
                self.tell_county(window)
                return self.followup_done(ctx, window, reference, repeated=False)
        return self.guarded(work)

    def followed_up(self, ctx: Context, reference: str) -> dict[str, Any] | None:
        """The follow-up (追评) that the rating ``reference`` already has, or None: by the import's own rule
        (一事一评, ``importer.case_rating``: one per 办件 and round; the page's 办件编号 is the reference), so that
        a 追评 that came in any other way counts too, and the import refuses a second one all the same."""
        from haocha_cli.importer import case_rating

        return case_rating(ctx.db, SOURCE, reference, 2)

    def tell_county(self, window: dict[str, Any]) -> None:
        """After a stored rating: if it opened a case (its outbox message is queued in the same transaction),
        send it in the background, so that the rater does not wait for the county's robot."""
        if window["county_code"] in notify.notified_counties(self.config):
            notify.deliver_in_background(self.db_path, self.config)

    def same_form(self, ctx: Context, rating_id: str, nonce: str) -> bool:
        """Whether the stored rating came from this very form (its batch is named after the form's nonce)."""
        row = ctx.db.execute("SELECT b.file_name FROM ratings r JOIN batches b ON b.id = r.batch_id"
                             " WHERE r.source = ? AND r.rating_id = ?", [SOURCE, rating_id]).fetchone()
        return row is not None and row[0] == f"{SOURCE}:{nonce}"

    def followup_done(self, ctx: Context, window: dict[str, Any], reference: str, *, repeated: bool) -> HTMLResponse:
        row = ctx.db.execute(
            "SELECT r.level, r.anonymous, (SELECT count(*) FROM cases c WHERE c.rating_id = r.id) FROM ratings r"
            " WHERE r.source = ? AND r.rating_id = ?", [SOURCE, reference + FOLLOWUP_SUFFIX]).fetchone()
        level, anonymous, cases = row
        return self.page("web/rate_result.html.j2", kind="followup", window=window, reference=reference,
                         repeated=repeated, level=LEVELS[level - 1], case_opened=bool(cases),
                         real_name=not anonymous, rectify_days=self.setting("deadlines.rectify_days"),
                         revisit_days=self.setting("deadlines.revisit_days"))


def _message(code: str, **values: Any) -> str:
    _status, message, hint = MESSAGES[code]
    return f"{message.format(**values)}{hint.format(**values)}"


def _indicators(db: Any, kind: str | None) -> list[tuple[str, str, str, str]]:
    """(code, secondary name, primary name, description) of the indicators of a window's mode (every mode:
    None) in the indicator system in force today: the rating is of today."""
    return [(i["code"], i["name"], i["dimension_name"], i["description"]) for i in in_force(db)
            if kind is None or in_scope(i["scope"], kind)]


def _scores_json(scores: dict[str, int]) -> str:
    return json.dumps(scores) if scores else ""


# --- Starlette --------------------------------------------------------------------------------------------


# --- routes -----------------------------------------------------------------------------------------------


def routes(service: Service) -> list[Route]:
    """The rating page's routes: /r (the form and its submission), /r/followup (追评), /healthz."""

    async def rate_get(request: Request) -> Response:
        params = request.query_params
        return await run_in_threadpool(service.rate_form, params.get("w", ""), params.get("t", ""))

    async def submit(request: Request, handler) -> Response:
        """A POSTed form: the address's rate limit first, then the form parsed, then the handler."""
        refused = service.over_address_limit(client_address(request))
        if refused is not None:
            return refused
        form = await read_form(request)
        if isinstance(form, str):
            return service.error(form)
        return await run_in_threadpool(handler, form)

    async def rate_post(request: Request) -> Response:
        return await submit(request, service.rate_submit)

    async def followup_get(request: Request) -> Response:
        reference = request.query_params.get("ref")
        if reference is None:
            return service.followup_lookup(None)
        refused = service.over_address_limit(client_address(request))
        if refused is not None:
            return refused
        return await run_in_threadpool(service.followup_form, reference)

    async def followup_post(request: Request) -> Response:
        return await submit(request, service.followup_submit)

    async def health(request: Request) -> Response:
        def check() -> Response:
            with service.context() as ctx:
                ctx.db.execute("SELECT 1 FROM windows LIMIT 1").fetchone()
            return PlainTextResponse("ok")
        return await run_in_threadpool(service.guarded, check)

    return [
        Route("/r", rate_get, methods=["GET"]),
        Route("/r", rate_post, methods=["POST"]),
        Route("/r/followup", followup_get, methods=["GET"]),
        Route("/r/followup", followup_post, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
