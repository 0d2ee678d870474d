"""The records forms in Spanish: every label, heading and button comes from the Spanish catalog, and the
records stored are the same as from the English form (values, never labels)."""
from __future__ import annotations

import ipywidgets as widgets
import pytest

from partner_analysis.records import RecordsContext, read_investments
from partner_analysis.records.forms import checkin_form, goal_form, investment_form


@pytest.fixture
def ctx(config):
    return RecordsContext.build(config, ["P01", "P02"])


def _texts(form) -> list[str]:
    """Every label, heading, hint and option a coordinator reads in the form."""
    out, stack = [], [form.widget]
    while stack:
        w = stack.pop()
        stack.extend(getattr(w, "children", ()))
        if isinstance(w, widgets.HTML):
            out.append(w.value)
        for attr in ("description", "placeholder"):
            if getattr(w, attr, None):
                out.append(getattr(w, attr))
        if isinstance(w, (widgets.RadioButtons, widgets.Dropdown)):
            out += [label for label, _v in w.options]
    return out


@pytest.mark.parametrize("build", [investment_form, goal_form,
                                   lambda s, c, **k: checkin_form(s, c, partner_id="P01", **k)],
                         ids=["investment", "goal", "checkin"])
def test_records_form_in_spanish_has_no_english_left(store, ctx, build):
    en = _texts(build(store, ctx, entered_by="Ana"))
    es = _texts(build(store, ctx, entered_by="Ana", lang="es"))
    assert len(en) == len(es)
    # texts that are district data, not interface, stay as they are: term and partner ids, units and staff
    # roles of the valuation config, KPI names of the catalog
    from partner_analysis.kpi.catalog import load_catalog
    from partner_analysis.records.investments import Valuation
    val = Valuation.from_config(ctx.config)
    data = {*ctx.config.term_ids, "P01", "P02", *val.units, *val.hourly_rates}
    data |= {f"{k.label} ({k.unit})" for k in load_catalog()} | {k.label for k in load_catalog()}
    untranslated = [e for e, s in zip(en, es) if e == s and any(c.isalpha() for c in e)
                    and not e.lstrip().startswith("<style") and e not in data]
    assert untranslated == []
    assert any("Enviar" == t for t in es) and any("Guardar borrador" == t for t in es)


def test_spanish_investment_form_stores_the_same_values(store, ctx):
    form = investment_form(store, ctx, entered_by="Ana Ruiz", lang="es")
    w = form.inputs
    assert w["category"].options[0][0] == "Personal (equivalente a tiempo completo)"
    w["partner_id"].value = "P02"
    w["term"].value = "2025-26-Q1"
    w["party"].label = "Organización asociada"          # chosen by its Spanish label
    w["category"].label = "Financiamiento"
    w["amount"].value = "-3"
    assert "La cantidad no puede ser negativa." in form.errors["amount"].value
    w["amount"].value = "1200"
    w["unit"].value = "hours"
    assert "Indique Financiamiento en" in form.errors["unit"].value
    from partner_analysis.records.investments import Valuation
    w["unit"].value = Valuation.from_config(ctx.config).allowed_units("funding")[0]
    form.submit_button.click()
    assert "Gracias" in form.status.value, form.status.value
    row = read_investments(store).iloc[0]
    assert (row.party, row.category, row.amount) == ("partner", "funding", 1200.0)


def test_records_app_banner_in_spanish():
    from partner_analysis.records.app import saved_banner
    es = saved_banner("goal", "G7", "Riverside Hospital", lang="es")
    assert "Guardado: meta G7" in es and "Riverside Hospital" in es and "Saved" not in es
    assert "Saved: goal G7" in saved_banner("goal", "G7", "Riverside Hospital")


# -- the records app and its refusal page in Spanish (built as Voilà's kernel builds them) -------------

def _records_store(tmp_path):
    from partner_analysis.store import Store
    store = Store(tmp_path / "records.sqlite")
    store.upsert_partnership("P01", "Riverside Hospital")
    store.upsert_partnership("P02", "Metro College")
    return store


def test_records_chooser_and_its_messages_follow_the_invitation_language(tmp_path, monkeypatch):
    from partner_analysis.access import create_invitation
    from partner_analysis.records.app import records_app
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("HTTP_ACCEPT_LANGUAGE", raising=False)
    with _records_store(tmp_path) as store:
        token = create_invitation(store, partners=["P01", "P02"], role="district", email="kim@district.example",
                                  form="records", name="Kim Park", lang="es").token
        app = records_app(db=store.url, token=token)
        texts = [app.partner.description, app.kind.description, app.start_button.description,
                 app.back_button.description, *(label for label, _v in app.kind.options)]
        assert texts == ["Colaboración", "¿Qué desea hacer?", "Abrir el formulario", "Volver a las opciones",
                         "Registrar una reunión de seguimiento", "Registrar una inversión", "Fijar una meta"]
        heading = app.chooser.children[0].value
        assert "Registros de la colaboración" in heading and 'data-lang="es"' in heading
        assert "Ha entrado con su enlace de invitación como Kim Park" in app.chooser.children[1].value
        app.start_button.click()                       # nothing chosen: the message is Spanish too
        assert "Elija la colaboración y qué desea hacer" in app.status.value and "Error:" in app.status.value
        app.partner.value, app.kind.value = "P02", "goal"
        app.start_button.click()
        assert app.form is not None and app.form.submit_button.description == "Enviar"
        # ?lang=en in the link wins over the invitation's language (the order of choose_language)
        monkeypatch.setenv("QUERY_STRING", f"token={token}&lang=en")
        assert records_app(db=store.url, token=token).start_button.description == "Open the form"


@pytest.mark.parametrize("how", ["expired", "revoked", "altered", "missing"])
def test_refusal_page_in_the_respondents_language(tmp_path, monkeypatch, how):
    import datetime as dt

    from partner_analysis.access import create_invitation, revoke
    from partner_analysis.records.app import records_app
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("HTTP_ACCEPT_LANGUAGE", raising=False)
    with _records_store(tmp_path) as store:
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
        made = create_invitation(store, partners="P01", role="partner", email="ana@riverside.example",
                                 form="records", lang="es", expires_days=30 if how == "expired" else 60,
                                 now=old if how == "expired" else None)
        if how == "revoked":
            revoke(store, made.invitation_id)
        token = {"altered": made.token[:-3] + ("xyz" if not made.token.endswith("xyz") else "abc"),
                 "missing": ""}.get(how, made.token)
        if how in ("altered", "missing"):
            # nothing identifies the invitation: the browser's language decides (Voilà passes Accept-Language)
            monkeypatch.setenv("HTTP_ACCEPT_LANGUAGE", "es-MX,es;q=0.9,en;q=0.5")
        app = records_app(db=store.url, token=token)
        text = app.status.value
        why = {"expired": "El enlace ha caducado.", "revoked": "Esta invitación fue retirada.",
               "altered": "El enlace está incompleto o no es válido.",
               "missing": "Esta página solo se abre con su enlace personal de invitación."}[how]
        assert app.refused == ("unknown" if how == "altered" else how)
        assert why in text and "Registros de la colaboración" in text and "Pida un enlace nuevo" in text
        assert 'lang="es"' in text and "Riverside" not in text
        if how in ("altered", "missing"):           # an English browser gets the English page
            monkeypatch.setenv("HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.9")
            english = records_app(db=store.url, token=token).status.value
            assert '<main lang="en">' in english and "Ask the partnership coordinator" in english


def test_record_checks_on_submit_are_in_spanish(store, ctx):
    first, second = ctx.config.terms[0], ctx.config.terms[1]
    form = checkin_form(store, ctx, partner_id="P01", entered_by="Ana", lang="es")
    w, errors = form.inputs, form.errors
    w["date"].value = first.start                     # in the first term, while the second is chosen
    w["term"].value = second.id
    w["attendee_1_name"].value = "Jo"
    w["attendee_1_side"].value = "partner"
    form.submit_button.click()
    assert "Todavía no se envió" in form.status.value
    # the record check (date outside the term), not only the form's own checks, is Spanish
    assert (f"La fecha {first.start} está fuera del periodo {second.id} ({second.start} a {second.end})"
            in errors["date"].value)
    assert f"Corrija la fecha o el periodo (la fecha cae en {first.id})" in errors["date"].value
    assert "outside" not in errors["date"].value
    english = checkin_form(store, ctx, partner_id="P01", entered_by="Ana")
    english.inputs["date"].value, english.inputs["term"].value = first.start, second.id
    english.inputs["attendee_1_name"].value, english.inputs["attendee_1_side"].value = "Jo", "partner"
    english.submit_button.click()
    assert f"Date {first.start} is outside term {second.id}" in english.errors["date"].value


def test_every_record_problem_with_a_template_reads_in_spanish():
    from partner_analysis.records._common import Problem, problem
    p = problem("amount", "-3", "the amount must not be negative, found {x:g}", "Enter an amount", x=-3.0)
    assert p.problem == "the amount must not be negative, found -3" and p.fix == "Enter an amount"
    assert p.text() == "The amount must not be negative, found -3. Enter an amount"
    assert p.text("es") == "La cantidad no puede ser negativa; se encontró -3. Escriba una cantidad"
    q = problem("party", None, "a {what} is required", "Use one of {allowed}", what="party",
                allowed=["district", "partner"])
    assert q.text("es") == "Falta un valor para «parte». Use uno de ['district', 'partner']"
    assert Problem("x", 1, "plain English").text("es") == "Plain English"     # no template: as it is
