"""The partner-fit survey as a widget form backed by the records store.

:func:`survey_form` turns the instrument's items for one role into
:class:`~partner_analysis.forms.engine.FieldSpec` objects, opens (or resumes) the
respondent's draft, autosaves every accepted change and submits in one transaction,
re-checking required answers and constraints inside that transaction.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from ..exceptions import StoreError
from ..store import Store
from .engine import FieldSpec, FormController
from .widgets import WidgetForm

__all__ = ["survey_form", "instrument_fields", "KIND_OF_TYPE"]

#: XLSForm question type -> form field kind
KIND_OF_TYPE = {
    "select_one": "choice",
    "select_multiple": "multi_choice",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "date": "date",
    "note": "note",
}


def _plain(value: Any) -> Any:
    """The value as the store and the instrument's expressions see it (lists, ISO dates)."""
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


def _plain_all(answers: Mapping[str, Any]) -> dict:
    return {k: _plain(v) for k, v in answers.items()}


def instrument_fields(instrument: Any, role: str) -> list[FieldSpec]:
    """FieldSpecs for the items one role answers, in instrument order.

    Parameters
    ----------
    instrument : fit.instrument.Instrument
        Uses ``items_for(role)``, ``is_relevant(name, answers)`` and ``check_value(name, value, answers)``.
    role : {"district", "partner"}

    Returns
    -------
    list of FieldSpec
        Sections are the item's ``group`` (falling back to its ``dimension``).
    """
    fields = []
    group_labels = dict(getattr(instrument, "groups", ()) or ())
    for item in instrument.items_for(role):
        kind = KIND_OF_TYPE.get(item.type)
        if kind is None:
            continue  # calculate/hidden rows have nothing to show
        name = item.name
        relevant = None
        if getattr(item, "relevant", None):
            relevant = (lambda answers, _n=name: bool(instrument.is_relevant(_n, _plain_all(answers))))
        validate = None
        if kind != "note":
            validate = (lambda value, answers, _n=name:
                        instrument.check_value(_n, _plain(value), _plain_all(answers)))
        required: Any = bool(item.required) and kind != "note"
        if getattr(item, "required_if", "") and kind != "note":
            required = (lambda answers, _n=name: bool(instrument.is_required(_n, _plain_all(answers))))
        group = getattr(item, "group", None) or getattr(item, "dimension", None) or ""
        fields.append(FieldSpec(
            name=name, kind=kind, label=str(item.label or name),
            choices=tuple((c.name, str(c.label)) for c in (item.choices or ())),
            required=required, hint=str(item.hint or ""),
            section=str(group_labels.get(group, group)),
            relevant=relevant, validate=validate,
            required_message=getattr(item, "required_message", None) or None))
    return fields


def survey_form(instrument: Any, store: Store, *, partner_id: str, role: str, respondent: str,
                wave: str = "annual") -> WidgetForm:
    """Open (or resume) one respondent's fit survey as a widget form.

    Parameters
    ----------
    instrument : fit.instrument.Instrument
    store : Store
    partner_id : str
    role : {"district", "partner"}
    respondent : str
        Name, email or id of the person answering; with partner_id, role and wave it finds the draft.
    wave : str
        Survey round (default ``"annual"``).

    Returns
    -------
    WidgetForm
        Display ``.widget``. Extra attributes: ``response_id``, ``store``. Every accepted change is
        saved at once (``Store.save_answer``); **Submit** stores the visible answers, deletes answers
        to questions hidden by skip logic and marks the response submitted, all in one transaction.
    """
    store.register_instrument(instrument)
    form_id, version = str(instrument.form_id), str(instrument.version)
    response_id = store.open_response(form_id, version, partner_id, role, respondent, wave=wave)
    fields = instrument_fields(instrument, role)
    order = {f.name: i for i, f in enumerate(fields)}
    saved = store.get_answers(response_id)

    def autosave(name: str, value: Any) -> None:
        store.save_answer(response_id, name, _plain(value))

    def server_check(final: dict) -> list:
        # The same rules again, inside the submit transaction, on what is actually stored; the
        # instrument's own validator (when it has one) is the authority on required and constraints.
        problems = dict(FormController(fields, initial=final).errors())
        if hasattr(instrument, "validate_answers"):
            problems.update(dict(instrument.validate_answers(final, role=role)))
        return sorted(problems.items(), key=lambda p: order.get(p[0], len(order)))

    def submit(answers: dict):
        try:
            store.submit(response_id, _plain_all(answers), validator=server_check)
        except StoreError as err:
            problems = getattr(err, "problems", None)
            if problems:
                return problems
            raise
        return None

    controller = FormController(fields, on_change=autosave, on_submit=submit, initial=saved)

    def save_draft() -> str:
        # Answers are autosaved; re-writing them makes "Save draft" a real flush after any lost write.
        for name, value in controller.answers.items():
            store.save_answer(response_id, name, _plain(value))
        stamp = _dt.datetime.now().strftime("%H:%M")
        return (f"Draft saved at {stamp} ({len(controller.answers)} answers). You can close this page and "
                "continue later with the same partnership, role and name.")

    role_text = {"district": "district staff", "partner": "partner staff"}.get(role, role)
    intro = f"Partnership {partner_id}. You are answering as {role_text} ({respondent})."
    if saved:
        intro += f" Your {len(saved)} saved answers were restored."
    form = WidgetForm(controller, title=str(getattr(instrument, "title", None) or form_id), intro=intro,
                      on_save=save_draft)
    form.response_id = response_id
    form.store = store
    return form
