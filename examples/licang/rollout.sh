#!/usr/bin/env bash
# The Licang (李沧区) pilot roll-out as a script of haocha commands: what the city bureau's IT staff run.
# Usage: examples/licang/rollout.sh [WORKDIR]    (needs `haocha` on PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-licang-pilot}"
mkdir -p "$work"
cp "$here/haocha.toml" "$work/haocha.toml"
export HAOCHA_DB="$work/haocha.db"

# 1. The database, with the Qingdao organisation and indicator system V1.0 (a second run changes nothing).
haocha init
haocha org show --part windows --format csv > "$work/windows.csv"

# 2. QR codes for Licang's windows, and the sheet to print and stick on the counters.
haocha qr generate --county 370213 --out "$work/qr"
haocha qr sheet --county 370213 --out "$work/qr/sheet.html"

# 3. A batch from the rating channels, as the hall exports it (Chinese headers, GB18030).
#    Bad rows are kept with their reasons; importing the same file again adds nothing.
haocha import "$here/sample-batch.csv"
haocha import "$here/sample-batch.csv"
haocha batches list
haocha batches rejects 1 --out "$work/rejects-batch-1.csv"

# 4. Licang's cases: the county works its list.
haocha --operator county:370213 cases list
haocha --operator county:370213 cases export --format xlsx -o "$work/licang-cases.xlsx"

# 5. The figures, and the reports for the city bureau.
haocha index --by county --period 2026-08
haocha rank --by window --county 370213 --period 2026-08
haocha compare    # the pilot of haocha.toml ([pilot]): before and after, against the other counties
haocha report daily --date 2026-08-31 --out "$work/reports"
haocha report county --county 370213 --period 2026-08 --out "$work/reports"
haocha audit verify
echo "done: $work"
