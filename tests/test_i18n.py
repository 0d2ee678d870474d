"""Interface translations (partner_analysis/i18n.py): catalogs complete, compiled, and used by the forms."""
from __future__ import annotations

import gettext as stdlib_gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from conftest import ROOT
from partner_analysis.i18n import (DOMAIN, LOCALE_DIR, Translator, available_languages, current_language, gettext,
                                   language_from_query, ngettext, use_language)

PO_FILES = sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _read(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def test_spanish_catalog_is_shipped():
    assert "es" in available_languages() and LOCALE_DIR / "es" / "LC_MESSAGES" / f"{DOMAIN}.po" in PO_FILES


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_catalog_has_no_untranslated_or_fuzzy_entry(po):
    catalog = _read(po)
    assert not catalog.fuzzy, f"{po}: the header is marked fuzzy"
    problems = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings):
            problems.append(("untranslated", m.id, m.lineno))
        if m.fuzzy:
            problems.append(("fuzzy", m.id, m.lineno))
        # a translation must keep the placeholders its English text is formatted with
        # (the singular may leave out the count: "Your saved answer was restored.")
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        for i, s in enumerate(strings):
            wanted = set(_PLACEHOLDER.findall(ids[min(i, len(ids) - 1)]))
            if s and set(_PLACEHOLDER.findall(s)) - wanted:
                problems.append(("placeholders", m.id, s))
            if s and wanted - set(_PLACEHOLDER.findall(s)) - ({"n"} if len(ids) > 1 and i == 0 else set()):
                problems.append(("placeholders", m.id, s))
    assert problems == [], f"{po}: fix these entries (then `make i18n-compile`): {problems}"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_compiled_catalog_matches_its_po(po):
    """The committed .mo is what `make i18n-compile` makes of the committed .po (same messages)."""
    buf = io.BytesIO()
    write_mo(buf, _read(po))
    buf.seek(0)
    fresh = stdlib_gettext.GNUTranslations(buf)
    with open(po.with_suffix(".mo"), "rb") as f:
        shipped = stdlib_gettext.GNUTranslations(f)
    assert shipped._catalog == fresh._catalog, f"{po.with_suffix('.mo')} is stale: run `make i18n-compile`"


def test_every_marked_string_is_in_every_catalog():
    """A string marked in the code (_(), ngettext, N_) but missing from a .po would show in English."""
    # the report's text is its own domain `report` (babel-report.cfg, tests/test_report_i18n.py); babel.cfg skips it too
    method_map = [("partner_analysis/report/**.py", "ignore"), ("partner_analysis/**.py", "python")]
    marked = {msg[2] if isinstance(msg[2], str) else msg[2][0]
              for msg in extract_from_dir(str(ROOT), method_map=method_map)}
    assert len(marked) > 100   # the survey and records forms
    for po in PO_FILES:
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(po) if m.id}
        missing = sorted(marked - have)
        assert missing == [], f"{po}: run `make i18n-update`, translate, `make i18n-compile`: {missing[:10]}"


def test_translator_falls_back_to_english():
    assert Translator("es")("Submit") == "Enviar" and gettext("Save draft", "es") == "Guardar borrador"
    assert Translator("es-MX")("Submit") == "Enviar"              # a regional code falls back to its language
    assert Translator("fr")("Submit") == "Submit" and Translator(None)("Submit") == "Submit"
    assert Translator("es")("A sentence no catalog has") == "A sentence no catalog has"
    # plural forms of the Spanish catalog (CLDR: one / many / other)
    text = "{answered} of {total} required question answered"
    plural = "{answered} of {total} required questions answered"
    assert ngettext(text, plural, 1, "es").format(answered=0, total=1) == "0 de 1 pregunta obligatoria respondida"
    assert ngettext(text, plural, 36, "es").startswith("{answered} de {total} preguntas")


def test_language_from_query():
    assert language_from_query("token=abc&lang=es") == "es"
    assert language_from_query("?lang=es-MX") == "es"
    assert language_from_query("lang=fr") is None and language_from_query("") is None
    assert language_from_query("lang=es", ("en",)) is None


def test_labels_from_other_modules_are_translated():
    from partner_analysis.records.checkins import STATUS_LABELS
    from partner_analysis.records.investments import CATEGORY_LABELS
    _ = Translator("es")
    for label in [*STATUS_LABELS.values(), *CATEGORY_LABELS.values()]:
        assert _(label) != label, label


def test_use_language_sets_the_default_language_for_a_block():
    assert gettext("Submit") == "Submit" and current_language() is None
    with use_language("es"):
        assert gettext("Submit") == "Enviar" and current_language() == "es"
        assert gettext("Submit", "en") == "Submit"        # an explicit language wins
        with use_language(None):
            assert gettext("Submit") == "Submit"
        assert ngettext("{n} question needs an answer or a correction",
                        "{n} questions need an answer or a correction", 2).startswith("{n} preguntas")
    assert gettext("Submit") == "Submit" and current_language() is None


def test_browser_languages_follow_quality_values():
    from partner_analysis.i18n import browser_languages
    # RFC 9110 section 12.5.4: q-values rank the languages; q=0 means "not this one"
    assert browser_languages("es-MX,es;q=0.9,en;q=0.5") == ["es", "en"]
    assert browser_languages("en;q=0.5, es;q=0.8") == ["es", "en"]
    assert browser_languages("es;q=0, en") == ["en"]
    assert browser_languages("de-DE,fr;q=0.8") == [] and browser_languages("") == []


def test_page_language_order_link_then_invitation_then_browser_then_english():
    from partner_analysis.i18n import choose_language
    assert choose_language(query="token=t&lang=es", invitation="en", accept="en") == "es"     # 1. the link
    assert choose_language(query="token=t&lang=en", invitation="es", accept="es") == "en"
    assert choose_language(query="token=t", invitation="es", accept="en") == "es"             # 2. invitation
    assert choose_language(query="token=t", invitation=None, accept="fr,es;q=0.5") == "es"    # 3. browser
    assert choose_language(query="token=t", invitation=None, accept="fr") == "en"             # 4. English
    assert choose_language(query="lang=de", invitation="xx", accept="") == "en"
    # an instrument in Spanish only: its one language even for an English browser
    assert choose_language(query="", accept="en", languages=("es",)) == "es"
