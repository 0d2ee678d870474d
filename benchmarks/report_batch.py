"""Benchmark of the quarterly report batch: prints ratios measured in one run.

Measures, on one district:

1. the kernel floor: start a fresh ``python3`` kernel, import pandas + seaborn, shut it down (median of 3);
2. the batch (bundles once + one papermill kernel per partner + HTML) with 1 worker and with 2 workers;
3. a naive baseline: papermill per partner where each notebook loads the raw district data itself and
   computes its own partner's tables, then shows the same report (what the bundle design avoids); run
   serially on a subset and reported per report.

Prints per-report time / floor (target <= 1.3), the 2-worker speed-up (target >= 1.7) and the ratio of the
naive baseline's per-report time to the batch's. Synthetic data only. The demo generator makes at most 12
partners, so partners beyond 8 are clones of the first 8 with new ids (same participants, no records-store
entries: their reports show the "not yet recorded" sections).

    python benchmarks/report_batch.py                 # 40 partners, 2400 students (a few minutes)
    python benchmarks/report_batch.py --partners 6 --naive 2 --students 600   # smoke run
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd

TERM = "2025-26-Q2"


def kernel_floor(repeats: int = 3) -> float:
    from jupyter_client.manager import start_new_kernel

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        # the kernel's own log lines go nowhere, as in the batch (report.batch logs them to a file)
        km, kc = start_new_kernel(kernel_name="python3", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            kc.execute_interactive("import pandas, seaborn, matplotlib", timeout=120)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_district(out: Path, *, students: int, partners: int, seed: int) -> Path:
    from partner_analysis.data.dataset import read_dataset, write_dataset
    from partner_analysis.data.synth import make_demo_district

    base = min(partners, 8)
    make_demo_district(out, students=students, partners=base, seed=seed)
    if partners <= base:
        return out
    ds = read_dataset(out)
    t = {k: v.copy() for k, v in ds.tables.items()}
    new_partners, new_programs, new_part = [t["partners"]], [t["programs"]], [t["participation"]]
    for i in range(base + 1, partners + 1):
        src = f"P{(i - 1) % base + 1:02d}"
        pid = f"P{i:02d}"
        p = t["partners"][t["partners"]["partner_id"] == src].assign(partner_id=pid)
        p["name"] = p["name"].astype(str) + f" (clone {pid})"
        progs = t["programs"][t["programs"]["partner_id"] == src]
        mapping = {old: f"{pid}{old[3:]}" for old in progs["program_id"].astype(str)}
        new_partners.append(p)
        new_programs.append(progs.assign(partner_id=pid, program_id=progs["program_id"].astype(str).map(mapping)))
        part = t["participation"][t["participation"]["program_id"].astype(str).isin(mapping)]
        new_part.append(part.assign(program_id=part["program_id"].astype(str).map(mapping)))
    t["partners"] = pd.concat(new_partners, ignore_index=True)
    t["programs"] = pd.concat(new_programs, ignore_index=True)
    t["participation"] = pd.concat(new_part, ignore_index=True)
    store = out / "records" / "records.sqlite"
    keep = store.read_bytes() if store.exists() else None
    write_dataset(t, ds.config, out)
    if keep is not None and not store.exists():     # the records store lives in records/, apart from the tables
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_bytes(keep)
    return out


def naive_notebook(path: Path) -> Path:
    """The same report, but the kernel reads the raw district data and computes its own partner's tables."""
    from nbformat.v4 import new_code_cell, new_notebook

    template = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "quarterly_report.ipynb", 4)
    shows = [c for c in template.cells if c.cell_type == "code" and c.source.startswith("view.show_")]
    nb = new_notebook(cells=[
        new_code_cell('partner_id: str = "P01"\nterm: str = "2025-26-Q2"\ndata_dir: str = ""\nwork: str = ""',
                      metadata={"tags": ["parameters"]}),
        new_code_cell("from partner_analysis.report import view\n"
                      "from partner_analysis.report.bundle import build_bundles\n"
                      "info = build_bundles(data_dir, term=term, partners=[partner_id], out=work)[0]\n"
                      "bundle = view.open_report(str(info.path), partner_id=partner_id, term=term)"),
        *[new_code_cell(c.source) for c in shows],
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


def run_naive(data: Path, partners: list[str], work: Path) -> float:
    import papermill

    from partner_analysis.report.batch import _kernel_manager_class
    from partner_analysis.report.html import notebook_to_html

    nb = naive_notebook(work / "naive.ipynb")
    t0 = time.perf_counter()
    for pid in partners:
        out = papermill.execute_notebook(str(nb), None, parameters={"partner_id": pid, "term": TERM,
                                                                     "data_dir": str(data),
                                                                     "work": str(work / "naive" / TERM / "b")},
                                         kernel_name="python3", progress_bar=False,
                                         kernel_manager_class=_kernel_manager_class(work / "naive.kernel.log"))
        (work / f"naive-{pid}.html").write_text(notebook_to_html(out, title=pid), encoding="utf-8")
    return (time.perf_counter() - t0) / len(partners)


def run_batch(data: Path, out: Path, workers: int) -> tuple[float, list[dict]]:
    from partner_analysis.report.batch import run_reports

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    m = run_reports(data, term=TERM, out=out, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    if not m.ok:
        sys.exit(f"batch failed: {[r for r in m.rows if r['status'] != 'ok'][:2]}")
    return wall, m.rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, default=40)
    ap.add_argument("--students", type=int, default=2400)
    ap.add_argument("--naive", type=int, default=6, help="partners in the naive baseline (serial)")
    ap.add_argument("--seed", type=int, default=20251)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pa-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        data = make_district(tmp / "district", students=args.students, partners=args.partners, seed=args.seed)
        print(f"district: {args.students} students, {args.partners} partners ({time.perf_counter() - t0:.1f} s)")
        floor = kernel_floor()
        print(f"kernel floor (start + import pandas/seaborn + stop, median of 3): {floor:.2f} s")
        from partner_analysis.report.bundle import build_bundles
        tb = time.perf_counter()
        build_bundles(data, term=TERM, out=tmp / "b" / TERM / "bundles")
        bundles = time.perf_counter() - tb
        print(f"bundles alone (one pass, all partners): {bundles:.1f} s")
        wall1, rows1 = run_batch(data, tmp / "r1", 1)
        wall2, _ = run_batch(data, tmp / "r2", 2)
        n = len(rows1)
        per1 = wall1 / n
        kernel_mean = statistics.mean(r["seconds"] for r in rows1)
        ids = sorted(r["partner_id"] for r in rows1)[: args.naive]
        naive = run_naive(data, ids, tmp)
        print(f"batch, 1 worker : {wall1:6.1f} s for {n} reports = {per1:.2f} s/report "
              f"(report stage alone {kernel_mean:.2f} s)")
        print(f"batch, 2 workers: {wall2:6.1f} s")
        print(f"naive baseline  : {naive:.2f} s/report (serial, {len(ids)} partners, each loads raw data)")
        print()
        print(f"per-report time / kernel floor : {per1 / floor:.2f}  (target <= 1.3)")
        print(f"2-worker speed-up              : {wall1 / wall2:.2f}  (target >= 1.7)")
        print(f"naive / batch per-report time  : {naive / per1:.2f}  (higher is better for the batch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
