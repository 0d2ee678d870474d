"""The fit survey in English and Spanish: same stored answers, same scores; switching keeps answers."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import ipywidgets as widgets
import pytest

from partner_analysis.fit.instrument import default_instrument_path, read_instrument
from partner_analysis.fit.scoring import score_responses
from partner_analysis.fit.form import requested_language, survey_form, survey_page
from partner_analysis.store import Store
from partner_analysis.fit import responses


@pytest.fixture(scope="module")
def instrument():
    path = default_instrument_path()
    if not Path(path).is_file():
        pytest.skip(f"shipped instrument {path} is not available")
    return read_instrument(path)


def _answer_like_a_respondent(form, seed: int) -> None:
    """Pick answers by what is on the screen: the k-th option's *label* of each question, in form order.

    The same k in both languages is the same answer for a respondent reading either version.
    """
    ctrl = form.controller
    for _round in range(4):
        for i, spec in enumerate(ctrl.visible_fields()):
            widget = form.inputs.get(spec.name)
            if widget is None or ctrl.value(spec.name) is not None:
                continue
            if isinstance(widget, (widgets.RadioButtons, widgets.Dropdown)):
                labels = [label for label, _value in widget.options]
                widget.label = labels[(i * 7 + seed) % len(labels)]     # choose by the visible text
            elif spec.kind == "multi_choice":
                widget.value = (spec.choices[0][0], spec.choices[2][0])
            elif spec.kind == "integer":
                widget.value = "12"
            elif spec.kind == "date":
                widget.value = dt.date(2024, 9, 1)
            else:
                widget.value = f"Answer {i}"
    assert not ctrl.errors(), ctrl.errors()


@pytest.mark.parametrize("role, seed", [("district", 1), ("partner", 4)])
def test_spanish_survey_scores_identically_to_english(tmp_path, instrument, role, seed):
    results = {}
    for lang in ("en", "es"):
        store = Store(tmp_path / f"{lang}.sqlite")
        form = survey_form(instrument, store, partner_id="P01", role=role, respondent="r1", lang=lang)
        _answer_like_a_respondent(form, seed)
        form.submit_button.click()
        assert ("Gracias" if lang == "es" else "Thank you") in form.status.value, form.status.value
        long = responses.answers_long(store, partner_id="P01", role=role)
        results[lang] = (form, long, score_responses(long, instrument))
        store.close()
    (en_form, en_long, en_scores), (es_form, es_long, es_scores) = results["en"], results["es"]
    # the two forms really were in two languages ...
    first = instrument.scored_items(role=role)[0].name
    assert en_form.inputs[first].options[0][0] == "Strongly disagree"
    assert es_form.inputs[first].options[0][0] == "Muy en desacuerdo"
    # ... and stored the same choice names (never labels) and scored the same
    key = ["item", "value"]
    assert es_long[key].astype(str).values.tolist() == en_long[key].astype(str).values.tolist()
    assert set(es_long["value"].astype(str)) & {"Muy en desacuerdo", "Strongly disagree", "De acuerdo"} == set()
    cols = ["dimension", "score", "band", "items_used"]
    assert es_scores[cols].equals(en_scores[cols])
    assert es_scores["score"].notna().sum() >= 6     # most dimensions scored (some "don't know" leave gaps)


def test_language_switch_keeps_answers_and_translates_the_form(tmp_path, instrument):
    store = Store(tmp_path / "r.sqlite")
    page = survey_page(instrument, store, partner_id="P01", role="district", respondent="r1", lang="en")
    assert page.switcher.description == "Language / Idioma"
    assert page.switcher.options == (("English", "en"), ("Español", "es"))
    form = page.form
    form.inputs["d_so1"].value = "4"
    form.inputs["organisation"].value = "Riverside USD"
    page.switcher.value = "es"
    es_form = page.form
    assert es_form is not form and page.widget.children == (es_form.widget,)
    assert es_form.inputs["d_so1"].value == "4" and es_form.inputs["d_so1"].label == "De acuerdo"
    assert es_form.inputs["organisation"].value == "Riverside USD"
    assert es_form.submit_button.description == "Enviar"
    assert "Encuesta sobre la colaboración" in es_form.widget.children[1].value
    assert "de 36 preguntas obligatorias respondidas" in es_form.progress.value
    # the same response continues: one draft, answers stored by name
    assert dict(zip(*responses.answers_long(store, partner_id="P01", status="draft")[["item", "value"]].values.T)) == {
        "d_so1": "4", "organisation": "Riverside USD"}
    es_form.submit_button.click()
    assert "Todavía no se envió" in es_form.status.value and "Error:" in es_form.status.value
    page.switcher.value = "en"
    assert page.form.inputs["d_so1"].label == "Agree" and page.form.submit_button.description == "Submit"
    store.close()


def test_link_parameter_chooses_the_language(tmp_path, instrument, monkeypatch):
    assert requested_language(instrument, "token=x&lang=es") == "es"
    assert requested_language(instrument, "lang=de") is None
    monkeypatch.setenv("QUERY_STRING", "lang=es")
    store = Store(tmp_path / "r.sqlite")
    page = survey_page(instrument, store, partner_id="P01", role="partner", respondent="r2")
    assert page.lang == "es" and page.switcher.value == "es"
    assert page.form.inputs["organisation"].description.startswith("Su organización")
    store.close()


def test_likert_items_form_one_matrix_per_dimension_and_comments_are_multiline(tmp_path, instrument):
    store = Store(tmp_path / "r.sqlite")
    form = survey_form(instrument, store, partner_id="P01", role="partner", respondent="r3")
    matrices = [box for box in _walk(form.widget) if "pa-matrix" in box._dom_classes]
    scored = instrument.scored_items(role="partner")
    assert len(matrices) == len(instrument.dimensions)
    in_matrix = {w.description.split(" * ")[0] for m in matrices for w in _walk(m)
                 if isinstance(w, widgets.RadioButtons)}
    assert in_matrix == {it.label for it in scored}
    for it in scored:
        assert "pa-likert" in form.inputs[it.name]._dom_classes
    # the collaboration level (other choices, no likert appearance) stays a plain radio list
    assert "pa-likert" not in form.inputs["collab_level"]._dom_classes
    assert isinstance(form.inputs["comments"], widgets.Textarea)
    assert isinstance(form.inputs["p_data_sharing_why"], widgets.Textarea)
    assert isinstance(form.inputs["organisation"], widgets.Text)
    store.close()


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)
