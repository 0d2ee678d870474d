"""Instrument reading/validation (XLSForm + fit:: columns) and the expression parser."""
from __future__ import annotations

import dataclasses
import pickle

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner_analysis.exceptions import InstrumentError
from partner_analysis.fit.expressions import ExpressionError, evaluate, parse_expression, references
from partner_analysis.fit.instrument import (Band, check_version_increases, default_instrument_path,
                                             read_instrument, write_plain_xlsform)
from xlsform_helpers import edit, write_xlsform

SURVEY = [
    ["type", "name", "label", "required", "relevant", "constraint", "constraint_message", "fit::dimension",
     "fit::reverse", "fit::weight", "fit::role", "fit::pair"],
    ["begin group", "g1", "Data sharing", None, None, None, None, None, None, None, None, None],   # row 2
    ["select_one agree", "d_q1", "We share data", "yes", None, None, None, "data", None, None, "district", "p1"],  # 3
    ["select_one agree", "p_q1", "We share data", "yes", None, None, None, "data", None, None, "partner", "p1"],   # 4
    ["select_one agree", "q2", "Data is late", None, None, None, None, "data", "yes", "2", "both", None],         # 5
    ["text", "why", "Why?", None, "${d_q1} <= 2", None, None, None, None, None, "district", None],             # 6
    ["integer", "hours", "Hours", None, None, ". >= 0 and . <= 40", "0-40 please", None, None, None, None, None],  # 7
    ["end group", None, None, None, None, None, None, None, None, None, None, None],                       # 8
]
CHOICES = [
    ["list_name", "name", "label", "fit::score"],
    ["agree", "1", "Strongly disagree", 1],  # row 2
    ["agree", "2", "Disagree", 2],
    ["agree", "3", "Neutral", 3],
    ["agree", "4", "Agree", 4],
    ["agree", "5", "Strongly agree", 5],
    ["agree", "dk", "Don't know", None],     # row 7
]
SETTINGS = [
    ["form_title", "form_id", "version", "fit::bands", "fit::gap_watch", "fit::gap_discuss", "fit::min_items_pct",
     "fit::min_n"],
    ["Test form", "test_fit", "2025010101", "concern<3.0; borderline<4.0; strength", 0.5, 1.0, 0.75, 5],
]


def write_form(path, survey=SURVEY, choices=CHOICES, settings=SETTINGS, drop_sheets=()):
    return write_xlsform(path, survey=survey, choices=choices, settings=settings, drop_sheets=drop_sheets)


def test_minimal_form_reads(tmp_path):
    inst = read_instrument(write_form(tmp_path / "f.xlsx"))
    assert inst.form_id == "test_fit" and inst.version == "2025010101"
    assert [it.name for it in inst.items] == ["d_q1", "p_q1", "q2", "why", "hours"]
    assert inst.dimensions == ("data",)
    q2 = inst.item("q2")
    assert q2.reverse and q2.weight == 2.0 and q2.role == "both" and q2.group == "Data sharing" and q2.row == 5
    assert q2.score_range == (1.0, 5.0)
    assert q2.choice("dk").score is None
    assert [it.name for it in inst.items_for("district")] == ["d_q1", "q2", "why", "hours"]
    assert inst.bands == (Band("concern", 3.0), Band("borderline", 4.0), Band("strength"))
    assert inst.gap_thresholds.watch == 0.5 and inst.gap_thresholds.discuss == 1.0


def _case(survey=SURVEY, choices=CHOICES, settings=SETTINGS, drop=()):
    return dict(survey=survey, choices=choices, settings=settings, drop_sheets=drop)


# (workbook, sheet, row, column, text in the message)
INVALID = [
    pytest.param(_case(survey=edit(SURVEY, 3, "type", "select_uno agree")), "survey", 3, "type",
                 "unknown question type", id="unknown-type"),
    pytest.param(_case(survey=edit(SURVEY, 4, "type", "select_one agre")), "survey", 4, "type",
                 "choice list 'agre'", id="missing-choice-list"),
    pytest.param(_case(survey=edit(SURVEY, 5, "name", "d_q1")), "survey", 5, "name", "already used in row 3",
                 id="duplicate-name"),
    pytest.param(_case(survey=edit(SURVEY, 7, "name", "hours worked")), "survey", 7, "name", "not allowed",
                 id="bad-name-characters"),
    pytest.param(_case(survey=edit(SURVEY, 5, "fit::dimension", None)), "survey", 5, "fit::dimension",
                 "no fit::dimension", id="scored-item-without-dimension"),
    pytest.param(_case(survey=edit(SURVEY, 6, "relevant", "${d_q1} <= <= 2")), "survey", 6, "relevant",
                 "does not parse", id="bad-expression"),
    pytest.param(_case(survey=edit(SURVEY, 6, "relevant", "${d_q9} <= 2")), "survey", 6, "relevant",
                 "${d_q9}", id="unknown-reference"),
    pytest.param(_case(settings=edit(SETTINGS, 2, "version", "v2")), "settings", 2, "version",
                 "must be 1-10 digits", id="version-not-digits"),
    pytest.param(_case(settings=edit(SETTINGS, 2, "version", "20250101011")), "settings", 2, "version",
                 "must be 1-10 digits", id="version-too-long"),
    pytest.param(_case(drop=("settings",)), "settings", None, None, "no 'settings' sheet",
                 id="missing-settings-sheet"),
    pytest.param(_case(settings=[[c if c != "form_id" else "formid" for c in SETTINGS[0]], SETTINGS[1]]),
                 "settings", 1, "form_id", "required column 'form_id'", id="missing-required-column"),
    pytest.param(_case(choices=edit(CHOICES, 4, "fit::score", "three")), "choices", 4, "fit::score",
                 "must be a number", id="choice-score-not-numeric"),
    pytest.param(_case(survey=edit(SURVEY, 3, "fit::role", "school")), "survey", 3, "fit::role",
                 "district, partner or both", id="bad-role"),
    pytest.param(_case(survey=edit(SURVEY, 5, "fit::weight", 0)), "survey", 5, "fit::weight",
                 "greater than 0", id="weight-zero"),
    pytest.param(_case(survey=edit(SURVEY, 5, "fit::weight", -1.5)), "survey", 5, "fit::weight",
                 "greater than 0", id="weight-negative"),
    pytest.param(_case(survey=edit(SURVEY, 5, "fit::reverse", "sometimes")), "survey", 5, "fit::reverse",
                 "yes or no", id="reverse-not-yes-no"),
    pytest.param(_case(survey=SURVEY[:-1]), "survey", 2, "type", "never closed", id="group-not-closed"),
    pytest.param(_case(survey=edit(SURVEY, 6, "relevant", ". > 2")), "survey", 6, "relevant",
                 "only meaningful in a constraint", id="dot-outside-constraint"),
    pytest.param(_case(survey=edit(SURVEY, 7, "constraint", ". >= 0 and")), "survey", 7, "constraint",
                 "does not parse", id="bad-constraint"),
    pytest.param(_case(survey=edit(SURVEY, 4, "fit::dimension", "other")), "survey", 4, "fit::pair",
                 "different dimensions", id="pair-across-dimensions"),
    pytest.param(_case(survey=edit(SURVEY, 7, "fit::dimension", "data")), "survey", 7, "fit::dimension",
                 "only select_one items can be scored", id="integer-with-dimension"),
    pytest.param(_case(settings=edit(SETTINGS, 2, "fit::bands", "concern<4; borderline<3; strength")), "settings",
                 2, "fit::bands", "must increase", id="bands-not-increasing"),
    pytest.param(_case(settings=edit(SETTINGS, 2, "fit::gap_discuss", 0.2)), "settings", 2, "fit::gap_discuss",
                 "below fit::gap_watch", id="discuss-below-watch"),
    pytest.param(_case(settings=edit(SETTINGS, 2, "fit::min_items_pct", 1.5)), "settings", 2,
                 "fit::min_items_pct", "between 0.0 and 1.0", id="min-items-pct-range"),
    pytest.param(_case(choices=edit(CHOICES, 3, "name", "1")), "choices", 3, "name", "appears twice",
                 id="duplicate-choice"),
    pytest.param(_case(survey=SURVEY + [["end group"] + [None] * 11]), "survey", 9, "type",
                 "without a matching", id="end-group-without-begin"),
]


@pytest.mark.parametrize("spec, sheet, row, column, text", INVALID)
def test_invalid_instrument_names_location(tmp_path, spec, sheet, row, column, text):
    path = write_form(tmp_path / "bad.xlsx", **spec)
    with pytest.raises(InstrumentError) as info:
        read_instrument(path)
    err = info.value
    assert (err.sheet, err.row, err.column) == (sheet, row, column), str(err)
    assert text in str(err)
    assert err.path == str(path)
    assert err.fix  # every error says what to do
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.sheet, clone.row, clone.column, str(clone)) == (err.sheet, err.row, err.column, str(err))


def test_version_must_increase(tmp_path):
    path = write_form(tmp_path / "f.xlsx")
    assert read_instrument(path, previous_version="2024120101").version == "2025010101"
    with pytest.raises(InstrumentError, match="does not increase") as info:
        read_instrument(path, previous_version=2025010101)
    assert (info.value.sheet, info.value.row, info.value.column) == ("settings", 2, "version")
    check_version_increases("9", "10")  # integers, not strings: "10" < "9" as text
    with pytest.raises(InstrumentError, match="does not increase"):
        check_version_increases("2025010102", "2025010101")
    with pytest.raises(InstrumentError, match="digits"):
        check_version_increases("1.0", "2")


def test_nested_group_reusing_a_name(tmp_path):
    survey = SURVEY[:-1] + [["begin group", "inner", "Inner"] + [None] * 9,
                            ["note", "n1", "x"] + [None] * 9, ["end group"] + [None] * 11, SURVEY[-1]]
    survey = edit(survey, 9, "name", "g1")  # inner group re-uses the outer group's name
    with pytest.raises(InstrumentError, match="already used in row 2") as info:
        read_instrument(write_form(tmp_path / "f.xlsx", survey=survey))
    assert (info.value.sheet, info.value.row, info.value.column) == ("survey", 9, "name")


def test_pyxform_only_error_is_located(tmp_path):
    # our checks do not look at labels; pyxform does, and names the element, which we turn into its row
    path = write_form(tmp_path / "f.xlsx", survey=edit(SURVEY, 7, "label", None))
    with pytest.raises(InstrumentError, match=r"pyxform.*'hours' has no label") as info:
        read_instrument(path)
    assert (info.value.sheet, info.value.row, info.value.column) == ("survey", 7, "label")
    assert read_instrument(path, pyxform_check=False).item("hours").label == ""


def test_pyxform_back_stop_reports_sheet_and_row(tmp_path, monkeypatch):
    """pyxform's '[row : N] On the 'survey' sheet, the 'name' value ...' becomes sheet/row/column attributes."""
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError

    def fail(*a, **k):
        raise PyXFormError("[row : 4] On the 'survey' sheet, the 'label' value is invalid. Something.")
    monkeypatch.setattr(xls2xform, "convert", fail)
    with pytest.raises(InstrumentError, match="pyxform") as info:
        read_instrument(write_form(tmp_path / "f.xlsx"))
    assert (info.value.sheet, info.value.row, info.value.column) == ("survey", 4, "label")


def test_not_a_workbook(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("not a workbook")
    with pytest.raises(InstrumentError, match="cannot be read"):
        read_instrument(p)
    with pytest.raises(InstrumentError, match="file not found"):
        read_instrument(tmp_path / "missing.xlsx")


def test_logic_relevant_required_constraint(tmp_path):
    inst = read_instrument(write_form(tmp_path / "f.xlsx"))
    assert inst.is_relevant("why", {"d_q1": "2"})
    assert not inst.is_relevant("why", {"d_q1": "3"})
    assert not inst.is_relevant("why", {"d_q1": "dk"})  # don't know is not a low rating
    assert not inst.is_relevant("why", {})
    assert inst.check_value("hours", 41, {}) == "0-40 please"
    assert inst.check_value("hours", 40, {}) is None
    assert inst.check_value("hours", 2.5, {}) == "Enter a whole number."
    assert inst.check_value("hours", "abc", {}) == "Enter a whole number."
    assert inst.check_value("d_q1", "", {}) == "This question is required."
    assert inst.check_value("d_q1", "7", {}).startswith("Choose one")
    assert inst.check_value("why", "", {}) is None
    assert inst.validate_answers({"q2": "4"}, role="district") == [("d_q1", "This question is required.")]
    assert inst.validate_answers({"q2": "4"}, role="partner") == [("p_q1", "This question is required.")]
    assert inst.validate_answers({"d_q1": "1", "hours": 99}, role="district") == [("hours", "0-40 please")]


# -- shipped instrument --------------------------------------------------------------------------

def test_shipped_instrument_validates():
    inst = read_instrument(default_instrument_path())
    assert inst.form_id == "partner_fit" and inst.version.isdigit() and len(inst.version) <= 10
    assert len(inst.dimensions) == 10
    for dim in inst.dimensions:
        for role in ("district", "partner"):
            n = len(inst.scored_items(dim, role=role))
            assert 3 <= n <= 4, (dim, role, n)
        pairs = {it.pair for it in inst.scored_items(dim)}
        for pair in pairs:
            roles = sorted(it.role for it in inst.scored_items(dim) if it.pair == pair)
            assert roles == ["district", "partner"], pair
    assert sum(it.reverse for it in inst.scored_items()) >= 4
    agree = inst.scored_items()[0]
    assert [c.score for c in agree.choices] == [1, 2, 3, 4, 5, None]
    level = inst.item("collab_level")
    assert [c.name for c in level.choices] == ["0", "1", "2", "3", "4", "5"] and not level.scored
    assert {"respondent_name", "respondent_role", "organisation"} <= {it.name for it in inst.items}
    assert [(b.label, b.upper) for b in inst.bands] == [("concern", 3.0), ("borderline", 4.0),
                                                          ("strength", float("inf"))]
    # a "why?" follow-up for every dimension and side, shown after a rating of 2 or lower
    why = inst.item("d_data_sharing_why")
    assert not inst.is_relevant(why.name, {"d_ds1": "3", "d_ds2": "4"})
    assert inst.is_relevant(why.name, {"d_ds1": "3", "d_ds2": "2"})


def test_shipped_workbook_matches_its_build_script(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("build", default_instrument_path().with_name(
        "build_partner_fit_v1.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rebuilt = read_instrument(mod.build(tmp_path / "rebuilt.xlsx"))
    shipped = read_instrument(default_instrument_path())
    assert rebuilt.items == shipped.items and rebuilt.version == shipped.version


def test_plain_xlsform_has_no_fit_columns(tmp_path):
    out = tmp_path / "plain.xlsx"
    write_plain_xlsform(default_instrument_path(), out)
    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        assert not any(str(c.value or "").startswith("fit::") for c in ws[1])
    from pyxform import xls2xform
    assert "<h:html" in xls2xform.convert(str(out)).xform


# -- expressions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, answers, current, expected", [
    ("${a} = 'x'", {"a": "x"}, None, True),
    ("${a} != 'x'", {"a": "y"}, None, True),
    ("${a} <= 2", {"a": "2"}, None, True),
    ("${a} <= 2", {"a": "3"}, None, False),
    ("${a} <= 2", {"a": "dk"}, None, False),
    ("${a} <= 2", {}, None, False),
    ("${a} > 1.5 and ${b} < 3", {"a": 2, "b": "2"}, None, True),
    ("${a} >= 5 or ${b} = ''", {"a": 1}, None, True),
    ("not(${a} = 'x')", {"a": "x"}, None, False),
    ("(${a} = 1 or ${a} = 2) and not(${b} = 'n')", {"a": "2", "b": "y"}, None, True),
    ("selected(${m}, 'b')", {"m": ["a", "b"]}, None, True),
    ("selected(${m}, 'c')", {"m": "a b"}, None, False),
    (". >= 0 and . <= 40", {}, 40, True),
    (". >= 0 and . <= 40", {}, 41, False),
    ("string-length(.) <= 3", {}, "abcd", False),
    ("count-selected(${m}) = 2", {"m": ["a", "b"]}, None, True),
    ("${a} = 2", {"a": 2.0}, None, True),
    ("-${a} < 0", {"a": 1}, None, True),
    ("${a} + 1 = 3", {"a": "2"}, None, True),
    ("true() and not(false())", {}, None, True),
])
def test_expression_evaluates(text, answers, current, expected):
    assert evaluate(text, answers, current) is expected


@pytest.mark.parametrize("text, position", [
    ("${a} <= <= 2", 8),
    ("${a} = ", 7),
    ("(${a} = 1", 9),
    ("${a} = 1 = 2", 9),
    ("foo = 1", 0),
    ("bar(1)", 0),
    ("${a} # 2", 5),
    ("${1a} = 1", 0),
    ("selected(${a})", 0),
    ("", 0),
    ("${a} = 'unterminated", 7),
])
def test_expression_syntax_errors(text, position):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert info.value.position == position
    assert pickle.loads(pickle.dumps(info.value)).position == position


def test_expression_references_and_no_eval():
    assert references("${b} > 1 and selected(${a}, 'x') or ${b} < 0") == ("b", "a")
    # nothing Python-ish is ever executed: a dunder is just a bad token
    with pytest.raises(ExpressionError):
        parse_expression("__import__('os').system('true')")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="${}()'.,=!<>+- abc12_xyzandornotselected", max_size=40))
def test_parser_only_raises_expression_error(text):
    try:
        expr = parse_expression(text)
    except ExpressionError:
        return
    expr.evaluate({"a": "1", "abc": "x"}, current="2")  # whatever parses also evaluates


def test_instrument_is_frozen_and_hashable():
    inst = read_instrument()
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.version = "1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.items[0].label = "x"
    assert hash(inst) == hash(read_instrument())


def test_cached_instrument_reads_a_workbook_once_per_version_of_the_file(tmp_path):
    """A report batch asks for the same instrument for every partner (fit.results.cached_instrument)."""
    import os
    import shutil

    from partner_analysis.fit.instrument import default_instrument_path
    from partner_analysis.fit.results import cached_instrument
    assert cached_instrument() is cached_instrument()
    assert cached_instrument() == read_instrument(pyxform_check=False)
    copy = tmp_path / "fit.xlsx"
    shutil.copyfile(default_instrument_path(), copy)
    first = cached_instrument(copy)
    assert cached_instrument(copy) is first and first.path is not None
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))   # the file changed: read again
    assert cached_instrument(copy) is not first and cached_instrument(copy) == first
