"""What every core call needs: the database, its path, the configuration and who is acting.

Who is acting is an ``Operator``: the **role** the action is taken in (``admin``, ``city`` or
``county:<code>``) and the **person** who took it (a workbench account's username, or ``os:<login>`` for the
command line). Every permission question is answered here, in one place, for the command line and the
workbench alike: ``require_city`` and ``require_admin`` for actions, ``county_scope``, ``sees_county`` and ``visible``
for what a read may show.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import sqlite_utils

from haocha_cli import files, staging
from haocha_cli.config import Config, load_config
from haocha_cli.db import open_db
from haocha_cli.errors import InvalidInput, NotFound, PermissionDenied

_ROLE = re.compile(r"^(admin|city|county:(\d{6}))$")
_NAMED_COUNTY_ROLE = re.compile(r"^county[:：]\s*(\S.*)$")  # county:李沧区 (resolved against the database)
ROLES_TEXT = "admin, city or county:<code>, e.g. county:370213"


def os_person() -> str:
    """``os:<login>`` of the user running this process, from the operating system (not from an option or
    an environment variable that anyone can set)."""
    try:
        import pwd

        return "os:" + pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # no pwd module (Windows) or a uid without a passwd entry (a container)
        return f"os:uid{os.getuid()}" if hasattr(os, "getuid") else "os:" + (os.environ.get("USERNAME") or "unknown")


@dataclass(frozen=True)
class Operator:
    """Who acts: a role (``admin`` 系统管理员, ``city`` 市局, ``county`` 县级局 with its code) and a person.

    ``admin`` may do everything ``city`` may, and manages the staff accounts; ``city`` works the city
    bureau's part of the loop; a county works its own county's cases and sees its own county's data only.
    """

    role: str
    county_code: str | None = None
    person: str = ""

    def __str__(self) -> str:
        return f"county:{self.county_code}" if self.role == "county" else self.role

    @property
    def is_city(self) -> bool:
        """A city-level role (``city`` or ``admin``): sees every county."""
        return self.role in ("city", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        """The role and the person, as records and sheets show them: ``county:370213 (zhangsan)``."""
        return f"{self} ({self.person})" if self.person else str(self)


def parse_role(text: str, db: sqlite_utils.Database | None = None) -> tuple[str, str | None]:
    """(role, county code) from ``admin``, ``city`` or ``county:<code>``; the county must exist in ``db``.
    With ``db``, the county may be named as ``--county`` names it: ``county:李沧区``, ``county:李沧``."""
    match = _ROLE.match((text or "").strip())
    named = _NAMED_COUNTY_ROLE.match((text or "").strip()) if not match else None
    if not (match or (named and db is not None)):
        raise InvalidInput(f"role {text!r} is not valid", f"use {ROLES_TEXT}")
    if match and match.group(2) is None:
        return match.group(1), None
    from haocha_cli.catalogue import county_list, resolve_county

    given = match.group(2) if match else named.group(1)
    if db is None:
        return "county", given
    try:
        return "county", resolve_county(db, given)  # county:李沧区 and county:李沧 are county:370213
    except NotFound:
        raise InvalidInput(f"role {text!r} names an unknown county {given}",
                           f"known counties: {county_list(db)}") from None


def parse_operator(text: str, db: sqlite_utils.Database | None = None, person: str | None = None) -> Operator:
    """The operator of a command-line role (``--operator``): the person is the OS login."""
    role, county = parse_role(text, db)
    return Operator(role, county, os_person() if person is None else person)


@dataclass
class Context:
    db: sqlite_utils.Database
    db_path: Path
    config: Config
    operator: Operator

    @cached_property
    def keys(self):
        from haocha_cli.privacy import load_keys

        return load_keys(self.db_path, self.config["qr.secret_env"], db=self.db)  # checked against this database

    def require_keys(self) -> None:
        """Refuse now, before anything is written, when the key file is missing, damaged or another
        database's: for a command that may need the key later on."""
        self.keys  # noqa: B018 - loading them is the check

    @cached_property
    def vault(self):
        from haocha_cli.privacy import PhoneVault

        return PhoneVault(self.keys.data_key)

    def require_city(self, what: str, hint: str | None = None) -> None:
        """The city bureau's (市局) tasks: the ``city`` and ``admin`` roles. ``hint`` says what a county
        uses instead, where there is something (``haocha report county …``)."""
        if not self.operator.is_city:
            raise PermissionDenied(f"{what} is the city bureau's (市局) task; {self.operator} may not do it",
                                   hint or "the city bureau's staff (市局) do it")

    def require_admin(self, what: str) -> None:
        """The administrators' tasks (staff accounts): the ``admin`` role only."""
        if not self.operator.is_admin:
            raise PermissionDenied(f"{what} is the administrators' (系统管理员) task; {self.operator} may not do it",
                                   "an administrator (role admin) does it")

    def sees_county(self, county_code: str | None) -> bool:
        """Whether this operator may see data of ``county_code``: the city every county, a county its own."""
        return self.operator.is_city or county_code == self.operator.county_code

    def county_scope(self, county: str | None, doing: str) -> str | None:
        """The county a listing or export covers: the city any one (or all, None); a county operator its
        own only. ``doing`` names what is refused, e.g. "see the cases". ``county`` is what a clerk typed: a
        code, a name or a short name (``catalogue.resolve_county``); the code comes back."""
        if county:
            from haocha_cli.catalogue import resolve_county

            county = resolve_county(self.db, county)
        if self.operator.is_city:
            return county
        own = self.operator.county_code
        if county and county != own:
            raise PermissionDenied(f"{self.operator} may {doing} of county {own} only, not of {county}",
                                   "leave out --county: a county sees its own county's data")
        return own

    def visible(self, county_code: str, what: str, hint: str) -> None:
        """Another county's record is, to a county operator, one that does not exist: the same ``NotFound``
        as a wrong number, so that nobody learns which numbers belong to another county."""
        if not self.sees_county(county_code):
            raise NotFound(f"{what} does not exist", hint)


def open_context(
    db_path: str | Path, operator: str = "admin", config_path: str | Path | None = None, *, create: bool = False,
    person: str | None = None,
) -> Context:
    config = load_config(config_path, db_path=db_path)
    db = open_db(db_path, create=create, modes=files.modes(config))
    staging.clear_abandoned(db, db_path, files.modes(config))  # a staged batch whose import died (a kill)
    return Context(db, Path(db_path), config, parse_operator(operator, db, person))
