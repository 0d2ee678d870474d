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
        if "image/png" in data:
            alt = meta["image/png"]["alt"]
            assert len(alt) > 20 and "Attendance rate" in alt
        else:   # a chart whose values are all hidden is a sentence saying so
            assert "Attendance rate" in data["text/plain"] and ("hidden" in data["text/plain"]
                                                                or "fewer than" in data["text/plain"])
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
    # the explorer draws the first view in its own output area: saved with the widgets' state
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs += [o for m in state.values() if m["model_name"] == "OutputModel" for o in m["state"]["outputs"]]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert pngs and all(o["metadata"]["image/png"]["alt"] for o in pngs)
    # JupyterLab and Voila ignore the metadata's alt: the HTML twin of each chart carries it
    assert all(f'alt="{o["metadata"]["image/png"]["alt"][:30]}' in o["data"]["text/html"] for o in pngs)
    assert any("text/html" in o.get("data", {}) and "Comparison students" in o["data"]["text/html"]
               for o in outputs)
    from partner_analysis.privacy import scan_outputs
    assert scan_outputs(out, _student_ids(demo_dir)) == []
    # no logic in the notebook: every code cell is a few lines calling the library
    code = [c.source for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    assert all(len(src.splitlines()) <= 5 and " for " not in src and "def " not in src for src in code)


@pytest.fixture(scope="module")
def fresh(demo_dir):
    import datetime as dt
    return OutcomeExplorer.from_path(demo_dir, term=TERM, today=dt.date(2026, 1, 15))


def test_names_not_codes(fresh, demo_dir):
    partners = pd.read_parquet(demo_dir / "partners.parquet")
    assert [label for label, _ in fresh.partner.options] == list(partners.sort_values("partner_id")["name"])
    fresh.partner.value = "P01"
    labels = [label for label, _ in fresh.program.options]
    assert labels[0] == "All programmes" and not any(label.startswith("P01-") for label in labels)
    assert "High School" in " ".join(label for label, _ in fresh.school.options)
    assert ("Free or reduced-price lunch", "frl") in fresh.subgroup.options


def test_future_terms_are_not_offered(fresh):
    # the demo's data end in 2025-26-Q2: later terms hold nothing and are not offered
    assert fresh.terms.options[-1] == TERM and "2025-26-Q3" in fresh.config.term_ids
    # on the last day of Q1, Q2 has not started: not offered, and asking for it says so
    q1_end = fresh.config.term("2025-26-Q1").end
    early = OutcomeExplorer(fresh.dataset, term="2025-26-Q1", today=q1_end, auto_update=False)
    assert early.terms.options[-1] == "2025-26-Q1"
    with pytest.raises(ConfigError, match="has not started"):
        OutcomeExplorer(fresh.dataset, term=TERM, today=q1_end)


def test_the_table_reads_plainly(fresh):
    fresh.partner.value = "P01"
    fresh.kpi.value = "chronic_absence"
    fresh.terms.value = ("2025-26-Q1", TERM)
    html = fresh.bundles()[-1][0]["text/html"]
    assert "Comparison students" in html and "Participants&#x27; value" in html or "Participants' value" in html
    assert "mean_t" not in html and "p_adj" not in html
    import re
    cells = re.findall(r"<td>([^<]*)</td>", html)
    shares = [c for c in cells if c.endswith("%")]
    assert shares and all(re.fullmatch(r"[<>≤≥]?\d+%", c) for c in shares)   # whole percentages or codes


def test_a_hidden_partner_gets_a_sentence_not_an_empty_chart(fresh):
    table = fresh.comparison_table()
    hidden = table.assign(mean_t=float("nan"), mean_c=float("nan"))
    bundles = fresh.figures(hidden)
    first = bundles[0][0]
    assert "image/png" not in first and "every value is hidden" in first["text/plain"]


def test_every_widget_change_redraws(fresh):
    fresh.kpi.value = "gpa"
    before = fresh.output.outputs
    fresh.partner.value = "P03" if fresh.partner.value != "P03" else "P02"
    assert fresh.output.outputs != before and fresh.program.value == "all"
    before = fresh.output.outputs
    fresh.kpi.value = "attendance_rate"
    assert fresh.output.outputs != before


def test_participants_keep_their_colour_when_comparison_is_alone():
    import matplotlib.pyplot as plt

    from partner_analysis import plots
    colours = plots.group_palette(["participants", "comparison"])
    both = pd.DataFrame({"term": ["a", "b"] * 2, "group": ["participants"] * 2 + ["comparison"] * 2,
                         "mean": [1.0, 2.0, 1.5, 1.6]})
    alone = both[both.group == "comparison"]
    ax1 = plots.plot_trend(both, x="term", y="mean", hue="group", alt="Two groups over two terms.",
                           palette=colours, ax=plt.figure().subplots())
    ax2 = plots.plot_trend(alone, x="term", y="mean", hue="group", alt="The comparison group over two terms.",
                           palette=colours, ax=plt.figure().subplots())
    colour = {line.get_label(): line.get_color() for line in ax1.get_lines() if not line.get_label().startswith("_")}
    [line] = [line for line in ax2.get_lines() if not line.get_label().startswith("_")]
    assert line.get_label() == "comparison" and line.get_color() == colour["comparison"]
    assert colour["comparison"] != colour["participants"]
    with pytest.raises(ConfigError, match="no colour for"):
        plots.plot_trend(both, x="term", y="mean", hue="group", alt="Two groups over two terms.",
                         palette={"participants": "red"}, ax=plt.figure().subplots())


def test_a_coded_share_does_not_come_back_through_the_difference():
    from partner_analysis.kpi.explore import format_comparison
    row = {"term": "T", "subgroup_value": "all", "n_t": 25, "n_c": 400, "mean_t": 24 / 25, "mean_c": 0.80,
           "difference": 24 / 25 - 0.80, "effect_size": 0.9, "es_ci_low": 0.5, "es_ci_high": 1.3, "p_adj": 0.01,
           "wording": "association", "marker": ""}
    shown = format_comparison(pd.DataFrame([row]), percent=True, binary=True, protect=True).iloc[0]
    # 24 of 25: the complement (1) is below the minimum numerator, so the share is hidden or coded ...
    assert shown["Participants' value"] in ("*", "≥95%") and shown["Comparison value"] == "80%"
    # ... and neither the difference nor the effect size gives it back
    assert shown["Difference"] == "" and shown["Effect size (95% CI)"] == ""
    exact = format_comparison(pd.DataFrame([row]), percent=True, binary=True, protect=False).iloc[0]
    assert exact["Participants' value"] == "96.0%" and exact["Difference"] == "+16 points"


def test_terms_outside_the_window_are_precomputed_in_the_background(fresh):
    assert fresh.wait_ready(timeout=300)
    first = fresh.terms.options[0]
    assert first not in fresh.terms.value      # outside the window shown first
    fresh.partner.value, fresh.kpi.value = "P01", "gpa"
    rows = fresh.comparison_table([first])
    assert list(rows.term) == [first] and set(rows.partner_id) == {"P01"} and set(rows.kpi_id) == {"gpa"}


def test_going_back_to_a_view_shows_the_same_charts(fresh):
    fresh.partner.value, fresh.kpi.value = "P01", "gpa"
    first = [d.get("image/png") for d, _ in fresh.figures()]
    fresh.kpi.value = "attendance_rate"
    other = [d.get("image/png") for d, _ in fresh.figures()]
    fresh.kpi.value = "gpa"
    again = [d.get("image/png") for d, _ in fresh.figures()]
    assert first == again and first != other and any(first)


def test_a_school_the_partner_does_not_serve_says_so(fresh):
    ds = fresh.dataset
    programmes = set(ds["programs"].loc[ds["programs"]["partner_id"].astype(str) == "P01", "program_id"].astype(str))
    served = set(ds["participation"].loc[ds["participation"]["program_id"].astype(str).isin(programmes),
                                         "student_id"].astype(str))
    students = ds["students"]
    serving = set(students.loc[students["student_id"].astype(str).isin(served), "school_id"].astype(str))
    unserved = [v for _, v in fresh.school.options if v != "(all)" and v not in serving]
    assert unserved, "the demo's P01 (a hospital) serves high schools only"
    fresh.partner.value, fresh.kpi.value = "P01", "attendance_rate"
    fresh.school.value = unserved[0]
    try:
        [bundle] = fresh.figures()
        assert "has no participants at" in bundle[0]["text/plain"]
        fresh.school.value = sorted(serving)[0]
        assert all("has no participants" not in b[0]["text/plain"] for b in fresh.figures())
    finally:
        fresh.school.value = "(all)"


@pytest.mark.parametrize("suppress", [True, False])
def test_a_school_or_subgroup_table_is_compare_partners_own(explorer, suppress):
    # the explorer builds a subgroup's table from its value rows alone stacked with the 'all' rows it holds, and
    # every table from unsuppressed rows suppressed afterwards: the result must be compare_partners' table
    from partner_analysis.kpi.compare import compare_partners
    explorer.wait_ready()
    marked = 0
    for partner, subgroup, school in [("P01", "frl", None), ("P02", "race_ethnicity", None),
                                      ("P01", None, "0101"), ("P01", "frl", "0101"), ("P03", "grade_level", None)]:
        for term in ("2025-26-Q1", TERM):
            shown = explorer._table_for(term, partner, subgroup, school, suppress).reset_index(drop=True)
            direct = compare_partners(explorer.dataset, term=term, partners=[partner], by_program=True,
                                      subgroup=subgroup, school=school, arrays=explorer.arrays, suppress=suppress)
            pd.testing.assert_frame_equal(shown, direct)
            marked += int((direct["marker"] != "").sum())
    # suppressed cells are among those compared (with privacy on)
    assert marked > 0 if suppress else marked == 0
