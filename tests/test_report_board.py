"""The board's judgements with hand-built bundles: status chips, the attention list, cost per outcome,
action proposals. Every expected value follows from the rules in report/status.py's docstring."""
import pandas as pd
import pytest

from partner_analysis.report import bundle as B
from partner_analysis.report import text as T
from partner_analysis.report.board import board_items, render_board
from partner_analysis.report.status import (attention_items, cost_per_outcome, kpi_chip, proposed_actions)

TERM = "2025-26-Q2"
PROFILE = {"name": "public", "min_group_n": 10}


def _row(**kw):
    base = dict(kpi_id="gpa", kpi_label="GPA", kind="continuous", unit="points", higher_is_better=True, n_t=40.0,
                n_c=200.0, mean_t=3.1, mean_c=2.8, difference=0.3, effect_size=0.35, p_adj=0.01,
                sample_status="tested", evidence_label="comparison adjusted for prior achievement and background",
                prev_term_mean_t=3.0, prev_term_n_t=40.0, change_prev_term=0.1, suppressed=False, marker="")
    base.update(kw)
    return base


def _chronic(**kw):
    return _row(kpi_id="chronic_absence", kpi_label="Chronically absent", kind="binary", unit="share",
                higher_is_better=False, n_t=40.0, n_c=400.0, mean_t=0.10, mean_c=0.10, difference=0.0,
                effect_size=0.0, p_adj=0.9, prev_term_mean_t=0.10, change_prev_term=0.0, **kw)


def _bundle(tmp_path, kpi_rows=(), *, tables=None, parts=None, report=None):
    recorded = {"participation": "recorded", "kpi": "recorded", "fit": "not_recorded", "investments": "not_recorded",
                "checkins": "not_recorded", "goals": "not_recorded"}
    recorded.update(parts or {})
    meta = {"partner_id": "P01", "partner_name": "Acme Health", "term": TERM, "district": "D", "profile": PROFILE,
            "parts": recorded, "board": {}, "currency": "USD",
            "report": report or {"headline_kpis": ["gpa", "chronic_absence"], "alert_levels": {"chronic_absence": 0.2}}}
    t = {"kpi_comparison": pd.DataFrame(list(kpi_rows)),
         "participation": pd.DataFrame([{"program_id": "all", "program_name": "All", "type": None,
                                         "participants": 42, "participants_display": "40"}])}
    t.update(tables or {})
    return B.Bundle(path=tmp_path, meta=meta, tables=t)


# -- chips ------------------------------------------------------------------------------------------------
def test_chip_good_when_level_shown_and_nothing_unfavourable():
    assert kpi_chip(pd.Series(_row()), "no goal set", "public").status == "good"


def test_chip_concern_for_a_significant_unfavourable_difference():
    r = _row(mean_t=2.5, difference=-0.3, p_adj=0.01, prev_term_mean_t=2.5, change_prev_term=0.0)
    chip = kpi_chip(pd.Series(r), "no goal set", "public")
    assert chip.status == "concern" and chip.word == "concern" and chip.icon == "\u25b2"
    assert "unlikely to be chance" in chip.reasons[0]


@pytest.mark.parametrize("change", [
    dict(p_adj=0.30),                                  # could be chance
    dict(sample_status="descriptive_only", p_adj=None),  # untested
    dict(evidence_label="groups not comparable"),      # significant but the groups are not comparable
])
def test_chip_watch_for_an_unfavourable_difference_that_is_not_solid(change):
    r = _row(mean_t=2.5, difference=-0.3, prev_term_mean_t=2.5, change_prev_term=0.0, **change)
    assert kpi_chip(pd.Series(r), "no goal set", "public").status == "watch"


def test_chip_from_goal_and_last_term():
    assert kpi_chip(pd.Series(_row()), "off track", "public").status == "concern"
    assert kpi_chip(pd.Series(_row()), "at risk", "public").status == "watch"
    fell = _row(mean_t=3.1, prev_term_mean_t=3.3, change_prev_term=-0.2)
    chip = kpi_chip(pd.Series(fell), "no goal set", "public")
    assert chip.status == "watch" and chip.reasons == ("worse than last term",)


def test_chip_alert_level_reads_the_direction_and_the_displayed_level():
    # 10 of 40 chronically absent = 25% > 20% alert level (lower is better) -> concern
    high = _chronic()
    high.update(mean_t=10 / 40, prev_term_mean_t=10 / 40)
    assert kpi_chip(pd.Series(high), "no goal set", "public", {"chronic_absence": 0.2}).status == "concern"
    # 6 of 40 = 15%: under the alert level
    low = _chronic()
    low.update(mean_t=6 / 40, prev_term_mean_t=6 / 40)
    assert kpi_chip(pd.Series(low), "no goal set", "public", {"chronic_absence": 0.2}).status == "good"


def test_chip_none_for_a_hidden_level_and_no_direction_leaks():
    hidden = _row(n_t=6.0, mean_t=None, difference=None, suppressed=True, marker="*", p_adj=0.001)
    chip = kpi_chip(pd.Series(hidden), "no goal set", "public")
    assert chip.status == "none" and chip.word == "no status"
    # a coded level (0 of 40 chronically absent -> "*" or "<=5%") gives no concern through the alert level
    coded = _chronic()
    coded.update(mean_t=0.0, prev_term_mean_t=0.0, difference=-0.1)
    assert kpi_chip(pd.Series(coded), "no goal set", "public", {"chronic_absence": 0.0}).status == "none"


# -- attention list ---------------------------------------------------------------------------------------
def test_attention_lists_goals_checkins_actions_and_concerns_first(tmp_path):
    goals = pd.DataFrame([{"goal_id": 1, "description": "Raise credits", "kpi_id": "credits_earned",
                           "status": "off_track", "source": "kpi"},
                          {"goal_id": 2, "description": "More mentors", "kpi_id": None, "status": "at_risk",
                           "source": "checkin"},
                          {"goal_id": 3, "description": "Met one", "kpi_id": None, "status": "met", "source": "kpi"}])
    checkins = pd.DataFrame([{"term": "2025-26-Q1", "held": False, "n_checkins": 0, "last_date": None,
                              "status": "overdue"},
                             {"term": TERM, "held": True, "n_checkins": 1, "last_date": "2025-12-01",
                              "status": "held"}])
    actions = pd.DataFrame([{"description": "Draft agenda", "owner": "A", "side": "district",
                             "checkin_date": "2025-04-01", "due_date": "2025-05-01", "days_past_due": 218.0,
                             "past_due": True},
                            {"description": "Not late", "owner": "B", "side": "partner", "checkin_date": "2025-11-01",
                             "due_date": "2026-01-01", "days_past_due": None, "past_due": False}])
    b = _bundle(tmp_path, [_row(mean_t=2.5, difference=-0.3, prev_term_mean_t=2.5, change_prev_term=0.0)],
                tables={"goals": goals, "checkin_status": checkins, "open_actions": actions},
                parts={"goals": "recorded", "checkins": "recorded"})
    items = attention_items(b)
    texts = [i["text"] for i in items]
    assert texts[:4] == ["Goal \u201cRaise credits\u201d is off track.", "No check-in was held in 2025-26-Q1.",
                         "Action \u201cDraft agenda\u201d is 218 days overdue.",
                         "GPA: worse than similar students, unlikely to be chance."]
    assert items[4] == {"kind": "goal", "severity": "watch",
                        "text": "Goal \u201cMore mentors\u201d is at risk (check-in review)."}
    assert len(items) == 5  # the met goal, the held check-in and the action not yet due are not listed
    board = board_items(b)
    assert board["sentence"] == ("Acme Health: 1 of 1 headline results needs attention. "
                                 "5 items below need attention.")
    html = render_board(b)
    assert "and 1 more item" in html and html.count('class="att-') == 4


def test_attention_is_empty_for_a_good_partner(tmp_path):
    b = _bundle(tmp_path, [_row(), _chronic()])
    assert attention_items(b) == []
    assert "Nothing needs attention" in render_board(b)
    assert board_items(b)["sentence"] == "Acme Health: headline results are on course."


# -- cost per outcome --------------------------------------------------------------------------------------
def test_cost_per_outcome_uses_only_displayed_figures(tmp_path):
    bal = pd.DataFrame([{"term": TERM, "district_value": 2000.0, "partner_value": 6000.0, "total_value": 8000.0,
                         "partner_share": 0.75, "balance_band": "partner_leaning"}])
    credits = _row(kpi_id="credits_earned", kpi_label="Credits earned", unit="credits", mean_t=2.04, n_t=42.0)
    hours = _row(kpi_id="wbl_hours", kpi_label="WBL hours", unit="hours", mean_t=10.04, n_t=42.0)
    b = _bundle(tmp_path, [credits, hours], tables={"investment_balance": bal}, parts={"investments": "recorded"})
    costs = cost_per_outcome(b)
    # 8000 / 40 displayed participants (not the exact 42); credits 2.0 shown x 40; hours 10.0 shown x 40
    assert costs == {"participant": "$200", "credit": "$100", "wbl_hour": "$20"}
    bal_html = render_board(b)
    assert "partner pays 75%" in bal_html and "Cost per participant: $200" in bal_html
    district_heavy = bal.assign(partner_share=0.02)
    b2 = _bundle(tmp_path, [], tables={"investment_balance": district_heavy}, parts={"investments": "recorded"})
    assert "district pays 98%" in render_board(b2)


def test_no_cost_per_participant_when_participants_are_not_shown(tmp_path):
    bal = pd.DataFrame([{"term": TERM, "district_value": 2000.0, "partner_value": 6000.0, "total_value": 8000.0,
                         "partner_share": 0.75}])
    b = _bundle(tmp_path, [], tables={"investment_balance": bal}, parts={"investments": "recorded"})
    b.tables["participation"].loc[0, "participants_display"] = "<10"
    assert cost_per_outcome(b) == {}


# -- action proposals --------------------------------------------------------------------------------------
def test_proposed_actions_for_concerns_only_with_a_stable_key(tmp_path):
    high = _chronic()
    high.update(mean_t=10 / 40, prev_term_mean_t=10 / 40)
    b = _bundle(tmp_path, [_row(), high])
    props = proposed_actions(b)
    assert [p["kpi_id"] for p in props] == ["chronic_absence"]
    p = props[0]
    assert p["key"] == f"board:P01:{TERM}:chronic_absence"
    assert "25%" in p["description"] and "20%" in p["description"] and "chronically absent" in p["description"]
    assert proposed_actions(b) == props  # same bundle, same proposal (deduplication key)
    assert proposed_actions(_bundle(tmp_path, [_row(), _chronic()])) == []


# -- the story: headline figures, chart, spotlight, deck ---------------------------------------------------
def _two_partners(tmp_path):
    bal = pd.DataFrame([{"term": TERM, "district_value": 2000.0, "partner_value": 6000.0, "total_value": 8000.0,
                         "partner_share": 0.75, "balance_band": "leaning"}])
    a = _bundle(tmp_path, [_row(), _chronic()], tables={"investment_balance": bal}, parts={"investments": "recorded"},
                report={"headline_kpis": ["gpa", "chronic_absence"], "alert_levels": {"chronic_absence": 0.3},
                        "spotlight": {"P01": "Forty students shadowed nurses this autumn."}})
    b = _bundle(tmp_path, [_row(mean_t=2.5, difference=-0.3, prev_term_mean_t=2.5, change_prev_term=0.0)],
                tables={"investment_balance": bal.assign(total_value=4049.0)}, parts={"investments": "recorded"})
    b.meta.update(partner_id="P02", partner_name="Beta Works")
    small = _bundle(tmp_path, [], parts={"kpi": "not_recorded"})
    small.meta.update(partner_id="P03", partner_name="Gamma")
    small.tables["participation"].loc[0, "participants_display"] = "<10"
    return [a, b, small]


def test_headline_figures_add_only_shown_rounded_figures(tmp_path):
    from partner_analysis.report.story import headline_figures, participants_chart, spotlight
    bundles = _two_partners(tmp_path)
    figs = headline_figures(bundles, term=TERM)
    # 40 + 40 shown (the <10 partnership adds nothing); 8000 + 4049 rounded to the nearest 100
    assert figs[0] == ("80", "students reached (rounded)")
    assert figs[1] == ("$12,000", "combined investment this term")
    # Beta Works has a significant unfavourable result (concern): 2 of 3 on track
    assert figs[2] == ("2 / 3", "partnerships on track")
    svg = participants_chart(bundles)
    assert 'role="img"' in svg and "<title>" in svg and "Gamma: fewer than 10 students" in svg
    assert svg.count("<rect") == 2  # no bar for the hidden count
    assert spotlight(bundles) == ("Acme Health", "Forty students shadowed nurses this autumn.")
    assert spotlight(bundles[1:]) is None


def test_deck_has_six_slides_alt_text_and_notes_and_is_scanned(tmp_path):
    pytest.importorskip("pptx")
    from pptx import Presentation

    from partner_analysis.report.deck import picture_alts, scan_deck, write_deck
    bundles = _two_partners(tmp_path)
    path = write_deck(tmp_path, bundles, term=TERM, district="Testville")
    prs = Presentation(str(path))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == [f"Community partnerships, {TERM}", "Reach", "Outcomes", "Investment",
                      "Partner spotlight: Acme Health", "Next steps"]
    assert all(s.notes_slide.notes_text_frame.text.strip() for s in prs.slides)
    alts = picture_alts(path)
    assert len(alts) == 2 and all(a and len(a) > 40 for a in alts)
    assert "Gamma: fewer than 10 students" in alts[0]
    assert scan_deck(path, ["004217"]) == []
    bundles[1].meta["partner_name"] = "Beta 004217"  # a planted id in a name reaches the slides and is found
    (tmp_path / "again").mkdir()
    leaked = write_deck(tmp_path / "again", bundles, term=TERM)
    assert {leak.student_id for leak in scan_deck(leaked, ["004217"])} == {"004217"}


def test_a_year_to_date_kpi_is_not_watched_for_its_second_quarter_dip(tmp_path):
    # on track falls from Q1 to Q2 by definition (failures accumulate): no "worse than last term" watch, and the
    # board explains the dip in one sentence; the same fall of a term-scoped KPI is watched
    fell = dict(kpi_id="on_track", kpi_label="On track", kind="binary", unit="share", n_t=40.0, n_c=400.0,
                mean_t=0.80, mean_c=0.78, difference=0.02, p_adj=0.6, prev_term_mean_t=0.90, prev_term_n_t=40.0,
                change_prev_term=-0.10)
    assert kpi_chip(pd.Series(_row(**fell, scope="year_to_date")), "no goal set", "public").status == "good"
    assert kpi_chip(pd.Series(_row(**fell, scope="term")), "no goal set", "public").reasons == (
        "worse than last term",)
    b = _bundle(tmp_path, [_row(**fell, scope="year_to_date")], report={"headline_kpis": ["on_track"]})
    html = render_board(b)
    assert "usually dips in the second quarter" in html and "-10 percentage points" in html
    quiet = render_board(_bundle(tmp_path, [_row(**fell, scope="term")], report={"headline_kpis": ["on_track"]}))
    assert "usually dips" not in quiet


def test_tile_change_is_the_difference_of_the_shown_levels(tmp_path):
    # 2.74 -> 2.95 shows "2.7" and "3.0" (sparkline and trend table): the tile says +0.3, as a reader subtracts
    r = _row(mean_t=2.95, prev_term_mean_t=2.74, change_prev_term=0.21, mean_c=2.86, difference=0.09)
    items = board_items(_bundle(tmp_path, [r], report={"headline_kpis": ["gpa"]}))
    tile = items["tiles"][0]
    assert tile["value"] == "3.0 points" and tile["vs_last_term"] == "+0.3"
    assert tile["vs_comparison"] == "+0.1 (better)"   # 3.0 - 2.9 as shown, not 0.09 -> "+0.1" by luck
    assert "Goal" not in render_board(_bundle(tmp_path, [r], report={"headline_kpis": ["gpa"]}))  # no goal set


def test_board_items_are_computed_once_per_language_and_each_caller_gets_its_own_copy(tmp_path):
    b = _bundle(tmp_path, [_row(kpi_id="gpa", kpi_label="GPA", kind="mean", unit="points", mean_t=3.0),
                           _row()])
    first = board_items(b)
    first["tiles"][0]["label"] = "changed by a caller"
    again = board_items(b)
    assert again["tiles"][0]["label"] != "changed by a caller" and again == board_items(b)
    assert [k for k in b.memo] == [("board_items", "en")]
    with T.use_language("es"):
        spanish = board_items(b)
    assert spanish["sentence"] != again["sentence"] and len(b.memo) == 2
    # a new bundle (a bundle is not changed once loaded) computes its own
    assert board_items(B.Bundle(path=b.path, meta=b.meta, tables=b.tables)) == again
