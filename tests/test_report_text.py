"""Report text comes from one place (report/text.py): plurals, phrases, plain-language words."""
import ast
from pathlib import Path

import pytest

from partner_analysis.report import text as T


@pytest.mark.parametrize("shown, expected", [
    ("+1 percentage points", "+1 percentage point"),
    ("-1 percentage points", "-1 percentage point"),
    ("+12 percentage points", "+12 percentage points"),
    ("+0.5 percentage points", "+0.5 percentage points"),
    ("no change", "no change"),
    ("not shown", "not shown"),
])
def test_percentage_points_singular_and_plural(shown, expected):
    assert T.percentage_points(shown) == expected


def test_partnerships_phrase():
    assert T.partnerships_phrase(1, 2) == "one of the 2 partnerships"
    assert T.partnerships_phrase(1, 1) == "the only partnership"
    assert T.partnerships_phrase(3, 7) == "3 of the 7 partnerships"


def test_overall_sentence_counts_and_plural():
    assert T.overall_sentence("Acme", {"good": 2, "concern": 1}, 1) == (
        "Acme: 1 of 3 headline results needs attention. 1 item below needs attention.")
    assert T.overall_sentence("Acme", {"good": 1, "watch": 2}, 0) == (
        "Acme: no concerns; 2 of 3 headline results to watch.")
    assert T.overall_sentence("Acme", {"good": 3}, 2).endswith("2 items below need attention.")
    assert "not yet available" in T.overall_sentence("Acme", {}, 0)
    assert "too small to show results" in T.overall_sentence("Acme", {}, 2, hidden=4)


def test_plain_language_size_and_chance():
    # Cohen (1988) conventions: 0.2 small/medium boundary, 0.5 medium/large boundary
    assert [T.size_word(v) for v in (0.05, -0.19, 0.2, 0.49, -0.5, 1.1)] == [
        "small", "small", "medium", "medium", "large", "large"]
    assert [T.chance_word(p) for p in (0.001, 0.049, 0.05, 0.6, None)] == [
        "unlikely", "unlikely", "likely", "likely", "not tested"]


def test_days_overdue_and_students():
    assert T.days_overdue(1) == "1 day overdue"
    assert T.days_overdue(218) == "218 days overdue"
    assert T.students_phrase("<10") == "fewer than 10 students"
    assert T.students_phrase("45") == "about 45 students"


def test_messages_are_literal_for_extraction():
    """Every _()/ngettext() call in text.py takes string literals (pybabel extract finds them)."""
    tree = ast.parse(Path(T.__file__).read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id in ("_", "N_", "ngettext")]
    assert len(calls) > 30
    literal = [n for n in calls if n.func.id == "_" and not isinstance(n.args[0], ast.Constant)]
    # _() of a looked-up label (a marked N_ literal) is the one allowed indirection
    assert all(isinstance(n.args[0], ast.Subscript) for n in literal)
    for n in calls:
        if n.func.id == "ngettext":
            assert isinstance(n.args[0], ast.Constant) and isinstance(n.args[1], ast.Constant)


# -- every derived sentence: English wording, singular and plural ---------------------------------------------
def test_story_difference_wording_follows_the_evidence():
    assert T.story_difference("2 percentage points", True, False) == (
        "; taking part was associated with a level 2 percentage points higher than for students who did not take "
        "part (this does not show that the program caused the difference)")
    assert T.story_difference("0.3", False, True).startswith("; taking part was followed by a level 0.3 lower")
    assert T.story_test("untested") == ". The groups are too small for a statistical test"


@pytest.mark.parametrize("counts, expected", [
    ([("met", 1)], "Of the partnership's 1 goal: 1 met."),
    ([("met", 1), ("on_track", 2), ("not shown (small group)", 1)],
     "Of the partnership's 4 goals: 1 met, 2 on track, 1 not shown because a group is too small."),
])
def test_goal_counts(counts, expected):
    assert T.story_goals(counts) == expected


@pytest.mark.parametrize("held, n, expected", [
    (0, 2, "No check-in meetings were held with the two partners this quarter."),
    (1, 1, "Check-in meetings were held with the only partner this quarter."),
    (2, 2, "Check-in meetings were held with all two partners this quarter."),
    (1, 3, "Check-in meetings were held with one of three partners this quarter."),
])
def test_checkin_sentence(held, n, expected):
    assert T.brief_checkins(held, n, T.period_words(True), []) == expected


def test_small_derived_phrases():
    assert T.overdue_cell(True, 1) == "yes, 1 day" and T.overdue_cell(True, 218) == "yes, 218 days"
    assert T.overdue_cell(False, None) == "no" and T.overdue_cell(True, None) == "yes"
    assert T.vs_similar_summary(2, 1, 0) == "better on 2, worse on 1 of 3 shown"
    assert T.vs_similar_summary(0, 0, 0) == "not shown"
    assert T.index_intro(1, 1).startswith("1 of 1 partner report is ready.")
    assert T.index_intro(3, 4).startswith("3 of 4 partner reports are ready.")
    assert T.brief_small_tail(1, 10) == ("; one partnership worked with fewer than 10 students, so its count and "
                                         "results are not shown")
    assert T.brief_band("balanced", 1, True, 4) == "one of the four partnerships was balanced"
    assert T.brief_band("one-sided", 2, False, 4) == "two were one-sided"
    assert T.sector_phrase("employer", 1) == "an employer" and T.sector_phrase("employer", 3) == "three employers"
    assert T.join(["a", "b", "c"]) == "a, b and c"
    assert T.more_attention(1) == "and 1 more item (see Check-ins and Goals)"
    assert T.attention_count(2) == "2 items"
    assert T.coded_level("\u226595%") == "at least 95%"
    assert T.figure("2.9 credits") == "2.9 credits" and T.figure("+1 percentage points") == "+1 percentage point"
    assert T.investment_summary("one_sided", "2%") == "one-sided (partner share 2%)"
    assert T.goal_words("on track (check-in review)") == "on track (check-in review)"
    assert T.kpi_label("Attendance rate") == "Attendance rate" and T.kpi_label("My own KPI") == "My own KPI"


def test_report_text_is_written_only_in_text_py():
    """No other report module writes a translatable message itself: it calls a function or label of text.py."""
    found = []
    for path in sorted(Path(T.__file__).parent.glob("*.py")):
        if path.name == "text.py":
            continue
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("_", "ngettext") \
                    and n.args and isinstance(n.args[0], ast.Constant):
                found.append((path.name, n.lineno, n.args[0].value))
    assert found == []
