"""`haocha demo`: the Licang (李沧区) pilot, end to end, on embedded data."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import say


def demo_command(
    out: Path = typer.Option(Path("haocha-demo"), "--out", help="Folder for the demo's database, files and reports."),
    ratings: int = typer.Option(12000, "--ratings", min=1000, max=1_000_000, help="How many ratings to generate."),
    seed: int = typer.Option(2026, "--seed", help="Random seed: the same seed gives the same demo."),
) -> None:
    """Build the Licang pilot story: organisation, QR codes, six months of ratings imported as the
    channels send them (a file every morning, one batch with bad rows), cases worked between the imports
    and at every stage, flags, spot-checks, the risk assessment and the reports. Prints where everything is.

    The demo's database is DIR/haocha.db: explore it with `haocha --db DIR/haocha.db …`. DIR is a new or
    empty folder, or one an earlier `haocha demo` made (its marker file .haocha-demo), which is rebuilt; any
    other folder is refused and left as it is.

    Example:

        haocha demo --out haocha-demo && xdg-open haocha-demo/reports/monthly-2026-08.html
    """
    from haocha_cli.demo import DEMO_PASSWORD, NOW, run_demo

    s = run_demo(out, ratings, seed, progress=say)
    p = s["pilot"]
    lines = [
        f"database:        {s['database']}   (try: haocha --db {s['database']} index --by county --period 2026-08)",
        f"the demo's day:  {NOW}; to see deadlines and overdue cases as of then: export HAOCHA_NOW='{NOW}'",
        f"what waits:      haocha --db {s['database']} status   (open and overdue cases, a to-do list)",
        f"QR codes:        {s['qr_codes']} windows in {out / 'qr'}; printable sheet {s['qr_sheet']}",
        f"imports:         {s['batches']} batches in {out / 'batches'}: {s['ratings']} ratings accepted, "
        f"{s['rejected_rows']} rows rejected (haocha batches list)",
        f"closed loop:     {sum(s['cases'].values())} cases: "
        + ", ".join(f"{state} {n}" for state, n in s["cases"].items()),
        f"oversight:       {s['flags']} suspicious-rating flags; spot-checks "
        + ", ".join(f"{k} {v}" for k, v in s["spot_checks"].items()),
        "risk levels:     " + ", ".join(f"{k} {v}" for k, v in s["risk_levels"].items()),
        f"Licang pilot:    index {p['index_before']:.1f} → {p['index_after']:.1f}; against the other counties "
        f"{p['did_index']:+.1f} points (p = {p['did_index_p']:.2g}), 好评率 {p['did_good_rate'] * 100:+.1f} pp "
        f"(p = {p['did_good_rate_p']:.2g})",
        f"workbench:       haocha --db {s['database']} serve, then http://127.0.0.1:8000/staff/ as "
        f"{', '.join(s['accounts'][:3])} … {s['accounts'][-1]} (password {DEMO_PASSWORD}; demo accounts only)",
        f"monthly report:  {s['monthly_report']}",
        "all reports:     " + "  ".join(s["reports"]),
    ]
    typer.echo("\n".join(lines))
