"""The main job as `make demo` runs it (partner_analysis.demo.run_demo), on a small district."""
from __future__ import annotations

from partner_analysis.demo import run_demo
import pandas as pd

from partner_analysis.privacy import scan_release


def test_run_demo_builds_the_district_its_quality_page_and_every_report(tmp_path, capsys):
    out = tmp_path / "demo_district"
    code = run_demo(out=out, term="2025-26-Q2", students=400, seed=5, workers=2, reports_dir=tmp_path / "reports")
    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "quality.html").exists() and (out / "quality.csv").exists()   # as every import writes them
    assert f"Data-quality profile: {(out / 'quality.html').resolve()}" in printed
    release = tmp_path / "reports" / "2025-26-Q2" / "release"
    assert (release / "index.html").exists() and (release / "community_brief.html").exists()
    partners = sorted(p.stem for p in release.glob("P*.html"))
    assert partners and f"{len(partners)} of {len(partners)} partner reports succeeded" in printed
    ids = pd.read_parquet(out / "students.parquet", columns=["student_id"])["student_id"]
    assert scan_release(release, ids) == []                                      # nothing identifiable leaves
    again = run_demo(out=out, term="2025-26-Q2", workers=2, reports_dir=tmp_path / "reports")
    assert again == 0 and "building the demo district" not in capsys.readouterr().out   # reused, not rebuilt
