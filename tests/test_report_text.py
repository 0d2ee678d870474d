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
