"""End to end: `partner-analysis survey-app` under Voilà, opened only by invitation links, in headless Chromium
and checked with axe-core: links that are missing, altered, expired or revoked are refused with a plain page;
a foreign Host header is refused; an invited respondent starts, leaves, comes back by the link, submits (banner at
the top) and later corrects one answer with a reason (audited); typing another respondent's name changes nothing
and the page never shows another partnership's data.

Only requests to the local server are allowed; every other request is blocked and recorded, so the test
also shows the form works offline.
"""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from app_server import running_app
from conftest import require_chromium
from partner_analysis.store import Store
from partner_analysis.fit import responses

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/pa_survey_form.png")
# Voilà's lab template links Font Awesome from this CDN; icons are simply missing offline.
KNOWN_EXTERNAL_HOSTS = {"cdn.jsdelivr.net"}


def _submit_other(store, instrument, who) -> int:
    """Partner B's respondent submits the survey through the library (their answers must never change)."""
    from partner_analysis.fit.form import survey_form
    form = survey_form(instrument, store, partner_id=who.partners[0], role=who.role, respondent=who.respondent,
                       wave=who.wave)
    for spec in form.controller.visible_fields():
        if spec.name in form.inputs and spec.kind == "choice":
            form.inputs[spec.name].value = spec.choices[0][0]
        elif spec.name in form.inputs and spec.kind == "text":
            form.inputs[spec.name].value = "Bo Lind" if spec.name == "respondent_name" else "Metro answer"
        elif spec.name in form.inputs and spec.kind == "integer":
            form.inputs[spec.name].value = "2"
    form.submit_button.click()
    assert form.controller.submitted, form.status.value
    return form.response_id


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One Voilà server for the module, with invitations made: a (P01 district), b (P02 partner, already
    submitted), expired, revoked."""
    import datetime as dt

    pytest.importorskip("playwright")
    pytest.importorskip("axe_playwright_python")
    from partner_analysis.access import create_invitation, resolve_token, revoke
    from partner_analysis.fit.instrument import default_instrument_path, read_instrument
    if not Path(default_instrument_path()).is_file():
        pytest.skip("shipped instrument surveys/partner_fit_v1.xlsx is not available")
    tmp_path = tmp_path_factory.mktemp("survey_app")
    db = tmp_path / "records.sqlite"
    links = {}
    with Store(db) as store:
        store.upsert_partnership("P01", "Riverside Hospital")
        store.upsert_partnership("P02", "Metro College")
        links["a"] = create_invitation(store, partners="P01", role="district", email="ana@district.example",
                                       name="Ana Ruiz", wave="2025-26").token
        links["b"] = create_invitation(store, partners="P02", role="partner", email="bo@metro.example",
                                       name="Bo Lind", wave="2025-26").token
        month_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
        links["expired"] = create_invitation(store, partners="P01", role="partner", email="old@riverside.example",
                                             wave="2025-26", expires_days=7, now=month_ago).token
        revoked = create_invitation(store, partners="P01", role="partner", email="gone@riverside.example",
                                    wave="2025-26")
        revoke(store, revoked.invitation_id)
        links["revoked"] = revoked.token
        b_id = _submit_other(store, read_instrument(default_instrument_path()),
                             resolve_token(store, links["b"], form="survey"))
    with running_app(["survey-app", "--db", db, "--allow-host", "survey.district.example"], cwd=tmp_path,
                     drop_env=("PA_DB_URL", "PA_INSTRUMENT")) as (port, log):
        yield port, db, log, links, b_id


@contextlib.contextmanager
def app_page(port: int, *, height: int, path: str = "/"):
    """Headless system Chromium on the app at 127.0.0.1:``port``, its widgets drawn and no code shown.

    Every request to another host is aborted and its URL recorded in the yielded ``blocked`` list.
    """
    from playwright.sync_api import sync_playwright
    blocked: list[str] = []

    def only_local(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": height})
            page.route("**/*", only_local)
            page.goto(f"http://127.0.0.1:{port}{path}", timeout=90_000)
            page.wait_for_selector(".widget-button", timeout=90_000)
            assert page.locator(".jp-InputArea").count() == 0       # no code shown
            yield page, blocked
        finally:
            browser.close()


def _axe(page) -> tuple[list, list]:
    from axe_playwright_python.sync_playwright import Axe
    wcag = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response["violations"]
    everything = Axe().run(page).response["violations"]
    summary = lambda vs: [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:160]) for v in vs]  # noqa: E731
    return summary(wcag), summary(everything)


def _raw_get(port: int, path: str, host: str) -> int:
    """Status of a plain HTTP GET with the given Host header (what a client behind no proxy can send)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_links_hosts_and_refusals(server):
    """Server level: no valid link, no page (403 and a plain text); a foreign Host is refused even with a link."""
    require_chromium()
    from playwright.sync_api import sync_playwright
    port, db, log, links, _b_id = server
    good = links["a"]
    altered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert _raw_get(port, f"/?token={good}", "evil.example.com") == 403
    assert _raw_get(port, f"/?token={good}", f"survey.district.example:{port}") == 200     # --allow-host
    assert _raw_get(port, "/", f"127.0.0.1:{port}") == 302                  # to the refusal page
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for name, path in (("missing", "/"), ("altered", f"/?token={altered}"),
                               ("expired", f"/?token={links['expired']}"),
                               ("revoked", f"/?token={links['revoked']}")):
                response = page.goto(f"http://127.0.0.1:{port}{path}", timeout=60_000)
                assert response.status == 403, (name, response.status)
                assert page.title() == "This link does not open the form", name
                text = page.content()
                assert "Riverside" not in text and "Metro" not in text and "widget" not in text, name
                wcag, _ = _axe(page)
                assert wcag == [], (name, wcag)
        finally:
            browser.close()


def test_invited_respondent_fills_leaves_returns_and_submits(server):
    require_chromium()
    from playwright.sync_api import expect
    port, db, log, links, b_id = server
    with Store(db) as store:
        b_before = (responses.response(store, b_id), responses.get_answers(store, b_id))
    link = f"/?token={links['a']}"

    with app_page(port, height=1600, path=link) as (page, blocked):
        assert page.title() == "Partnership fit survey"
        content = page.content()
        # only the respondent's own partnership: no chooser, no other partnership anywhere in the page
        assert "Riverside Hospital" in content and "Metro College" not in content and "P02" not in content
        assert page.get_by_label("Partnership", exact=True).count() == 0
        name = page.get_by_label(re.compile(r"^Your name"))
        expect(name).to_have_value("Ana Ruiz")                           # the one name question, pre-filled
        wcag, _ = _axe(page)
        assert wcag == [], f"form: {wcag}"
        # typing another respondent's name changes nothing but this answer
        name.fill("Bo Lind")
        name.press("Tab")
        # keyboard only: Space picks, an arrow key moves within the question (named radio group)
        first_group = page.get_by_role("radiogroup").first
        first_group.get_by_role("radio").first.focus()
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
        expect(first_group.get_by_role("radio").nth(1)).to_be_checked()
        second_label = first_group.locator("label").nth(1).inner_text().strip()
        deadline, saved = time.monotonic() + 20, {}
        while time.monotonic() < deadline and len(saved) < 2:
            time.sleep(0.3)
            with Store(db) as store:
                drafts = responses.answers_long(store, partner_id="P01", status="draft")
            saved = dict(zip(drafts["item"], drafts["value"]))
        assert saved.get("respondent_name") == "Bo Lind" and len(saved) >= 2, saved
        # an early Submit shows text errors, inline and in the status line
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-status")).to_contain_text("Not submitted yet", timeout=30_000)
        wcag, _ = _axe(page)
        assert wcag == [], f"form with errors: {wcag}"

    # the respondent left; the invitation counts as started
    from partner_analysis.access import invitations_frame
    with Store(db) as store:
        status = invitations_frame(store).set_index("email")["status"]
    assert status["ana@district.example"] == "started"

    with app_page(port, height=1600, path=link) as (page, blocked):
        # back by the same link: the draft is there
        first_group = page.get_by_role("radiogroup").first
        expect(first_group.get_by_label(second_label, exact=True)).to_be_checked(timeout=30_000)
        expect(page.get_by_label(re.compile(r"^Your name"))).to_have_value("Bo Lind")
        for group in page.get_by_role("radiogroup").all():
            agree = group.get_by_label("Agree", exact=True)
            (agree if agree.count() else group.get_by_role("radio").first).check()
        for control in page.get_by_label(re.compile(r"\(required\)")).all():
            if not control.is_visible():
                continue
            tag, kind, placeholder, value = control.evaluate(
                "e => [e.tagName, e.type || '', e.getAttribute('placeholder') || '', e.value || '']")
            if value:
                continue                                    # the name kept from the first visit
            if tag == "SELECT":
                control.select_option(index=1)
            elif kind == "date":
                control.fill("2024-09-01")
            elif tag in ("INPUT", "TEXTAREA"):
                control.fill("3" if "number" in placeholder else "Browser test answer")
                control.press("Tab")
        progress = page.locator(".pa-progress")
        expect(progress).to_contain_text(re.compile(r"\b(\d+) of \1 required"), timeout=60_000)
        page.get_by_role("button", name="Submit").click()
        banner = page.locator(".pa-banner")
        expect(banner).to_contain_text("your answers were submitted", timeout=60_000)
        expect(banner).to_contain_text("What happens next")
        expect(page.get_by_role("button", name="Submit")).to_be_hidden()         # no greyed form below
        assert banner.bounding_box()["y"] < 200                                  # at the top of the page
        wcag, everything = _axe(page)
        assert wcag == [], f"submitted: {wcag}"
        page.screenshot(path=str(SCREENSHOT), full_page=False)

    # coming back again by the link opens the submitted answers for correction, audited with the invitee
    with app_page(port, height=1600, path=link) as (page, blocked):
        fix = page.get_by_role("button", name="Save corrections")
        expect(fix).to_be_visible(timeout=60_000)
        organisation = page.get_by_label(re.compile(r"^Your organisation"))
        expect(organisation).to_have_value("Browser test answer")
        organisation.fill("Riverside Unified School District")
        organisation.press("Tab")
        reason = page.get_by_label(re.compile(r"Reason for the correction"))
        reason.fill("I typed a placeholder instead of my organisation.")
        reason.press("Tab")
        fix.click()
        expect(page.locator(".pa-banner")).to_contain_text("corrections were saved", timeout=60_000)
        wcag, _ = _axe(page)
        assert wcag == [], f"correction saved: {wcag}"

    with Store(db) as store:
        mine = responses.answers_wide(store, partner_id="P01", status=None)
        audit = responses.audit_frame(store)
        b_after = (responses.response(store, b_id), responses.get_answers(store, b_id))
        status = invitations_frame(store).set_index("email")["status"]
    assert len(mine) == 1 and mine.loc[0, "status"] == "submitted"             # corrected, not duplicated
    assert mine.loc[0, "respondent"].startswith("invitation-") and mine.loc[0, "role"] == "district"
    assert mine.loc[0, "respondent_name"] == "Bo Lind"          # only the typed answer, not the identity
    assert mine.loc[0, "organisation"] == "Riverside Unified School District"
    assert audit[["item", "new_value", "editor"]].values.tolist() == [
        ["organisation", "Riverside Unified School District", "Ana Ruiz (invitation 1)"]]
    assert b_after == b_before                                  # partner B's answers untouched
    assert status["ana@district.example"] == "submitted" and status["bo@metro.example"] == "submitted"
    assert {urlparse(u).hostname for u in blocked} <= KNOWN_EXTERNAL_HOSTS, blocked
