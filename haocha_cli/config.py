"""Configuration: documented defaults, overridden by one TOML file (``haocha.toml`` beside the database,
or ``--config``). Every effective value knows where it came from, for ``haocha config show``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haocha_cli import files
from haocha_cli.errors import ConfigError
from haocha_cli.tomlfile import read_toml

LEVELS = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"]  # level code 1 … 5

# (key, default, description). Dotted keys are TOML tables.
DEFAULTS: list[tuple[str, Any, str]] = [
    ("bureau_name", "青岛市烟草专卖局", "the city bureau's name, printed on reports and QR sheets"),
    ("city_code", "370200", "administrative division code of the city"),
    ("city_name", "青岛市", "the city's name"),
    ("good_levels", ["非常满意", "满意"], "levels counted as 好评 (some localities add 基本满意)"),
    ("bad_levels", ["不满意", "非常不满意"], "levels counted as 差评; each opens a rectification (整改) case"),
    ("deadlines.revisit_days", 1, "working days for the return visit (回访) of a real-name bad review"),
    ("deadlines.rectify_days", 15, "working days to rectify (整改) a bad review"),
    ("deadlines.due_soon_days", 3, "working days before a deadline at which a case counts as due soon"),
    ("qr.url_template", "http://127.0.0.1:8000/r?w={window}&t={token}",
     "the QR payload; {window} and {token} are filled in (the public HTTPS address of `haocha serve` behind your"
     " proxy: `qr generate` and `qr sheet` refuse this default and loopback addresses)"),
    ("qr.secret_env", "HAOCHA_QR_SECRET", "environment variable holding the QR secret; else the key file"),
    ("qr.token_length", 10, "characters of the QR token (HMAC-SHA256, base32)"),
    ("sampling.very_satisfied_rate", 0.05, "share of 非常满意 ratings the city spot-checks"),
    ("sampling.closed_rate.low", 0.10, "share of closed cases spot-checked in a low-risk county"),
    ("sampling.closed_rate.medium", 0.25, "… in a medium-risk county"),
    ("sampling.closed_rate.high", 0.50, "… in a high-risk county"),
    # Suspicious-rating flags (评价信息不实): prompts to spot-check, never exclusions. docs/method.md section 7.
    ("flags.phone_per_day", 3, "ratings from one phone on one day that flag all of them (same_phone)"),
    ("flags.burst_count", 5, "ratings at one offline window within flags.burst_minutes that flag them (burst)"),
    ("flags.burst_minutes", 10, "the span of a burst, in minutes"),
    ("flags.hall_channels", ["政务大厅平板电脑", "政务大厅其他终端"],
     "channels of the hall's own devices (评价器, 平板): a rating on them outside opening hours is flagged"),
    ("flags.off_hours_grace_minutes", 15, "minutes before opening or after closing still counted as open"),
    ("flags.off_hours_non_workdays", True, "a hall-device rating on a non-working day counts as outside hours"),
    ("flags.comment_min_length", 10, "characters a normalised comment needs before its repeats are flagged"),
    ("flags.comment_repeats", 3, "the same comment this many times within flags.comment_days flags them all"),
    ("flags.comment_days", 30, "days before the scanned period searched for repeats of a comment"),
    ("flags.rating_rate_ratio", 0.5, "a window whose rating rate (主动评价率) in a month is under this share of its"
     " county's is flagged for the city (low_rating_rate); 0 = never"),
    ("flags.rating_rate_drop", 0.5, "a window whose rating rate falls under this share of its previous month's is"
     " flagged for the city (rating_rate_drop); 0 = never"),
    ("flags.rating_rate_min_services", 30, "services (办件量) a window needs in a month (and, for a drop, in the month"
     " before) before its rating rate is judged"),
    ("window_staff.min_n", 30, "ratings a member of window staff (窗口工作人员) needs in the period before `index --by"
     " staff` and `rank --by staff` show a figure (fewer: –)"),
    # FMEA (潜在失效模式与后果分析) and county risk levels (市、县两级分级管控).
    ("risk.ap_table", "", "action-priority table TOML; empty: the shipped AIAG-VDA 2019 table"),
    ("risk.register", "", "default FMEA register TOML loaded on first use; empty: the shipped one"),
    ("risk.occurrence_scale.overdue", [0.01, 0.02, 0.05, 0.08, 0.12, 0.16, 0.20, 0.30, 0.50],
     "thresholds of the overdue share of cases for Occurrence 2…10 (below the first: 1)"),
    ("risk.occurrence_scale.failed_checks", [0.01, 0.02, 0.05, 0.08, 0.12, 0.16, 0.20, 0.30, 0.50],
     "thresholds of the failed share of spot-checks for Occurrence 2…10"),
    ("risk.occurrence_scale.flags", [0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0],
     "thresholds of flags per 100 ratings for Occurrence 2…10"),
    ("risk.occurrence_scale.revisit_missed", [0.01, 0.02, 0.05, 0.08, 0.12, 0.16, 0.20, 0.30, 0.50],
     "thresholds of the share of real-name bad reviews not return-visited in time for Occurrence 2…10"),
    ("risk.high_when_h", 1, "a county is high risk when at least this many failure modes have action priority H"),
    ("risk.medium_when_m", 1, "… medium risk when at least this many have H or M (else low)"),
    ("ranking.shrink_weight", 0, "W of the shrunk ranking score; 0 = the mean N of the units rated in the period"),
    ("report.public_min_n", 30, "the public results report (`haocha report public`, 结果公开) shows a county or window"
     " with fewer ratings than this as 样本不足, none of its figures; 0 = every unit's figures"),
    # `haocha serve`, the rating page (docs/serve.md). Address limits are counted in memory by one process, the
    # phone limit in the database.
    ("serve.address_limit", 20, "submissions and follow-up look-ups one client address may make within"
     " serve.address_minutes (a hall's Wi-Fi is one address); 0 = no limit"),
    ("serve.address_minutes", 10, "the sliding window of serve.address_limit, in minutes"),
    ("serve.phone_limit", 3, "ratings one phone may submit within serve.phone_minutes; 0 = no limit"),
    ("serve.phone_minutes", 60, "the sliding window of serve.phone_limit, in minutes"),
    ("serve.comment_max_chars", 500, "the longest comment (文字评价) the rating page accepts, in characters;"
     " 0 = no limit but the request size (32 kB)"),
    ("serve.form_max_age_minutes", 120, "a rating form older than this is refused (scan again); 0 = no limit"),
    ("serve.forwarded_allow_ips", "127.0.0.1,::1",
     "reverse proxies whose X-Forwarded-For header names the client (for the rate limits); '' = none"),
    # The staff workbench (工作台) under /staff/ (docs/workbench.md, docs/security.md).
    ("serve.https", False, "the workbench is reached over HTTPS (its session cookie is then Secure) even when the"
     " reverse proxy sends no X-Forwarded-Proto"),
    ("serve.base_url", "", "the address staff open, e.g. https://haocha.example.gov.cn (notifications link to"
     " {base_url}/staff/cases/<id>); '' = no link"),
    ("serve.reports_dir", "reports", "the folder `haocha report --out` writes to for cron, relative to the database's"
     " folder: the workbench lists its reports to city staff"),
    ("serve.session_idle_minutes", 30, "a workbench session unused this long ends (log in again)"),
    ("serve.session_hours", 12, "a workbench session ends this long after its login, used or not"),
    ("serve.login_failures", 5, "wrong passwords for one account within serve.login_failure_minutes that lock it"),
    ("serve.login_failure_minutes", 15, "the span in which wrong passwords are counted, in minutes"),
    ("serve.login_lock_minutes", 15, "how long a locked account refuses every password, in minutes"),
    # Notifications (通知) through apprise (docs/notifications.md): URLs hold robot keys and passwords, so
    # they are checked with apprise's parser, shown masked and never written to the database.
    ("notify.counties", {}, "per county code, the apprise URLs told of each new bad review and, each working"
     " morning, of the county's overdue and due-soon cases: 370213 = [\"wecombot://KEY\", \"mailtos://…\"]"),
    ("notify.city", [], "the apprise URLs that get the city's (市局) morning summary per county"),
    ("notify.group_over", 10, "more new cases than this waiting for one county are sent as one message"
     " (the first few and the count): robots accept about 20 messages a minute"),
    # Files haocha writes (database, backups, exports, reports, sheets): owner-only unless a group is named.
    ("files.group", "", "an OS group that may read the files haocha writes (the database, backups, exports, reports,"
     " sheets, QR codes: mode 0640, folders it creates 0750; the key file stays 0600); '' = owner only (0600,"
     " folders 0700). The group must exist and you must be in it. docs/security.md"),
    ("pilot.county", "", "a pilot county (e.g. 370213) whose before/after comparison the monthly report shows"),
    ("pilot.before", "", "the pilot's baseline, D..D or a period such as 2026-Q1"),
    ("pilot.after", "", "the pilot's period, D..D or a period such as 2026-Q2"),
    # The targets a county report sets the closed-loop rates against (a share: 1.0 = 100%; 0 = no target).
    ("report.targets.revisit_rate", 1.0, "target of 实名差评回访率 (国办发〔2019〕51号: every real-name bad review is"
     " return-visited)"),
    ("report.targets.rectify_rate", 1.0, "target of 整改率 (51号: 实名差评回访整改率 100%)"),
    ("report.targets.on_time_rate", 1.0, "target of 按时整改率 (no official figure: the deadline"
     " deadlines.rectify_days is the bureau's own rule, so every case within it)"),
    ("report.targets.rerate_satisfaction", 0.0, "target of 复评满意率 (no official figure; 0 = none shown)"),
]
_DEFAULT_KEYS = {k for k, _, _ in DEFAULTS}
_CHANNEL_KEYS = ("notify.counties", "notify.city")  # lists of apprise URLs: secrets, never printed whole
CONFIG_FILE_NAME = "haocha.toml"


@dataclass
class Config:
    values: dict[str, Any]
    sources: dict[str, str]
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def good_levels(self) -> set[int]:
        return {LEVELS.index(name) + 1 for name in self.values["good_levels"]}

    @property
    def bad_levels(self) -> set[int]:
        return {LEVELS.index(name) + 1 for name in self.values["bad_levels"]}

    def rows(self) -> list[dict[str, Any]]:
        descriptions = {k: d for k, _, d in DEFAULTS}
        return [
            {"key": k, "value": _shown(k, self.values[k]), "source": self.sources[k], "description": descriptions[k]}
            for k, _, _ in DEFAULTS
        ]


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and not any(k == full for k in _DEFAULT_KEYS):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def default_config_path(db_path: str | Path) -> Path:
    return Path(db_path).resolve().parent / CONFIG_FILE_NAME


def load_config(path: str | Path | None = None, *, db_path: str | Path | None = None) -> Config:
    """Defaults, then the file: ``path`` if given (must exist), else haocha.toml beside the database."""
    values = {k: copy.deepcopy(v) for k, v, _ in DEFAULTS}
    sources = dict.fromkeys(values, "default")
    explicit = path is not None
    if path is None and db_path is not None:
        path = default_config_path(db_path)
    if path is None:
        return Config(values, sources)
    path = Path(path)
    if not path.exists():
        if explicit:
            raise ConfigError(f"configuration file {path} does not exist", "check the --config path")
        return Config(values, sources)
    data = read_toml(path, ConfigError)
    flat = _flatten(data)
    unknown = sorted(set(flat) - _DEFAULT_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            "`haocha config show` lists the settings haocha knows",
        )
    for key, value in flat.items():
        if key in _CHANNEL_KEYS:
            _check_channels(path, key, value)
        else:
            _check_type(path, key, value, values[key])
        values[key] = value
        sources[key] = str(path)
    for key in ("good_levels", "bad_levels"):
        bad = [name for name in values[key] if name not in LEVELS]
        if bad:
            raise ConfigError(f"{path}: {key} holds unknown level(s) {', '.join(map(str, bad))}",
                              f"levels are {' / '.join(LEVELS)}")
    if set(values["good_levels"]) & set(values["bad_levels"]):
        raise ConfigError(f"{path}: a level cannot be both good and bad", "fix good_levels or bad_levels")
    config = Config(values, sources, path)
    files.modes(config)  # an unknown files.group is refused here, before any command writes a file
    return config


def _check_type(path: Path, key: str, value: Any, default: Any) -> None:
    expected: type | tuple[type, ...] = type(default)
    if isinstance(default, float):
        expected = (int, float)
    if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, expected):
        raise ConfigError(
            f"{path}: {key} must be {type(default).__name__}, not {value!r}",
            f"the default is {default!r}",
        )
    if isinstance(default, (int, float)) and not isinstance(default, bool) and value < 0:
        raise ConfigError(f"{path}: {key} cannot be negative", f"the default is {default!r}")
    if key.startswith("report.targets.") and value > 1:
        raise ConfigError(f"{path}: {key} is a share from 0 to 1, not {value!r}", "write 1.0 for 100%, 0.95 for 95%")


def _check_channels(path: Path, key: str, value: Any) -> None:
    """``notify.city`` is a list of apprise URLs, ``notify.counties`` a table of such lists by county code.
    Only the shape is checked here, so that no command pays for loading apprise: whether each URL is one
    apprise accepts and each county exists is checked where notifications are sent
    (``notify.check_channels``). An error names the entry, never the URL: it may hold a key or a password."""
    how = "docs/notifications.md shows the URL of each channel"
    if key == "notify.city":
        lists = {key: value}
    elif isinstance(value, dict):
        lists = {f"{key}.{code}": urls for code, urls in value.items()}
    else:
        raise ConfigError(f"{path}: {key} must be a table of county codes and their URLs",
                          f'e.g. [notify.counties] then 370213 = ["wecombot://KEY"]; {how}')
    for name, urls in lists.items():
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise ConfigError(f"{path}: {name} must be a list of notification URLs",
                              f'e.g. {name.rsplit(".", 1)[-1]} = ["wecombot://KEY"]; {how}')


def _shown(key: str, value: Any) -> Any:
    """What `haocha config show` prints: notification URLs masked (apprise's privacy form)."""
    if key not in _CHANNEL_KEYS or not value:
        return value
    from haocha_cli.notify import masked_url

    if isinstance(value, dict):
        return {code: [masked_url(url) for url in urls] for code, urls in value.items()}
    return [masked_url(url) for url in value]
