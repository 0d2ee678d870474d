"""The partner-fit survey as a widget form backed by the records store.

:func:`survey_form` turns the instrument's items for one role into
:class:`~partner_analysis.forms.engine.FieldSpec` objects, opens (or resumes) the
respondent's draft, autosaves every accepted change and submits in one transaction,
re-checking required answers and constraints inside that transaction.

A respondent who already submitted in this wave and comes back with the same partnership, role and
name gets the submitted answers in *correction mode*: nothing is autosaved, a "Reason for the
correction" is required, and **Save corrections** writes every changed answer (and clears answers that
skip logic now hides) through :meth:`Store.edit_submitted_many` in one transaction, audited with the
respondent as editor, after checking the would-be answers with the same rules as a submission.
"""
from __future__ import annotations

import datetime as _dt
import html
from typing import Any, Mapping

import ipywidgets as widgets

from ..exceptions import StoreError
from ..store import Store
from .engine import FieldSpec, FormController
from .widgets import WidgetForm

__all__ = ["survey_form", "instrument_fields", "KIND_OF_TYPE", "REASON_LABEL"]

#: label of the reason field of a correction form
REASON_LABEL = "Reason for the correction * (required)"

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
                wave: str = "annual", partner_name: str | None = None, who: str | None = None,
                editor: str | None = None) -> WidgetForm:
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
    partner_name, who : str, optional
        The partnership's name and the respondent's name as the page shows them (default: the ids).
    editor : str, optional
        Who the audit trail names for corrections (default ``respondent``).

    Returns
    -------
    WidgetForm
        Display ``.widget``. Extra attributes: ``response_id``, ``store``, ``mode`` (``"draft"`` or
        ``"correct"``) and ``reason`` (the reason ``Textarea``, correction mode only, else ``None``).

        Draft mode: every accepted change is saved at once (``Store.save_answer``); **Submit** stores the
        visible answers, deletes answers to questions hidden by skip logic and marks the response
        submitted, all in one transaction.

        Correction mode (this respondent already submitted in ``wave``): the form shows the submitted
        answers and saves nothing until **Save corrections**, which needs a reason and at least one
        changed answer, and writes all changes in one audited transaction (see the module docstring).
        A refused correction changes nothing. A new ``wave`` still starts a fresh draft.
    """
    store.register_instrument(instrument)
    form_id, version = str(instrument.form_id), str(instrument.version)
    fields = instrument_fields(instrument, role)
    order = {f.name: i for i, f in enumerate(fields)}

    def server_check(final: dict) -> list:
        # The same rules again, inside the write transaction, on what is actually stored; the
        # instrument's own validator (when it has one) is the authority on required and constraints.
        problems = dict(FormController(fields, initial=final).errors())
        if hasattr(instrument, "validate_answers"):
            problems.update(dict(instrument.validate_answers(final, role=role)))
        return sorted(problems.items(), key=lambda p: order.get(p[0], len(order)))

    submitted_id = store.find_submitted(form_id, version, partner_id, role, respondent, wave=wave)
    if submitted_id is not None:
        return _correction_form(instrument, store, submitted_id, fields, server_check, partner_id=partner_id,
                                role=role, respondent=respondent, partner_name=partner_name, who=who,
                                editor=editor)

    response_id = store.open_response(form_id, version, partner_id, role, respondent, wave=wave)
    saved = store.get_answers(response_id)

    def autosave(name: str, value: Any) -> None:
        store.save_answer(response_id, name, _plain(value))

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
                "continue later" + (" with the same link." if who else " with the same partnership, role and name."))

    intro = _who(partner_name or partner_id, role, who or respondent)
    if saved:
        intro += (" Your saved answer was restored." if len(saved) == 1 else f" Your {len(saved)} saved answers were restored.")
    form = WidgetForm(controller, title=str(getattr(instrument, "title", None) or form_id), intro=intro,
                      on_save=save_draft)
    form.response_id = response_id
    form.store = store
    form.mode = "draft"
    form.reason = None
    return form


def _who(partner: str, role: str, respondent: str) -> str:
    role_text = {"district": "district staff", "partner": "partner staff"}.get(role, role)
    return f"Partnership {partner}. You are answering as {role_text} ({respondent})."


def _correction_form(instrument: Any, store: Store, response_id: int, fields: list, server_check, *,
                     partner_id: str, role: str, respondent: str, partner_name: str | None = None,
                     who: str | None = None, editor: str | None = None) -> WidgetForm:
    """The submitted answers of ``response_id`` as a correction form (see :func:`survey_form`)."""
    row = store.response(response_id)
    saved = store.get_answers(response_id)
    reason = widgets.Textarea(description=REASON_LABEL, style={"description_width": "initial"},
                              layout=widgets.Layout(width="auto"), continuous_update=False,
                              placeholder="e.g. I chose the wrong option for the meeting question")
    reason.add_class("pa-q")
    reason_error = widgets.HTML("")
    reason_box = widgets.VBox([widgets.HTML("<h2>Your correction</h2>"), reason, reason_error])
    reason_box.add_class("pa-question")
    result: dict[str, Any] = {"written": []}

    def save_corrections(final: dict) -> list | None:
        why = (reason.value or "").strip()
        if not why:
            reason_error.value = '<span class="pa-error">Error: Enter the reason for the correction.</span>'
            return [("", "Enter the reason for the correction.")]
        reason_error.value = ""
        wanted = _plain_all(final)
        # every submitted answer that is no longer in the final answers (cleared, or hidden by skip logic)
        # is cleared; the store writes (and audits) only what really changes
        changes = {item: None for item in saved if item not in wanted}
        changes.update({item: value for item, value in wanted.items() if saved.get(item) != value})
        if not changes:
            return [("", "You did not change any answer, so nothing was saved.")]
        try:
            result["written"] = store.edit_submitted_many(response_id, changes, editor=editor or respondent,
                                                          reason=why,
                                                          validator=server_check)
        except StoreError as err:
            problems = getattr(err, "problems", None)
            if problems:
                return problems
            raise
        if not result["written"]:
            return [("", "You did not change any answer, so nothing was saved.")]
        saved.clear()
        saved.update(wanted)
        reason.disabled = True
        return None

    def done() -> str:
        n = len(result["written"])
        noun = "answer was" if n == 1 else "answers were"
        return (f"Your corrections were saved: {n} {noun} changed. Your response stays submitted; the change "
                "and your reason are kept in the audit trail.")

    controller = FormController(fields, on_submit=save_corrections, initial=saved)
    stamp = row["submitted_at"]
    when = f" on {stamp:%Y-%m-%d}" if isinstance(stamp, (_dt.date, _dt.datetime)) else ""
    intro = (f"{_who(partner_name or partner_id, role, who or respondent)} You submitted this survey{when}. "
             "Correct your submitted answers below, give the reason, and choose Save corrections.")
    title = f"{getattr(instrument, 'title', None) or instrument.form_id}: correct your submitted answers"
    form = WidgetForm(controller, title=str(title), intro=intro, submit_label="Save corrections", save_label=None,
                      note="Questions marked * (required) must stay answered. Nothing is saved until you choose "
                           "Save corrections; then every changed answer is saved together, or none is.",
                      extra=[reason_box], refused_text="Not saved", done_text=done)
    form.response_id = response_id
    form.store = store
    form.mode = "correct"
    form.reason = reason
    form.reason_error = reason_error
    return form
