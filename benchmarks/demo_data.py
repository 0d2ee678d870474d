"""Time and peak memory of the demo district generator.

Usage::

    .venv/bin/python benchmarks/demo_data.py [--students 100000] [--out /tmp/demo_bench] [--records]

Prints wall time, peak resident memory of this process, rows written and daily attendance rows per
second, plus the ratio of the time per student at this size to the time per student at 2,400 students
(measured in the same run), so the figure is comparable across machines. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 ** 2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _run(students: int, out: Path, records: bool, seed: int) -> tuple[float, dict]:
    from partner_analysis.data.synth import make_demo_district
    t0 = time.perf_counter()
    make_demo_district(out, students=students, seed=seed, with_records=records)
    elapsed = time.perf_counter() - t0
    rows = {k: v["rows"] for k, v in json.loads((out / "dataset.json").read_text())["tables"].items()}
    return elapsed, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20251)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one, removed)")
    ap.add_argument("--records", action="store_true", help="also write the demo records store")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pa-demo-bench-"))
    out = args.out or tmp / "district"
    try:
        small, _ = _run(2400, tmp / "small", args.records, args.seed)
        elapsed, rows = _run(args.students, out, args.records, args.seed)
        peak = _peak_rss_mb()
        size_mb = sum(f.stat().st_size for f in out.glob("*.parquet")) / 1024 ** 2
        print(f"students            {args.students:,}")
        print(f"wall time           {elapsed:.1f} s   (2,400 students: {small:.2f} s)")
        print(f"peak RSS            {peak:,.0f} MB")
        print(f"parquet on disk     {size_mb:,.0f} MB")
        for name, n in rows.items():
            print(f"  {name:<18}{n:>14,}")
        print(f"attendance rows/s   {rows['attendance_daily'] / elapsed:,.0f}")
        print(f"time per student ratio ({args.students:,} vs 2,400): "
              f"{(elapsed / args.students) / (small / 2400):.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
