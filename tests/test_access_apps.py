"""A partner-A link can neither list, read nor change partner-B data through the kernel's messages.

Under Voilà each page is one kernel; the browser reads and writes nothing but the state of the kernel's
widget models (ipywidgets comm messages, handled by ``Widget.set_state``). So the tests build the app for a
partner-A identity in a fresh "kernel" (every other widget closed), then:

- read every widget model the kernel holds, as a client would, looking for partner B;
- send the messages a forged client could send (``set_state`` on the widgets that exist);
- call the app's library functions with the partner-A identity asking for partner B.
"""
from __future__ import annotations

import json

import ipywidgets as widgets
import pytest
from traitlets import TraitError

from partner_analysis.access import create_invitation, resolve_token
from partner_analysis.exceptions import AccessDenied
from partner_analysis.store import Store
from partner_analysis.fit import responses

B_NAME = "Metro College"

# Widget.widgets (every live widget model of the kernel) is what a client can read; ipywidgets 8 marks the
# public name deprecated without a public replacement
pytestmark = pytest.mark.filterwarnings("ignore:Widget.widgets is deprecated:DeprecationWarning")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("PA_DATA_DIR", raising=False)
    monkeypatch.delenv("PA_DB_URL", raising=False)
    with Store(tmp_path / "records.sqlite") as s:
        s.upsert_partnership("P01", "Riverside Hospital")
        s.upsert_partnership("P02", B_NAME)
        s.upsert_partnership("P03", "Lakeside Library")
        yield s


def _kernel_state() -> str:
    """Everything the kernel's widget models hold, as a client could read it (JSON text)."""
    return json.dumps({k: w.get_state() for k, w in list(widgets.Widget.widgets.items())}, default=str,
                      ensure_ascii=False)


def _token(store, partners, *, form="records", role="partner", email="a@riverside.example", **kw):
    return create_invitation(store, partners=partners, role=role, email=email, form=form, **kw).token


@pytest.mark.parametrize("lang", [None, "es"])
def test_records_app_for_partner_a_holds_nothing_of_partner_b(store, lang):
    from partner_analysis.records import read_investments
    from partner_analysis.records.app import records_app
    # partner B's coordinator records an investment and leaves a draft
    b = records_app(db=store.url, token=_token(store, "P02", email="b@metro.example", name="Bo Lind"))
    b.kind.value = "investment"
    b.start_button.click()
    b.form.inputs["description"].value = "Metro draft, private"
    widgets.Widget.close_all()                     # a new kernel for partner A's page

    a = records_app(db=store.url, token=_token(store, "P01", name="Ana Ruiz", lang=lang))
    state = _kernel_state()
    assert "Riverside Hospital" in state
    # the page is in the invitation's language; what it may reach is the same
    assert ("Registros de la colaboración" in state) == (lang == "es")
    assert B_NAME not in state and "P02" not in state and "Metro draft" not in state and "Bo Lind" not in state
    assert a.partner is None                       # one partnership: nothing to choose, nothing to forge
    for kind in ("checkin", "investment", "goal"):
        a.kind.set_state({"index": [k for _, k in a.kind.options].index(kind)})   # a client's message
        a.start_button.click()
        assert a.form is not None, a.status.value
        state = _kernel_state()
        assert B_NAME not in state and "P02" not in state and "Metro draft" not in state, kind
        a.back_button.click()
    # the app's library functions, asked for partner B with partner A's identity, refuse
    from partner_analysis.records.forms import checkin_form, goal_form, investment_form
    for build in (checkin_form, goal_form, investment_form):
        with pytest.raises(AccessDenied) as err:
            build(store, a.ctx, partner_id="P02", identity=a.identity)
        assert err.value.reason == "scope"
    assert len(read_investments(store, partner_id="P02")) == 0


def test_district_coordinator_choice_cannot_be_forged_to_another_partner(store):
    from partner_analysis.records.app import records_app
    widgets.Widget.close_all()
    app = records_app(db=store.url, token=_token(store, ["P01", "P03"], role="district", email="c@district.org"))
    assert [v for _, v in app.partner.options] == ["P01", "P03"]
    assert B_NAME not in _kernel_state()
    with pytest.raises(TraitError):
        app.partner.set_state({"index": 2})        # past the options: ipywidgets refuses
    with pytest.raises(TraitError):
        app.partner.value = "P02"
    assert app.partner_id is None
    app.partner.set_state({"index": 1})
    app.kind.set_state({"index": 0})
    app.start_button.click()
    assert app.form is not None and "Lakeside Library" in app.form.widget.children[1].value


@pytest.mark.parametrize("lang", [None, "es"])
def test_survey_app_for_partner_a_holds_nothing_of_partner_b_and_a_typed_name_is_only_an_answer(store, lang):
    from partner_analysis.fit.instrument import default_instrument_path, read_instrument
    from partner_analysis.fit.app import SurveyApp
    instrument = read_instrument(default_instrument_path())
    b = resolve_token(store, _token(store, "P02", form="survey", email="b@metro.example", name="Bo Lind",
                                    wave="w1"), form="survey")
    b_app = SurveyApp(store, instrument, b)
    b_app.form.inputs["organisation"].value = "Metro private answer"
    b_rid = b_app.form.response_id
    b_before = (responses.response(store, b_rid), responses.get_answers(store, b_rid))
    widgets.Widget.close_all()

    a = resolve_token(store, _token(store, "P01", form="survey", role="district", email="ana@district.org",
                                    name="Ana Ruiz", wave="w1", lang=lang), form="survey")
    app = SurveyApp(store, instrument, a)
    state = _kernel_state()
    assert "Riverside Hospital" in state and "Ana Ruiz" in state
    assert app.page.lang == (lang or "en") and ("Encuesta sobre la colaboración" in state) == (lang == "es")
    assert B_NAME not in state and "Bo Lind" not in state and "Metro private answer" not in state
    # a client sets the name box to partner B's respondent: an answer changes, nobody's identity does
    app.form.inputs["respondent_name"].set_state({"value": "Bo Lind"})
    a_rid = app.form.response_id
    assert responses.get_answers(store, a_rid)["respondent_name"] == "Bo Lind"
    assert responses.response(store, a_rid)["respondent"] == a.respondent != b.respondent
    assert (responses.response(store, b_rid), responses.get_answers(store, b_rid)) == b_before
    # identity cannot be asked for another partnership
    with pytest.raises(AccessDenied):
        a.require("P02")


def test_each_app_answers_to_its_public_host_from_district_yml(tmp_path):
    import argparse

    from partner_analysis.config import DEFAULT_CONFIG_TEXT
    from partner_analysis.forms.voila import add_serving_args, serving_settings
    (tmp_path / "district.yml").write_text(DEFAULT_CONFIG_TEXT + "\napps:\n  survey_url: https://survey.district.org/\n"
                                           "  records_url: https://records.district.org/\n")
    parser = argparse.ArgumentParser()
    add_serving_args(parser, port=8866)
    parser.add_argument("--data-dir")
    args = parser.parse_args(["--data-dir", str(tmp_path), "--allow-host", "extra.district.org"])
    survey = serving_settings(args)
    records = serving_settings(args, form="records")
    assert survey.allowed_hosts == ("extra.district.org", "survey.district.org")
    assert records.allowed_hosts == ("extra.district.org", "records.district.org")
    assert survey.server_config()["Voila"]["tornado_settings"]["local_hostnames"] == [
        "localhost", "extra.district.org", "survey.district.org"]
    # no DATA_DIR: only the names given
    assert serving_settings(parser.parse_args([])).allowed_hosts == ()
