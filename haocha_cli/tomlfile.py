"""Reading the TOML files a bureau writes (configuration, organisation, priority matrix, profiles, FMEA
tables): one place for the errors a clerk sees — the line and column of a syntax error, or the encoding."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from haocha_cli.errors import HaochaError, InvalidInput


def loads_toml(text: str, label: str, error: type[HaochaError] = InvalidInput) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{label} is not valid TOML: {exc}", "fix the line and column named") from None


def read_toml(path: Path, error: type[HaochaError] = InvalidInput, label: str | None = None) -> dict[str, Any]:
    """The parsed file; ``label`` names it in errors (default: the path). The caller checks it exists; a
    folder, device or named pipe is refused here, before it is read."""
    from haocha_cli.readers import regular_file

    regular_file(path)
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{label} is not UTF-8 text", "save the file as UTF-8") from None
    return loads_toml(text, label, error)
