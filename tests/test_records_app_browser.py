"""The records app (`partner-analysis records-app`): its chooser logic in-process, and end to end under Voilà
with a check-in, an investment and a goal entered in headless Chromium, all found in the store, every page
state checked with axe-core.

In the browser test only requests to the local server are allowed; every other request is blocked and recorded.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import require_chromium
from app_server import running_app
from test_voila_browser import KNOWN_EXTERNAL_HOSTS, WCAG_TAGS, app_page

ENTERED_BY_FAST = "Kim Park"

SCREENSHOT_DIR = Path("/tmp")
ENTERED_BY = "Ana Lee (browser test)"


# -- in-process: the chooser and the notebook ------------------------------------------------------------

@pytest.fixture
def demo_store(tmp_path, monkeypatch):
    """A demo DATA_DIR (6 partners, with goals and records) and no store variables from the caller."""
    from partner_analysis.data.synth import make_demo_district
    monkeypatch.delenv("PA_DB_URL", raising=False)
    monkeypatch.delenv("PA_DATA_DIR", raising=False)
    return make_demo_district(tmp_path / "district", students=300, partners=6, seed=3)


def _token(data_dir, partners, *, role="district", name=ENTERED_BY_FAST, email="kim.park@district.example"):
    """A records invitation's token (the only way into the app)."""
    from partner_analysis.access import create_invitation
    from partner_analysis.store import Store
    with Store(data_dir=data_dir) as store:
        return create_invitation(store, partners=partners, role=role, email=email, name=name,
                                 form="records").token


def _choose(data_dir, partner, kind, name=ENTERED_BY_FAST):
    """The app opened by a partner coordinator's link for ``partner``, with form ``kind`` open."""
    from partner_analysis.records.app import records_app
    app = records_app(data_dir=str(data_dir), token=_token(data_dir, partner, role="partner", name=name,
                                                           email=f"{kind}.{partner}@partner.example"))
    app.kind.value = kind
    app.start_button.click()
    return app


def test_chooser_checks_choices_then_opens_each_form(demo_store):
    from partner_analysis.records.app import records_app
    app = records_app(data_dir=str(demo_store), token=_token(demo_store, ["P03", "P05"]))
    # a district coordinator's link lists only its own partnerships, by name
    assert [v for _, v in app.partner.options] == ["P03", "P05"]
    assert all(label.endswith(f"({v})") and len(label) > 6 for label, v in app.partner.options)
    app.start_button.click()
    assert 'role="alert"' in app.status.value and "the partnership" in app.status.value and app.form is None
    app.partner.value, app.kind.value = "P03", "checkin"
    app.start_button.click()
    assert app.form is not None and app.status.value == ""
    assert app.form.widget in app.widget.children and app.chooser not in app.widget.children
    assert "entered_by" not in app.form.inputs                       # the name comes from the link
    assert any(n.startswith("goal_P03-") for n in app.form.inputs)         # the partner's own goals
    assert app.form.inputs["term"].value is not None                 # a default term
    app.back_button.click()
    assert app.chooser in app.widget.children and app.form is None
    app.kind.value = "investment"
    app.start_button.click()
    assert "partner_id" not in app.form.inputs and "amount" in app.form.inputs


def test_chooser_opens_the_goal_form_and_saves_a_goal(demo_store):
    from partner_analysis.records import read_goals
    from partner_analysis.records.app import FORM_OPTIONS, records_app
    assert ("Set a goal", "goal") in FORM_OPTIONS
    from partner_analysis.store import Store
    with Store(data_dir=demo_store) as store:
        before = set(read_goals(store, partner_id="P05")["goal_id"])
    app = _choose(demo_store, "P05", "goal")
    w = app.form.inputs
    assert "partner_id" not in w and "entered_by" not in w
    w["description"].value = "Fewer chronically absent participants"
    w["kpi_id"].value = "chronic_absence"
    w["population"].value = "participants"
    w["baseline"].value = "18"
    w["target"].value = "13.5"
    w["start_term"].value = "2025-26-Q2"
    w["due_term"].value = "2025-26-Q1"                # before the start: shown next to the due term
    w["owner"].value = "Mia Chen"
    app.form.submit_button.click()
    assert "Not submitted yet" in app.form.status.value
    assert "must not be before the start term" in app.form.errors["due_term"].value
    w["due_term"].value = "2025-26-Q4"
    app.form.submit_button.click()
    assert "Thank you" in app.form.status.value, app.form.status.value
    goals = read_goals(app.store, partner_id="P05").set_index("goal_id")
    new = sorted(set(goals.index) - before)
    assert len(new) == 1 and app.saved == [("goal", new[0])]
    assert f"Saved: goal {new[0]}" in app.banner.value and goals.loc[new[0], "entered_by"] == ENTERED_BY_FAST
    g = goals.loc[new[0]]
    assert (g.kpi_id, g.population, g.start_term, g.due_term, g.owner) == (
        "chronic_absence", "participants", "2025-26-Q2", "2025-26-Q4", "Mia Chen")
    assert (g.baseline, g.target) == (pytest.approx(0.18), pytest.approx(0.135))


def test_draft_comes_back_and_submit_saves(demo_store):
    from partner_analysis.records import read_investments
    from partner_analysis.records.app import records_app
    token = _token(demo_store, "P04", role="partner")
    app = records_app(data_dir=str(demo_store), token=token)
    app.kind.value = "investment"
    app.start_button.click()
    app.form.inputs["amount"].value = "2500"
    app.form.inputs["party"].value = "district"
    # a new page (Voilà: a refresh, or a culled kernel) by the same link resumes the draft
    again = records_app(data_dir=str(demo_store), token=token)
    again.kind.value = "investment"
    again.start_button.click()
    assert float(again.form.inputs["amount"].value) == 2500 and again.form.inputs["party"].value == "district"
    for name, value in (("term", "2025-26-Q3"), ("category", "funding"), ("unit", "USD")):
        again.form.inputs[name].value = value
    again.form.submit_button.click()
    assert "Thank you" in again.form.status.value, again.form.status.value
    assert again.saved and again.saved[0][0] == "investment"
    ledger = read_investments(again.store, partner_id="P04")
    mine = ledger[ledger["entered_by"] == ENTERED_BY_FAST]
    assert mine[["term", "party", "category", "amount", "unit"]].values.tolist() == [
        ["2025-26-Q3", "district", "funding", 2500.0, "USD"]]


def test_goal_not_discussed_can_be_chosen_after_a_status(demo_store):
    from partner_analysis.records import read_checkin_tables
    from partner_analysis.records.app import records_app
    app = _choose(demo_store, "P01", "checkin")
    goals = sorted(n for n in app.form.inputs if n.startswith("goal_") and n.endswith("_status"))
    assert len(goals) >= 2
    w = app.form.inputs
    w["date"].value = __import__("datetime").date(2026, 2, 3)
    w["term"].value = "2025-26-Q3"
    w["attendee_1_name"].value = "Jo"
    w["attendee_1_side"].value = "district"
    w[goals[0]].value = "met"
    w[goals[1]].value = "at_risk"                      # a slip of the mouse ...
    w[goals[1]].value = "not_discussed"                # ... taken back: radios cannot be unpicked
    assert app.form.boxes[goals[1].replace("_status", "_note")].layout.display == "none"
    app.form.submit_button.click()
    assert "Thank you" in app.form.status.value, app.form.status.value
    tabs = read_checkin_tables(app.store, partner_id="P01")
    cid = tabs["checkins"].loc[tabs["checkins"]["entered_by"] == ENTERED_BY_FAST, "checkin_id"].tolist()
    assert len(cid) == 1
    reviews = tabs["goal_reviews"][tabs["goal_reviews"]["checkin_id"] == cid[0]]
    assert reviews[["goal_id", "status"]].values.tolist() == [[goals[0][len("goal_"):-len("_status")], "met"]]


def test_store_partners_without_data_dir_and_error_page(tmp_path, monkeypatch):
    from partner_analysis.access import create_invitation
    from partner_analysis.records.app import RecordsApp, records_app
    from partner_analysis.store import Store
    monkeypatch.delenv("PA_DATA_DIR", raising=False)
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.upsert_partnership("P07", "Lakeside Library")
        token = create_invitation(store, partners="P07", role="partner", email="l@lib.example",
                                  form="records").token
    monkeypatch.setenv("PA_DB_URL", str(db))                 # what the CLI hands the kernel
    monkeypatch.setenv("QUERY_STRING", f"token={token}")     # what Voilà hands the kernel
    app = records_app()
    assert isinstance(app, RecordsApp) and app.partner is None
    assert "Partnership records: Lakeside Library" in app.chooser.children[0].value
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "district.yml").write_text("terms: [not, a, mapping\n")
    broken = records_app(db=str(db), data_dir=str(bad))
    assert not isinstance(broken, RecordsApp) and 'role="alert"' in broken.status.value


def test_notebook_has_no_outputs_and_builds_the_app(demo_store, monkeypatch):
    import nbformat
    from partner_analysis.records.app import RecordsApp, records_notebook_path
    nb = nbformat.read(records_notebook_path(), as_version=4)
    assert [c.cell_type for c in nb.cells] == ["code", "code"]
    assert "parameters" in nb.cells[0].metadata.get("tags", [])
    assert all(not c.outputs and c.execution_count is None for c in nb.cells)
    assert nb.metadata.get("title") == "Partnership records"          # the page title under Voilà
    monkeypatch.setenv("PA_DATA_DIR", str(demo_store))
    monkeypatch.setenv("QUERY_STRING", f"token={_token(demo_store, ['P01', 'P02', 'P03', 'P04', 'P05', 'P06'])}")
    scope: dict = {}
    for cell in nb.cells:
        exec(cell.source, scope)  # noqa: S102 - the shipped notebook's own two cells
    app = scope["records_app"](db=scope["db"], data_dir=scope["data_dir"])
    assert isinstance(app, RecordsApp) and len(app.partner.options) == 6


def test_voila_command_serves_the_records_notebook():
    from partner_analysis.forms.voila import VoilaSettings, voila_command
    from partner_analysis.records.app import records_notebook_path
    cmd = voila_command(VoilaSettings(port=9001, cull_idle_timeout=120), notebook=records_notebook_path())
    assert str(records_notebook_path()) in cmd and "--Voila.ip=127.0.0.1" in cmd
    assert "--MappingKernelManager.cull_idle_timeout=120" in cmd and "--strip_sources=True" in cmd


# -- in the browser ----------------------------------------------------------------------------------

@pytest.fixture
def server(tmp_path):
    pytest.importorskip("playwright")
    pytest.importorskip("axe_playwright_python")
    from partner_analysis.data.synth import make_demo_district
    data_dir = make_demo_district(tmp_path / "district", students=300, partners=6, seed=3)
    token = _token(data_dir, ["P02", "P03"], name=ENTERED_BY, email="ana.lee@district.example")
    with running_app(["records-app", "--data-dir", data_dir, "--cull-idle-timeout", "600"], cwd=tmp_path,
                     drop_env=("PA_DB_URL", "PA_DATA_DIR")) as (port, log):
        yield port, data_dir / "records" / "records.sqlite", log, token


def _wcag(page, *, inputs: bool = True) -> list:
    """WCAG 2.1 A/AA violations of the page as it stands (empty when none); ``inputs``: the page has some."""
    from axe_playwright_python.sync_playwright import Axe
    response = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response
    # the page's inputs were really examined: the label rule ran over them and passed
    passed = {r["id"]: len(r["nodes"]) for r in response["passes"]}
    if inputs:
        assert passed.get("label", 0) >= 1, sorted(passed)
    incomplete = [(r["id"], len(r["nodes"])) for r in response["incomplete"]]
    print("axe passed rules:", len(passed), "label nodes:", passed.get("label", 0), "needs review:", incomplete)
    found = response["violations"]
    return [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:200]) for v in found]


def _radio(page, group: str, choice: str):
    """The radio ``choice`` of the question whose label starts with ``group`` (named radiogroups: template)."""
    import re
    return page.get_by_role("radiogroup", name=re.compile("^" + re.escape(group))).get_by_label(choice, exact=True)


def _store_counts(db: Path) -> tuple[int, int, int]:
    from partner_analysis.records import read_checkin_tables, read_goals, read_investments
    from partner_analysis.store import Store
    with Store(db) as store:
        return len(read_checkin_tables(store)["checkins"]), len(read_investments(store)), len(read_goals(store))


@pytest.mark.slow
@pytest.mark.browser
def test_records_forms_in_browser(server):
    require_chromium()
    from playwright.sync_api import expect
    port, db, log, token = server
    import pandas as pd
    names = pd.read_parquet(Path(db).parents[1] / "partners.parquet").set_index("partner_id")["name"]
    p02 = names["P02"]
    checkins_before, investments_before, goals_before = _store_counts(db)
    axe_results: dict[str, list] = {}

    with app_page(port, height=1400, path=f"/?token={token}") as (page, blocked):
        assert page.title() == "Partnership records"
        axe_results["chooser"] = _wcag(page)
        # the district coordinator's link lists its two partnerships, by name, and no other
        partner = page.get_by_label("Partnership", exact=True)
        options = [o.replace("\xa0", " ").strip() for o in partner.locator("option").all_inner_texts() if o.strip()]
        assert options == [f"{names['P02']} (P02)", f"{names['P03']} (P03)"], options
        assert names["P01"] not in page.content() and page.get_by_label("Your name").count() == 0

        # Opening without choices says what is missing, in words
        page.get_by_role("button", name="Open the form").click()
        expect(page.get_by_role("alert")).to_contain_text("Please choose the partnership", timeout=30_000)
        axe_results["chooser with error"] = _wcag(page)

        # -- check-in ---------------------------------------------------------------------------
        partner.select_option(label=f"{p02} (P02)")
        page.get_by_label("Enter a check-in").check()
        page.get_by_role("button", name="Open the form").click()
        expect(page.get_by_role("heading", name=f"Quarterly check-in: {p02}")).to_be_visible(timeout=60_000)
        page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_checkin_empty.png"), full_page=True)

        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-status")).to_contain_text("Not submitted yet", timeout=30_000)
        assert page.locator(".pa-question .pa-error").count() > 0
        axe_results["check-in with errors"] = _wcag(page)
        page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_checkin_errors.png"), full_page=True)

        page.get_by_label("Date of the check-in * (required)").fill("2025-09-01")      # not in the term
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
        # the record checks of the CSV import run on Submit and answer next to the question
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-status")).to_contain_text("Not submitted yet: 1 question", timeout=30_000)
        expect(page.locator(".pa-question .pa-error")).to_contain_text(["outside term 2025-26-Q2"])
        axe_results["check-in with a record error"] = _wcag(page)
        page.get_by_label("Date of the check-in * (required)").fill("2025-11-12")
        page.get_by_label("Date of the check-in * (required)").press("Tab")
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-banner")).to_contain_text("Saved: check-in", timeout=60_000)
        expect(page.get_by_role("button", name="Submit")).to_be_hidden()
        axe_results["check-in submitted"] = _wcag(page, inputs=False)       # the banner and the way back
        page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_checkin_done.png"), full_page=True)

        # -- investment -------------------------------------------------------------------------
        page.get_by_role("button", name="Back to the choices").click()
        page.get_by_label("Record an investment").check()
        page.get_by_role("button", name="Open the form").click()
        expect(page.get_by_role("heading", name=f"Investment entry: {p02}")).to_be_visible(timeout=60_000)
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
        expect(page.locator(".pa-banner")).to_contain_text("Saved: investment entry", timeout=60_000)
        axe_results["investment submitted"] = _wcag(page, inputs=False)       # the banner and the way back
        page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_investment_done.png"), full_page=True)

        # -- goal -------------------------------------------------------------------------------
        page.get_by_role("button", name="Back to the choices").click()
        page.get_by_label("Set a goal").check()
        page.get_by_role("button", name="Open the form").click()
        expect(page.get_by_role("heading", name=f"Set a goal: {p02}")).to_be_visible(timeout=60_000)
        page.get_by_label("What the partnership wants to achieve * (required)").fill(
            "Raise participants' attendance, browser test")
        page.get_by_label("What the partnership wants to achieve * (required)").press("Tab")
        page.get_by_label("KPI measured * (required)").select_option(label="Attendance rate (proportion)")
        _radio(page, "Students the goal is about", "All students").check()
        page.get_by_label("Baseline * (required)").fill("150")              # a percent above 100
        page.get_by_label("Baseline * (required)").press("Tab")
        page.get_by_label("Target * (required)").fill("94")
        page.get_by_label("Target * (required)").press("Tab")
        page.get_by_label("Start term * (required)").select_option(label="2025-26-Q2")
        page.get_by_label("Due term * (required)").select_option(label="2025-26-Q4")
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-status")).to_contain_text("Not submitted yet", timeout=30_000)
        expect(page.locator(".pa-question .pa-error")).to_contain_text(
            ["percent between 0 and 100", "Every goal needs an owner."])
        axe_results["goal with errors"] = _wcag(page)
        page.get_by_label("Baseline * (required)").fill("91")
        page.get_by_label("Baseline * (required)").press("Tab")
        page.get_by_label("Owner of the goal * (required)").fill("Sam Ortiz")
        page.get_by_label("Owner of the goal * (required)").press("Tab")
        page.get_by_role("button", name="Submit").click()
        expect(page.locator(".pa-banner")).to_contain_text("Saved: goal", timeout=60_000)
        axe_results["goal submitted"] = _wcag(page, inputs=False)       # the banner and the way back
        page.screenshot(path=str(SCREENSHOT_DIR / "pa_records_goal_done.png"), full_page=True)

    assert axe_results == {k: [] for k in axe_results}, axe_results
    assert len(axe_results) == 9

    from partner_analysis.records import read_checkin_tables, read_investments
    from partner_analysis.store import Store
    with Store(db) as store:
        tabs = read_checkin_tables(store, partner_id="P02")
        ledger = read_investments(store, partner_id="P02")
    assert _store_counts(db) == (checkins_before + 1, investments_before + 1, goals_before + 1)
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
    from partner_analysis.records import read_goals
    with Store(db) as store:
        goals = read_goals(store, partner_id="P02")
    goal = goals[goals["entered_by"] == ENTERED_BY]
    assert len(goal) == 1
    g = goal.iloc[0]
    assert (g["kpi_id"], g["population"], g["start_term"], g["due_term"], g["owner"]) == (
        "attendance_rate", "all", "2025-26-Q2", "2025-26-Q4", "Sam Ortiz")
    assert (g["baseline"], g["target"]) == (pytest.approx(0.91), pytest.approx(0.94))   # entered in percent
    # drafts were dropped on submit
    from partner_analysis.records.tables import drafts
    with Store(db) as store, store.engine.connect() as conn:
        assert conn.execute(drafts.select()).all() == []
    assert {urlparse(u).hostname for u in blocked} <= KNOWN_EXTERNAL_HOSTS, blocked


def test_record_check_on_submit_is_shown_next_to_its_question(demo_store):
    import datetime as dt

    from partner_analysis.records.app import records_app
    app = _choose(demo_store, "P05", "checkin")
    w, errors = app.form.inputs, app.form.errors
    w["date"].value = dt.date(2025, 9, 1)                 # in 2025-26-Q1
    w["term"].value = "2025-26-Q2"
    w["attendee_1_name"].value = "Jo"
    w["attendee_1_side"].value = "partner"
    app.form.submit_button.click()
    assert "Not submitted yet" in app.form.status.value and "Date of the check-in" in app.form.status.value
    assert "outside term 2025-26-Q2" in errors["date"].value
    assert all(v.value == "" for k, v in errors.items() if k != "date")
    w["date"].value = dt.date(2025, 11, 3)               # corrected: the record error goes with it
    assert errors["date"].value == ""
    app.form.submit_button.click()
    assert "Thank you" in app.form.status.value
