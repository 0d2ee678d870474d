"""Benchmark: the full KPI panel plus every comparison for one term, on a large demo district, against DuckDB.

Run: ``.venv/bin/python benchmarks/kpi_panel.py`` (about two minutes at the default
100,000 students, after the demo district has been generated once; it is reused).

What is measured, in one run:

1. **ours, attendance**: daily attendance aggregated to student × term
   (days enrolled, days absent) straight from ``attendance_daily.parquet``,
   as the panel does it (:mod:`partner_analysis.kpi.panel`).
2. **DuckDB, attendance**: the same aggregation in SQL over the same parquet
   file (``coalesce(fraction_absent, status rule)`` summed per student and
   term; terms by a CASE expression and by a range join, the faster counts).
3. **ours, full**: open the DATA_DIR, build every KPI for every term, and
   compare every partner and programme for one term (suppressed table).
4. **peak memory** of (3), sampled RSS above the RSS before it started,
   divided by the in-memory size of the input columns (pandas ``memory_usage
   (deep=True)`` of every table the panel reads, daily attendance included).

5. **designs** (issue #11): the same end-to-end run (open, panel, every
   partner and programme × KPI of the term) with ``design="adjusted"`` and
   ``design="matched"``, against ``design="raw"`` — what ``partner-analysis
   kpis --design ...`` costs — and the same with the robustness columns (all
   three designs fitted, as the CLI's analyst table does).

Printed: the ratios ours/DuckDB (target <= 1.5), peak memory / input size
(target <= 3) and adjusted/raw (target <= 3), matched/raw (target <= 6).
Times are the best of ``--repeat`` runs. Nothing is asserted: the machine may
be shared.
"""
from __future__ import annotations

import argparse
import gc
import threading
import time
from pathlib import Path

from bench_district import district_for

import numpy as np
import pandas as pd
import psutil

ABSENT = ("excused", "unexcused", "partial", "suspended")


class PeakRSS:
    """Sample this process's resident set size in a thread; report the peak above the starting RSS."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        gc.collect()
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def best_of(n: int, fn):
    times, result = [], None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def ours_attendance(data_dir: Path):
    from partner_analysis.data.dataset import read_dataset
    from partner_analysis.kpi import panel

    ds = read_dataset(data_dir, tables=["students"])
    index = pd.Index(ds["students"]["student_id"].astype(str))
    order = [t.id for t in sorted(ds.config.terms, key=lambda t: t.start)]
    T = len(order)
    K = len(index) * T
    enrolled, absent = np.zeros(K + 1), np.zeros(K + 1)
    panel._daily_from_parquet(data_dir / "attendance_daily.parquet", index, ds.config, order, K, T, enrolled, absent)
    return enrolled[:K], absent[:K] / panel.MICRO_DAYS  # absences are summed in micro-days


def duckdb_attendance(data_dir: Path, form: str = "case"):
    """The attendance aggregation in DuckDB SQL.

    ``form="case"`` maps dates to terms with a CASE expression (the fastest
    formulation we found); ``form="range_join"`` joins a terms table on date
    ranges (the textbook SQL). The benchmark reports the faster of the two.
    """
    import duckdb

    from partner_analysis.config import load_config

    cfg = load_config(data_dir / "district.yml")
    absent = ", ".join(f"'{s}'" for s in ABSENT)
    absent_expr = f"coalesce(a.fraction_absent, CASE WHEN a.status IN ({absent}) THEN 1.0 ELSE 0.0 END)"
    source = f"read_parquet('{data_dir / 'attendance_daily.parquet'}')"
    if form == "range_join":
        terms = ", ".join(f"('{t.id}', DATE '{t.start}', DATE '{t.end}')" for t in cfg.terms)
        sql = f"""
            WITH terms(term_id, start_d, end_d) AS (VALUES {terms})
            SELECT a.student_id, t.term_id, count(*) AS days_enrolled, sum({absent_expr}) AS days_absent
            FROM {source} a JOIN terms t ON CAST(a.date AS DATE) BETWEEN t.start_d AND t.end_d
            GROUP BY ALL
        """
    else:
        case = " ".join(f"WHEN a.date >= TIMESTAMP '{t.start}' AND a.date < TIMESTAMP '{t.end}' + INTERVAL 1 DAY "
                        f"THEN '{t.id}'" for t in cfg.terms)
        sql = f"""
            SELECT * FROM (
                SELECT a.student_id, CASE {case} END AS term_id, count(*) AS days_enrolled,
                       sum({absent_expr}) AS days_absent
                FROM {source} a GROUP BY ALL)
            WHERE term_id IS NOT NULL
        """
    con = duckdb.connect()
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def ours_full(data_dir: Path, term: str, design: str = "raw", robustness: bool = False):
    from partner_analysis.kpi.compare import compare_partners
    from partner_analysis.kpi.panel import compute_kpis, read_dataset_for_kpis

    ds = read_dataset_for_kpis(data_dir)
    arrays = compute_kpis(ds)
    table = compare_partners(ds, term=term, by_program=True, arrays=arrays, design=design, robustness=robustness)
    n_cells = sum(int(np.isfinite(v).sum()) for v in arrays.values.values())
    return table, n_cells


def input_size(data_dir: Path) -> tuple[int, dict]:
    from partner_analysis.data.dataset import read_dataset

    sizes = {}
    for name in ("students", "participation", "programs", "partners", "attendance_daily", "attendance_terms",
                 "course_grades", "engagement", "wbl_hours"):
        if (data_dir / f"{name}.parquet").exists():
            frame = read_dataset(data_dir, tables=[name])[name]
            sizes[name] = (len(frame), int(frame.memory_usage(deep=True, index=False).sum()))
            del frame
            gc.collect()
    return sum(b for _, b in sizes.values()), sizes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20251)
    ap.add_argument("--term", default="2025-26-Q2")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="reuse or create the district here (default: <tmp>/pa_bench/district_<students>_<seed>)")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs for the timings")
    args = ap.parse_args(argv)
    data_dir = district_for(args.students, args.seed, args.data_dir)
    import pyarrow.parquet as pq
    n_daily = pq.ParquetFile(data_dir / "attendance_daily.parquet").metadata.num_rows
    print(f"students: {args.students:,}; daily attendance rows: {n_daily:,}; cores: {psutil.cpu_count()}; "
          f"load average: {psutil.getloadavg()[0]:.1f}")

    # 1 + 2: like for like, the attendance aggregation
    t_ours_att, (enrolled, absent) = best_of(args.repeat, lambda: ours_attendance(data_dir))
    t_duck_join, _ = best_of(args.repeat, lambda: duckdb_attendance(data_dir, "range_join"))
    t_duck_att, duck = best_of(args.repeat, lambda: duckdb_attendance(data_dir, "case"))
    print(f"DuckDB: CASE form {t_duck_att:.2f} s, range-join form {t_duck_join:.2f} s (the faster is the reference)")
    t_duck_att = min(t_duck_att, t_duck_join)
    same = (np.isclose(enrolled.sum(), duck["days_enrolled"].sum())
            and np.isclose(absent.sum(), duck["days_absent"].sum()) and int((enrolled > 0).sum()) == len(duck))
    print(f"attendance aggregation: ours {t_ours_att:.2f} s, DuckDB {t_duck_att:.2f} s "
          f"({len(duck):,} student-terms; totals agree: {same})")

    # 3 + 4: the full panel and every comparison for one term, with peak memory
    # (modules imported first: their code is not data)
    import partner_analysis.kpi.compare  # noqa: F401
    import partner_analysis.privacy  # noqa: F401
    import partner_analysis.stats  # noqa: F401
    times = []
    peak = 0
    for _ in range(args.repeat):
        with PeakRSS() as mem:
            t = time.perf_counter()
            table, n_cells = ours_full(data_dir, args.term)
            times.append(time.perf_counter() - t)
        peak = max(peak, mem.growth)
        del table
        gc.collect()
    t_full = min(times)
    in_bytes, sizes = input_size(data_dir)
    print(f"full panel ({n_cells:,} student x term x KPI values) + all comparisons for {args.term}: {t_full:.2f} s")
    for name, (rows, b) in sizes.items():
        print(f"  input {name:<17} {rows:>12,} rows {b / 1e6:>9.1f} MB in memory")
    print()
    print(f"RATIO ours/DuckDB, attendance aggregation:        {t_ours_att / t_duck_att:.2f}  (target <= 1.5)")
    print(f"ratio ours/DuckDB, full panel + comparisons:      {t_full / t_duck_att:.2f}  (informative)")
    print(f"RATIO peak memory / input columns in memory:      {peak / in_bytes:.2f}  "
          f"({peak / 1e6:.0f} MB / {in_bytes / 1e6:.0f} MB; target <= 3)")

    # 5: designs, end to end (open + panel + every partner/programme x KPI of the term)
    design_times = {}
    for design, robust in (("adjusted", False), ("matched", False), ("adjusted", True)):
        t_d, (table, _) = best_of(args.repeat, lambda: ours_full(data_dir, args.term, design, robust))
        fitted = int(table["design_status"].astype(str).str.startswith("fitted").sum())
        design_times[(design, robust)] = t_d
        label = f"{design}{' + robustness (3 designs)' if robust else ''}"
        print(f"design {label:<36} {t_d:.2f} s ({fitted} of {len(table)} comparisons fitted)")
        del table
    print(f"RATIO adjusted / raw, end to end:                 {design_times[('adjusted', False)] / t_full:.2f}  "
          "(target <= 3)")
    print(f"RATIO matched / raw, end to end:                  {design_times[('matched', False)] / t_full:.2f}  "
          "(target <= 6)")
    print(f"ratio adjusted + robustness / raw (CLI default):  {design_times[('adjusted', True)] / t_full:.2f}  "
          "(informative)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
