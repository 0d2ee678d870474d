"""The fit survey in a real browser in English and Spanish: axe-core 0 WCAG violations at 1280 and 390 px,
Likert questions as a keyboard-usable matrix, the language menu keeps answers, ``?lang=es`` starts in Spanish.

The page is the survey form itself (:func:`partner_analysis.forms.survey.survey_page`) served by Voilà
with the project's template, for one fixed respondent: who the respondent is (chooser, invitation link) is
tested elsewhere. The number of screens the form takes at 1280x900 is printed (judged by eye, not asserted).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from conftest import require_chromium
from partner_analysis.store import Store
from test_voila_browser import CHROMIUM_ARGS, WCAG_TAGS, _free_port, _wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCREENSHOT_DIR = Path(os.environ.get("PA_SCREENSHOT_DIR", "/tmp"))
NOTEBOOK = '''import os
from partner_analysis.fit.instrument import read_instrument
from partner_analysis.forms.survey import survey_page
from partner_analysis.store import Store

survey_page(read_instrument(), Store(os.environ["PA_DB_URL"]), partner_id="P01", role="district",
            respondent="ana@district.example")'''


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("playwright")
    pytest.importorskip("axe_playwright_python")
    require_chromium()
    from partner_analysis.fit.instrument import default_instrument_path
    from partner_analysis.forms.app import VoilaSettings, voila_command, voila_environment
    if not Path(default_instrument_path()).is_file():
        pytest.skip("shipped instrument surveys/partner_fit_v1.xlsx is not available")
    db = tmp_path / "records.sqlite"
    with Store(db) as store:
        store.upsert_partnership("P01", "Riverside Hospital")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "survey.ipynb")
    port = _free_port()
    env = voila_environment({k: v for k, v in os.environ.items() if k not in ("PA_INSTRUMENT",)})
    env["PA_DB_URL"] = str(db)
    log = tmp_path / "voila.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(voila_command(VoilaSettings(port=port), notebook=tmp_path / "survey.ipynb"),
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, proc, log)
        yield port, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wcag(page) -> list:
    from axe_playwright_python.sync_playwright import Axe
    violations = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response["violations"]
    return [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:200]) for v in violations]


def _screens(page) -> float:
    """Height of the survey (the scrolling main region) in viewport heights."""
    return page.evaluate("""() => {
        const main = document.getElementById('rendered_cells') || document.scrollingElement;
        return main.scrollHeight / window.innerHeight; }""")


def _open(pw, port: int, query: str, width: int, height: int = 900):
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    page.goto(f"http://127.0.0.1:{port}/{query}", timeout=90_000)
    page.wait_for_selector(".pa-progress p", timeout=90_000)
    return browser, page


def test_survey_in_both_languages_is_accessible_and_keeps_answers(server):
    from playwright.sync_api import expect, sync_playwright
    port, db = server
    with sync_playwright() as pw:
        browser, page = _open(pw, port, "?lang=en", 1280)
        try:
            expect(page.get_by_role("heading", level=1)).to_have_text("Partner fit survey")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            assert _wcag(page) == [], "English, 1280 px"
            screens_en = _screens(page)
            print(f"English survey at 1280x900: {screens_en:.1f} screens")
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_survey_en_1280.png"))
            page.locator(".pa-matrix").first.screenshot(path=str(SCREENSHOT_DIR / "pa_survey_matrix_en_1280.png"))

            # keyboard only in the first Likert row: Space picks, an arrow key moves within the row
            row = page.get_by_role("radiogroup").first
            row.get_by_role("radio").first.focus()
            page.keyboard.press("Space")
            page.keyboard.press("ArrowRight")
            expect(row.get_by_role("radio").nth(1)).to_be_checked()
            page.get_by_label(re.compile(r"^Your organisation")).fill("Riverside USD")
            page.get_by_label(re.compile(r"^Your organisation")).press("Tab")
            expect(page.locator(".pa-progress")).to_contain_text("2 of 36 required questions", timeout=30_000)

            page.set_viewport_size({"width": 390, "height": 844})
            assert _wcag(page) == [], "English, 390 px"

            # the language menu rebuilds the form in Spanish with the answers kept
            page.get_by_label("Language / Idioma").select_option(label="Español")
            expect(page.get_by_role("heading", level=1)).to_contain_text("Encuesta sobre la colaboración",
                                                                         timeout=30_000)
            expect(page.get_by_role("radiogroup").first.get_by_role("radio").nth(1)).to_be_checked()
            expect(page.get_by_label(re.compile(r"^Su organización"))).to_have_value("Riverside USD")
            expect(page.locator(".pa-progress")).to_contain_text("2 de 36 preguntas obligatorias")
            # the page's language follows the form's (screen readers switch voice)
            expect(page.locator("html")).to_have_attribute("lang", "es")
            assert _wcag(page) == [], "Spanish, 390 px"
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_survey_es_390.png"))
            page.set_viewport_size({"width": 1280, "height": 900})
            assert _wcag(page) == [], "Spanish, 1280 px"
            screens_es = _screens(page)
        finally:
            browser.close()

        # a link with ?lang=es starts in Spanish and resumes the same draft
        browser, page = _open(pw, port, "?lang=es", 1280)
        try:
            expect(page.get_by_role("button", name="Enviar")).to_be_visible()
            expect(page.get_by_label(re.compile(r"^Su organización"))).to_have_value("Riverside USD")
            page.get_by_role("button", name="Enviar").click()
            expect(page.locator(".pa-status")).to_contain_text("Todavía no se envió", timeout=30_000)
            assert _wcag(page) == [], "Spanish with errors, 1280 px"
            with Store(db) as store:
                drafts = store.answers_long(partner_id="P01", status="draft")
            assert dict(zip(drafts["item"], drafts["value"])) == {"d_so1": "2", "organisation": "Riverside USD"}

            # answer everything ("De acuerdo" in every row) and submit: the confirmation is at the top, in view
            for group in page.get_by_role("radiogroup").all():
                group.get_by_role("radio").nth(3).check()
            name = page.get_by_label(re.compile(r"^Su nombre"))
            name.fill("Ana Ruiz")
            name.press("Tab")
            expect(page.locator(".pa-progress")).to_contain_text(re.compile(r"\b(\d+) de \1 preguntas"),
                                                                 timeout=60_000)
            page.get_by_role("button", name="Enviar").click()
            expect(page.locator(".pa-status")).to_contain_text("Gracias. Sus respuestas se enviaron.",
                                                               timeout=60_000)
            expect(page.get_by_label("Language / Idioma")).to_be_disabled()
            assert _wcag(page) == [], "Spanish, submitted, 1280 px"
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_survey_es_submitted_1280.png"))
        finally:
            browser.close()
    with Store(db) as store:
        done = store.answers_wide(partner_id="P01", status=None)
    assert done["status"].tolist() == ["submitted"] and done.loc[0, "d_so1"] == "4"   # the name "4", not a label
    print(f"survey length at 1280x900: {screens_en:.1f} screens (English), {screens_es:.1f} screens (Spanish)")
