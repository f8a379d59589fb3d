"""`haocha status`: one screen for the bureau's IT staff — is the database sound and current, what waits
for whom, and what needs doing soon (a missing key-file backup, next year's holidays)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from haocha_cli import files, staging
from haocha_cli.bureau_calendar import load_calendar, unknown_year_ahead
from haocha_cli.cases import OPEN_STATES
from haocha_cli.clock import today
from haocha_cli.context import Context
from haocha_cli.db import schema_version
from haocha_cli.errors import ConfigError
from haocha_cli.notify import waiting_count
from haocha_cli.official_calendar import FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR
from haocha_cli.privacy import key_path
from haocha_cli.visibility import audit_scope, own_county


def status(ctx: Context) -> dict[str, Any]:
    """Figures only, no personal data. A county operator sees its own county's ratings, cases, flags and audit
    events, and of the imports only when the last one was (a file name is the city's import record)."""
    db, day = ctx.db, today()
    county = own_county(ctx)

    def one(sql: str, params: list | tuple = ()) -> tuple:
        return db.execute(sql, list(params)).fetchone()

    size = ctx.db_path.stat().st_size if ctx.db_path.exists() else 0
    wal = ctx.db_path.with_name(ctx.db_path.name + "-wal")
    key = key_path(ctx.db_path)
    scope, params = ("", []) if county is None else (" AND county_code = ?", [county])
    # Through indexes, not a scan of every rating (issue 22): the first and last time by ratings_rated_at; the
    # count from the batches (a withdrawn batch's ratings are deleted), a county's from its daily aggregates.
    first = one("SELECT min(rated_at) FROM ratings WHERE 1" + scope, params)[0]
    last = one("SELECT max(rated_at) FROM ratings WHERE 1" + scope, params)[0]
    ratings = (one("SELECT coalesce(sum(accepted), 0) FROM batches WHERE withdrawn_at IS NULL")[0] if county is None
               else one("SELECT coalesce(sum(n + excluded_n), 0) FROM daily_agg WHERE county_code = ?", [county])[0])
    # A staged batch still being written (haocha_cli.staging) is not a batch yet: it is the import running.
    running = staging.pending(db)
    visible = "" if running is None else f" AND id != {int(running['batch_id'])}"
    batches, withdrawn = one("SELECT count(*), count(withdrawn_at) FROM batches WHERE 1" + visible)
    last_batch = one("SELECT id, file_name, imported_at FROM batches WHERE withdrawn_at IS NULL" + visible
                     + " ORDER BY id DESC LIMIT 1")
    marks = ",".join("?" * len(OPEN_STATES))
    open_cases = one(f"SELECT count(*) FROM cases WHERE state IN ({marks}){scope}", [*OPEN_STATES, *params])[0]
    overdue = one(f"SELECT count(*) FROM cases WHERE state IN ({marks}) AND rectify_due < ?{scope}",
                  [*OPEN_STATES, day.isoformat(), *params])[0]
    soon = load_calendar(db).add_workdays(day, int(ctx.config["deadlines.due_soon_days"])).isoformat()
    due_soon = one(f"SELECT count(*) FROM cases WHERE state IN ({marks}) AND rectify_due BETWEEN ? AND ?{scope}",
                   [*OPEN_STATES, day.isoformat(), soon, *params])[0]
    revisits = one("SELECT count(*) FROM cases WHERE real_name AND revisit_first_at IS NULL AND revisit_due < ?"
                   f" AND state NOT IN ('rerated', 'excluded'){scope}", [day.isoformat(), *params])[0]
    waiting = one("SELECT count(*) FROM cases WHERE state IN ('awaiting_approval', 'appealed')"
                  + scope, params)[0]
    flags = one("SELECT count(*) FROM flags WHERE day >= ?" + scope,
                [(day - timedelta(days=30)).isoformat(), *params])[0]
    readable = audit_scope(ctx)
    events = one("SELECT count(*) FROM audit_events" + (f" WHERE {readable[0]}" if readable else ""),
                 readable[1] if readable else [])[0]
    unknown = unknown_year_ahead(db, day)
    todo = []
    if overdue:
        todo.append(f"{overdue} case(s) past their rectification deadline: haocha cases list --status open")
    if revisits:
        todo.append(f"{revisits} real-name bad review(s) not return-visited in time: haocha cases list")
    if waiting and county is None:
        todo.append(f"{waiting} case(s) wait for the city (no-action approvals, appeals): haocha cases list"
                    " --status awaiting_approval, and --status appealed")
    if unknown is not None:
        todo.append(f"{unknown}'s holiday notice is not recorded yet: its deadlines skip weekends and the statutory"
                    " holidays, not the make-up working days (调休); haocha calendar import the State Council's notice")
    try:
        ctx.require_keys()  # missing, damaged, another database's: a to-do, not a failure of status
    except ConfigError as exc:
        todo.append(str(exc))
    unsent = waiting_count(db) if county is None else 0
    if unsent:
        todo.append(f"{unsent} notification(s) wait to be sent: haocha notify list --status waiting, then haocha"
                    " notify send")
    todo += open_files_todo(ctx)
    return {
        "database": str(ctx.db_path), "size_mb": round(size / 1e6, 1),
        "wal_mb": round(wal.stat().st_size / 1e6, 1) if wal.exists() else 0.0,
        "schema": f"{one('PRAGMA user_version')[0]} of {schema_version()}", "key_file": str(key) if key.exists()
        else "missing", "today": day.isoformat(), "operator": str(ctx.operator), "person": ctx.operator.person,
        "ratings": ratings, "rated_from": first, "rated_to": last,
        "batches": batches, "withdrawn_batches": withdrawn,
        "last_import": None if last_batch is None else f"batch {last_batch[0]} "
        + (f"{last_batch[1]} " if county is None else "") + f"at {last_batch[2]}",
        "import_running": None if running is None else f"since {running['started_at']} (process {running['pid']})",
        "open_cases": open_cases, "overdue": overdue, "due_soon": due_soon, "revisits_late": revisits,
        "waiting_for_city": waiting, "flags_30_days": flags, "audit_events": events,
        "official_calendar": f"{FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}",
        "to_do": todo,
    }


def open_files_todo(ctx: Context) -> list[str]:
    """A to-do for the database (with its -wal and -shm) and the key file when users other than the owner
    (and the files.group) may read or change them, with the command that fixes it. They hold every phone."""
    modes = files.modes(ctx.config)
    todo = []
    family = [ctx.db_path, *files.sidecars(ctx.db_path)]
    exposed = [(p, e) for p in family if (e := files.exposure(p, modes)) is not None]
    if exposed:
        first, e = exposed[0]
        paths = " ".join(str(p) for p, _ in exposed)
        fix = f"chmod 600 {paths}" if modes.gid is None else f"chgrp {modes.group} {paths} && chmod 640 {paths}"
        todo.append(f"the database file {first} can be {e.what} by {e.who} (mode {e.mode:04o}); it holds personal"
                    f" data: {fix}")
    key = key_path(ctx.db_path)
    e = files.exposure(key)  # owner-only whatever files.group says
    if e is not None:
        todo.append(f"the key file {key} can be {e.what} by {e.who} (mode {e.mode:04o}); it reads every phone:"
                    f" chmod 600 {key}")
    return todo
