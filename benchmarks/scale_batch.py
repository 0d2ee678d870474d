"""Benchmark of the report batch at scale: prints its figures in one run (nothing here is asserted in tests).

Parts (all by default; ``--part`` picks one):

``batch40``
    A generated district (``--students``, default 2,400) widened to 40 partners
    (:func:`partner_analysis.data.synth_partners.add_partners`). Measured: the kernel floor (start a
    fresh ``python3`` kernel, import pandas + seaborn, shut it down; median of 3, as
    ``benchmarks/report_batch.py`` measures it); the bundles alone (one pass, all partners; in a
    batch they are built while the reports run); the whole batch (``run_reports``, local process
    pool, kernels started one report ahead, the default) with 1 and with 2 workers, wall time and
    CPU time of the batch process and all its children (workers, kernels). Printed: per-report
    time / kernel floor for the whole batch (wall / 40), target <= 1.1; the 2-worker speed-up,
    target >= 1.85; bundle CPU / report CPU; and how busy the 2 cores were.

``dask2000``
    The same district widened to 2,000 partners, the batch run through
    ``run_reports(executor=dask_executor(LocalCluster address))`` (the code path of
    ``partner-analysis reports --executor dask --scheduler ADDR`` on a real cluster) on a 2-worker,
    1-thread-per-worker LocalCluster. Reduced render: every partner gets its bundle, a fresh kernel
    (started ahead), an executed notebook, an HTML page, a manifest row, a ledger entry and a place in
    the index and brief, but the template is a minimal one (parameters, a heading and one cell
    listing the bundle's files) instead of the full quarterly report, so the run measures the batch machinery at
    2,000 partners (bundles, dispatch, one kernel per report, district pages, release scan, ledger)
    and not 2,000 x the report's plotting. Printed: wall time and its parts, reports per minute.

    python benchmarks/scale_batch.py                       # both parts (about 30-45 minutes on 2 busy cores)
    python benchmarks/scale_batch.py --part batch40 --partners 6 --students 600   # smoke run
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

# the same kernel floor as benchmarks/report_batch.py (the script's folder is on sys.path when it runs)
from report_batch import kernel_floor

from figures import figure

TERM = "2025-26-Q2"


def cpu() -> float:
    """CPU seconds of this process and of its ended child processes (workers, kernels): user + system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def district(out: Path, *, students: int, partners: int, seed: int) -> Path:
    from partner_analysis.data.synth import make_demo_district
    from partner_analysis.data.synth_partners import add_partners

    make_demo_district(out, students=students, partners=min(partners, 8), seed=seed)
    return add_partners(out, partners=partners, seed=seed)


def minimal_template(path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell('partner_id: str = "P01"\nterm: str = "2025-26-Q2"\nbundle_path: str = ""\nlang: str = "en"',
                      metadata={"tags": ["parameters"]}),  # the report contract's parameters (report/contract.py)
        new_markdown_cell("# Partnership report"),
        new_code_cell("from pathlib import Path\nprint(partner_id, term, sorted(p.name for p in Path(bundle_path).iterdir()))"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


def batch40(args, tmp: Path) -> None:
    from partner_analysis.report.batch import run_reports
    from partner_analysis.report.bundle import build_bundles

    t0 = time.perf_counter()
    data = district(tmp / "d40", students=args.students, partners=args.partners, seed=args.seed)
    print(f"district: {args.students:,} students, {args.partners} partners ({time.perf_counter() - t0:.0f} s)")
    floor = kernel_floor()
    print(f"kernel floor (start + import pandas/seaborn + stop, median of 3): {floor:.2f} s")
    tb, cb = time.perf_counter(), cpu()
    build_bundles(data, term=TERM, out=tmp / "b" / TERM / "bundles")
    bundles, bundles_cpu = time.perf_counter() - tb, cpu() - cb
    print(f"bundles alone (one pass, {args.partners} partners; the batch overlaps them with the reports): "
          f"{bundles:.1f} s wall, {bundles_cpu:.1f} s CPU")
    walls, cpus = {}, {}
    for workers in (1, 2):
        out = tmp / f"r{workers}"
        shutil.rmtree(out, ignore_errors=True)
        t, c = time.perf_counter(), cpu()
        m = run_reports(data, term=TERM, out=out, workers=workers, progress=False)
        walls[workers], cpus[workers] = time.perf_counter() - t, cpu() - c
        if not m.ok:
            raise SystemExit(f"batch failed: {[r for r in m.rows if r['status'] != 'ok'][:2]}")
        print(f"batch, {workers} worker(s): {walls[workers]:6.1f} s for {len(m.rows)} reports "
              f"(mean report stage in its worker {statistics.mean(r['seconds'] for r in m.rows):.2f} s); "
              f"CPU of the batch and all its processes {cpus[workers]:.0f} s = {cpus[workers] / walls[workers]:.2f} "
              f"cores busy on average")
    n = args.partners
    report_cpu = cpus[1] - bundles_cpu
    print(f"bundle CPU / report CPU (1-worker batch): {bundles_cpu / report_cpu:.3f} ({bundles_cpu:.1f} s / "
          f"{report_cpu:.0f} s)")
    print(f"2-worker batch wall / (its CPU / 2 cores): {walls[2] / (cpus[2] / 2):.2f} (1.00 = both cores busy "
          f"throughout); the 1-worker batch already keeps {cpus[1] / walls[1]:.2f} cores busy (the next kernel "
          f"boots while a report runs), so its speed-up can reach at most about {2 * walls[1] / cpus[2]:.2f}")
    print(f"per-report time in a {n}-report batch / kernel floor: {walls[1] / n / floor:.2f} (target <= 1.1; "
          f"whole batch: wall / {n})")
    print(f"2-worker speed-up of the batch: {walls[1] / walls[2]:.2f} (target >= 1.85)")
    figure(f"per-report time in a {n}-report batch / kernel floor", walls[1] / n / floor, 1.1)
    figure("2-worker speed-up of the batch", walls[1] / walls[2], 1.85, better=">=")


def dask2000(args, tmp: Path) -> None:
    import distributed

    from partner_analysis.report.batch import dask_executor, run_reports

    t0 = time.perf_counter()
    data = district(tmp / "d2000", students=args.students, partners=args.many, seed=args.seed)
    t_gen = time.perf_counter() - t0
    print(f"district: {args.students:,} students, {args.many:,} partners (generated in {t_gen:.0f} s)")
    template = minimal_template(tmp / "minimal.ipynb")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        t = time.perf_counter()
        with dask_executor(cluster.scheduler_address) as ex:
            m = run_reports(data, term=TERM, out=tmp / "r2000", executor=ex, template=template, progress=False)
        wall = time.perf_counter() - t
    ok = sum(r["status"] == "ok" for r in m.rows)
    stage = sum(r["seconds"] for r in m.rows)
    print(f"dask LocalCluster (2 workers x 1 thread), {args.many:,} partners, minimal template: {ok:,} of "
          f"{len(m.rows):,} reports ok in {wall:.0f} s ({len(m.rows) / wall * 60:.0f} reports/minute; mean "
          f"report stage {stage / max(len(m.rows), 1):.2f} s in its worker)")
    release = tmp / "r2000" / TERM / "release"
    print(f"release folder: {sum(1 for _ in release.glob('*.html')):,} HTML files, index.html "
          f"{(release / 'index.html').stat().st_size / 1e6:.1f} MB")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("batch40", "dask2000"), action="append")
    ap.add_argument("--partners", type=int, default=40)
    ap.add_argument("--many", type=int, default=2000, help="partners of the dask run")
    ap.add_argument("--students", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=20251)
    args = ap.parse_args(argv)
    parts = args.part or ["batch40", "dask2000"]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared)")
    with tempfile.TemporaryDirectory(prefix="pa-scale-batch-") as tmp:
        for part in parts:
            t = time.perf_counter()
            {"batch40": batch40, "dask2000": dask2000}[part](args, Path(tmp))
            print(f"[{part}: {time.perf_counter() - t:.0f} s; load average now "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
