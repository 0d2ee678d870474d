"""Form engine (pure logic) and its ipywidgets view, driven headlessly (``.value`` and ``.click()``)."""
from __future__ import annotations

import datetime as dt

import ipywidgets as widgets
import pytest

from partner_analysis.exceptions import ConfigError
from partner_analysis.forms.engine import REQUIRED_MESSAGE, FieldSpec, FormController
from partner_analysis.forms.widgets import CheckboxGroup, WidgetForm

LIKERT = tuple((str(i), lab) for i, lab in enumerate(
    ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], start=1))


def _fields():
    return [
        FieldSpec("intro", "note", "Thank you for taking part.", section="About you"),
        FieldSpec("role_years", "integer", "Years in this partnership", required=True, section="About you",
                  validate=lambda v, a: None if 0 <= v <= 50 else "Enter a number from 0 to 50."),
        FieldSpec("trust", "choice", "We trust each other", choices=LIKERT, required=True, section="Trust"),
        FieldSpec("why_low", "long_text", "What would build trust?", required=True, section="Trust",
                  relevant=lambda a: a.get("trust") in ("1", "2")),
        FieldSpec("why_low_more", "text", "Anything else?", required=True, section="Trust",
                  relevant=lambda a: bool(a.get("why_low"))),
        FieldSpec("channels", "multi_choice", "How do you communicate?", section="Communication",
                  choices=(("email", "Email"), ("meet", "Meetings"), ("phone", "Phone"))),
        FieldSpec("budget", "decimal", "Annual budget (USD)", section="Resources"),
        FieldSpec("started", "date", "Start date", section="Resources"),
        FieldSpec("county", "choice", "County", section="Resources",
                  choices=tuple((f"c{i:02d}", f"County {i}") for i in range(1, 12))),
    ]


# -- engine ----------------------------------------------------------------------------------------

def test_parse_and_validate():
    changes = []
    c = FormController(_fields(), on_change=lambda n, v: changes.append((n, v)))
    assert c.set("role_years", "12") is None and c.value("role_years") == 12
    assert c.set("role_years", "abc") == "Enter a whole number, for example 12."
    assert c.value("role_years") == 12                     # refused input keeps the old answer
    assert c.set("role_years", "2.5") is not None
    assert c.set("role_years", "99") == "Enter a number from 0 to 50."
    assert ("role_years", "Enter a number from 0 to 50.") in c.errors()
    assert c.set("budget", "1,250.50") is None and c.value("budget") == 1250.5
    assert c.set("budget", "nan") is not None
    assert c.set("started", "2025-09-30") is None and c.value("started") == dt.date(2025, 9, 30)
    assert c.set("started", "30/09/2025") is not None
    assert c.set("trust", "9") == "Choose one of the listed options."
    assert c.set("channels", ["phone", "email"]) is None and c.value("channels") == ("email", "phone")
    assert c.set("channels", ["fax"]) is not None
    # only accepted changes are reported (autosave), each once
    assert changes == [("role_years", 12), ("budget", 1250.5), ("started", dt.date(2025, 9, 30)),
                       ("channels", ("email", "phone"))]
    c.set("budget", "")
    assert changes[-1] == ("budget", None) and "budget" not in c.answers


def test_skip_logic_required_progress():
    c = FormController(_fields())
    names = lambda: [f.name for f in c.visible_fields()]  # noqa: E731
    assert "why_low" not in names()
    assert c.progress() == (0, 2) and c.progress().text == "0 of 2 required questions answered"
    c.set("trust", "1")
    assert "why_low" in names() and "why_low_more" not in names()
    assert c.progress() == (1, 3)
    c.set("why_low", "More meetings")
    assert "why_low_more" in names() and c.progress() == (2, 4)
    assert [n for n, _ in c.errors()] == ["role_years", "why_low_more"]
    assert dict(c.errors())["role_years"] == REQUIRED_MESSAGE
    # closing the first question of a chain hides the whole chain and drops its requirements
    c.set("trust", "4")
    assert "why_low" not in names() and "why_low_more" not in names()
    assert c.progress() == (1, 2)


def test_submit_clears_hidden_and_reports_errors():
    got = []
    c = FormController(_fields(), on_submit=got.append)
    c.set("trust", "2")
    c.set("why_low", "x")
    errs = c.submit()
    assert [n for n, _ in errs] == ["role_years", "why_low_more"] and got == []
    c.set("role_years", 3)
    c.set("trust", "5")                         # hides why_low; its answer must not be submitted
    assert c.submit() == []
    assert got == [{"role_years": 3, "trust": "5"}] and c.submitted


def test_on_submit_can_refuse():
    c = FormController([FieldSpec("a", "text", "A")], on_submit=lambda ans: [("a", "store says no")])
    assert c.submit() == [("a", "store says no")] and not c.submitted


def test_initial_resume_parses_stored_values():
    c = FormController(_fields(), initial={"role_years": 4, "started": "2025-01-02", "channels": ["meet"],
                                           "unknown_item": "x", "budget": "bad"})
    assert c.value("started") == dt.date(2025, 1, 2) and c.value("channels") == ("meet",)
    assert "unknown_item" not in c.answers
    assert dict(c.errors())["budget"].startswith("Enter a number")


@pytest.mark.parametrize("spec, match", [
    pytest.param(dict(name="x", kind="slider", label="X"), "`kind` must be one of", id="kind"),
    pytest.param(dict(name="x", kind="choice", label="X"), "without choices", id="no-choices"),
])
def test_bad_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        FieldSpec(**spec)


def test_duplicate_names():
    with pytest.raises(ConfigError, match="unique"):
        FormController([FieldSpec("a", "text", "A"), FieldSpec("a", "text", "B")])


# -- widgets ---------------------------------------------------------------------------------------

def _walk(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from _walk(child)


def test_widgets_choice_of_controls_and_labels():
    form = WidgetForm(FormController(_fields()), title="Fit survey")
    kinds = {name: type(w) for name, w in form.inputs.items()}
    assert kinds["trust"] is widgets.RadioButtons
    assert kinds["county"] is widgets.Dropdown              # 11 options: too many for radios
    assert kinds["channels"] is CheckboxGroup
    assert kinds["started"] is widgets.DatePicker
    assert kinds["why_low"] is widgets.Textarea
    assert "intro" not in form.inputs                        # notes are text, not inputs
    everything = list(_walk(form.widget))
    assert not any(isinstance(w, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider))
                   for w in everything)
    for name, w in form.inputs.items():
        assert w.description, name                          # every input is labelled
    assert form.inputs["trust"].description.endswith("* (required)")
    assert "0 of 2 required questions answered" in form.progress.value


def test_widgets_fill_error_skip_submit():
    saved, submitted = [], []
    ctrl = FormController(_fields(), on_change=lambda n, v: saved.append((n, v)), on_submit=submitted.append)
    form = WidgetForm(ctrl, title="Fit survey")
    assert form.boxes["why_low"].layout.display == "none"
    form.inputs["trust"].value = "1"
    assert form.boxes["why_low"].layout.display is None     # skip logic live
    form.inputs["role_years"].value = "many"
    assert "Error: Enter a whole number" in form.errors["role_years"].value
    form.submit_button.click()
    assert submitted == [] and "Not submitted yet" in form.status.value and "Error:" in form.status.value
    assert REQUIRED_MESSAGE in form.errors["why_low"].value
    form.inputs["role_years"].value = "7"
    form.inputs["why_low"].value = "Meet monthly"
    form.inputs["why_low_more"].value = "No"
    form.inputs["channels"].value = ("meet", "email")
    assert form.inputs["channels"]._boxes[0].value is True  # the email checkbox follows the value
    form.inputs["channels"]._boxes[2].value = True          # clicking a box updates the group value
    form.inputs["started"].value = dt.date(2025, 8, 1)
    form.inputs["county"].value = "c03"
    assert form.errors["role_years"].value == ""
    assert "4 of 4 required questions answered" in form.progress.value
    form.save_button.click()
    assert "Draft saved" in form.status.value
    form.submit_button.click()
    assert "Thank you" in form.status.value
    assert submitted == [{"role_years": 7, "trust": "1", "why_low": "Meet monthly", "why_low_more": "No",
                          "channels": ("email", "meet", "phone"), "started": dt.date(2025, 8, 1),
                          "county": "c03"}]
    assert all(w.disabled for w in form.inputs.values()) and form.submit_button.disabled
    assert ("role_years", 7) in saved and ("channels", ("email", "meet", "phone")) in saved


def test_widget_shows_callback_failures_as_text():
    def broken(_name, _value):
        raise RuntimeError("disk full")

    form = WidgetForm(FormController([FieldSpec("a", "text", "A")], on_change=broken))
    form.inputs["a"].value = "x"
    assert "could not be saved: disk full" in form.status.value


def test_conditional_required():
    c = FormController([
        FieldSpec("has_mou", "choice", "Is there a signed agreement?", choices=(("yes", "Yes"), ("no", "No"))),
        FieldSpec("mou_date", "date", "Date signed", required=lambda a: a.get("has_mou") == "yes"),
    ])
    assert c.progress() == (0, 0) and c.errors() == []
    c.set("has_mou", "yes")
    assert c.progress() == (0, 1) and [n for n, _ in c.errors()] == ["mou_date"]
    form = WidgetForm(c)
    assert "(required)" not in form.inputs["mou_date"].description   # said by the inline error instead
