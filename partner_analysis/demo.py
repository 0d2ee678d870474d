"""The main job on the demo district: what ``make demo`` runs."""
from __future__ import annotations

from pathlib import Path


def run_demo(*, out: Path, term: str, students: int = 2400, seed: int = 20251, workers: int | None = None,
             reports_dir: Path = Path("reports")) -> int:
    """Build the demo district if it is missing, validate it, and run the main job.

    Returns the process exit code.
    """
    from .data.load import validate_dataset
    from .data.synth import make_demo_district

    out = Path(out)
    if not (out / "district.yml").exists():
        print(f"building the demo district in {out} ({students} students, seed {seed}) ...")
        make_demo_district(out, students=students, seed=seed)
    result = validate_dataset(out)
    print(result.report())
    try:
        from .report.batch import run_reports
    except ImportError:  # reports not built yet: the summary is the main job
        print(f"\nDemo district ready: {out.resolve()}")
        return 0
    manifest = run_reports(out, term=term, out=reports_dir, workers=workers)
    n_ok = sum(r["status"] == "ok" for r in manifest.rows)
    print(f"\n{n_ok} of {len(manifest.rows)} partner reports succeeded (manifest: {manifest.json_path})")
    for r in manifest.rows:
        if r["status"] != "ok":
            print(f"  FAILED {r['partner_id']} ({r['stage']}): {r['error']}")
    print(f"Reports: {manifest.index_path.resolve()}")
    return 0 if manifest.ok else 1
