"""docs/reliability.md names a test for every promise: each one it names exists, and each reliability test
file is named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_reliability_doc_names_exists():
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    named: list[tuple[str, str]] = []
    current = None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", text):
        current = path or current
        named.append((current, name))
    assert len(named) > 40
    missing = [f"{path}::{name}" for path, name in named
               if not re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.M)]
    assert missing == []
    files = {path for path, _ in named}
    for test_file in ("test_reliability_fuzz.py", "test_reliability_crash.py", "test_reliability_concurrency.py",
                      "test_privacy.py", "test_injection.py", "test_audit_trail.py"):
        defined = re.findall(r"^def (test_\w+)\(", (ROOT / "tests" / test_file).read_text(encoding="utf-8"), re.M)
        assert {(f"tests/{test_file}", name) for name in defined} <= set(named), test_file
    assert "tests/test_import_crash.py" in files
