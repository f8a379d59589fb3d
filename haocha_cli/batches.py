"""Withdrawing a batch (撤回批次): a file imported by mistake (another city's export, a test file, the wrong
version of the day's file) taken back out, as if it had never been imported, while nothing has happened to
it yet.

What goes: the batch's ratings, their part of the daily aggregates, the cases they opened and their flags.
What stays: the batch row, marked withdrawn with who, when and why, its rejected rows, and the audit trail
(one `case.withdraw` event per case and one `batch.withdraw`). Its hash is set aside, so that the same
file, or the right one, can be imported again. A batch whose cases a county has started to work, or whose
ratings are excluded, in a spot-check sample or a 追评 that re-rated a case, is refused: those steps are settled
first.
"""

from __future__ import annotations

from typing import Any

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput, InvalidTransition
from haocha_cli.importer import get_batch
from haocha_cli.ratings import take_out_of_aggregates


def withdraw_batch(ctx: Context, batch_id: int, reason: str) -> dict[str, Any]:
    """Withdraw a batch (city's task); returns what went: {batch, file, ratings, cases, flags, reason}."""
    ctx.require_city("withdrawing an imported batch")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("withdrawing a batch needs a reason (--reason)", "e.g. --reason \"导入了错误的文件\"")
    db = ctx.db
    with transaction(db):
        batch = get_batch(db, batch_id)
        if db.execute("SELECT 1 FROM pending_imports WHERE batch_id = ?", [batch_id]).fetchone():
            raise InvalidTransition(f"batch {batch_id} ({batch['file_name']}) is still being imported",
                                    "wait until its import has finished (haocha status shows it)")
        if batch["withdrawn_at"]:
            raise InvalidTransition(f"batch {batch_id} was withdrawn on {batch['withdrawn_at']} by "
                                    f"{batch['withdrawn_by']}", "nothing is left to withdraw")
        in_batch = "SELECT id FROM ratings WHERE batch_id = :batch"
        blockers = []
        for sql, what in (
                (f"SELECT count(*) FROM cases WHERE rating_id IN ({in_batch})"
                 " AND (state != 'new' OR revisit_first_at IS NOT NULL)",
                 "{n} of its cases have been worked on by a county"),
                ("SELECT count(*) FROM ratings WHERE batch_id = :batch AND excluded IS NOT NULL",
                 "{n} of its ratings are excluded from the figures"),
                (f"SELECT count(*) FROM spot_checks WHERE rating_id IN ({in_batch})"
                 f" OR case_id IN (SELECT id FROM cases WHERE rating_id IN ({in_batch}))",
                 "{n} of its ratings are in a spot-check sample"),
                (f"SELECT count(*) FROM cases WHERE rerate_rating_id IN ({in_batch})",
                 "{n} of its ratings are 追评 that re-rated a case (整改复评)")):
            n = db.execute(sql, {"batch": batch_id}).fetchone()[0]
            if n:
                blockers.append(what.format(n=n))
        if blockers:
            raise InvalidTransition(f"batch {batch_id} ({batch['file_name']}) cannot be withdrawn: "
                                    + "; ".join(blockers),
                                    "a batch is withdrawn only while nothing has happened to it; settle those first")
        take_out_of_aggregates(db, db.query("SELECT * FROM ratings WHERE batch_id = ? ORDER BY id", [batch_id]),
                               excluded=False, what=f"the ratings of batch {batch_id}")
        cases = [dict(r) for r in db.query(
            f"SELECT id, county_code, window_code, rating_id FROM cases WHERE rating_id IN ({in_batch}) ORDER BY id",
            {"batch": batch_id})]
        flags = db.execute(f"DELETE FROM flags WHERE rating_id IN ({in_batch})", {"batch": batch_id}).rowcount
        db.execute(f"DELETE FROM cases WHERE rating_id IN ({in_batch})", {"batch": batch_id})
        ratings = db.execute("DELETE FROM rating_rows WHERE batch_id = ?", [batch_id]).rowcount
        now = now_text()
        db.execute("UPDATE batches SET sha256 = 'withdrawn:' || id || ':' || sha256, withdrawn_at = ?,"
                   " withdrawn_by = ?, withdraw_reason = ? WHERE id = ?",
                   [now, ctx.operator.label, reason, batch_id])
        summary = {"batch": batch_id, "file": batch["file_name"], "sha256": batch["sha256"], "ratings": ratings,
                   "cases": len(cases), "flags": flags, "reason": reason}
        audit.record_many(db, ctx.operator, [
            *[("case.withdraw", "cases", c["id"], {"state": "new", **c}, {"batch": batch_id}) for c in cases],
            ("batch.withdraw", "batches", batch_id, {"sha256": batch["sha256"], "accepted": batch["accepted"]},
             {k: summary[k] for k in ("ratings", "cases", "flags", "reason")} | {"withdrawn_at": now})])
    return summary
