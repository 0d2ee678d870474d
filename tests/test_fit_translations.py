"""XLSForm translations (``label::Español (es)``...): read, validated, and independent of stored answers."""
from __future__ import annotations

import pickle

import openpyxl
import pytest

from partner_analysis.exceptions import InstrumentError
from partner_analysis.fit.instrument import default_instrument_path, parse_language, read_instrument
from xlsform_helpers import edit, write_xlsform

EN, ES = "English (en)", "Español (es)"
SURVEY = [
    ["type", "name", f"label::{EN}", f"label::{ES}", f"hint::{EN}", f"hint::{ES}", "required", "fit::dimension",
     "fit::role", "fit::pair"],
    ["begin group", "g1", "Data sharing", "Intercambio de datos", None, None, None, None, None, None],   # row 2
    ["select_one agree", "d_q1", "We share data", "Compartimos datos", "Every term", "Cada trimestre", "yes",
     "data", "district", "p1"],                                                                        # row 3
    ["select_one agree", "p_q1", "We share data", "Compartimos datos", None, None, "yes", "data", "partner",
     "p1"],                                                                                             # row 4
    ["text", "why", "Why?", None, None, None, None, None, None, None],                                  # row 5
    ["end group", None, None, None, None, None, None, None, None, None],
]
CHOICES = [
    ["list_name", "name", f"label::{EN}", f"label::{ES}", "fit::score"],
    ["agree", "1", "Disagree", "En desacuerdo", 1],   # row 2
    ["agree", "2", "Neutral", "Neutral", 2],
    ["agree", "3", "Agree", "De acuerdo", 3],         # row 4
    ["agree", "dk", "Don't know", "No sé", None],
]
SETTINGS = [["form_title", "form_id", "version", "default_language", f"fit::form_title::{ES}"],
            ["Test form", "test_fit", "2025010101", EN, "Formulario de prueba"]]


def write_form(path, survey=SURVEY, choices=CHOICES, settings=SETTINGS):
    return write_xlsform(path, survey=survey, choices=choices, settings=settings)


def test_parse_language():
    assert parse_language("Español (es)") == ("es", "Español")
    assert parse_language("Português do Brasil (pt-BR)") == ("pt-br", "Português do Brasil")
    assert parse_language("Spanish") is None and parse_language("(es)") is None


def test_translated_form_reads_and_switches_language(tmp_path):
    inst = read_instrument(write_form(tmp_path / "f.xlsx"))
    assert inst.languages == (("en", "English"), ("es", "Español")) and inst.default_language == "en"
    q = inst.item("d_q1")
    assert (q.label, q.hint, q.group) == ("We share data", "Every term", "Data sharing")
    es = inst.in_language("es")
    q_es = es.item("d_q1")
    assert (q_es.label, q_es.hint, q_es.group) == ("Compartimos datos", "Cada trimestre", "Intercambio de datos")
    assert [c.label for c in q_es.choices] == ["En desacuerdo", "Neutral", "De acuerdo", "No sé"]
    # names, scores, logic and version do not depend on the language
    assert [c.name for c in q_es.choices] == [c.name for c in q.choices]
    assert [c.score for c in q_es.choices] == [c.score for c in q.choices]
    assert [it.name for it in es.items] == [it.name for it in inst.items] and es.version == inst.version
    assert es.title == "Formulario de prueba" and es.groups == (("g1", "Intercambio de datos"),)
    # an untranslated, unscored question falls back to the default language; unknown languages too
    assert es.item("why").label == "Why?"
    assert inst.in_language("fr") is inst and inst.in_language(None) is inst
    assert inst.in_language("en").item("d_q1").label == "We share data"
    hash(es)


def test_plain_label_column_is_the_default_language(tmp_path):
    survey = [[c if c != f"label::{EN}" else "label" for c in SURVEY[0]]] + SURVEY[1:]
    choices = [[c if c != f"label::{EN}" else "label" for c in CHOICES[0]]] + CHOICES[1:]
    inst = read_instrument(write_form(tmp_path / "f.xlsx", survey=survey, choices=choices))
    assert inst.language_codes == ("en", "es") and inst.item("d_q1").label == "We share data"
    assert inst.in_language("es").item("d_q1").label == "Compartimos datos"


INVALID = [
    pytest.param(dict(survey=edit(SURVEY, 4, f"label::{ES}", None)), "survey", 4, f"label::{ES}",
                 "scored item 'p_q1' has no label in language Español (es)", id="scored-label-missing"),
    pytest.param(dict(survey=edit(SURVEY, 3, f"hint::{ES}", None)), "survey", 3, f"hint::{ES}",
                 "has no hint in language Español (es)", id="scored-hint-missing"),
    pytest.param(dict(choices=edit(CHOICES, 4, f"label::{ES}", "")), "choices", 4, f"label::{ES}",
                 "choice '3' of list 'agree'", id="scored-choice-label-missing"),
    pytest.param(dict(survey=[[c if c != f"label::{ES}" else "label::Spanish" for c in SURVEY[0]]] + SURVEY[1:]),
                 "survey", 1, "label::Spanish", "without a code", id="language-without-code"),
    pytest.param(dict(settings=edit(SETTINGS, 2, "default_language", "English")), "settings", 2,
                 "default_language", "has no language code", id="default-language-without-code"),
    pytest.param(dict(choices=[r[:3] + r[4:] for r in CHOICES]), "choices", 2, f"label::{ES}",
                 "has no label in language 'es'", id="choices-not-translated-at-all"),
]


@pytest.mark.parametrize("spec, sheet, row, column, text", INVALID)
def test_untranslated_scored_item_is_refused_with_its_location(tmp_path, spec, sheet, row, column, text):
    path = write_form(tmp_path / "bad.xlsx", **spec)
    with pytest.raises(InstrumentError) as info:
        read_instrument(path)
    err = info.value
    assert (err.sheet, err.row, err.column) == (sheet, row, column), str(err)
    assert text in str(err) and err.fix and err.path == str(path)
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == str(err)


def test_shipped_instrument_is_complete_in_spanish():
    inst = read_instrument(default_instrument_path())
    assert inst.language_codes == ("en", "es")
    es = inst.in_language("es")
    for en_item, es_item in zip(inst.items, es.items):
        assert es_item.name == en_item.name
        assert es_item.label and es_item.label != en_item.label, en_item.name
        assert bool(es_item.hint) == bool(en_item.hint)
        assert [(c.name, c.score) for c in es_item.choices] == [(c.name, c.score) for c in en_item.choices]
        assert all(c.label for c in es_item.choices)
        if en_item.choices and en_item.name != "d_so1":
            assert [c.label for c in es_item.choices] != [c.label for c in en_item.choices]
    assert all(label for _, label in es.groups) and es.groups != inst.groups
    assert es.title != inst.title
    wb = openpyxl.load_workbook(default_instrument_path(), read_only=True)
    assert "native speaker" in " ".join(str(r[0]) for r in wb["translation_notes"].iter_rows(values_only=True))
    wb.close()


def test_translated_form_converts_with_pyxform(tmp_path):
    from pyxform import xls2xform

    from partner_analysis.fit.instrument import write_plain_xlsform
    out = tmp_path / "plain.xlsx"
    write_plain_xlsform(default_instrument_path(), out)
    xform = xls2xform.convert(str(out)).xform
    assert 'lang="Español (es)"' in xform and "Muy de acuerdo" in xform
