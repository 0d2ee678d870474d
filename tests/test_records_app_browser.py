"""End to end: `partner-analysis records-app` under Voilà, a check-in and an investment entered in headless
Chromium, both found in the store, every page state checked with axe-core.

Only requests to the local server are allowed; every other request is blocked and recorded.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import require_chromium
from test_voila_browser import CHROMIUM_ARGS, KNOWN_EXTERNAL_HOSTS, WCAG_TAGS, _free_port, _wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCREENSHOT_DIR = Path("/tmp")
ENTERED_BY = "Ana Lee (browser test)"


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("playwright")
    pytest.importorskip("axe_playwright_python")
    from partner_analysis.data.synth import make_demo_district
    data_dir = make_demo_district(tmp_path / "district", students=300, partners=6, seed=3)
    port = _free_port()
    log = tmp_path / "voila.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PA_DB_URL", "PA_DATA_DIR")}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "partner_analysis", "records-app", "--data-dir",
                                 str(data_dir), "--port", str(port), "--cull-idle-timeout", "600"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_for_port(port, proc, log)
        yield port, data_dir / "records.sqlite", log
    finally:
        # SIGTERM lets the CLI stop Voilà and its kernels; the group kill is only a fallback.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wcag(page) -> list:
    """WCAG 2.1 A/AA violations of the page as it stands (empty when none)."""
    from axe_playwright_python.sync_playwright import Axe
    response = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response
    # the page's inputs were really examined: the label rule ran over them and passed
    passed = {r["id"]: len(r["nodes"]) for r in response["passes"]}
    assert passed.get("label", 0) >= 1, sorted(passed)
    incomplete = [(r["id"], len(r["nodes"])) for r in response["incomplete"]]
    print("axe passed rules:", len(passed), "label nodes:", passed["label"], "needs review:", incomplete)
    found = response["violations"]
    return [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:200]) for v in found]


def _radio(page, group: str, choice: str):
    """The radio ``choice`` of the question whose label starts with ``group`` (named radiogroups: template)."""
    import re
    return page.get_by_role("radiogroup", name=re.compile("^" + re.escape(group))).get_by_label(choice, exact=True)


def _store_counts(db: Path) -> tuple[int, int]:
    from partner_analysis.records import read_checkin_tables, read_investments
    from partner_analysis.store import Store
    with Store(db) as store:
        return len(read_checkin_tables(store)["checkins"]), len(read_investments(store))


def test_records_forms_in_browser(server):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright
    port, db, log = server
    checkins_before, investments_before = _store_counts(db)
    blocked: list[str] = []
    axe_results: dict[str, list] = {}

    def only_local(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.route("**/*", only_local)
            page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
            page.wait_for_selector(".widget-button", timeout=90_000)
            assert page.locator(".jp-InputArea").count() == 0       # no code shown
            axe_results["chooser"] = _wcag(page)

            # Opening without choices says what is missing, in words
            page.get_by_role("button", name="Open the form").click()
            expect(page.get_by_role("alert")).to_contain_text("Please choose the partner", timeout=30_000)
            axe_results["chooser with error"] = _wcag(page)

            # -- check-in ---------------------------------------------------------------------------
            partner = page.get_by_label("Partner", exact=True)
            partner.select_option(label=partner.locator("option", has_text="P02 –").inner_text().strip())
            page.get_by_label("Enter a check-in").check()
            page.get_by_label("Your name", exact=True).fill(ENTERED_BY)
            page.get_by_label("Your name", exact=True).press("Tab")
            page.get_by_role("button", name="Open the form").click()
            expect(page.get_by_role("heading", name="Quarterly check-in: partner P02")).to_be_visible(
                timeout=60_000)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_checkin_empty.png"), full_page=True)

            page.get_by_role("button", name="Submit").click()
            expect(page.locator(".pa-status")).to_contain_text("Not submitted yet", timeout=30_000)
            assert page.locator(".pa-question .pa-error").count() > 0
            axe_results["check-in with errors"] = _wcag(page)

            page.get_by_label("Date of the check-in * (required)").fill("2025-11-12")
            page.get_by_label("Term * (required)").select_option(label="2025-26-Q2")
            page.get_by_label("Attendee 1: name * (required)").fill("Sam Ortiz")
            page.get_by_label("Attendee 1: name * (required)").press("Tab")
            _radio(page, "Attendee 1: side", "Partner").check()
            page.get_by_label("Action item 1", exact=True).fill("Share the attendance summary")
            page.get_by_label("Action item 1", exact=True).press("Tab")
            page.get_by_label("Action item 1: owner * (required)").fill("Sam Ortiz")
            page.get_by_label("Action item 1: owner * (required)").press("Tab")
            _radio(page, "Action item 1: side", "Partner").check()
            page.get_by_label("Action item 1: due date * (required)").fill("2025-12-05")
            page.get_by_label("Action item 1: due date * (required)").press("Tab")
            # a second slot appears only once the first is filled in
            expect(page.get_by_label("Attendee 2: name")).to_be_visible(timeout=30_000)
            expect(page.get_by_label("Action item 2", exact=True)).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Submit").click()
            expect(page.locator(".pa-status")).to_contain_text("Thank you", timeout=60_000)
            axe_results["check-in submitted"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_checkin_done.png"), full_page=True)

            # -- investment -------------------------------------------------------------------------
            page.get_by_role("button", name="Back to the choices").click()
            page.get_by_label("Record an investment").check()
            page.get_by_role("button", name="Open the form").click()
            expect(page.get_by_role("heading", name="Investment entry: partner P02")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="Submit").click()
            expect(page.locator(".pa-status")).to_contain_text("Not submitted yet", timeout=30_000)
            axe_results["investment with errors"] = _wcag(page)

            page.get_by_label("Term * (required)").select_option(label="2025-26-Q2")
            _radio(page, "Contributed by", "Partner").check()
            _radio(page, "Category", "Staff hours").check()
            page.get_by_label("Amount * (required)").fill("12.5")
            page.get_by_label("Amount * (required)").press("Tab")
            _radio(page, "Unit", "hours").check()
            page.get_by_label("Role of the staff * (required)").select_option(label="mentor")
            page.get_by_label("Description").fill("Mentoring sessions, browser test")
            page.get_by_label("Description").press("Tab")
            page.get_by_role("button", name="Submit").click()
            expect(page.locator(".pa-status")).to_contain_text("Thank you", timeout=60_000)
            axe_results["investment submitted"] = _wcag(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_investment_done.png"), full_page=True)
        finally:
            browser.close()

    assert axe_results == {k: [] for k in axe_results}, axe_results
    assert len(axe_results) == 6

    from partner_analysis.records import read_checkin_tables, read_investments
    from partner_analysis.store import Store
    with Store(db) as store:
        tabs = read_checkin_tables(store, partner_id="P02")
        ledger = read_investments(store, partner_id="P02")
    assert _store_counts(db) == (checkins_before + 1, investments_before + 1)
    mine = tabs["checkins"][tabs["checkins"]["entered_by"] == ENTERED_BY]
    assert len(mine) == 1
    row = mine.iloc[0]
    assert (row["term"], str(row["date"])) == ("2025-26-Q2", "2025-11-12")
    cid = row["checkin_id"]
    attendees = tabs["attendees"][tabs["attendees"]["checkin_id"] == cid]
    assert attendees[["name", "side"]].values.tolist() == [["Sam Ortiz", "partner"]]
    actions = tabs["action_items"][tabs["action_items"]["checkin_id"] == cid]
    assert actions[["description", "owner", "side"]].values.tolist() == [
        ["Share the attendance summary", "Sam Ortiz", "partner"]]
    assert str(actions["due_date"].iloc[0]) == "2025-12-05"
    entry = ledger[ledger["entered_by"] == ENTERED_BY]
    assert len(entry) == 1
    got = entry.iloc[0]
    assert (got["term"], got["party"], got["category"], float(got["amount"]), got["unit"], got["role"]) == (
        "2025-26-Q2", "partner", "staff_hours", 12.5, "hours", "mentor")
    # drafts were dropped on submit
    from partner_analysis.records.forms import load_draft
    with Store(db) as store:
        assert load_draft(store, "checkin", entered_by=ENTERED_BY, partner_id="P02") == {}
        assert load_draft(store, "investment", entered_by=ENTERED_BY, partner_id="P02") == {}
    assert {urlparse(u).hostname for u in blocked} <= KNOWN_EXTERNAL_HOSTS, blocked
