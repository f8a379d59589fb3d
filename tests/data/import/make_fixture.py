"""Make sample_libreoffice.xlsx: tests/import_support.SAMPLE written as a UTF-8 CSV and saved as .xlsx by
LibreOffice Calc, the way a clerk opens an export and saves it again.

    python tests/data/import/make_fixture.py        # needs soffice (apt-get install libreoffice-calc-nogui)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from import_support import LIBREOFFICE_XLSX, SAMPLE, write_csv  # noqa: E402


def make(target: Path = LIBREOFFICE_XLSX) -> Path:
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("soffice is not installed: apt-get install -y libreoffice-calc-nogui")
    with tempfile.TemporaryDirectory() as tmp:
        source = write_csv(Path(tmp) / "sample_libreoffice.csv", SAMPLE)
        # CSV filter: comma, double quote, UTF-8 (76), data from line 1; Calc's own type detection decides
        # which cells become dates and numbers, as it does for a clerk.
        subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp}/profile", "--convert-to",
                        "xlsx", "--infilter=CSV:44,34,76,1", "--outdir", tmp, str(source)],
                       check=True, capture_output=True, timeout=120)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "sample_libreoffice.xlsx", target)
    return target


if __name__ == "__main__":
    print(make())
