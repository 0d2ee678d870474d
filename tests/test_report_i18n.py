"""The partner report in Spanish: the `report` gettext domain is complete, the Spanish board, brief, index and
deck leave no English sentence behind, and every figure is the English figure written the Spanish way."""
from __future__ import annotations

import gettext as stdlib_gettext
import io
import re

import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from conftest import ROOT
from partner_analysis.i18n import LOCALE_DIR, REPORT_DOMAIN, available_languages
from partner_analysis.report import text as T

TERM = "2025-26-Q2"
PO = LOCALE_DIR / "es" / "LC_MESSAGES" / f"{REPORT_DOMAIN}.po"
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _catalog():
    with open(PO, "rb") as f:
        return read_po(f)


def _marked() -> set:
    """Every message marked in partner_analysis/report (babel-report.cfg's map: _, N_, ngettext)."""
    method_map = [("partner_analysis/report/**.py", "python")]
    return {msg[2] if isinstance(msg[2], str) else tuple(msg[2])
            for msg in extract_from_dir(str(ROOT), method_map=method_map)}


def test_report_domain_is_shipped_in_spanish():
    assert "es" in available_languages(REPORT_DOMAIN)
    assert (ROOT / "babel-report.cfg").exists()


def test_every_report_message_is_translated_in_spanish():
    """A message marked in the report code but missing, empty or fuzzy in report.po would print in English."""
    marked = _marked()
    assert len(marked) > 350  # the whole report: board, story, sections, index, brief, deck
    have = {}
    for m in _catalog():
        if m.id:
            have[m.id if isinstance(m.id, str) else tuple(m.id)] = m
    missing = sorted(map(str, marked - set(have)))
    assert missing == [], f"{PO}: run `make i18n-report-update`, translate, `make i18n-report-compile`: {missing[:10]}"
    problems = []
    for key in marked:
        m = have[key]
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings) or m.fuzzy:
            problems.append(("untranslated or fuzzy", key))
        ids = key if isinstance(key, tuple) else (key,)
        for i, s in enumerate(strings):
            wanted = set(_PLACEHOLDER.findall(ids[min(i, len(ids) - 1)]))
            got = set(_PLACEHOLDER.findall(s))
            # a singular may name its one item instead of the count ("la única alianza")
            if got - wanted or wanted - got - ({"n"} if len(ids) > 1 and i == 0 else set()):
                problems.append(("placeholders", key, s))
    assert problems == []


def test_a_missing_translation_is_caught(tmp_path):
    """The completeness check above is not vacuous: drop one entry and the marked set is no longer covered."""
    catalog = _catalog()
    some = next(m for m in catalog if m.id == "Partnership board")
    catalog.delete(some.id)
    have = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}
    assert "Partnership board" in _marked() - have


def test_compiled_report_catalog_matches_its_po():
    buf = io.BytesIO()
    write_mo(buf, _catalog())
    buf.seek(0)
    fresh = stdlib_gettext.GNUTranslations(buf)
    with open(PO.with_suffix(".mo"), "rb") as f:
        shipped = stdlib_gettext.GNUTranslations(f)
    assert shipped._catalog == fresh._catalog, f"{PO.with_suffix('.mo')} is stale: run `make i18n-report-compile`"


# -- figures: the same values, the locale's writing ---------------------------------------------------------

def _values(text: str, lang: str) -> list[float]:
    """The numbers a reader sees, as values: "12.345 US$" (es) and "$12,345" (en) both give 12345."""
    if lang == "es":
        tokens = re.findall(r"\d[\d.]*(?:,\d+)?", text)
        return [float(t.replace(".", "").replace(",", ".")) for t in tokens]
    return [float(t.replace(",", "")) for t in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


@pytest.mark.parametrize("shown, expected", [
    ("2.9", "2,9"), ("45%", "45\u00a0%"), ("$1,200", "1200\u00a0US$"), ("+0.3", "+0,3"), ("\u22645%", "\u22645\u00a0%"),
    ("<10", "<10"), ("+12 percentage points", "+12 puntos porcentuales"), ("+1 percentage point", "+1 punto porcentual"),
    ("no change", "sin cambio"), ("not shown", "no se muestra"), ("2.9 credits", "2,9 créditos"),
    ("$12,345", "12.345\u00a0US$"), ("2025-26-Q2", "2025-26-Q2"),
])
def test_figures_are_written_the_spanish_way_with_the_same_value(shown, expected):
    # CLDR Spanish as Babel writes it: decimal comma, "." grouping from five digits on (CLDR's minimum grouping
    # digits, 2 in es: "1200" but "12.345"), a space before % and after the amount
    with T.use_language("es"):
        got = T.figure(shown)
    assert got == expected
    assert _values(got, "es") == _values(shown, "en")
    assert T.figure(shown) == T.percentage_points(shown)  # English: unchanged (only the singular/plural fix)


@pytest.mark.browser
def test_grouping_agrees_with_chromium_icu_for_spanish_locales():
    """Oracle: ICU's Intl.NumberFormat in Debian's Chromium (CLDR minimumGroupingDigits and parent locales).

    Spain's Spanish writes 1234 but 12.345; es-US, es-MX and es-419 group from 1,234; es-AR (es_419's child
    with "." grouping) groups from 1.234. Separators only are compared (Babel's and ICU's CLDR versions may
    differ in the currency symbol's placement, which is not this rule).
    """
    from conftest import require_chromium
    exe = require_chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    from partner_analysis.privacy.display import localize
    from partner_analysis.report.pdf import CHROMIUM_ARGS
    locales, numbers = ["es", "es-ES", "es-US", "es-MX", "es-419", "es-AR", "es-GQ", "pl", "pt-PT", "en"], \
        ["1,234", "12,345", "1,234.5", "1,234,567", "999", "9,999.25"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            icu = browser.new_page().evaluate(
                """([locales, values]) => Object.fromEntries(locales.map(l => [l, values.map(v =>
                    new Intl.NumberFormat(l, {minimumFractionDigits: (String(v).split('.')[1] || '').length})
                    .format(v))]))""", [locales, [float(n.replace(",", "")) for n in numbers]])
        finally:
            browser.close()
    for loc in locales:
        ours = [localize(n, loc) for n in numbers]
        assert [o.replace("\u00a0", " ") for o in ours] == [i.replace("\u00a0", " ") for i in icu[loc]], loc


def test_english_text_is_unchanged_outside_a_spanish_block():
    with T.use_language("es"):
        assert T.label("story") == "Lo que dicen las cifras"
    assert T.label("story") == "What the numbers say"
    T.set_language("es")
    try:
        assert T.language() == "es" and T._("Goal") == "Meta"
        with T.use_language("en"):
            assert T._("Goal") == "Goal"  # an explicit block wins over the kernel's default
    finally:
        T.set_language(None)
    assert T._("Goal") == "Goal"


@pytest.mark.parametrize("n, expected", [(1, "{n} asunto de abajo requiere atención."),
                                         (2, "{n} asuntos de abajo requieren atención."),
                                         (1_000_000, "{n} asuntos de abajo requieren atención.")])
def test_spanish_plurals_use_every_cldr_form(n, expected):
    # Spanish has three CLDR plural forms (one, many for millions, other): the catalog fills all three
    with T.use_language("es"):
        assert T.ngettext("{n} item below needs attention.", "{n} items below need attention.", n) == expected


# -- the demo district's board, brief, index and deck in Spanish ---------------------------------------------

@pytest.fixture(scope="module")
def demo_bundles(demo_dir, tmp_path_factory):
    from partner_analysis.report import bundle as B
    out = tmp_path_factory.mktemp("bundles_es") / TERM
    infos = B.build_bundles(demo_dir, term=TERM, out=out / "bundles")
    bundles = {i.partner_id: B.load_bundle(i.path) for i in infos if i.ok}
    return out, infos, bundles


def _text(html: str) -> str:
    import html as h
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)  # the style sheet's comments are not read
    return re.sub(r"\s+", " ", h.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _english_fragments() -> list[str]:
    """Pieces of English report text (between placeholders, at least three words) that Spanish never uses."""
    out = set()
    for m in _catalog():
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for english in ids:
            for piece in _PLACEHOLDER.split(english):
                piece = piece.strip(" .,;:()\u201c\u201d")
                if len(piece.split()) >= 3 and not any(piece in s for s in strings):
                    out.add(piece)
    return sorted(out)


def test_spanish_board_has_no_english_sentence_and_the_same_numbers(demo_bundles):
    from partner_analysis.report.board import render_board
    _, _, bundles = demo_bundles
    fragments = _english_fragments()
    assert len(fragments) > 200
    for pid, b in bundles.items():
        english = _text(render_board(b))
        with T.use_language("es"):
            spanish = _text(render_board(b))
        left = [f for f in fragments if f in spanish]
        assert left == [], (pid, left)
        for word in ("Partnership board", "Needs attention", "Since last term", "not shown", "percentage point"):
            assert word not in spanish, (pid, word)
        # the same figures in the same order (names and terms carry the same digits in both; quoted goal and
        # action descriptions are the district's own words, in its own writing)
        assert _values(re.sub(r"\u00ab[^\u00bb]*\u00bb", "", spanish), "es") == \
            _values(re.sub(r"\u201c[^\u201d]*\u201d", "", english), "en"), pid


def test_spanish_story_sections_brief_index_and_deck(demo_bundles, tmp_path):
    from partner_analysis.report import view
    from partner_analysis.report.brief import brief_html
    from partner_analysis.report.deck import build_deck
    from partner_analysis.report.index import index_html
    from partner_analysis.report.narrative import story
    out, infos, bundles = demo_bundles
    fragments = _english_fragments()
    rows = [{"partner_id": i.partner_id, "status": "ok", "html": f"{i.partner_id}.html"} for i in infos if i.ok]
    with T.use_language("es"):
        pages = {"brief": brief_html(list(bundles.values()), term=TERM, district="Riverbend", lang="es"),
                 "index": index_html(rows, {}, term=TERM, lang="es", bundles=list(bundles.values()))}
        for pid, b in bundles.items():
            pages[f"story {pid}"] = " ".join(story(b))
            pages[f"sections {pid}"] = "".join(f(b) for f in (view.title_html, view.outcomes_html, view.fit_html,
                                                               view.investments_html, view.checkins_html,
                                                               view.goals_html, view.notes_html))
        deck = build_deck(list(bundles.values()), term=TERM, district="Riverbend")
    pages["deck"] = " ".join(shape.text_frame.text for slide in deck.slides for shape in slide.shapes
                             if shape.has_text_frame)
    for name, html in pages.items():
        text = _text(html)
        left = [f for f in fragments if f in text]
        assert left == [], (name, left)
    assert '<html lang="es">' in pages["brief"] and '<html lang="es">' in pages["index"]
    assert "Resumen para la comunidad" in pages["brief"] and "Panel" not in pages["brief"]


@pytest.mark.parametrize("value, ok", [("es", True), ("es-MX", True), ("en", True), ("spanish!", False), (3, False)])
def test_report_language_in_district_config(tmp_path, value, ok):
    import yaml

    from partner_analysis.config import DEFAULT_CONFIG_TEXT, load_config
    from partner_analysis.exceptions import ConfigError
    raw = yaml.safe_load(DEFAULT_CONFIG_TEXT)
    raw.setdefault("report", {})["language"] = value
    f = tmp_path / "district.yml"
    f.write_text(yaml.safe_dump(raw), encoding="utf-8")
    if not ok:
        with pytest.raises(ConfigError) as info:
            load_config(f)
        assert info.value.key == "report.language"
        return
    cfg = load_config(f)
    assert cfg.report.language == value
    assert load_config(cfg.dump(tmp_path / "again.yml")).report.language == value  # survives a round trip


@pytest.mark.slow
def test_reports_cli_lang_es_writes_the_report_index_and_brief_in_spanish(demo_dir, tmp_path):
    import json

    from partner_analysis.cli import main as cli_main
    out = tmp_path / "reports"
    code = cli_main(["reports", str(demo_dir), "--term", TERM, "--out", str(out), "--partner", "P06", "--lang", "es",
                     "--no-progress", "--workers", "1"])
    assert code == 0
    release = out / TERM / "release"
    page = (release / "P06.html").read_text(encoding="utf-8")
    assert '<html lang="es">' in page and "Panel de la alianza" in page and "Partnership board" not in page
    assert "informe de la alianza" in page.split("<title>")[1].split("</title>")[0]
    for name in ("index.html", "community_brief.html"):
        assert '<html lang="es">' in (release / name).read_text(encoding="utf-8")
    params = json.loads((out / TERM / "work" / "manifest.json").read_text())
    assert params["rows"][0]["status"] == "ok"


@pytest.mark.parametrize("label", __import__("partner_analysis.estimate", fromlist=["EVIDENCE_LABELS"]).EVIDENCE_LABELS)
def test_every_evidence_label_is_written_in_the_reports_language(label):
    # the story printed "Evidencia: groups not comparable" on Spanish pages
    assert label in T.EVIDENCE_WORDS
    with T.use_language("es"):
        spanish = T.story_evidence(label)
    assert label not in spanish and spanish.startswith(". Evidencia: ") and len(spanish) > len(". Evidencia: ")
    assert T.story_evidence(label) == f". Evidence: {label}"


def test_fit_prompts_are_worded_in_the_reports_language_from_their_parts(demo_bundles):
    # the prompts were English sentences made when the survey was scored; a Spanish page printed them as is
    from partner_analysis.report import view
    from partner_analysis.report.bundle import dimension_label
    _, _, bundles = demo_bundles
    worded = 0
    for pid, b in bundles.items():
        prompts, dims = b.table("fit_prompts"), b.table("fit_dimensions")
        if prompts is None or not len(prompts):
            continue
        for _, r in prompts.iterrows():
            partner = "" if pd.isna(r["partner_statement"]) else r["partner_statement"]
            args = (dimension_label(dims, r["dimension"]), r["district_statement"], partner, float(r["top_pair_gap"]))
            # English: word for word the sentence the fit module wrote (fit.gaps._prompt)
            assert T.fit_prompt(*args) == r["prompt"], pid
            with T.use_language("es"):
                spanish = T.fit_prompt(*args)
            assert spanish.endswith("¿qué ve cada parte?") and "higher" not in spanish, spanish
            assert (" punto " if abs(round(float(r["top_pair_gap"]), 1)) == 1 else " puntos ") in spanish
            worded += 1
        with T.use_language("es"):
            section = _text(view.fit_html(b))
        assert "what does each side see" not in section and "¿qué ve cada parte?" in section, pid
    assert worded >= 5
