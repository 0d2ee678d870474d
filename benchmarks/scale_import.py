"""Benchmark of the streaming SIS import: prints its figures in one run (nothing here is asserted in tests).

A synthetic SIS export is written once: ``students.csv`` (N students in the embedded demo config's
schools) and ``attendance.csv`` (one row per student per school day of the 2025-26 school year,
columns ``Student Number;Att Date;Att Code`` with US dates and one-letter codes, recoded by the map,
as the example export ``examples/sis_csv`` has them). Then, each in a fresh process so peak memory is
its own (``os.wait4``):

1. ``partner-analysis import`` (library call ``import_source``) of the export: read, map, recode,
   cast, check every value, key and reference, write the partitioned parquet DATA_DIR;
2. DuckDB ``CREATE TABLE t AS SELECT * FROM read_csv(attendance.csv)`` of the same attendance file
   (DuckDB's parser, its type detection, all threads), which only reads.

Printed: import time / DuckDB read time (target <= 3) and the import's peak RSS against the file size,
at two file sizes (the second about 4x the first) to show that memory does not follow the file. The
machine is shared, so each child runs ``--repeat`` times (import and DuckDB alternating) and the
fastest wall time of each is compared; the CPU seconds of each (all threads, the timed call only)
are printed beside it, as a figure the other processes on the machine disturb less.

    python benchmarks/scale_import.py                      # 20,000 and 80,000 students (~0.11 and ~0.45 GB)
    python benchmarks/scale_import.py --students 2000      # smoke run
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from figures import figure  # benchmarks/ is on sys.path when the script runs

MAP = """tables:
  - table: students
    file: students.csv
    columns: {student_id: Student Number, school_id: School Code, grade_level: Grade}
  - table: attendance_daily
    file: attendance.csv
    delimiter: ";"
    date_format: "%m/%d/%Y"
    columns: {student_id: Student Number, date: Att Date, status: Att Code}
    recode:
      status: {P: present, A: unexcused, E: excused, T: tardy}
"""


def school_days(start: str = "2025-08-18", end: str = "2026-06-05") -> pd.DatetimeIndex:
    from partner_analysis.config import load_config
    terms = [t for t in load_config().ordered_terms if t.id.startswith("2025-26")]
    days = pd.bdate_range(start, end)
    inside = np.zeros(len(days), bool)
    for t in terms:
        inside |= (days >= pd.Timestamp(t.start)) & (days <= pd.Timestamp(t.end))
    return days[inside]


def write_export(folder: Path, students: int, seed: int = 7) -> Path:
    """students.csv + attendance.csv (written in blocks of students, so the generator stays small)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.char.zfill(np.arange(1, students + 1).astype(str), 7)
    schools = np.array(["0101", "0102", "0103", "0201", "0202"])
    pd.DataFrame({"Student Number": ids, "School Code": schools[rng.integers(0, 5, students)],
                  "Grade": rng.integers(6, 13, students)}).to_csv(folder / "students.csv", index=False)
    days = school_days().strftime("%m/%d/%Y").to_numpy().astype(str)
    codes = np.array(["P", "A", "E", "T"])
    opts = pacsv.WriteOptions(delimiter=";", quoting_style="none")
    with pacsv.CSVWriter(folder / "attendance.csv", pa.schema([("Student Number", pa.string()),
                                                                ("Att Date", pa.string()),
                                                                ("Att Code", pa.string())]),
                         write_options=opts) as w:
        for lo in range(0, students, 5000):
            block = ids[lo:lo + 5000]
            sid = np.repeat(block, len(days))
            date = np.tile(days, len(block))
            code = codes[rng.choice(4, size=len(sid), p=[0.92, 0.04, 0.02, 0.02])]
            w.write_table(pa.table({"Student Number": sid, "Att Date": date, "Att Code": code}))
    (folder / "map.yml").write_text(MAP, encoding="utf-8")
    return folder / "attendance.csv"


def _child(code: str) -> tuple[float, float, float]:
    """Run ``code`` in a fresh interpreter; (wall seconds it printed, its peak RSS in GB, CPU seconds it printed)."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {code}")
    wall, cpu = map(float, out.strip().splitlines()[-1].split())
    return wall, usage.ru_maxrss / 2**20, cpu  # ru_maxrss is in KiB on Linux


def measure(folder: Path, repeat: int = 2) -> dict:
    out = folder / "dd"
    imp = ("import time; from partner_analysis.data.load import import_source; "
           "from partner_analysis.data.stream import StreamOptions; t = time.perf_counter(); c = time.process_time(); "
           f"import_source({str(folder)!r}, map_path={str(folder / 'map.yml')!r}, out={str(out)!r}, "
           "stream=StreamOptions(above=0)); "
           "print(time.perf_counter() - t, time.process_time() - c)")
    duck = ("import time, duckdb; con = duckdb.connect(); t = time.perf_counter(); c = time.process_time(); "
            f"con.execute(\"CREATE TABLE t AS SELECT * FROM read_csv('{folder / 'attendance.csv'}')\"); "
            "print(time.perf_counter() - t, time.process_time() - c)")
    imports, ducks = [], []
    for _ in range(max(repeat, 1)):
        shutil.rmtree(out, ignore_errors=True)
        imports.append(_child(imp))
        ducks.append(_child(duck))
    size = (folder / "attendance.csv").stat().st_size / 2**30
    rows = sum(1 for _ in open(folder / "attendance.csv", "rb")) - 1
    return dict(size=size, rows=rows, t_imp=min(r[0] for r in imports), rss_imp=max(r[1] for r in imports),
                cpu_imp=min(r[2] for r in imports), t_duck=min(r[0] for r in ducks),
                rss_duck=max(r[1] for r in ducks), cpu_duck=min(r[2] for r in ducks),
                all_imp=[r[0] for r in imports], all_duck=[r[0] for r in ducks],
                parts=len(list((out / "attendance_daily.parquet").glob("*.parquet"))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=20_000, help="students of the smaller export")
    ap.add_argument("--factor", type=int, default=4, help="the larger export has this many times more")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each child; the fastest counts")
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared)")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = []
        for n in (args.students, args.students * args.factor):
            folder = Path(tmp) / f"sis_{n}"
            t = time.perf_counter()
            write_export(folder, n)
            r = measure(folder, args.repeat)
            results.append(r)
            runs = lambda ts: ", ".join(f"{x:.2f}" for x in ts)  # noqa: E731
            print(f"  {n:,} students: attendance.csv {r['size']:.3f} GB, {r['rows']:,} rows "
                  f"(written in {time.perf_counter() - t:.0f} s); import {r['t_imp']:.2f} s "
                  f"(runs {runs(r['all_imp'])}; CPU {r['cpu_imp']:.1f} s), peak RSS {r['rss_imp']:.2f} GB, {r['parts']} part(s); "
                  f"DuckDB read_csv {r['t_duck']:.2f} s (runs {runs(r['all_duck'])}; CPU {r['cpu_duck']:.1f} s), "
                  f"peak RSS {r['rss_duck']:.2f} GB")
        small, big = results
        print(f"import + validation / DuckDB read_csv: {big['t_imp'] / big['t_duck']:.2f} (target <= 3; "
              f"{small['t_imp'] / small['t_duck']:.2f} at the smaller file)")
        figure(f"daily-attendance CSV import + validation / DuckDB read_csv, {big['size']:.2f} GB",
               big["t_imp"] / big["t_duck"], 3.0)
        print(f"the same in CPU seconds (all threads of each process): "
              f"{big['cpu_imp'] / big['cpu_duck']:.2f} ({small['cpu_imp'] / small['cpu_duck']:.2f} at the smaller "
              "file)")
        print(f"peak RSS / file size: {big['rss_imp'] / big['size']:.2f} (target: not growing with the file; "
              f"{small['rss_imp'] / small['size']:.2f} at the {big['size'] / small['size']:.1f}x smaller file)")
        print(f"peak RSS growth / file growth: {(big['rss_imp'] - small['rss_imp']) / (big['size'] - small['size']):.3f} "
              "GB per GB (target ~0: the file is not held in memory)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
