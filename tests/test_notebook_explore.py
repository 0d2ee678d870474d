"""The outcome explorer: widgets driven in Python, and notebooks/explore_outcomes.ipynb run with papermill."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from partner_analysis.exceptions import ConfigError
from partner_analysis.kpi.explore import OutcomeExplorer, trend_frame

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_outcomes.ipynb"
TERM = "2025-26-Q2"


@pytest.fixture(scope="module")
def explorer(demo_dir):
    return OutcomeExplorer.from_path(demo_dir, term=TERM)


def _student_ids(demo_dir) -> list[str]:
    return list(pd.read_parquet(demo_dir / "students.parquet", columns=["student_id"])["student_id"].astype(str))


def test_widgets_follow_the_partner_and_show_a_suppressed_table(explorer):
    explorer.privacy.value = True
    explorer.partner.value = "P02"
    assert explorer.program.value == "all"
    assert [v for _, v in explorer.program.options][1:] == sorted(
        explorer.dataset["programs"].query("partner_id == 'P02'")["program_id"].astype(str))
    explorer.kpi.value = "gpa"
    explorer.terms.value = ("2025-26-Q1", TERM)
    table = explorer.comparison_table()
    assert list(table.term) == ["2025-26-Q1", TERM]
    assert set(table.kpi_id) == {"gpa"} and set(table.partner_id) == {"P02"}
    assert "marker" in table and table.p_adj.notna().any() or (table.sample_status != "tested").all()
    tr = trend_frame(table, partner_id="P02", kpi_id="gpa")
    assert len(tr) == 4 and set(tr.group) == {"participants", "comparison"}
    with pytest.raises(ConfigError, match="privacy"):
        explorer.student_rows()


def test_show_button_draws_charts_with_alt_text_and_no_student_ids(explorer, demo_dir, tmp_path):
    explorer.privacy.value = True
    explorer.partner.value = "P01"
    explorer.kpi.value = "attendance_rate"
    explorer.subgroup.value = "frl"
    explorer.school.value = "0101"
    explorer.terms.value = ("2025-26-Q1", TERM)
    figures = explorer.figures()
    assert figures, "at least the trend chart"
    for data, meta in figures:
        alt = meta["image/png"]["alt"]
        assert len(alt) > 20 and "Attendance rate" in alt
    explorer.show_button.click()
    assert explorer.status.value == ""
    outputs = explorer.output.outputs
    assert any("image/png" in o.get("data", {}) for o in outputs)
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "<caption>" in html
    (tmp_path / "out.html").write_text(html, encoding="utf-8")
    from partner_analysis.privacy import scan_outputs
    assert scan_outputs(tmp_path, _student_ids(demo_dir)) == []
    explorer.subgroup.value = "(all)"
    explorer.school.value = "(all)"


def test_student_rows_only_when_privacy_is_off(explorer):
    explorer.partner.value = "P02"
    explorer.kpi.value = "gpa"
    explorer.privacy.value = False
    try:
        rows = explorer.student_rows(TERM)
        assert set(rows.columns) >= {"student_id", "group", "value"}
        assert rows.student_id.str.len().eq(6).all()  # leading zeros kept
        raw = explorer.comparison_table([TERM]).iloc[0]
        counts = rows.group.value_counts()
        assert counts["participants"] == raw.n_t and counts["comparison"] == raw.n_c
    finally:
        explorer.privacy.value = True


def test_empty_term_choice_is_reported_not_raised(explorer):
    explorer.terms.value = ()
    explorer.render()
    assert "at least one term" in explorer.status.value
    explorer.terms.value = (TERM,)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_without_leaking_ids(demo_dir, tmp_path):
    import nbformat
    import papermill as pm
    out = tmp_path / "explore_outcomes.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"data_dir": str(demo_dir), "term": TERM},
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = nbformat.read(out, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert ["parameters"] in tags
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert pngs and all(o["metadata"]["image/png"]["alt"] for o in pngs)
    assert any("text/html" in o.get("data", {}) and "mean_t" in o["data"]["text/html"] for o in outputs)
    from partner_analysis.privacy import scan_outputs
    assert scan_outputs(out, _student_ids(demo_dir)) == []
    # no logic in the notebook: every code cell is a few lines calling the library
    code = [c.source for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    assert all(len(src.splitlines()) <= 5 and " for " not in src and "def " not in src for src in code)
