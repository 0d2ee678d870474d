"""The records app and the refusal pages in Spanish, in headless Chromium, checked with axe-core (0 WCAG 2.1
A/AA violations) at 1280 and 390 px.

A district coordinator invited in Spanish (``invite create --form records --lang es``) opens the chooser by
their link, starts a check-in, leaves, comes back by the same link, gets the record check in Spanish, and
submits. Links that are expired, revoked or altered get the refusal page in the respondent's language (the
invitation's; for an altered link, the browser's ``Accept-Language``); a foreign ``Host`` gets a page in
English and Spanish. Screenshots go to ``$PA_SCREENSHOT_DIR`` (default /tmp) for a person to look at.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from conftest import require_chromium
from app_server import running_app
from test_voila_browser import CHROMIUM_ARGS, WCAG_TAGS, _raw_get

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCREENSHOT_DIR = Path(os.environ.get("PA_SCREENSHOT_DIR", "/tmp"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("playwright")
    pytest.importorskip("axe_playwright_python")
    require_chromium()
    from partner_analysis.access import create_invitation, revoke
    from partner_analysis.data.synth import make_demo_district
    from partner_analysis.store import Store
    tmp_path = tmp_path_factory.mktemp("records_es")
    data_dir = make_demo_district(tmp_path / "district", students=300, partners=6, seed=3)
    links = {}
    with Store(data_dir=data_dir) as store:
        links["coordinator"] = create_invitation(store, partners=["P02", "P03"], role="district", form="records",
                                                 email="lucia.gomez@district.example", name="Lucía Gómez",
                                                 lang="es").token
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
        links["expired"] = create_invitation(store, partners="P02", role="partner", form="records", lang="es",
                                             email="old@p02.example", expires_days=30, now=old).token
        gone = create_invitation(store, partners="P03", role="partner", form="records", lang="es",
                                 email="gone@p03.example")
        revoke(store, gone.invitation_id)
        links["revoked"] = gone.token
    with running_app(["records-app", "--data-dir", data_dir], cwd=tmp_path,
                     drop_env=("PA_DB_URL", "PA_DATA_DIR")) as (port, _log):
        yield port, data_dir, links


def _wcag(page) -> list:
    from axe_playwright_python.sync_playwright import Axe
    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response["violations"]
    return [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:200]) for v in found]


def _browser(pw):
    return pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)


def _page(browser, width: int, *, locale: str = "en-US"):
    # locale sets the browser's Accept-Language; only the local server is reachable
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    return page


def _radio(page, group: str, choice: str):
    return page.get_by_role("radiogroup", name=re.compile("^" + re.escape(group))).get_by_label(choice, exact=True)


def test_refusal_pages_in_the_respondents_language(server):
    from playwright.sync_api import sync_playwright
    port, _data_dir, links = server
    good = links["coordinator"]
    altered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    results = {}
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            for width in (1280, 390):
                # the invitation's language (no ?lang=, an English browser): expired and revoked links
                page = _page(browser, width)
                for name, why in (("expired", "El enlace ha caducado."),
                                  ("revoked", "Esta invitación fue retirada.")):
                    response = page.goto(f"http://127.0.0.1:{port}/?token={links[name]}", timeout=60_000)
                    assert response.status == 403, name
                    assert page.title() == "Este enlace no abre el formulario", name
                    assert page.locator("html").get_attribute("lang") == "es"
                    assert page.get_by_role("alert").inner_text() == why
                    assert "Pida un enlace nuevo" in page.content() and "Lucía" not in page.content()
                    results[(name, width)] = _wcag(page)
                    page.screenshot(path=str(SCREENSHOT_DIR / f"pa_refusal_{name}_es_{width}.png"))
                # an altered link names no invitation: the browser's language decides
                page = _page(browser, width, locale="es-MX")
                response = page.goto(f"http://127.0.0.1:{port}/?token={altered}", timeout=60_000)
                assert response.status == 403
                assert page.get_by_role("alert").inner_text().startswith("El enlace está incompleto o no es válido")
                results[("altered", width)] = _wcag(page)
                page = _page(browser, width, locale="en-US")
                page.goto(f"http://127.0.0.1:{port}/?token={altered}", timeout=60_000)
                assert page.title() == "This link does not open the form"
                assert page.get_by_role("alert").inner_text().startswith("The link is not complete or not valid")
                # ... and the link's ?lang= comes first (an invitation link in Spanish carries &lang=es)
                page.goto(f"http://127.0.0.1:{port}/?token={altered}&lang=es", timeout=60_000)
                assert page.locator("html").get_attribute("lang") == "es"

            # a foreign Host: refused before any page code, in English and Spanish (no data, no scripts)
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"/?token={good}", headers={"Host": "evil.example.com"})
            response = conn.getresponse()
            text = response.read().decode()
            conn.close()
            assert response.status == 403
            assert "This address does not open the form" in text and "Esta dirección no abre el formulario" in text
            assert "<script" not in text and "Lucía" not in text and "P02" not in text
            for width in (1280, 390):
                page = _page(browser, width)
                page.set_content(text)
                results[("foreign host", width)] = _wcag(page)
                page.screenshot(path=str(SCREENSHOT_DIR / f"pa_refusal_foreign_host_{width}.png"))
        finally:
            browser.close()
    assert _raw_get(port, f"/?token={good}", f"127.0.0.1:{port}") == 200
    assert results == {k: [] for k in results}, results
    assert len(results) == 8


def test_coordinator_in_spanish_starts_leaves_returns_and_submits(server):
    from playwright.sync_api import expect, sync_playwright

    from partner_analysis.records import read_checkin_tables
    from partner_analysis.store import Store
    port, data_dir, links = server
    import pandas as pd
    names = pd.read_parquet(data_dir / "partners.parquet").set_index("partner_id")["name"]
    p02 = names["P02"]
    link = f"http://127.0.0.1:{port}/?token={links['coordinator']}"
    results = {}
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            # first visit, wide screen, an English browser: the invitation's language wins
            page = _page(browser, 1280)
            page.goto(link, timeout=90_000)
            page.wait_for_selector(".widget-button", timeout=90_000)
            expect(page).to_have_title("Registros de la colaboración", timeout=30_000)
            expect(page.locator("html")).to_have_attribute("lang", "es")
            expect(page.get_by_role("heading", level=1)).to_have_text("Registros de la colaboración")
            partner = page.get_by_label("Colaboración", exact=True)
            options = [o.replace("\xa0", " ").strip() for o in partner.locator("option").all_inner_texts()
                       if o.strip()]
            assert options == [f"{names['P02']} (P02)", f"{names['P03']} (P03)"]      # only its own two
            content = page.content()
            assert names["P01"] not in content and names["P04"] not in content
            assert page.get_by_label(re.compile("^Su nombre")).count() == 0          # nobody to type in
            results["chooser 1280"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_es_chooser_1280.png"), full_page=True)
            page.get_by_role("button", name="Abrir el formulario").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "Elija la colaboración y qué desea hacer antes de abrir el formulario", timeout=30_000)
            results["chooser with error 1280"] = _wcag(page)

            partner.select_option(label=f"{p02} (P02)")
            page.get_by_label("Registrar una reunión de seguimiento").check()
            page.get_by_role("button", name="Abrir el formulario").click()
            expect(page.get_by_role("heading", name=f"Reunión trimestral de seguimiento: {p02}")).to_be_visible(
                timeout=60_000)
            date = page.get_by_label("Fecha de la reunión de seguimiento * (obligatoria)")
            date.fill("2025-09-01")                                            # not in the term chosen next
            date.press("Tab")
            page.get_by_label("Periodo * (obligatoria)").select_option(label="2025-26-Q2")
            page.get_by_label("Asistente 1: nombre * (obligatoria)").fill("Sam Ortiz")
            page.get_by_label("Asistente 1: nombre * (obligatoria)").press("Tab")
            _radio(page, "Asistente 1: parte", "Organización asociada").check()
            page.wait_for_timeout(1500)                                         # the autosave of the last change
            results["check-in 1280"] = _wcag(page)
            page.context.close()                                                # leaves without submitting

            # back by the same link on a phone: the draft is there
            page = _page(browser, 390)
            page.goto(link, timeout=90_000)
            page.wait_for_selector(".widget-button", timeout=90_000)
            results["chooser 390"] = _wcag(page)
            page.get_by_label("Colaboración", exact=True).select_option(label=f"{p02} (P02)")
            page.get_by_label("Registrar una reunión de seguimiento").check()
            page.get_by_role("button", name="Abrir el formulario").click()
            date = page.get_by_label("Fecha de la reunión de seguimiento * (obligatoria)")
            expect(date).to_have_value("2025-09-01", timeout=60_000)
            expect(page.get_by_label("Asistente 1: nombre * (obligatoria)")).to_have_value("Sam Ortiz")
            expect(_radio(page, "Asistente 1: parte", "Organización asociada")).to_be_checked()
            results["check-in 390"] = _wcag(page)
            # the record check runs on Submit and answers in Spanish next to the question
            page.get_by_role("button", name="Enviar").click()
            expect(page.locator(".pa-status")).to_contain_text("Todavía no se envió", timeout=30_000)
            expect(page.locator(".pa-question .pa-error")).to_contain_text(
                ["La fecha 2025-09-01 está fuera del periodo 2025-26-Q2"])
            results["check-in with a record error 390"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_es_error_390.png"), full_page=True)
            date.fill("2025-11-12")
            date.press("Tab")
            page.get_by_role("button", name="Enviar").click()
            banner = page.locator(".pa-banner")
            expect(banner).to_contain_text("Guardado: reunión de seguimiento", timeout=60_000)
            expect(banner).to_be_in_viewport()
            expect(page.get_by_role("button", name="Enviar")).to_be_hidden()
            results["submitted 390"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_es_submitted_390.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            results["submitted 1280"] = _wcag(page)

            # the same link with &lang=en on a phone: the English pages pass too (the wide ones are checked in
            # test_records_app_browser)
            page = _page(browser, 390, locale="es-ES")
            page.goto(link + "&lang=en", timeout=90_000)
            page.wait_for_selector(".widget-button", timeout=90_000)
            expect(page).to_have_title("Partnership records", timeout=30_000)
            expect(page.locator("html")).to_have_attribute("lang", "en")
            results["chooser 390 en"] = _wcag(page)
            page.get_by_label("Partnership", exact=True).select_option(label=f"{p02} (P02)")
            page.get_by_label("Record an investment").check()
            page.get_by_role("button", name="Open the form").click()
            expect(page.get_by_role("heading", name=f"Investment entry: {p02}")).to_be_visible(timeout=60_000)
            results["investment 390 en"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_en_investment_390.png"))
        finally:
            browser.close()
    assert results == {k: [] for k in results}, results
    with Store(data_dir=data_dir) as store:
        tabs = read_checkin_tables(store, partner_id="P02")
    mine = tabs["checkins"][tabs["checkins"]["entered_by"].str.contains("Lucía Gómez")]
    assert len(mine) == 1 and (mine.iloc[0]["term"], str(mine.iloc[0]["date"])) == ("2025-26-Q2", "2025-11-12")
    attendees = tabs["attendees"][tabs["attendees"]["checkin_id"] == mine.iloc[0]["checkin_id"]]
    assert attendees[["name", "side"]].values.tolist() == [["Sam Ortiz", "partner"]]     # values, not labels
