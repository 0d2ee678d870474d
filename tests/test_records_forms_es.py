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
