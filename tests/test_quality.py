"""The data-quality profile (partner_analysis.data.quality): figures on hand-built tables, the `quality` verb,
no student ID in what it writes, and axe-core on the page in headless system Chromium."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import require_chromium
from partner_analysis.config import config_from_dict
from partner_analysis.data.quality import profile_tables, render_html

ROOT = Path(__file__).resolve().parents[1]
GRAND_BEND = ROOT.parent / "shared" / "data" / "edfi_grand_bend"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

CONFIG = config_from_dict({
    "district": {"id": "0600001", "name": "Test district"}, "school_year": "2025-26",
    "terms": [{"id": "T1", "school_year": "2025-26", "start": "2025-09-01", "end": "2025-09-12"}],
    "schools": [{"school_id": "A", "name": "School A"}]})


def _tables():
    days = [d for d in pd.date_range("2025-09-01", "2025-09-12") if d.day_of_week < 5]  # 10 instructional days
    students = pd.DataFrame({"student_id": ["s1", "s2", "s3", "s4"], "school_id": "A", "grade_level": [9, 9, 9, None],
                             "frl": [True, None, None, None]})
    daily = pd.DataFrame({"student_id": ["s1"] * 6 + ["s2"] * 6, "date": days[:6] * 2,
                          "status": ["present"] * 11 + ["excused"]})
    enrollment = pd.DataFrame({"student_id": ["s1", "s2", "s3"], "school_id": "A",
                               "entry_date": pd.to_datetime(["2025-09-01"] * 3), "exit_date": pd.NaT})
    hours = pd.DataFrame({"student_id": ["s1", "s2", "s3", "s4"] * 5, "program_id": "P1",
                          "date": pd.date_range("2025-09-01", periods=20), "hours": [2.0] * 9 + [3.0] * 10 + [90.0]})
    return {"students": students, "attendance_daily": daily, "enrollment": enrollment,
            "school_days": pd.DataFrame({"school_id": "A", "date": days}), "wbl_hours": hours}


def test_profile_figures_on_a_hand_built_district():
    p = profile_tables(_tables(), CONFIG)
    comp = p.sections["completeness"].set_index(["table", "column"])
    assert comp.loc[("students", "frl"), "share_present"] == 0.25
    assert comp.loc[("students", "grade_level"), "present"] == 3
    cov = p.sections["coverage"].set_index(["school_id", "term_id"]).loc[("A", "T1")]
    # daily rows on 6 distinct dates of 10 instructional days
    assert cov["instructional_days"] == 10 and cov["days_with_records"] == 6 and cov["coverage"] == 0.6
    en = p.sections["enrolment"].set_index("measure")["count"]
    assert en["students without an enrolment span"] == 1  # s4
    assert en["students without any attendance record"] == 2  # s3, s4
    dist = p.sections["distributions"].set_index(["table", "column"]).loc[("wbl_hours", "hours")]
    # quartiles 2 and 3, IQR 1: 90 lies beyond 3 + 3 x 1
    assert dist["n"] == 20 and dist["outliers_high"] == 1 and dist["outliers_low"] == 0
    kpis = p.sections["kpis"].set_index("kpi_id")
    assert kpis.loc["gpa", "computable"] == "no" and "no course grades data" in kpis.loc["gpa", "reason"]
    assert kpis.loc["wbl_hours", "computable"] == "yes"
    # 12 daily rows for 30 enrolled instructional days: the daily-positive coverage rule says why
    assert kpis.loc["attendance_rate", "computable"] == "no"
    assert "enrolled instructional days" in kpis.loc["attendance_rate", "reason"]
    assert any("daily attendance on 6 of 10 days (60%)" in f for f in p.findings)
    assert any("students.frl is empty in 75% of 4 rows" in f for f in p.findings)
    page = render_html(p)
    for sid in ("s1", "s2", "s3", "s4"):
        assert f">{sid}<" not in page


@pytest.fixture(scope="module")
def demo_quality(demo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quality")
    res = subprocess.run([sys.executable, "-m", "partner_analysis", "quality", str(demo_dir), "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    return out


def test_quality_verb_writes_page_and_csv_without_student_ids(demo_quality, demo_dir):
    from partner_analysis.privacy.scan import scan_outputs
    table = pd.read_csv(demo_quality / "quality.csv")
    assert {"findings", "completeness", "coverage", "distributions", "duplicates", "kpis"} <= set(table["section"])
    ids = pd.read_parquet(demo_dir / "students.parquet")["student_id"].astype(str)
    assert scan_outputs([demo_quality / "quality.html", demo_quality / "quality.csv"], ids) == []


def _axe(path: Path) -> list:
    exe = require_chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    from axe_playwright_python.sync_playwright import Axe
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                   else (outside.append(r.request.url), r.abort()))
        page.goto(path.as_uri())
        result = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
        h1 = page.locator("h1").count()
        lang = page.eval_on_selector("html", "e => e.lang")
        browser.close()
    assert outside == [] and h1 == 1 and lang == "en"
    return [(v["id"], v["impact"], v["nodes"][0]["html"][:120]) for v in result.response["violations"]]


@pytest.mark.slow
@pytest.mark.browser
def test_quality_page_of_the_demo_district_passes_axe(demo_quality):
    assert _axe(demo_quality / "quality.html") == []


@pytest.mark.slow
@pytest.mark.browser
def test_grand_bend_import_writes_an_accessible_quality_page_without_student_ids(tmp_path):
    if not (GRAND_BEND / "Student.xml").exists():
        pytest.skip(f"Ed-Fi Grand Bend sample not found at {GRAND_BEND} (../shared is absent in a user's clone)")
    from partner_analysis.data.edfi_import import import_edfi
    from partner_analysis.privacy.scan import scan_outputs
    out = tmp_path / "gb"
    import_edfi(GRAND_BEND, out=out, map_path=ROOT / "examples" / "edfi_grand_bend" / "edfi.yml")
    ids = pd.read_parquet(out / "attendance_events.parquet")["student_id"].astype(str).unique()
    assert scan_outputs([out / "quality.html", out / "quality.csv"], ids) == []
    page = (out / "quality.html").read_text(encoding="utf-8")
    assert "3 student-days with events that do not count" in page  # the 3 Sunday events of the sample
    assert _axe(out / "quality.html") == []
