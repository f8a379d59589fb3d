"""What every core call needs: the database, its path, the configuration and who is acting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import sqlite_utils

from haocha_cli.config import Config, load_config
from haocha_cli.db import open_db
from haocha_cli.errors import InvalidInput, PermissionDenied

_OPERATOR = re.compile(r"^(city|county:(\d{6}))$")


@dataclass(frozen=True)
class Operator:
    """``city`` (市局) or ``county:<code>`` (县级局)."""

    role: str
    county_code: str | None = None

    def __str__(self) -> str:
        return "city" if self.role == "city" else f"county:{self.county_code}"

    @property
    def is_city(self) -> bool:
        return self.role == "city"


def parse_operator(text: str, db: sqlite_utils.Database | None = None) -> Operator:
    match = _OPERATOR.match(text.strip())
    if not match:
        raise InvalidInput(
            f"operator {text!r} is not valid", "use `city` or `county:<code>`, e.g. county:370213"
        )
    if match.group(2) is None:
        return Operator("city")
    code = match.group(2)
    if db is not None and not db.execute("SELECT 1 FROM counties WHERE code = ?", [code]).fetchone():
        known = ", ".join(r[0] for r in db.execute("SELECT code FROM counties ORDER BY code"))
        raise InvalidInput(f"operator {text!r} names an unknown county {code}", f"known counties: {known}")
    return Operator("county", code)


@dataclass
class Context:
    db: sqlite_utils.Database
    db_path: Path
    config: Config
    operator: Operator

    @cached_property
    def keys(self):
        from haocha_cli.privacy import load_keys

        return load_keys(self.db_path, self.config["qr.secret_env"])

    @cached_property
    def vault(self):
        from haocha_cli.privacy import PhoneVault

        return PhoneVault(self.keys.data_key)

    def require_city(self, what: str) -> None:
        if not self.operator.is_city:
            raise PermissionDenied(
                f"{what} is the city bureau's (市局) task; operator {self.operator} may not do it",
                "run it as --operator city",
            )

    def county_scope(self, county: str | None, doing: str) -> str | None:
        """The county a listing or export covers: the city any one (or all, None); a county operator its
        own only. ``doing`` names what is refused, e.g. "see the cases"."""
        if self.operator.is_city:
            return county
        own = self.operator.county_code
        if county and county != own:
            raise PermissionDenied(f"operator {self.operator} may {doing} of county {own} only, not of {county}",
                                   "leave out --county, or run it as --operator city")
        return own

    def require_county(self, county_code: str, what: str) -> None:
        """A county operator acts on its own county only; the city may act anywhere unless told otherwise."""
        if not self.operator.is_city and self.operator.county_code != county_code:
            raise PermissionDenied(
                f"{what} belongs to county {county_code}; operator {self.operator} may not act on it",
                f"run it as --operator county:{county_code}",
            )


def open_context(
    db_path: str | Path, operator: str = "city", config_path: str | Path | None = None, *, create: bool = False
) -> Context:
    config = load_config(config_path, db_path=db_path)
    db = open_db(db_path, create=create)
    return Context(db, Path(db_path), config, parse_operator(operator, db))
