"""Import profiles: how one source's files name their columns and values.

A profile is a TOML file (the shipped ones live in ``haocha_cli/profiles/``): header aliases, channel labels
mapped to a national channel (and online/offline), the level-code scale the source uses, defaults for
columns the source never sends, and how to build a rating id when the source has none. docs/import.md
describes every key.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from haocha_cli.errors import InvalidInput, NotFound
from haocha_cli.readers import regular_file
from haocha_cli.tomlfile import read_toml

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "canonical"

# The canonical fields, with the Chinese name used in messages; each is also accepted as a header as is.
FIELDS: dict[str, str] = {
    "rating_id": "评价编号",
    "rated_at": "评价时间",
    "window_code": "窗口编码",
    "channel": "评价渠道",
    "item_code": "事项编码",
    "level": "评价等级",
    "case_no": "办件编号",
    "rating_round": "评价次数",
    "comment": "评价内容",
    "rater_phone": "联系电话",
    "anonymous": "是否匿名",
    "staff_code": "工作人员",
    "qr_token": "二维码令牌",
    "problems": "差评问题",
    "scores": "指标评分",
    "county_code": "行政区划代码",
    # What a platform export says beside the codes: checked against the catalogue, never used to pick the
    # item or the window when the code is there (docs/import.md, "Code and name columns together").
    "item_name": "事项名称",
    "window_name": "窗口名称",
    "county_name": "区县局",
    "city_name": "所属市",
}

# National channel kinds (渠道, GB/T 39046 / 国办发〔2019〕51号), in their usual order.
NATIONAL_CHANNELS = ["PC端", "移动服务端", "二维码", "政务大厅平板电脑", "政务大厅其他终端", "电话", "短信"]
MODES = ("offline", "online")

# Level-code scales: code -> internal level (5 = 非常满意 … 1 = 非常不满意).
LEVEL_SCALES: dict[str, dict[int, int]] = {
    "national": {1: 5, 2: 4, 3: 3, 4: 2, 5: 1},  # GB/T 39046: 1 = 非常满意 … 5 = 非常不满意
    "platform": {1: 1, 2: 2, 3: 3, 4: 4, 5: 5},  # platform `satisfaction`: 5 = 非常满意 … 1 = 非常不满意
}
SCALE_TEXT = {
    None: "levels by name only (numeric codes refused: no scale declared)",
    "national": "national scale GB/T 39046 (1 = 非常满意 … 5 = 非常不满意), and names",
    "platform": "platform scale (5 = 非常满意 … 1 = 非常不满意), and names",
}
_SCALE_ALIASES = {"national": "national", "gb": "national", "gbt39046": "national", "gb/t39046": "national",
                  "platform": "platform"}

_SPACES = re.compile(r"\s+")
_INDICATOR_REF = re.compile(r"^[^\x00-\x1f]{1,40}$")


def normalize_header(text: str) -> str:
    """Header comparison ignores spaces, a required-mark star and ASCII case."""
    return _SPACES.sub("", str(text)).strip("*＊").lower()


def normalize_label(text: str) -> str:
    """Labels and names compare after NFKC (full-width ＡＰＰ is APP), without spaces and ASCII case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(text))).lower()


def indicator_aliases(indicators: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Headers that name an indicator: its code, its Chinese name, and the two together. ``indicators`` are
    the database's (indicators.registry: code, name, name_en)."""
    aliases: dict[str, str] = {}
    for ind in indicators:
        code, name, name_en = ind["code"], ind["name"], ind.get("name_en") or ""
        for text in (code, name, f"{code}{name}", f"{code}.{name}", f"{code}_{name}", f"{name}({code})",
                     f"{name}（{code}）", f"{code}-{name}", name_en):
            if text:
                aliases.setdefault(normalize_header(text), code)
    return aliases


def parse_scale(value: str | None, where: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    key = normalize_label(value)
    if key not in _SCALE_ALIASES:
        raise InvalidInput(f"{where}: level scale {value!r} is not known",
                           "use national (GB/T 39046: 1 = 非常满意) or platform (5 = 非常满意)")
    return _SCALE_ALIASES[key]


@dataclass
class Profile:
    name: str
    source: str
    description: str = ""
    path: Path | None = None
    level_scale: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # normalized header -> field
    channels: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # label -> (channel, mode)
    defaults: dict[str, str] = field(default_factory=dict)
    rating_id_from: list[str] = field(default_factory=list)
    rating_id_separator: str = "#"
    window_from_county: bool = False
    # normalized header -> an indicator's code or name as the profile wrote it (checked against the
    # database's indicators when a file is imported)
    indicator_columns: dict[str, str] = field(default_factory=dict)

    def field_for(self, header: str) -> str | None:
        """The field a header gives; None for a header the profile does not know or maps to "" (ignored)."""
        return self.columns.get(normalize_header(header)) or None


def _builtin_columns() -> dict[str, str]:
    return {normalize_header(f): f for f in FIELDS}


def _builtin_channels() -> dict[str, tuple[str, str | None]]:
    return {normalize_label(c): (c, None) for c in NATIONAL_CHANNELS}


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path | None = None) -> Profile:
    """A shipped profile by name (canonical, platform …) or a TOML file by path. A shipped profile is read
    once per process (the rating page imports every submission with the default one); a copy is returned,
    so that no caller can change another's."""
    name = name_or_path or DEFAULT_PROFILE
    text = str(name)
    if not (Path(text).suffix.lower() == ".toml" or "/" in text or "\\" in text):
        return copy.deepcopy(_shipped(text))
    return _load(name, seen=())


@lru_cache(maxsize=32)
def _shipped(name: str) -> Profile:
    return _load(name, seen=())


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if path.suffix.lower() == ".toml" or "/" in text or "\\" in text:
        return regular_file(path, "profile file", missing_hint="check the path, or give a shipped profile's name")
    shipped = PROFILE_DIR / f"{text}.toml"
    if not shipped.exists():
        raise NotFound(f"there is no profile named {text!r}",
                       f"shipped profiles: {', '.join(profile_names())}; or give the path of a .toml file")
    return shipped


def _load(name_or_path: str | Path, seen: tuple[Path, ...]) -> Profile:
    path = _resolve(name_or_path).resolve()
    if path in seen:
        raise InvalidInput(f"profile {path} extends itself", "remove the loop in `extends`")
    data = read_toml(path, InvalidInput, f"profile {path}")
    where = f"profile {path.name}"
    known = {"name", "description", "source", "extends", "level_scale", "columns", "channels", "defaults",
             "rating_id", "window"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)}", f"profile keys are {', '.join(sorted(known))}")
    name = str(data.get("name") or path.stem)
    extends = data.get("extends", DEFAULT_PROFILE if path.stem != DEFAULT_PROFILE else "")
    if extends:
        base = _load(extends, seen + (path,))
    else:
        base = Profile(name=name, source=name, columns=_builtin_columns(), channels=_builtin_channels())
    profile = Profile(
        name=name,
        source=str(data.get("source") or name),
        description=str(data.get("description", "")),
        path=path,
        level_scale=parse_scale(data["level_scale"], where) if "level_scale" in data else base.level_scale,
        columns=dict(base.columns),
        channels=dict(base.channels),
        defaults=dict(base.defaults),
        rating_id_from=list(base.rating_id_from),
        rating_id_separator=base.rating_id_separator,
        window_from_county=base.window_from_county,
        indicator_columns=dict(base.indicator_columns),
    )
    targets = set(FIELDS) | {""}  # "": the column is ignored (and listed)
    for header, target in _table(data, "columns", where).items():
        target = str(target)
        if target not in targets:
            # an indicator's code or name: the database knows the indicator systems, the profile does not
            if not target.strip() or not _INDICATOR_REF.match(target.strip()):
                raise InvalidInput(f"{where}: column {header!r} maps to unknown field {target!r}",
                                   f"fields are {', '.join(FIELDS)}, an indicator's code or name, "
                                   'and "" to ignore the column')
            profile.indicator_columns[normalize_header(header)] = target.strip()
            profile.columns.pop(normalize_header(header), None)
            continue
        profile.indicator_columns.pop(normalize_header(header), None)
        profile.columns[normalize_header(header)] = target
    for label, spec in _table(data, "channels", where).items():
        if isinstance(spec, str):
            spec = {"channel": spec}
        if not isinstance(spec, dict) or "channel" not in spec:
            raise InvalidInput(f"{where}: channel label {label!r} needs a channel",
                               f'e.g. "{label}" = {{ channel = "二维码", mode = "offline" }}')
        channel, mode = str(spec["channel"]), spec.get("mode")
        if channel not in NATIONAL_CHANNELS:
            raise InvalidInput(f"{where}: channel label {label!r} maps to {channel!r}, not a national channel",
                               f"national channels: {', '.join(NATIONAL_CHANNELS)}")
        if mode is not None and mode not in MODES:
            raise InvalidInput(f"{where}: channel label {label!r} has mode {mode!r}", "mode is offline or online")
        profile.channels[normalize_label(label)] = (channel, mode)
    for key, value in _table(data, "defaults", where).items():
        if key not in FIELDS:
            raise InvalidInput(f"{where}: default for unknown field {key!r}", f"fields are {', '.join(FIELDS)}")
        profile.defaults[key] = str(value)
    rating_id = _table(data, "rating_id", where)
    if rating_id:
        parts = rating_id.get("from")
        if not isinstance(parts, list) or not parts or any(p not in FIELDS for p in parts):
            raise InvalidInput(f"{where}: rating_id.from must list fields", 'e.g. from = ["case_no", "rating_round"]')
        profile.rating_id_from = [str(p) for p in parts]
        profile.rating_id_separator = str(rating_id.get("separator", "#"))
    window = _table(data, "window", where)
    if "from_county" in window:
        profile.window_from_county = bool(window["from_county"])
    return profile


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: [{key}] must be a table", f"write it as [{key}] followed by key = value lines")
    return value
