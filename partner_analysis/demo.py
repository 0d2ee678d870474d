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
    _upgrade_demo_store(out)
    result = validate_dataset(out)
    print(result.report())
    if not (out / "quality.html").exists():  # what every import writes; the demo is generated, not imported
        from .data.quality import profile_dataset, write_quality
        write_quality(profile_dataset(out), out)
    print(f"Data-quality profile: {(out / 'quality.html').resolve()}")
    from .report.batch import run_reports
    manifest = run_reports(out, term=term, out=reports_dir, workers=workers)
    n_ok = sum(r["status"] == "ok" for r in manifest.rows)
    print(f"\n{n_ok} of {len(manifest.rows)} partner reports succeeded (manifest: {manifest.json_path})")
    for r in manifest.rows:
        if r["status"] != "ok":
            print(f"  FAILED {r['partner_id']} ({r['stage']}): {r['error']}")
    print(f"Reports: {manifest.index_path.resolve()}")
    return 0 if manifest.ok else 1


def _upgrade_demo_store(out: Path) -> None:
    """A demo district built by an earlier version keeps working: its (synthetic) store is upgraded in place.

    A district's own store is never upgraded behind its back (``partner-analysis db upgrade`` does that, with
    a backup); the demo's is ours, and the upgrade still backs it up first.
    """
    from .store import Store, default_store_path
    from .store_backup import upgrade_store
    path = default_store_path(out)
    if not path.exists():
        return
    store = Store(path, create=False, check_schema=False)
    try:
        result = upgrade_store(store)
    finally:
        store.close()
    if result.before != result.after:
        print(f"upgraded the demo's records store from {result.before or 'no version'} to {result.after} "
              f"(backup: {result.backup.path if result.backup else 'none needed'})")
