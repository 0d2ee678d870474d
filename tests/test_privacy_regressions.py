"""Regression tests for the five defects of issue #9 (each failed on commit ae5988b).

1. linked tables: a trend row (and a change since last term) showed what that term's own table hid;
2. two releases: a second release one student apart gave that student's value back by subtraction;
3. display rules: reports formatted numbers themselves (no top/bottom coding: "3%" of 210, "0%" of 108);
4. the release folder held working files (exact bundles, notebooks, logs);
5. partial reruns rewrote the district pages for one partner (see test_report_batch for the end-to-end run).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_analysis.data.dataset import read_dataset
from partner_analysis.kpi.compare import compare_partners
from partner_analysis.report import bundle as B
from partner_analysis.report import view

Q1, Q2 = "2025-26-Q1", "2025-26-Q2"
K = 10


def _partner_rows(table: pd.DataFrame, pid: str) -> pd.DataFrame:
    rows = table[(table["partner_id"].astype(str) == pid) & (table["program_id"].astype(str) == "all")
                 & (table["subgroup"].astype(str) == "all")]
    return rows.set_index("kpi_id")


@pytest.fixture(scope="module")
def q2_bundles(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reg") / Q2 / "work" / "bundles"
    return demo_dir, B.build_bundles(demo_dir, term=Q2, out=out)


# ----------------------------------------------------------------------------------- 1. linked tables
def test_trend_rows_never_show_what_the_earlier_terms_own_table_hides(q2_bundles):
    demo_dir, infos = q2_bundles
    q1 = compare_partners(read_dataset(demo_dir), term=Q1, suppress=True)
    hidden_before = shown_before = 0
    for info in infos:
        trend = B.load_bundle(info.path).table("kpi_trend")
        own = _partner_rows(q1, info.partner_id)
        for _, r in trend[trend["term"] == Q1].iterrows():
            then = own.loc[r["kpi_id"], "mean_t"]
            if pd.isna(then):
                hidden_before += 1
                assert pd.isna(r["mean_t"]), (info.partner_id, r["kpi_id"])
            elif pd.notna(r["mean_t"]):  # hiding more than the earlier table did is allowed; showing else is not
                shown_before += 1
                assert r["mean_t"] == pytest.approx(then, abs=1e-12)
    assert hidden_before and shown_before  # the demo district has both kinds of cell


def test_change_since_last_term_hidden_when_last_terms_level_is_hidden(q2_bundles):
    demo_dir, infos = q2_bundles
    q1 = compare_partners(read_dataset(demo_dir), term=Q1, suppress=True)
    checked, shown = 0, []
    for info in infos:
        comp = B.load_bundle(info.path).table("kpi_comparison").set_index("kpi_id")
        own = _partner_rows(q1, info.partner_id)
        for kid, r in comp.iterrows():
            if pd.isna(own.loc[kid, "mean_t"]):
                checked += 1
                if pd.notna(r["change_prev_term"]) or pd.notna(r["prev_term_mean_t"]):
                    shown.append((info.partner_id, kid))
    assert checked and not shown


def test_kpis_table_hides_earlier_small_numerators(demo_dir):
    # `partner-analysis kpis --term Q2` writes prev_term_mean_t: a binary level with fewer than 3 students with
    # (or without) the outcome in the earlier term is hidden like in that term's own table.
    table = compare_partners(read_dataset(demo_dir), term=Q2, suppress=True)
    binary = table[table["kind"] == "binary"]
    for prefix in ("prev_term", "last_year"):
        n = binary[f"{prefix}_n_t"].astype(float)
        x = (binary[f"{prefix}_mean_t"].astype(float) * n).round()
        small = (x < 3) | (n - x < 3)
        assert not (small & binary[f"{prefix}_mean_t"].notna()).any()


# ----------------------------------------------------------------------------------- 3. display rules
def _one_row_bundle(tmp_path: Path, **row) -> B.Bundle:
    base = {"kpi_id": "chronic_absence", "kpi_label": "Chronically absent", "kind": "binary", "unit": "share",
            "higher_is_better": False, "n_c": 900.0, "mean_c": 0.25, "difference": None, "suppressed": False,
            "marker": "", "sample_status": "tested", "wording": "association"}
    base.update(row)
    base["difference"] = base["mean_t"] - base["mean_c"]
    meta = {"partner_id": "P01", "term": Q2, "partner_name": "P", "parts": {"kpi": "recorded"},
            "profile": {"name": "public", "min_group_n": 10, "min_numerator": 3,
                        "markers": {"primary": "*", "complementary": "‡"}}}
    return B.Bundle(path=tmp_path, meta=meta, tables={"kpi_comparison": pd.DataFrame([base])})


@pytest.mark.parametrize(("x", "n", "forbidden"), [
    pytest.param(6, 210, "3%", id="P02-3pct-of-210"),
    pytest.param(0, 108, "0%", id="P01-0-of-108"),
    pytest.param(204, 210, "97%", id="top-coded"),
])
def test_report_tables_apply_top_bottom_coding(tmp_path, x, n, forbidden):
    html = view.outcomes_html(_one_row_bundle(tmp_path, n_t=float(n), mean_t=x / n))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert forbidden not in cells
    # the difference next to a coded level would give the level back
    assert not any("percentage point" in c for c in cells)   # singular and plural


def test_reports_have_no_formatter_of_their_own():
    import partner_analysis.report as report
    folder = Path(report.__file__).parent
    for f in folder.glob("*.py"):
        text = f.read_text()
        assert not re.search(r"def fmt_(value|change|count|effect|p|share|points|money|whole)\b", text), f.name
        assert not re.search(r"100 \* [^\n]*:\.0f\}%", text), f.name  # inline percentage formatting
        assert "5 * round(" not in text, f.name  # inline count rounding


# ----------------------------------------------------------------------------------- 2. two releases
def _add_participant(data: Path, partner: str, how_many: int) -> None:
    prog = pd.read_parquet(data / "programs.parquet")
    part = pd.read_parquet(data / "participation.parquet")
    pid = prog.loc[prog["partner_id"] == partner, "program_id"].iloc[0]
    inside = set(part.loc[part["program_id"].isin(prog.loc[prog["partner_id"] == partner, "program_id"]),
                          "student_id"])
    students = pd.read_parquet(data / "students.parquet")["student_id"]
    new = [s for s in students if s not in inside][:how_many]
    template = part[part["program_id"] == pid].iloc[0]
    extra = pd.DataFrame([dict(template, student_id=s) for s in new])
    pd.concat([part, extra], ignore_index=True).to_parquet(data / "participation.parquet", index=False)


def test_second_release_one_student_apart_recovers_nobody(demo_dir, tmp_path):
    from partner_analysis import privacy

    data = tmp_path / "district"
    shutil.copytree(demo_dir, data)
    ledger = privacy.ReleaseLedger(tmp_path / "reports" / "release_ledger.jsonl")
    out = tmp_path / "reports" / Q2 / "work" / "bundles"
    first = {i.partner_id: i for i in B.build_bundles(data, term=Q2, out=out, partners=["P01"])}["P01"]
    cells1 = B.read_cells(first.path)
    ledger.record_release(release_id="r1", term=Q2, partner_id="P01", files=[], cells=cells1)
    _add_participant(data, "P01", 1)
    second = B.build_bundles(data, term=Q2, out=out, partners=["P01"])[0]
    cells2 = B.read_cells(second.path)
    keys = list(privacy.CELL_KEYS)
    both = cells1.merge(cells2, on=keys, suffixes=("_1", "_2"))
    both = both[(both["statistic"] == "level") & both["shown_1"].astype(bool) & both["shown_2"].astype(bool)]
    d = (both["n_2"].astype(float) - both["n_1"].astype(float)).abs()
    same = (d == 0) & (both["fingerprint_1"] == both["fingerprint_2"])
    assert (same | (d >= K)).all(), both.loc[~(same | (d >= K)), keys + ["n_1", "n_2"]]
    # the group did change by one student, so the guard had work to do
    assert (cells2.loc[cells2["statistic"] == "level", "shown"].astype(bool).sum()
            < cells1.loc[cells1["statistic"] == "level", "shown"].astype(bool).sum())


# ----------------------------------------------------------------------------------- 4. release vs work
def test_work_folder_is_private_and_failed_reports_leave_the_release(tmp_path):
    from partner_analysis import privacy
    from partner_analysis.report.release import prepare_layout, retire_failed

    layout = prepare_layout(tmp_path / "reports", Q2)
    assert "do not share" in (layout.work / "README.md").read_text()
    with pytest.raises(privacy.PrivateFolderError, match="private"):
        privacy.check_publishable(layout.work)
    with pytest.raises(privacy.PrivateFolderError):
        privacy.check_publishable(layout.term_dir)  # a folder holding work/ is not publishable either
    assert privacy.check_publishable(layout.release) == layout.release.resolve()
    (layout.release / "P03.html").write_text("<p>old</p>")
    retire_failed(layout, "P03")
    assert not (layout.release / "P03.html").exists()
    assert (layout.work / "failed" / "stale" / "P03.html").exists()


def test_leak_scan_of_a_release_refuses_work_and_finds_ids(tmp_path):
    from partner_analysis import privacy
    from partner_analysis.report.release import prepare_layout

    layout = prepare_layout(tmp_path / "reports", Q2)
    (layout.release / "P01.html").write_text("<td>all good</td>")
    assert privacy.scan_release(layout.release, ["004217"]) == []
    (layout.release / "P02.html").write_text("<td>004217</td>")
    assert [leak.student_id for leak in privacy.scan_release(layout.release, ["004217"])] == ["004217"]
    with pytest.raises(privacy.PrivateFolderError):
        privacy.scan_release(layout.work, ["004217"])
