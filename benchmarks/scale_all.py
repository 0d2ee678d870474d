"""``make bench-scale``: every figure of issue #15 in one run, then the figures together.

Runs, one after the other, each in its own process (so no run shares memory, caches or a warm
interpreter with another):

1. ``benchmarks/scale_panel.py``: the panel and comparisons at 100,000 and 1,000,000 students
   (time ratio, peak RSS), the attendance aggregation and the full run against DuckDB, and the
   Dask LocalCluster result against the in-memory one;
2. ``benchmarks/scale_import.py``: the streaming CSV import against DuckDB's ``read_csv``;
3. ``benchmarks/scale_batch.py --part batch40``: per-report time of a 40-report batch against the
   kernel floor, and the 2-worker speed-up.

Each script prints its own lines and, for each figure of the issue, one line starting ``FIGURE``;
those lines are printed again at the end, with the machine's load average at the start and the end
(the ratios compare two measurements of the same run, but a busy machine slows multi-threaded
DuckDB more than single-threaded code). Nothing is asserted; the exit status is not 0 only when a
script failed.

``--with-2000`` adds ``scale_batch.py --part dask2000``: 2,000 partners through the Dask executor on a
2-worker LocalCluster (about 75 minutes on 2 cores; it prints no figure of the table).

    python benchmarks/scale_all.py [--data-100k DIR] [--data-1m DIR] [--with-2000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, args: list[str], figures: list[str]) -> int:
    print(f"== {script} {' '.join(args)}", flush=True)
    t = time.perf_counter()
    with subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("FIGURE "):
                figures.append(line.rstrip("\n"))
    print(f"== {script}: exit {proc.returncode} after {time.perf_counter() - t:.0f} s", flush=True)
    return proc.returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-100k", help="a 100,000-student DATA_DIR to reuse (scale_panel.py)")
    ap.add_argument("--data-1m", help="a 1,000,000-student DATA_DIR to reuse (scale_panel.py)")
    ap.add_argument("--with-2000", action="store_true", help="also the 2,000-partner Dask batch (~75 minutes)")
    args = ap.parse_args(argv)
    panel = [a for flag, value in (("--data-100k", args.data_100k), ("--data-1m", args.data_1m)) if value
             for a in (flag, value)]
    steps = [("scale_panel.py", panel), ("scale_import.py", []), ("scale_batch.py", ["--part", "batch40"])]
    if args.with_2000:
        steps.append(("scale_batch.py", ["--part", "dask2000"]))
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    figures: list[str] = []
    failed = [script for script, extra in steps if run(script, extra, figures) != 0]
    load1 = os.getloadavg()
    print(f"\n== the figures of issue #15 ({(time.perf_counter() - t0) / 60:.0f} minutes; load average "
          f"{load0[0]:.1f} at the start, {load1[0]:.1f} at the end, on {os.cpu_count()} cores)")
    for line in figures:
        print(line)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
