"""Benchmark: how long the outcome explorer takes to answer a widget change, on a large district.

Run: ``.venv/bin/python benchmarks/explorer.py`` (the 100,000-student district is generated once under
``<tmp>/pa_bench/`` and reused, as ``kpi_panel.py`` does).

What is measured, in one run:

1. **open**: ``OutcomeExplorer.from_path`` — the KPI panel, the participation matrix and the precomputed
   comparison tables of every partner, programme and KPI for the terms of the window shown first.
2. **update**: a seeded sequence of widget changes as an analyst makes them (KPI, partner, programme, the term
   window, school, subgroup, back to none), each timed from setting the widget's value to the output holding the
   new charts and table (the explorer redraws on change). A school or subgroup is computed for the chosen
   partner the first time and kept, so those changes are the slow tail.

Printed: the median and 95th percentile of the update times (target: median <= 150 ms at 100,000 students),
the slowest kind of change, and the load average (the machine may be shared). Nothing is asserted.
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
          f"{len(explorer.terms.value)} terms precomputed)")
    explorer.render()

    rng = np.random.default_rng(args.seed)
    times: dict[str, list[float]] = {}
    for kind, widget, value in _changes(explorer, rng, args.changes):
        if kind == "program":
            options = [v for _, v in widget.options]
            value = options[int(rng.integers(len(options)))]
        if widget.value == value:
            continue
        t = time.perf_counter()
        widget.value = value
        elapsed = time.perf_counter() - t
        if not explorer.output.outputs and not explorer.status.value:
            raise SystemExit(f"nothing drawn after changing {kind}")
        times.setdefault(kind, []).append(elapsed)
    every = sorted(x for v in times.values() for x in v)
    median = statistics.median(every)
    p95 = every[min(len(every) - 1, int(round(0.95 * (len(every) - 1))))]
    print(f"updates: {len(every)}; median {1000 * median:.0f} ms (target <= 150); p95 {1000 * p95:.0f} ms")
    for kind, values in sorted(times.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {kind:9s} n={len(values):3d} median {1000 * statistics.median(values):6.0f} ms  "
              f"max {1000 * max(values):6.0f} ms")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
