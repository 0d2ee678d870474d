"""The fit survey form over the records store: fill, required error, draft, restart, resume, submit, audit."""
from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from partner_analysis.exceptions import ConfigError
from partner_analysis.fit.form import instrument_fields, survey_form
from partner_analysis.store import Store
from partner_analysis.fit import responses


# A hand-built instrument with the shape of fit.instrument.Instrument (CONTRACTS.md), so these tests do
# not depend on the XLSForm reader; the shipped instrument is exercised below when it is present.
@dataclass(frozen=True)
class _Choice:
    name: str
    label: str
    score: float | None = None


@dataclass(frozen=True)
class _Item:
    name: str
    type: str
    label: str
    choices: tuple = ()
    required: bool = False
    hint: str = ""
    relevant: str = ""
    group: str = ""
    dimension: str = ""
    role: str = "both"
    required_message: str = ""


_AGREE = tuple(_Choice(str(i), lab, float(i)) for i, lab in enumerate(
    ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], start=1)) + (
    _Choice("dk", "Don't know"),)


@dataclass(frozen=True)
class _Instrument:
    form_id: str = "partner_fit"
    version: str = "2025090101"
    title: str = "Partnership fit survey"
    items: tuple = field(default_factory=lambda: (
        _Item("welcome", "note", "Thank you for taking part.", group="Introduction"),
        _Item("years", "integer", "How many years have you worked in this partnership?", required=True,
              group="Introduction"),
        _Item("goals_shared", "select_one", "We share goals for students.", _AGREE, True, group="Shared goals"),
        _Item("goals_why", "text", "What differs in your goals?", required=True, relevant="low",
              group="Shared goals"),
        _Item("d_only", "select_one", "District staff meet partners each term.", _AGREE, True,
              group="Communication", role="district"),
        _Item("p_only", "select_one", "District staff answer our questions quickly.", _AGREE, True,
              group="Communication", role="partner"),
        _Item("channels", "select_multiple", "How do you communicate?",
              (_Choice("email", "Email"), _Choice("meet", "Meetings"), _Choice("phone", "Phone")),
              group="Communication"),
        _Item("hours", "decimal", "Staff hours per month", group="Resources"),
        _Item("since", "date", "Partnership start date", group="Resources"),
    ))

    def items_for(self, role):
        return tuple(i for i in self.items if i.role in (role, "both"))

    def is_relevant(self, name, answers):
        if name == "goals_why":
            return answers.get("goals_shared") in ("1", "2")
        return True

    def check_value(self, name, value, answers):
        if name == "years" and not (0 <= value <= 60):
            return "Enter a number of years from 0 to 60."
        if name == "since" and value > "2026-12-31":
            return "The start date cannot be in the future."
        return None


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "records.sqlite"


def _start(db, role="district", respondent="ana@district.example"):
    store = Store(db)
    return store, survey_form(_Instrument(), store, partner_id="P03", role=role, respondent=respondent)


def test_fields_follow_role():
    district = [f.name for f in instrument_fields(_Instrument(), "district")]
    partner = [f.name for f in instrument_fields(_Instrument(), "partner")]
    assert "d_only" in district and "p_only" not in district
    assert "p_only" in partner and "d_only" not in partner
    kinds = {f.name: f.kind for f in instrument_fields(_Instrument(), "district")}
    assert kinds == {"welcome": "note", "years": "integer", "goals_shared": "choice", "goals_why": "text",
                     "d_only": "choice", "channels": "multi_choice", "hours": "decimal", "since": "date"}


def test_fill_error_draft_restart_resume_submit_edit(db):
    store, form = _start(db)
    rid = form.response_id
    assert "0 of 3 required questions answered" in form.progress.value
    form.inputs["years"].value = "4"
    form.inputs["goals_shared"].value = "2"           # opens the follow-up question
    form.inputs["channels"].value = ("meet",)
    form.inputs["since"].value = dt.date(2030, 1, 1)  # instrument constraint
    assert "cannot be in the future" in form.errors["since"].value
    form.inputs["since"].value = dt.date(2019, 9, 1)
    form.submit_button.click()                        # goals_why and d_only still missing
    assert "Not submitted yet: 2 questions" in form.status.value
    assert "This question is required." in form.errors["goals_why"].value
    assert responses.response(store, rid)["status"] == "draft"
    form.inputs["goals_why"].value = "They focus on hiring, we on graduation."
    form.save_button.click()
    assert "Draft saved" in form.status.value
    # autosave reached the store before any explicit save
    assert responses.get_answers(store, rid) == {"years": 4, "goals_shared": "2", "channels": ["meet"],
                                      "since": "2019-09-01", "goals_why": "They focus on hiring, we on graduation."}
    store.close()

    # "restart": a new store object and a new form over the same database
    store2, form2 = _start(db)
    assert form2.response_id == rid
    assert form2.inputs["years"].value == "4"
    assert form2.inputs["goals_shared"].value == "2"
    assert form2.inputs["channels"].value == ("meet",)
    assert form2.inputs["since"].value == dt.date(2019, 9, 1)
    assert form2.boxes["goals_why"].layout.display is None
    assert "3 of 4 required questions answered" in form2.progress.value
    assert "5 saved answers were restored" in form2.intro_html.value
    form2.inputs["d_only"].value = "4"
    form2.inputs["goals_shared"].value = "5"          # hides goals_why: its answer must be dropped
    form2.inputs["hours"].value = "12.5"
    form2.submit_button.click()
    assert "Thank you" in form2.status.value
    row = responses.response(store2, rid)
    assert row["status"] == "submitted" and row["submitted_at"] is not None
    long = responses.answers_long(store2, partner_id="P03")
    assert dict(zip(long["item"], long["value"])) == {"years": 4, "goals_shared": "5", "channels": ["meet"],
                                                      "since": "2019-09-01", "d_only": "4", "hours": 12.5}
    assert set(long["version"]) == {"2025090101"} and set(long["role"]) == {"district"}
    assert responses.instruments_frame(store2)["form_id"].tolist() == ["partner_fit"]

    # corrections after submission are audited
    responses.edit_submitted(store2, rid, "hours", 10.0, editor="coordinator", reason="typo reported by respondent")
    audit = responses.audit_frame(store2, rid)
    assert audit[["item", "old_value", "new_value"]].values.tolist() == [["hours", 12.5, 10.0]]

    # a later visit in the same wave opens the submitted response for correction (no second response);
    # a new wave starts a fresh draft
    store3, form3 = _start(db)
    assert form3.response_id == rid and form3.mode == "correct" and form3.inputs["years"].value == "4"
    form4 = survey_form(_Instrument(), store3, partner_id="P03", role="district", respondent="ana@district.example",
                        wave="2026-27")
    assert form4.mode == "draft" and form4.response_id != rid and form4.inputs["years"].value == ""
    assert responses.response(store3, form4.response_id)["wave"] == "2026-27"
    for s in (store2, store3):
        s.close()


def test_server_side_check_refuses_incomplete_submit(db):
    store, form = _start(db, role="partner", respondent="li@college.example")
    # bypass the widget: a stale client submits without the required answers
    problems = form.controller.on_submit({"years": 2})
    assert {n for n, _ in problems} == {"goals_shared", "p_only"}
    assert responses.response(store, form.response_id)["status"] == "draft"
    store.close()


def _submitted(db, respondent="ana@district.example"):
    """A district response submitted through the form: years 4, goals_shared 5, d_only 4, channels meet."""
    store, form = _start(db, respondent=respondent)
    form.inputs["years"].value = "4"
    form.inputs["goals_shared"].value = "5"
    form.inputs["d_only"].value = "4"
    form.inputs["channels"].value = ("meet",)
    form.submit_button.click()
    assert "Thank you" in form.status.value
    return store, form.response_id


def test_returning_respondent_corrects_submitted_answers(db):
    store, rid = _submitted(db)
    before = responses.response(store, rid)
    form = survey_form(_Instrument(), store, partner_id="P03", role="district", respondent="ana@district.example")
    assert form.mode == "correct" and form.response_id == rid
    assert form.submit_button.description == "Save corrections"
    assert form.save_button not in form.widget.children[-2].children     # no "Save draft" here
    assert "Reason for the correction" in form.reason.description
    assert (form.inputs["years"].value, form.inputs["d_only"].value) == ("4", "4")
    assert "You submitted this survey on" in form.intro_html.value
    form.inputs["years"].value = "6"
    form.inputs["channels"].value = ("email", "meet")
    assert responses.audit_frame(store, rid).empty                                  # nothing is autosaved
    form.reason.value = "I counted the years wrong and forgot email."
    form.submit_button.click()
    assert "Your corrections were saved: 2 answers were changed" in form.status.value, form.status.value
    audit = responses.audit_frame(store, rid)
    assert audit[["item", "old_value", "new_value", "editor", "reason"]].values.tolist() == [
        ["years", 4, 6, "ana@district.example", "I counted the years wrong and forgot email."],
        ["channels", ["meet"], ["email", "meet"], "ana@district.example",
         "I counted the years wrong and forgot email."]]
    after = responses.response(store, rid)
    assert after["status"] == "submitted" and after["submitted_at"] == before["submitted_at"]
    assert after["updated_at"] > before["updated_at"] and after["updated_at"] == audit["changed_at"].iloc[0]
    long = responses.answers_long(store, partner_id="P03")
    assert set(long["response_id"]) == {rid}
    assert dict(zip(long["item"], long["value"])) == {"years": 6, "goals_shared": "5", "d_only": "4",
                                                      "channels": ["email", "meet"]}
    store.close()


def test_correction_that_opens_a_required_question_is_refused_and_changes_nothing(db):
    store, rid = _submitted(db)
    answers = responses.get_answers(store, rid)
    form = survey_form(_Instrument(), store, partner_id="P03", role="district", respondent="ana@district.example")
    form.reason.value = "wrong answer"
    form.inputs["years"].value = ""                 # clearing a required answer
    form.submit_button.click()
    assert "Not saved: 1 question needs" in form.status.value
    assert "This question is required." in form.errors["years"].value
    form.inputs["years"].value = "4"
    form.inputs["goals_shared"].value = "2"         # opens the required follow-up, left empty
    form.submit_button.click()
    assert "This question is required." in form.errors["goals_why"].value
    # a stale client bypassing the widget checks is refused by the store's check, inside the transaction
    problems = form.controller.on_submit({"years": 4, "goals_shared": "2", "d_only": "4"})
    assert [n for n, _ in problems] == ["goals_why"]
    assert responses.get_answers(store, rid) == answers and responses.audit_frame(store, rid).empty
    assert responses.response(store, rid)["status"] == "submitted"
    store.close()


def test_correction_needs_a_reason_and_a_change(db):
    store, rid = _submitted(db)
    form = survey_form(_Instrument(), store, partner_id="P03", role="district", respondent="ana@district.example")
    form.inputs["years"].value = "5"
    form.submit_button.click()                      # no reason
    assert "Not saved: Enter the reason for the correction." in form.status.value
    assert "Error: Enter the reason" in form.reason_error.value
    form.reason.value = "   "
    form.submit_button.click()
    assert "Enter the reason" in form.status.value
    assert responses.get_answers(store, rid)["years"] == 4 and responses.audit_frame(store, rid).empty
    form.inputs["years"].value = "4"                # back to the submitted value: nothing changed
    form.reason.value = "checking"
    before = responses.response(store, rid)["updated_at"]
    form.submit_button.click()
    assert "You did not change any answer, so nothing was saved." in form.status.value
    assert responses.audit_frame(store, rid).empty and responses.response(store, rid)["updated_at"] == before
    store.close()


def test_correction_that_hides_a_question_clears_and_audits_its_answer(db):
    store, form = _start(db)
    for name, value in (("years", "4"), ("goals_shared", "2"), ("goals_why", "Different targets."),
                        ("d_only", "4")):
        form.inputs[name].value = value
    form.submit_button.click()
    rid = form.response_id
    assert responses.get_answers(store, rid)["goals_why"] == "Different targets."
    fix = survey_form(_Instrument(), store, partner_id="P03", role="district", respondent="ana@district.example")
    fix.inputs["goals_shared"].value = "4"          # hides goals_why
    fix.reason.value = "We do share goals."
    fix.submit_button.click()
    assert "2 answers were changed" in fix.status.value
    audit = responses.audit_frame(store, rid)
    assert audit[["item", "old_value", "new_value"]].values.tolist() == [
        ["goals_why", "Different targets.", None], ["goals_shared", "2", "4"]]
    assert "goals_why" not in responses.get_answers(store, rid)
    store.close()


def _invite(store, *, partner="P03", role="district", email="ana@district.example", name="Ana Ruiz", wave="annual"):
    from partner_analysis.access import create_invitation, resolve_token
    made = create_invitation(store, partners=partner, role=role, email=email, name=name, wave=wave)
    return made.token, resolve_token(store, made.token, form="survey")


def test_app_by_invitation_reopens_submitted_answers_for_correction(db):
    from partner_analysis.fit.app import SurveyApp
    store = Store(db)
    store.upsert_partnership("P03", "Metro College")
    _token, who = _invite(store)
    app = SurveyApp(store, _Instrument(), who)
    assert app.form.mode == "draft" and responses.response(store, app.form.response_id)["respondent"] == who.respondent
    intro = app.form.widget.children[2].value
    assert "Metro College" in intro and "Ana Ruiz" in intro and "P03" not in intro
    for name, value in (("years", "4"), ("goals_shared", "5"), ("d_only", "4")):
        app.form.inputs[name].value = value
    assert app.banner.value == ""
    app.form.submit_button.click()
    # the confirmation is a banner at the top, with what happens next; the greyed form is gone
    assert "submitted" in app.banner.value and "What happens next" in app.banner.value
    assert app.widget.children.index(app.banner) < app.widget.children.index(app.page.widget)
    assert app.page.widget.children == (app.form.widget,)
    assert app.form.widget.layout.display == "none"
    rid = app.form.response_id
    again = SurveyApp(store, _Instrument(), who)
    assert again.form.mode == "correct" and again.form.response_id == rid
    again.form.inputs["d_only"].value = "2"
    again.form.reason.value = "misread the question"
    again.form.submit_button.click()
    assert responses.get_answers(store, rid)["d_only"] == "2" and "corrections were saved" in again.banner.value
    assert responses.audit_frame(store, rid)["editor"].tolist() == [f"Ana Ruiz (invitation {who.invitation_id})"]
    assert len(responses.answers_wide(store, partner_id="P03", status=None)) == 1
    store.close()


def test_app_role_comes_from_the_invitation(db):
    from partner_analysis.fit.app import SurveyApp
    store = Store(db)
    _token, who = _invite(store, role="partner", email="li@college.example", name=None)
    app = SurveyApp(store, _Instrument(), who)
    assert "p_only" in app.form.inputs and "d_only" not in app.form.inputs
    assert not hasattr(app, "respondent") and not hasattr(app, "partner")      # nothing to type or choose
    assert "li@college.example" in app.form.widget.children[2].value
    store.close()


def test_survey_app_refuses_without_a_valid_link_and_shows_errors_in_the_page(tmp_path, monkeypatch):
    from partner_analysis.fit.app import survey_app
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.upsert_partnership("P03", "Metro College")
        token, _who = _invite(store)
    monkeypatch.setenv("QUERY_STRING", "")
    for bad, reason in (("", "missing"), (token[:-3] + "abc", "unknown"), ("x" * 10, "unknown")):
        app = survey_app(db=str(db), token=bad)
        assert app.refused == reason and app.form is None
        assert "Metro College" not in app.status.value and 'role="alert"' in app.status.value
    assert survey_app(db=str(db)).refused == "missing"              # $QUERY_STRING without a token
    monkeypatch.setenv("QUERY_STRING", f"token={token}")
    assert survey_app(db=str(db)).form is not None                  # what Voilà hands the kernel
    app = survey_app(db=str(db), instrument=str(tmp_path / "missing.xlsx"), token=token)
    assert app.form is None and "Error:" in app.status.value and "missing.xlsx" in app.status.value


def _fill_everything(form):
    """Answer every visible question of any instrument with the first value it accepts."""
    ctrl = form.controller
    for _ in range(5):
        for spec in ctrl.visible_fields():
            if spec.name not in form.inputs or ctrl.value(spec.name) is not None:
                continue
            widget = form.inputs[spec.name]
            if spec.kind == "choice":
                candidates = [v for v, _ in spec.choices]
            elif spec.kind == "multi_choice":
                candidates = [(spec.choices[0][0],)]
            elif spec.kind == "integer":
                candidates = ["1", "3", "0", "10", "100"]
            elif spec.kind == "decimal":
                candidates = ["1", "3.5", "0", "100"]
            elif spec.kind == "date":
                candidates = [dt.date(2025, 9, 1), dt.date(2024, 1, 15)]
            else:
                candidates = ["A short answer for testing."]
            for c in candidates:
                widget.value = c
                if ctrl.value(spec.name) is not None:
                    break
        if not ctrl.errors():
            return
    raise AssertionError(f"could not fill the form: {ctrl.errors()}")


def _shipped_instrument():
    if importlib.util.find_spec("partner_analysis.fit.instrument") is None:
        pytest.skip("fit.instrument (the instrument reader) is not available")
    from partner_analysis.fit.instrument import default_instrument_path, read_instrument
    path = default_instrument_path()
    if not Path(path).is_file():
        pytest.skip(f"shipped instrument {path} is not available")
    return read_instrument(path)


@pytest.mark.parametrize("role", ["district", "partner"])
def test_shipped_instrument_fills_and_submits(tmp_path, role):
    instrument = _shipped_instrument()
    store = Store(tmp_path / "r.sqlite")
    form = survey_form(instrument, store, partner_id="P01", role=role, respondent="tester")
    form.submit_button.click()
    assert "Not submitted yet" in form.status.value
    _fill_everything(form)
    form.submit_button.click()
    assert "Thank you" in form.status.value, form.status.value
    long = responses.answers_long(store, partner_id="P01", role=role)
    assert len(long) == len(form.controller.final_answers()) > 0
    assert set(long["version"]) == {str(instrument.version)}
    store.close()


# -- the app around the form: see test_app_by_invitation_* above ----------------------------------------

def test_voila_command_and_cli():
    from partner_analysis.cli import build_parser
    from partner_analysis.fit.app import survey_notebook_path
    from partner_analysis.forms.voila import VoilaSettings, voila_command, voila_environment
    cmd = voila_command(VoilaSettings(port=9123, cull_idle_timeout=600, max_kernels=7),
                        notebook=survey_notebook_path(), config_dir="/cfg")
    assert cmd[3].endswith("fit_survey.ipynb")
    for flag in ("--no-browser", "--Voila.ip=127.0.0.1", "--port=9123", "--strip_sources=True",
                 "--template=pa_survey", "--MappingKernelManager.cull_idle_timeout=600",
                 "--MappingKernelManager.cull_interval=300", "--MappingKernelManager.cull_connected=True",
                 "--BoundedKernelManager.max_kernels=7", "--Voila.config_file_paths=/cfg",
                 "--Voila.identity_provider_class=partner_analysis.access.serving.InvitationIdentityProvider"):
        assert flag in cmd
    env = voila_environment({"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"].split(":")[-1] == "/elsewhere"
    assert Path(env["JUPYTER_PATH"].split(":")[0], "voila", "templates", "pa_survey", "index.html.j2").is_file()
    args = build_parser().parse_args(["survey-app", "--db", "x.sqlite", "--port", "9000", "--ip", "0.0.0.0",
                                      "--allow-host", "survey.district.org"])
    assert (args.db, args.port, args.cull_idle_timeout, args.ip, args.allow_host) == (
        "x.sqlite", 9000, 1800, "0.0.0.0", ["survey.district.org"])
    settings = VoilaSettings(allowed_hosts=("survey.district.org",))
    assert settings.server_config()["Voila"]["tornado_settings"] == {
        "allow_remote_access": False, "local_hostnames": ["localhost", "survey.district.org"]}
    with pytest.raises(ConfigError, match="port"):
        VoilaSettings(port=0)
    with pytest.raises(ConfigError, match="plain name"):
        VoilaSettings(allowed_hosts=("https://survey.district.org",))


@pytest.mark.slow
def test_notebook_runs_and_shows_the_app(tmp_path):
    import nbformat
    import papermill as pm
    from partner_analysis.fit.app import survey_notebook_path
    _shipped_instrument()
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(survey_notebook_path()), str(out), parameters={"db": str(tmp_path / "r.sqlite")},
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert not any(o.get("output_type") == "error" for o in outputs)
    # the notebook holds no logic: one import and one call besides the parameters
    code = [c.source for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
            and "injected-parameters" not in c.metadata.get("tags", [])]
    assert len(code) == 1 and "survey_app(" in code[0] and "for " not in code[0]
