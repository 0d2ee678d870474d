"""Benchmark: how long the outcome explorer takes to answer a widget change, on a large district.

Run: ``.venv/bin/python benchmarks/explorer.py`` (the 100,000-student district is generated once under
``<tmp>/pa_bench/`` and reused, as ``kpi_panel.py`` does).

What is measured, in one run:

1. **open**: ``OutcomeExplorer.from_path`` — the KPI panel, the participation matrix and the precomputed
   comparison tables of every partner, programme and KPI for the terms of the window shown first; then **ready**:
   the tables of the other terms offered, computed in the background (the benchmark waits for them).
2. **update**: a seeded sequence of widget changes as an analyst makes them (KPI, partner, programme, the term
   window, school, subgroup, back to none), each timed from setting the widget's value to the output holding the
   new charts and table (the explorer redraws on change). A school or subgroup is computed for the chosen
   partner the first time and kept, so those changes (and partner or term changes while a school or subgroup
   is chosen) are the slow tail; they are counted apart as "computed".

Printed: the median and 95th percentile of the update times (target: median <= 150 ms at 100,000 students),
each kind of change, the split of an update into its stages (rows taken from the precomputed tables, charts
drawn, table formatted, anything else), how many charts were drawn and how many were reused because the view
had been shown before, the CPU time of this process per update (on a shared machine the wall time is longer by the
share other processes take), and the load average. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench_district import district_for

import numpy as np


def _changes(explorer, rng: np.random.Generator, n: int) -> list[tuple[str, object, object]]:
    """(kind, widget, value) in an analyst's order: mostly KPI / partner / programme / terms, now and then more."""
    kpis = [v for _, v in explorer.kpi.options]
    partners = [v for _, v in explorer.partner.options]
    terms = list(explorer.terms.options)
    schools = [v for _, v in explorer.school.options][1:]
    subgroups = [v for _, v in explorer.subgroup.options][1:]
    out = []
    for _ in range(n):
        kind = rng.choice(["kpi", "kpi", "kpi", "partner", "partner", "program", "terms", "school", "subgroup"])
        if kind == "kpi":
            out.append((kind, explorer.kpi, kpis[rng.integers(len(kpis))]))
        elif kind == "partner":
            out.append((kind, explorer.partner, partners[rng.integers(len(partners))]))
        elif kind == "program":
            out.append((kind, explorer.program, None))   # chosen among the current partner's programmes
        elif kind == "terms":
            end = int(rng.integers(1, len(terms) + 1))
            out.append((kind, explorer.terms, tuple(terms[max(0, end - 4):end])))
        elif kind == "school":
            out.append((kind, explorer.school, schools[rng.integers(len(schools))] if rng.random() < 0.5
                        else "(all)"))
        else:
            out.append((kind, explorer.subgroup, subgroups[rng.integers(len(subgroups))] if rng.random() < 0.5
                        else "(all)"))
    return out


def _time_stages(explorer) -> dict:
    """Wrap the explorer's stages (on this instance only) to add up their time per update."""
    stages: dict = {"update": [], "rows": [], "charts": [], "table": [], "drawn": 0, "reused": 0}

    def timed(name, method):
        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                stages["_" + name] = stages.get("_" + name, 0.0) + time.perf_counter() - t
        return run

    explorer.comparison_table = timed("rows", explorer.comparison_table)
    explorer.figures = timed("charts", explorer.figures)
    explorer._table_html = timed("table", explorer._table_html)
    explorer.figures()   # make the charts
    for chart in explorer._charts:
        def counted(*args, _draw=chart._draw, **kwargs):
            stages["drawn"] += 1
            return _draw(*args, **kwargs)
        chart._draw = counted
        chart.kept = chart._kept

        def kept(key, draw, _chart=chart):
            stages["reused"] += key in _chart._drawn
            return _chart.kept(key, draw)
        chart._kept = kept
    return stages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20251)
    ap.add_argument("--term", default="2025-26-Q2")
    ap.add_argument("--changes", type=int, default=120)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="reuse or create the district here (default: <tmp>/pa_bench/district_<students>_<seed>)")
    args = ap.parse_args(argv)
    data_dir = district_for(args.students, args.seed, args.data_dir)

    import matplotlib
    matplotlib.use("Agg")
    import datetime as dt

    from partner_analysis.kpi.explore import OutcomeExplorer
    t = time.perf_counter()
    explorer = OutcomeExplorer.from_path(data_dir, term=args.term, today=dt.date(2026, 6, 30))
    print(f"open: {time.perf_counter() - t:.1f} s ({args.students:,} students, "
          f"{len(explorer.terms.value)} terms of the window precomputed)")
    explorer.wait_ready()
    print(f"ready: {time.perf_counter() - t:.1f} s (all {len(explorer.terms.options)} terms offered precomputed in "
          "the background)")
    explorer.render()
    stages = _time_stages(explorer)

    rng = np.random.default_rng(args.seed)
    times: dict[str, list[float]] = {}
    computed: list[float] = []      # a school or subgroup table computed for the first time
    precomputed: list[float] = []
    cpu_times: list[float] = []     # this process's CPU time per update: what a machine of its own would take
    for kind, widget, value in _changes(explorer, rng, args.changes):
        if kind == "program":
            options = [v for _, v in widget.options]
            value = options[int(rng.integers(len(options)))]
        if widget.value == value:
            continue
        tables = len(explorer._cache)
        t, cpu = time.perf_counter(), time.process_time()
        widget.value = value
        elapsed = time.perf_counter() - t
        cpu_times.append(time.process_time() - cpu)
        (computed if len(explorer._cache) > tables else precomputed).append(elapsed)
        if not explorer.output.outputs and not explorer.status.value:
            raise SystemExit(f"nothing drawn after changing {kind}")
        times.setdefault(kind, []).append(elapsed)
        stages["update"].append(elapsed)
        for name in ("rows", "charts", "table"):
            stages[name].append(stages.pop("_" + name, 0.0))
    every = sorted(x for v in times.values() for x in v)
    median = statistics.median(every)
    p95 = every[min(len(every) - 1, int(round(0.95 * (len(every) - 1))))]
    print(f"updates: {len(every)}; median {1000 * median:.0f} ms (target <= 150); p95 {1000 * p95:.0f} ms")
    cpu_sorted = sorted(cpu_times)
    print(f"  CPU time per update (this process): median {1000 * statistics.median(cpu_sorted):.0f} ms; "
          f"p95 {1000 * cpu_sorted[min(len(cpu_sorted) - 1, int(round(0.95 * (len(cpu_sorted) - 1))))]:.0f} ms "
          "(wall time above it is the share of the cores other processes took)")
    for name, values in (("from precomputed tables", precomputed), ("computing a new table", computed)):
        if values:
            print(f"  {name}: n={len(values)} median {1000 * statistics.median(values):.0f} ms")
    for kind, values in sorted(times.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {kind:9s} n={len(values):3d} median {1000 * statistics.median(values):6.0f} ms  "
              f"max {1000 * max(values):6.0f} ms")
    split = {name: statistics.median(stages[name]) for name in ("rows", "charts", "table")}
    other = statistics.median(u - r - c - t for u, r, c, t in zip(stages["update"], stages["rows"],
                                                                  stages["charts"], stages["table"]))
    print("  stages (median ms): " + ", ".join(f"{k} {1000 * v:.1f}" for k, v in split.items())
          + f", other {1000 * other:.1f}")
    print(f"  charts drawn {stages['drawn']}, reused {stages['reused']}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
