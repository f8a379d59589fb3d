"""What Python's sqlite3 module alone costs to load a rating CSV: the floor under any import written in Python.

    python benchmarks/python_floor.py FILE.csv DB --into plain|ratings

``plain``: the CSV's rows as they are into a table of text columns, as `sqlite3 .import` loads them (csv module,
one multi-row INSERT per 1,000 rows, one transaction). ``ratings``: the same rows, unvalidated and barely
mapped, into haocha's own ratings table (its schema, its four indexes) in a fresh haocha database: what
writing a rating costs before a single cell has been checked. import_bench.py runs both as child processes
and prints their times beside haocha's and the shell's.
"""

from __future__ import annotations

import argparse
import csv
import gc
import sqlite3
import sys
from itertools import chain, islice
from pathlib import Path

ROWS_PER_STATEMENT = 1000


def load(path: Path, db: Path, into: str) -> int:
    gc.disable()  # no cycles among the rows: as the importer does
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA cache_size = -32768")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if into == "plain":
            conn.execute("CREATE TABLE ratings (" + ", ".join(f'"{h}" TEXT' for h in header) + ")")
            head = "INSERT INTO ratings VALUES "
            one = "(" + ", ".join("?" * len(header)) + ")"
            rows = reader
        else:
            # haocha's ratings table from a fresh `haocha init`, written as the importer writes it: the same
            # columns bound per row, the same statement shape, but every value taken from the cell as it is or
            # from a one-step look-up, where the importer checks and converts each cell.
            from haocha_cli.importer import _VALUE_SQL, RATING_COLUMNS

            head = f"INSERT INTO rating_rows (source, batch_id, {', '.join(RATING_COLUMNS)}) VALUES "
            one = "(" + ", ".join(["?1", "1", *[_VALUE_SQL.get(c, "?") for c in RATING_COLUMNS]]) + ")"
            conn.execute("INSERT INTO batches (id, file_name, sha256, source, profile, format, encoding, operator,"
                         " imported_at, rows_read, accepted, rejected, duplicate, ignored_columns, header)"
                         " VALUES (1, 'f', 'x', 'csv', 'p', 'csv', 'utf-8', 'city', 'now', 0, 0, 0, 0, '[]', '[]')")
            conn.execute("PRAGMA foreign_keys = OFF")
            level = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}
            rows = ((n, r[0], n, r[1], r[1][:10], r[2], r[2][:2], "offline", r[3], r[4], level[r[5]],
                     level[r[5]] * 20.0, "V1.0", "", r[12], r[6], 1, r[8], 0, 1, r[11], "", -1)
                    for n, r in enumerate(reader, 2))
        conn.execute("BEGIN")
        count = 0
        while True:
            chunk = list(islice(rows, ROWS_PER_STATEMENT))
            if not chunk:
                break
            values = list(chain.from_iterable(chunk))
            conn.execute(head + ", ".join([one] * len(chunk)), values if into == "plain" else ["csv", *values])
            count += len(chunk)
        conn.execute("COMMIT")
    conn.close()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--into", choices=["plain", "ratings"], required=True)
    args = parser.parse_args()
    print(load(args.csv, args.db, args.into))
    return 0


if __name__ == "__main__":
    sys.exit(main())
