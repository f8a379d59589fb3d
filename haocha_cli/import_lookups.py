"""The catalogue as one import reads it (导入时的目录查找): windows, counties, items, channels, the indicator
system's versions and scopes, and the names of the name columns (事项名称, 窗口名称, 区县局, 所属市) — built once
per batch into dicts, each distinct cell of a file then resolved once.

A part of the import's batch (haocha_cli.importer._Job): the methods here fill and read the batch's look-up
attributes (``windows``, ``items``, ``channels``, ``named_*`` …).
"""

from __future__ import annotations

import math

from haocha_cli.config import LEVELS
from haocha_cli.db import get_meta
from haocha_cli.errors import InvalidInput
from haocha_cli.import_rules import _AGENCY_SUFFIXES, _LEVEL_NAMES, _UNSEEN, T, _Reject, _remember
from haocha_cli.indicators import registry, version_on, weights
from haocha_cli.profiles import FIELDS, indicator_aliases, normalize_header, normalize_label


class CatalogueLookups:
    """The batch's look-ups of the catalogue and of the names a file may give (see the module's docstring)."""

    def _load_catalogue(self) -> None:
        db = self.db
        self.windows: dict[str, tuple] = {}
        self.online_window: dict[str, tuple | None] = {}
        for code, county, kind, active, deactivated in db.execute(
                "SELECT code, county_code, kind, active, deactivated_at FROM windows"):
            entry = (code, county, kind, active, deactivated)
            self.windows[code] = entry
            self.windows.setdefault(code.upper(), entry)
            if kind == "online" and active:
                # A county with two online channels has no single one to derive a rating's window from.
                self.online_window[county] = None if county in self.online_window else entry
        self.counties = {r[0] for r in db.execute("SELECT code FROM counties")}
        self.items: dict[str, str] = {}
        for code, name, impl in db.execute("SELECT code, name, impl_code FROM items"):
            self.items[code] = code
            self.items.setdefault(name, code)
            self.items.setdefault(code.upper(), code)
            if impl:  # the national implementation code (实施编码) is the item too
                self.items.setdefault(impl, code)
                self.items.setdefault(impl.upper(), code)
        self.channels = dict(self.profile.channels)
        self.day_info: dict[str, tuple] = {}
        self.version_modes: dict[str, dict[str, tuple]] = {}
        self.levels = dict(_LEVEL_NAMES)
        self.score_values = {str(s): s for s in range(1, 6)} | {f"{s}.0": s for s in range(1, 6)} | \
            {name: i + 1 for i, name in enumerate(LEVELS)}
        self._load_indicators()
        self.bad_levels = self.ctx.config.bad_levels
        self.token_cache: dict[tuple[str, str], int] = {}
        self.phone_cache: dict[str, tuple[str, str]] = {}
        self.contact_cache: dict[str, int] = {}
        self._load_names()

    def _load_indicators(self) -> None:
        """Every indicator any version defines (a code has one meaning across versions), each version's
        scopes, and the profile's own indicator columns resolved against them."""
        known = registry(self.db)
        self.ind_order = [r["code"] for r in known]
        self.ind_name = {r["code"]: r["name"] for r in known}
        self.indicator_alias = indicator_aliases(known)
        self.version_scope: dict[str, dict[str, str]] = {}
        for version, code, scope in self.db.execute("SELECT version, code, scope FROM indicator_defs"):
            self.version_scope.setdefault(version, {})[code] = scope
        self.ind_versions = {code: sorted(v for v, s in self.version_scope.items() if code in s) for code in self.ind_order}
        self.ind_columns = dict(self.indicator_alias)
        for key, ref in self.profile.indicator_columns.items():
            code = self.indicator_alias.get(normalize_header(ref))
            if code is None:
                raise InvalidInput(f"profile {self.profile.name}: column {key!r} maps to unknown field or indicator"
                                   f" {ref!r}", f"fields are {', '.join(FIELDS)}; indicators are those of"
                                   " `haocha indicators show`")
            self.ind_columns[key] = code
        for key in self.profile.columns:
            self.ind_columns.pop(key, None)  # the profile's own mapping of a header wins

    def _target(self, name: str) -> str | None:
        """The field or indicator code a header (or JSON key) gives; None for one ignored or unknown."""
        key = normalize_header(name)
        if key in self.profile.columns:
            return self.profile.columns[key] or None
        return self.ind_columns.get(key)

    def _load_names(self) -> None:
        """What the name columns (事项名称, 窗口名称, 区县局, 所属市) are checked against: dicts by normalised
        name, built once; each distinct cell of a file is then resolved once (the named_* memos)."""
        db = self.db
        self.item_names: dict[str, str] = dict(db.execute("SELECT code, name FROM items"))
        self.item_by_key = {normalize_label(name): code for code, name in self.item_names.items()}
        self.item_by_key.update({normalize_label(code): code for code in self.item_names})
        self.window_names: dict[str, str] = dict(db.execute("SELECT code, name FROM windows"))
        self.windows_by_key: dict[str, set[str]] = {}
        for code, name in self.window_names.items():
            for key in (normalize_label(name), normalize_label(code)):
                self.windows_by_key.setdefault(key, set()).add(code)
        self.county_names: dict[str, str] = dict(db.execute("SELECT code, name FROM counties"))
        self.county_by_key = {normalize_label(name): code for code, name in self.county_names.items()}
        self.county_by_key.update({code: code for code in self.county_names})
        # A short name (李沧 for 李沧区, 胶州 for 胶州市) matches when no other county has it.
        shorts: dict[str, list[str]] = {}
        for code, name in self.county_names.items():
            key = normalize_label(name)
            if len(key) > 2 and key[-1] in "区县市旗":
                shorts.setdefault(key[:-1], []).append(code)
        for short, codes in shorts.items():
            if len(codes) == 1:
                self.county_by_key.setdefault(short, codes[0])
        city_code = get_meta(db, "city_code") or str(self.ctx.config["city_code"])
        self.city_name = get_meta(db, "city_name") or str(self.ctx.config["city_name"])
        city_key = normalize_label(self.city_name)
        short_city = [city_key[:-1]] if len(city_key) > 2 and city_key[-1] == "市" else []
        # 青岛市烟草专卖局李沧分局, 青岛市李沧区, 青岛李沧: the city (or its bureau) before a county's name
        self.city_prefixes = [f"{city_key}烟草专卖局", f"{city_key}烟草局", city_key, *short_city]
        self.city_keys = {city_code, city_key, *short_city}
        self.named_items: dict[str, str | None] = {}
        self.named_windows: dict[str, frozenset[str] | None] = {}
        self.named_counties: dict[str, str | None] = {}
        self.named_cities: dict[str, bool | None] = {}

    def _day(self, day: str) -> tuple:
        """(version, {mode: (W, weights, plain index per level)}) of the indicator version in force."""
        version = version_on(self.db, day)
        modes = self.version_modes.get(version)
        if modes is None:
            modes = {}
            for mode, ws in weights(self.db, version).items():
                total = math.fsum(ws.values())
                # Weights are normalised to 1; the float residue is noise, not a weight.
                if abs(total - 1.0) < 1e-9:
                    total = 1.0
                modes[mode] = (total, ws, tuple(total * T[s] for s in range(6)))
            self.version_modes[version] = modes
        info = (version, modes)
        self.day_info[day] = info
        return info

    def _channel(self, text: str) -> tuple[str, str | None]:
        key = normalize_label(text)
        found = self.channels.get(key)
        if found is None:
            if not key:
                raise _Reject("channel_missing", "the channel (评价渠道) is empty")
            raise _Reject("channel_unknown", f"channel {text.strip()!r} is neither a national channel nor a "
                                             f"label of profile {self.profile.name}")
        self.channels[text] = found
        return found

    def _window(self, text: str, county: str, channel: str, cmode: str | None) -> tuple:
        code = text.strip()
        if code:
            found = self.windows.get(code) or self.windows.get(code.upper())
            if found is None:
                raise _Reject("window_unknown", f"window {code} is not in the catalogue (a window of another city?)")
            return found
        if self.profile.window_from_county and county.strip():
            county_code = county.strip()
            if len(county_code) == 12 and county_code.endswith("000000"):
                county_code = county_code[:6]
            if county_code not in self.counties:
                raise _Reject("window_unknown", f"county {county_code} is not in the catalogue (another city?)")
            if cmode != "online":
                raise _Reject("window_missing", f"no window is given, and channel {channel} is not an online "
                                                f"channel whose window could be the county's online channel")
            found = self.online_window.get(county_code)
            if found is None:
                raise _Reject("window_missing", f"no window is given, and county {county_code} has not exactly one "
                                                "active online channel")
            return found
        raise _Reject("window_missing", "the window code (窗口编码) is empty")

    def _named_item(self, text: str) -> str | None:
        """The item an item-name cell names: its code, or '' when no item has that name (or code)."""
        key = normalize_label(text)
        found = self.item_by_key.get(key, "") if key else None
        return _remember(self.named_items, text, found)

    def _named_window(self, text: str) -> frozenset[str] | None:
        """The windows a window-name cell names (names need not be unique), empty when none has it."""
        key = normalize_label(text)
        found = frozenset(self.windows_by_key.get(key, ())) if key else None
        return _remember(self.named_windows, text, found)

    def _named_county(self, text: str) -> str | None:
        """The county a county cell names: by code (a 9- or 12-digit division code by its first six digits),
        name, short name (李沧), with its bureau's suffix (李沧区局, 李沧区烟草专卖局) or the city before it
        (青岛市李沧区); '' when it names none."""
        found = self.named_counties.get(text, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        key = normalize_label(text)
        if not key:
            return _remember(self.named_counties, text, None)
        if key.isdigit() and len(key) in (9, 12):
            key = key[:6]
        found = ""
        for form in self._place_forms(key):
            found = self.county_by_key.get(form, "")
            if found:
                break
        return _remember(self.named_counties, text, found)

    def _named_city(self, text: str) -> bool | None:
        """Whether a city cell (所属市) names the catalogue's city: its code, name or short name (青岛)."""
        key = normalize_label(text)
        if not key:
            return _remember(self.named_cities, text, None)
        if key.isdigit() and len(key) in (9, 12):
            key = key[:6]
        return _remember(self.named_cities, text, any(form in self.city_keys for form in self._place_forms(key)))

    def _place_forms(self, key: str) -> list[str]:
        """A place cell as written, without its bureau's suffix (局, 烟草专卖局), and without the city before it."""
        forms = [key]
        for suffix in _AGENCY_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                forms.append(key[: -len(suffix)])
                break
        for prefix in self.city_prefixes:
            forms += [f[len(prefix):] for f in forms if f.startswith(prefix) and len(f) > len(prefix)]
        return forms

    def _check_county(self, wcode: str, wcounty: str, county: str, cname: str) -> None:
        """The county code (行政区划代码) and county name (区县局) cells, when given, must be the window's county."""
        for text in (county, cname):
            if text:
                named = self._named_county(text)
                if named is not None and named != wcounty:
                    raise _Reject("county_mismatch", f"窗口编码 {wcode} is in {self.county_names.get(wcounty, wcounty)}"
                                                     f" ({wcounty}), not {text.strip()}")
