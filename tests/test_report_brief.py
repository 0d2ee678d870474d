"""Community brief: sentences from hand-built bundles (privacy, wording, rounding) and a leak scan on the demo."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from partner_analysis.report import bundle as B
from partner_analysis.report.brief import (BRIEF_FILE, brief_html, brief_sentences, district_summary,
                                           load_term_bundles, partner_lines, term_words, write_brief)
from partner_analysis.report.html import check_html

TERM = "2025-26-Q2"
K = 10


# -- hand-built bundles -----------------------------------------------------------------------------

def _kpi(kpi_id="attendance_rate", label="Attendance rate", *, difference=0.03, baseline="not_satisfied",
         wording="association", suppressed=False, mean_t=0.93, kind="continuous", unit="proportion", **kw):
    row = dict(kpi_id=kpi_id, kpi_label=label, kind=kind, unit=unit, higher_is_better=True, n_t=40.0, n_c=300.0,
               mean_t=mean_t, mean_c=mean_t - (difference if not pd.isna(difference) else 0), difference=difference,
               p_adj=0.2, sample_status="tested", baseline_verdict=baseline, wording=wording,
               change_prev_term=0.01, suppressed=suppressed, marker="*" if suppressed else "")
    row.update(kw)
    return row


def _bundle(tmp_path, pid, name, *, participants=40.0, kpis=None, sector="employer", balance=None, checkin="held",
            fit="strength") -> B.Bundle:
    """A bundle as build_bundles writes it: tables, parts and board row (aggregates only)."""
    small = participants is None or participants < K
    display = "none" if participants == 0 else (f"<{K}" if small else f"{participants:,.0f}")
    tables = {"participation": pd.DataFrame({
        "program_id": ["all"], "program_name": ["All programs"], "type": [""],
        "participants": [np.nan if participants is None else float(participants)],
        "participants_display": [display]})}
    parts = {p: "not_recorded" for p in B.PARTS}
    parts["participation"] = "recorded"
    if kpis is not None:
        tables["kpi_comparison"] = pd.DataFrame(kpis)
        parts["kpi"] = "recorded"
    if balance is not None:
        band, dv, pv = balance
        tables["investment_balance"] = pd.DataFrame({"term": ["2025-26-Q1", TERM], "district_value": [99999.0, dv],
                                                     "partner_value": [99999.0, pv], "balance_band": ["x", band]})
        parts["investments"] = "recorded"
    if checkin is not None:
        tables["checkin_status"] = pd.DataFrame({"term": [TERM], "held": [checkin == "held"], "status": [checkin]})
        parts["checkins"] = "recorded"
    if fit is not None:
        tables["fit_overall"] = pd.DataFrame({"fit_index": [4.2], "band": [fit], "biggest_gap_dimension": [None],
                                              "biggest_gap": [0.1]})
        parts["fit"] = "recorded"
    meta = {"partner_id": pid, "partner_name": name, "term": TERM, "district": "Test District", "sector": sector,
            "currency": "USD", "parts": parts,
            "profile": {"name": "public", "min_group_n": K, "markers": {"primary": "*", "complementary": "\u2021"}}}
    meta["board"] = B._board_row(meta, tables)
    return B.Bundle(path=tmp_path / pid, meta=meta, tables=tables)


def _outcome_sentence(sentences):
    hits = [s for s in sentences if s.startswith("Compared with similar students")]
    assert len(hits) == 1, sentences
    return hits[0]


# -- sentences ------------------------------------------------------------------------------------

def test_suppressed_partner_is_never_named_with_a_number(tmp_path):
    big = [_bundle(tmp_path, "P01", "Alpha Works", participants=40, kpis=[_kpi(difference=0.03)]),
           _bundle(tmp_path, "P02", "Beta Clinic", participants=55, kpis=[_kpi(difference=-0.02)])]
    # The small partner's KPI row carries figures that are NOT flagged suppressed (an older or faulty
    # bundle): the brief must still hide them, because its participant count is hidden.
    small = _bundle(tmp_path, "P03", "Gamma Small Shop", participants=None,
                    kpis=[_kpi(difference=0.37, mean_t=0.61)])
    hidden = _bundle(tmp_path, "P04", "Delta Hidden", participants=30,
                     kpis=[_kpi(difference=np.nan, mean_t=np.nan, suppressed=True)])
    bundles = [*big, small, hidden]
    sentences = brief_sentences(bundles, term=TERM, district="Test District")
    text = " ".join(sentences)
    for name in ("Alpha Works", "Beta Clinic", "Gamma Small Shop", "Delta Hidden"):
        assert name not in text  # sentences name no partner at all
    # only the two reportable partnerships are counted; the small one is said to exist, without a number
    assert "higher attendance rate at one of two partnerships with results to report (lower at one)" in text
    assert "one partnership worked with fewer than 10 students" in text
    assert "About 125 students" in text  # 40 + 55 + 30; the small one adds nothing
    assert "37" not in text and "61" not in text
    lines = partner_lines(bundles).set_index("partner_id")
    assert lines.loc["P03", "students"] == "fewer than 10" and lines.loc["P03", "outcome"] == "not shown*"
    assert lines.loc["P04", "outcome"] == "not shown*"
    assert lines.loc["P01", "outcome"] == "+3 percentage points"
    html = brief_html(bundles, term=TERM, district="Test District")
    row = re.search(r"<tr><th scope=\"row\">Gamma Small Shop</th>(.*?)</tr>", html).group(1)
    assert not re.search(r"\d", row.replace(f"fewer than {K}", "")), row
    assert check_html(html) == []


@pytest.mark.parametrize("verdicts, expect", [
    pytest.param([("not_satisfied", "association")] * 2, "associated", id="none-satisfied"),
    pytest.param([("satisfied", "effect"), ("not_satisfied", "association")], "associated", id="mixed"),
    pytest.param([("satisfied", "association")] * 2, "associated", id="satisfied-but-association-wording"),
    pytest.param([("needs_adjustment", "effect")] * 2, "associated", id="effect-wording-without-baseline"),
    pytest.param([("satisfied", "effect")] * 2, "followed", id="all-satisfied"),
])
def test_associated_with_unless_baseline_equivalence_holds_everywhere(tmp_path, verdicts, expect):
    bundles = [_bundle(tmp_path, f"P0{i}", f"Partner {i}", kpis=[_kpi(difference=0.04, baseline=v, wording=w)])
               for i, (v, w) in enumerate(verdicts, 1)]
    s = _outcome_sentence(brief_sentences(bundles, term=TERM))
    if expect == "associated":
        assert "associated with a higher attendance rate at both partnerships with results to report" in s
        assert "followed by" not in s and "comparable group" not in s
    else:
        assert "followed by a higher attendance rate than in a comparable group at both partnerships" in s
        assert "associated" not in s


def test_effect_and_association_kpis_are_worded_separately(tmp_path):
    kpis = [_kpi(difference=0.04, baseline="satisfied", wording="effect"),
            _kpi("gpa", "GPA (credit-weighted)", kind="continuous", unit="points", mean_t=3.0, difference=-0.3),
            _kpi("on_track", "On track (credits and core failures, year to date)", kind="binary", unit="share",
                 mean_t=0.8, difference=0.002)]
    s = _outcome_sentence(brief_sentences([_bundle(tmp_path, "P01", "A", kpis=kpis)], term=TERM))
    assert "taking part was associated with a lower GPA at the one partnership with results to report" in s
    assert "; taking part was followed by a higher attendance rate than in a comparable group at that one" in s
    assert "(credit-weighted)" not in s  # the explanation stays in the report, the sentence stays short
    assert s.endswith("; on track was about the same for participants as for non-participants at that one.")


def test_rounding_of_counts_and_money(tmp_path):
    bundles = [_bundle(tmp_path, "P01", "A", participants=73, balance=("balanced", 1234.56, 149.99)),
               _bundle(tmp_path, "P02", "B", participants=12, balance=("leaning", 4321.0, 50.0)),
               _bundle(tmp_path, "P03", "C", participants=7, balance=("one-sided", 10.0, 9000.0)),
               _bundle(tmp_path, "P04", "D", participants=0, balance=("one-sided", 0.0, 0.0))]
    text = " ".join(brief_sentences(bundles, term=TERM))
    lines = partner_lines(bundles).set_index("partner_id")["students"]
    assert lines.to_dict() == {"P01": "75", "P02": "10", "P03": "fewer than 10", "P04": "none"}
    assert "About 85 students" in text  # 75 + 10: the rounded, visible counts only
    # district 1234.56 + 4321 + 10 = 5565.56 -> $5,600; partners 149.99 + 50 + 9000 = 9199.99 -> $9,200
    assert "district contributed about $5,600 and partners about $9,200" in text
    assert "one of the four partnerships was balanced, one leaned toward one side and two were one-sided" in text
    assert "1,234" not in text and "149" not in text and "73" not in text and "12 " not in text


def test_sentence_counts_and_other_parts(tmp_path):
    bundles = [_bundle(tmp_path, "P01", "A", kpis=[_kpi()], balance=("balanced", 100.0, 100.0), sector="healthcare"),
               _bundle(tmp_path, "P02", "B", kpis=[_kpi()], balance=("balanced", 100.0, 100.0), checkin="overdue",
                       fit="borderline", sector="employer"),
               _bundle(tmp_path, "P03", "C", kpis=[_kpi()], checkin=None, fit=None, sector=None)]
    s = brief_sentences(bundles, term=TERM, district="Test District")
    assert 4 <= len(s) <= 6
    assert s[0] == ("In the second quarter of the 2025-26 school year, Test District worked with three community "
                    "partners: a healthcare provider, an employer and a partner without a recorded sector.")
    assert "Check-in meetings were held with one of two partners this quarter (overdue: one)." in s
    assert any("one partnership in the \u201cstrength\u201d band and one in the \u201cborderline\u201d band" in x
               for x in s)
    assert district_summary(bundles, term=TERM, district="Test District") == s[:3]
    # without KPI, investments, check-ins or fit the brief still has its first sentences
    bare = [_bundle(tmp_path, "P09", "Z", checkin=None, fit=None)]
    assert brief_sentences(bare, term=TERM)[-1] == "Student outcome comparisons are not yet recorded for this term."
    assert brief_sentences([], term=TERM) == ["No partnership reports were built for "
                                              "the second quarter of the 2025-26 school year."]


def test_term_words():
    assert term_words("2024-25-Q4") == "the fourth quarter of the 2024-25 school year"
    assert term_words("Fall 2025") == "Fall 2025"


# -- the demo district: independent checks and leak scan ------------------------------------------------

@pytest.fixture(scope="module")
def demo_brief(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("brief") / TERM
    infos = B.build_bundles(demo_dir, term=TERM, out=out / "bundles")
    rows = [{"partner_id": i.partner_id, "status": "ok" if i.ok else "failed", "html": f"{i.partner_id}.html"}
            for i in infos]
    path = write_brief(out, rows=rows, term=TERM)
    return demo_dir, out, rows, path


def _main_text(html: str) -> str:
    main = html[html.index("<main"):html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace("&amp;", "&")


def test_demo_brief_matches_an_independent_sum_of_the_bundles(demo_brief):
    demo_dir, out, rows, path = demo_brief
    text = _main_text(path.read_text())
    shown, dv, pv = 0, 0.0, 0.0
    for r in rows:
        part = pd.read_csv(out / "bundles" / r["partner_id"] / "participation.csv")
        n = part.loc[part["program_id"] == "all", "participants"].iloc[0]
        # bundles keep exact counts (work/ only); the brief adds the counts as displayed (nearest 5)
        shown += 0 if pd.isna(n) else 5 * round(int(n) / 5)
        bal = pd.read_csv(out / "bundles" / r["partner_id"] / "investment_balance.csv")
        bal = bal[bal["term"] == TERM]
        dv += bal["district_value"].sum()
        pv += bal["partner_value"].sum()
    assert f"About {shown:,} students" in text
    assert f"district contributed about ${round(dv, -2):,.0f} and partners about ${round(pv, -2):,.0f}" in text
    partners = pd.read_parquet(demo_dir / "partners.parquet")
    for name in partners["name"]:
        assert name.replace("&", "&") in text  # every partner is in the table
    n_sent = len(re.findall(r"<p>", path.read_text().split('id="brief-summary"')[1].split("</section>")[0]))
    assert 4 <= n_sent <= 6


def test_demo_brief_holds_no_student_id_and_no_count_below_k(demo_brief):
    demo_dir, out, rows, path = demo_brief
    html = path.read_text()
    ids = set(pd.read_parquet(demo_dir / "students.parquet")["student_id"].astype(str))
    tokens = set(re.findall(r"[0-9A-Za-z]+", html))
    assert not (tokens & ids)
    assert "student_id" not in html
    # Every numeral a reader sees is a count of at least K, except the named non-count formats below.
    text = _main_text(html)
    text = text.replace(TERM, " ").replace("2025-26", " ")
    text = re.sub(r"[+-]?\d+(\.\d+)? percentage points?", " ", text)
    text = re.sub(r"[+-]\d+\.\d", " ", text)
    text = re.sub(r"\$[\d,]+", " ", text)
    text = text.replace(f"fewer than {K}", " ").replace("nearest 5", " ")
    text = re.sub(r"\d+\s*/\s*\d+\s+partnerships?\s+on track", " ", text)  # partnerships, not students
    numerals = [int(m.replace(",", "")) for m in re.findall(r"(?<![\w.])\d[\d,]*(?![\w.])", text)]
    assert numerals, "the brief shows student counts"
    assert all(n >= K for n in numerals), numerals
    for m in re.finditer(r"(\d[\d,]*) students", text):
        assert int(m.group(1).replace(",", "")) >= K


def test_index_carries_the_district_summary_and_links_the_brief(demo_brief):
    from partner_analysis.report.index import write_index

    demo_dir, out, rows, path = demo_brief
    index = write_index(out, rows=rows, term=TERM).read_text()
    bundles = load_term_bundles(out, [r["partner_id"] for r in rows])
    summary = district_summary(bundles, term=TERM, district=bundles[0].meta["district"])
    assert 2 <= len(summary) <= 3
    from partner_analysis.report._html import esc
    for s in summary:
        assert f"<p>{esc(s)}</p>" in index
    assert f'href="{BRIEF_FILE}"' in index
    assert check_html(index) == [] and check_html(path.read_text()) == []
    meta = json.loads((out / "bundles" / rows[0]["partner_id"] / "bundle.json").read_text())
    assert meta["sector"] in ("healthcare", "employer", "higher_education", "community", "government", "other")


def test_a_banding_profile_hides_its_small_band_too(tmp_path):
    # Census DRB rounding shows counts under 15 as "<15": such a partnership is treated like a small one.
    bundles = [_bundle(tmp_path, "P01", "A", participants=12, kpis=[_kpi(difference=0.37)]),
               _bundle(tmp_path, "P02", "B", participants=234, kpis=[_kpi(difference=0.02)])]
    for b in bundles:
        b.meta["profile"]["name"] = "census_drb"
    lines = partner_lines(bundles).set_index("partner_id")
    assert lines.loc["P01", "students"] == "fewer than 15" and lines.loc["P01", "outcome"] == "not shown*"
    assert lines.loc["P02", "students"] == "250"
    text = " ".join(brief_sentences(bundles, term=TERM))
    assert "About 250 students" in text and "at the one partnership with results to report" in text
    assert "one partnership worked with fewer than 15 students" in text and "37" not in text
