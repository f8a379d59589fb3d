"""`haocha init`: a new database with the default organisation and indicator system V1.0."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from haocha_cli import audit, catalogue, files, indicators
from haocha_cli.config import load_config
from haocha_cli.context import Context, Operator, os_person
from haocha_cli.db import get_meta, open_db, set_meta, transaction
from haocha_cli.privacy import ensure_key_file, key_path, read_key_file

# Ratings older than haocha itself are scored by the first version.
FIRST_VERSION_FROM = date(2000, 1, 1)


def init_database(db_path: str | Path, config_path: str | Path | None = None,
                  org_path: str | Path | None = None) -> dict[str, Any]:
    """Create (or leave alone) a database. Returns what was done; ``changed`` is False on a second run."""
    config = load_config(config_path, db_path=db_path)
    existed = Path(db_path).exists()
    if key_path(db_path).exists():
        read_key_file(key_path(db_path))  # a damaged key file: refused before a database is made
    db = open_db(db_path, create=True, modes=files.modes(config))
    try:
        was_initialised = get_meta(db, "initialised_at") is not None
        # Owner-only (0600) whatever files.group says; another database's key, or none for a database holding
        # phone numbers: refused here, before anything is written.
        key_file, key_created = ensure_key_file(db, db_path, config["qr.secret_env"])
    except BaseException:
        db.close()
        raise
    ctx = Context(db, Path(db_path), config, Operator("admin", person=os_person()))
    done: list[str] = []
    if not existed:
        done.append(f"created database {db_path}")
    if key_created and was_initialised:
        done.append(f"created a new key file {key_file} (owner-only; back it up with the database): the database"
                    " holds no phone numbers, so none is lost; QR codes printed before no longer verify: print them"
                    " again (haocha qr generate)")
        with transaction(db):
            audit.record(db, ctx.operator, "key.create", "key_file", str(key_file), None, {"replaced": "missing"})
    elif key_created:
        done.append(f"created key file {key_file} (owner-only; back it up with the database)")
    if get_meta(db, "initialised_at") is None:
        org = catalogue.load_org_file(org_path or catalogue.default_org_path())
        summary = catalogue.import_org(ctx, org)
        done.append(f"loaded the organisation: {summary['added']} entries")
        matrix = indicators.load_matrix(indicators.default_matrix_path())
        stored = indicators.import_system(ctx, matrix)
        indicators.activate(ctx, stored["version"], FIRST_VERSION_FROM, check_ratings=False)
        done.append(f"installed indicator system {stored['version']} ({stored['dimensions']} dimensions,"
                    f" {stored['indicators']} indicators)")
        with transaction(db):
            from haocha_cli.clock import now_text

            set_meta(db, "initialised_at", now_text())
            audit.record(db, ctx.operator, "init", "database", str(db_path), None, {"schema": db.execute("PRAGMA user_version").fetchone()[0]})
    db.close()
    return {"changed": bool(done), "done": done, "db": str(db_path)}
