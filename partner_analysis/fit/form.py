"""The partner-fit survey as a widget form backed by the records store.

:func:`survey_form` turns the instrument's items for one role into
:class:`~partner_analysis.forms.engine.FieldSpec` objects, opens (or resumes) the
respondent's draft, autosaves every accepted change and submits in one transaction,
re-checking required answers and constraints inside that transaction.

A respondent who already submitted in this wave and comes back with the same partnership, role and
name gets the submitted answers in *correction mode*: nothing is autosaved, a "Reason for the
correction" is required, and **Save corrections** writes every changed answer (and clears answers that
skip logic now hides) through :func:`~partner_analysis.fit.responses.edit_submitted_many` in one transaction, audited with the
respondent as editor, after checking the would-be answers with the same rules as a submission.

Languages: ``lang="es"`` shows the instrument's Spanish texts (``label::Español (es)`` columns, see
:meth:`~partner_analysis.fit.instrument.Instrument.in_language`) and the form's buttons and messages from
the Spanish gettext catalog (:mod:`partner_analysis.i18n`). Answers are stored as item and choice *names*,
never as labels, so the language changes nothing that is stored or scored. :func:`survey_page` adds a
language menu that rebuilds the form in the chosen language with every answer kept.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Mapping

import ipywidgets as widgets

from ..exceptions import StoreError
from ..i18n import N_, Translator, language_from_query
from ..store import Store
from ..forms.engine import FieldSpec, FormController
from ..forms.widgets import WidgetForm
from . import responses

__all__ = ["survey_form", "survey_page", "SurveyPage", "instrument_fields", "language_switcher",
           "requested_language", "KIND_OF_TYPE", "REASON_LABEL"]

#: label of the language menu, shown in every language of the form ("Language / Idioma")
LANGUAGE_LABEL = N_("Language")
#: label of the reason field of a correction form (English msgid; shown translated)
REASON_LABEL = N_("Reason for the correction * (required)")

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


def _in_language(instrument: Any, lang: str | None) -> Any:
    """The instrument's texts in ``lang`` (an instrument without translations is returned as it is)."""
    return instrument.in_language(lang) if hasattr(instrument, "in_language") else instrument


def instrument_fields(instrument: Any, role: str, lang: str | None = None) -> list[FieldSpec]:
    """FieldSpecs for the items one role answers, in instrument order.

    Parameters
    ----------
    instrument : fit.instrument.Instrument
        Uses ``items_for(role)``, ``is_relevant(name, answers)`` and ``check_value(name, value, answers)``.
    role : {"district", "partner"}
    lang : str, optional
        Language code of the labels (``"es"``); default the instrument's default language. Names and
        choice values are the same in every language.

    Returns
    -------
    list of FieldSpec
        Sections are the item's ``group`` (falling back to its ``dimension``).
    """
    instrument = _in_language(instrument, lang)
    fields = []
    group_labels = dict(getattr(instrument, "groups", ()) or ())
    for item in instrument.items_for(role):
        kind = KIND_OF_TYPE.get(item.type)
        if kind is None:
            continue  # calculate/hidden rows have nothing to show
        appearance = str(getattr(item, "appearance", "") or "")
        if kind == "text" and "multiline" in appearance.split():
            kind = "long_text"
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
            required_message=getattr(item, "required_message", None) or None,
            appearance=appearance))
    return fields


def survey_form(instrument: Any, store: Store, *, partner_id: str, role: str, respondent: str,
                wave: str = "annual", partner_name: str | None = None, who: str | None = None,
                editor: str | None = None, lang: str | None = None, answers: Mapping[str, Any] | None = None,
                header_extra: tuple = ()) -> WidgetForm:
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
        The partnership's name and the respondent's name as the page shows them (default: the name the
        store knows for the partnership, and ``respondent``).
    editor : str, optional
        Who the audit trail names for corrections (default ``respondent``).
    lang : str, optional
        Language code (``"es"``): the instrument's texts in that language and the form's own texts from
        the gettext catalog. Default: the instrument's default language.
    answers : mapping, optional
        Answers to show instead of the stored ones for the same items (used when the language is switched
        in the middle of a correction, whose answers are not stored until saved).
    header_extra : tuple of Widget
        Shown under the title (the language menu of :func:`survey_page`).

    Returns
    -------
    WidgetForm
        Display ``.widget``. Extra attributes: ``response_id``, ``store``, ``mode`` (``"draft"`` or
        ``"correct"``) and ``reason`` (the reason ``Textarea``, correction mode only, else ``None``).

        Draft mode: every accepted change is saved at once (:func:`~partner_analysis.fit.responses.save_answer`); **Submit** stores the
        visible answers, deletes answers to questions hidden by skip logic and marks the response
        submitted, all in one transaction.

        Correction mode (this respondent already submitted in ``wave``): the form shows the submitted
        answers and saves nothing until **Save corrections**, which needs a reason and at least one
        changed answer, and writes all changes in one audited transaction (see the module docstring).
        A refused correction changes nothing. A new ``wave`` still starts a fresh draft.
    """
    responses.register_instrument(store, instrument)
    form_id, version = str(instrument.form_id), str(instrument.version)
    instrument = _in_language(instrument, lang)
    _ = Translator(lang)
    fields = instrument_fields(instrument, role)
    order = {f.name: i for i, f in enumerate(fields)}

    def server_check(final: dict) -> list:
        # The same rules again, inside the write transaction, on what is actually stored; the
        # instrument's own validator (when it has one) is the authority on required and constraints.
        problems = dict(FormController(fields, initial=final).errors())
        if hasattr(instrument, "validate_answers"):
            problems.update(dict(instrument.validate_answers(final, role=role)))
        return sorted(problems.items(), key=lambda p: order.get(p[0], len(order)))

    submitted_id = responses.find_submitted(store, form_id, version, partner_id, role, respondent, wave=wave)
    if submitted_id is not None:
        return _correction_form(instrument, store, submitted_id, fields, server_check, partner_id=partner_id,
                                role=role, respondent=respondent, partner_name=partner_name, who=who,
                                editor=editor, lang=lang, answers=answers, header_extra=header_extra)

    response_id = responses.open_response(store, form_id, version, partner_id, role, respondent, wave=wave)
    saved = responses.get_answers(store, response_id)
    restored = len(saved)
    for name, value in (answers or {}).items():
        if saved.get(name) != _plain(value):
            saved[name] = _plain(value)
            responses.save_answer(store, response_id, name, saved[name])

    def autosave(name: str, value: Any) -> None:
        responses.save_answer(store, response_id, name, _plain(value))

    def submit(answers: dict):
        try:
            responses.submit(store, response_id, _plain_all(answers), validator=server_check)
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
            responses.save_answer(store, response_id, name, _plain(value))
        stamp = _dt.datetime.now().strftime("%H:%M")
        n = len(controller.answers)
        if who:
            return _.ngettext("Draft saved at {time} ({n} answer). You can close this page and continue later "
                              "with the same link.",
                              "Draft saved at {time} ({n} answers). You can close this page and continue later "
                              "with the same link.", n).format(time=stamp, n=n)
        return _.ngettext("Draft saved at {time} ({n} answer). You can close this page and continue later with "
                          "the same partnership, role and name.",
                          "Draft saved at {time} ({n} answers). You can close this page and continue later with "
                          "the same partnership, role and name.", n).format(time=stamp, n=n)

    intro = _who(partner_name or _partner_label(store, partner_id), role, who or respondent, _)
    if restored and answers is None:
        intro += " " + _.ngettext("Your saved answer was restored.", "Your {n} saved answers were restored.",
                                  restored).format(n=restored)
    form = WidgetForm(controller, title=str(getattr(instrument, "title", None) or form_id), intro=intro,
                      on_save=save_draft, lang=lang, header_extra=header_extra)
    form.response_id = response_id
    form.store = store
    form.mode = "draft"
    form.reason = None
    return form


def _partner_label(store: Store, partner_id: str) -> str:
    """``"Riverside Hospital (P01)"`` when the store knows the partnership's name, else the id."""
    try:
        names = store.partnerships_frame().set_index("partner_id")["name"].to_dict()
    except StoreError:
        return partner_id
    name = names.get(partner_id)
    return f"{name} ({partner_id})" if name and name != partner_id else partner_id


def _who(partner_id: str, role: str, respondent: str, _: Translator = Translator()) -> str:
    if role == "district":
        text = _("Partnership {partner}. You are answering as district staff ({respondent}).")
    elif role == "partner":
        text = _("Partnership {partner}. You are answering as partner staff ({respondent}).")
    else:
        text = _("Partnership {partner}. You are answering as {role} ({respondent}).")
    return text.format(partner=partner_id, role=role, respondent=respondent)


def _correction_form(instrument: Any, store: Store, response_id: int, fields: list, server_check, *,
                     partner_id: str, role: str, respondent: str, partner_name: str | None = None,
                     who: str | None = None, editor: str | None = None, lang: str | None = None,
                     answers: Mapping[str, Any] | None = None, header_extra: tuple = ()) -> WidgetForm:
    """The submitted answers of ``response_id`` as a correction form (see :func:`survey_form`)."""
    _ = Translator(lang)
    row = responses.response(store, response_id)
    saved = responses.get_answers(store, response_id)
    shown = dict(saved) if answers is None else {k: _plain(v) for k, v in answers.items()}
    reason = widgets.Textarea(description=_(REASON_LABEL), style={"description_width": "initial"},
                              layout=widgets.Layout(width="auto"), continuous_update=False,
                              placeholder=_("e.g. I chose the wrong option for the meeting question"))
    reason.add_class("pa-q")
    reason_error = widgets.HTML("")
    reason_box = widgets.VBox([widgets.HTML(f"<h2>{_('Your correction')}</h2>"), reason, reason_error])
    reason_box.add_class("pa-question")
    result: dict[str, Any] = {"written": []}

    def save_corrections(final: dict) -> list | None:
        why = (reason.value or "").strip()
        if not why:
            message = _("Enter the reason for the correction.")
            reason_error.value = f'<span class="pa-error">{_("Error: {message}").format(message=message)}</span>'
            return [("", message)]
        reason_error.value = ""
        wanted = _plain_all(final)
        # every submitted answer that is no longer in the final answers (cleared, or hidden by skip logic)
        # is cleared; the store writes (and audits) only what really changes
        changes = {item: None for item in saved if item not in wanted}
        changes.update({item: value for item, value in wanted.items() if saved.get(item) != value})
        if not changes:
            return [("", _("You did not change any answer, so nothing was saved."))]
        try:
            result["written"] = responses.edit_submitted_many(store, response_id, changes, editor=editor or respondent,
                                                          reason=why, validator=server_check)
        except StoreError as err:
            problems = getattr(err, "problems", None)
            if problems:
                return problems
            raise
        if not result["written"]:
            return [("", _("You did not change any answer, so nothing was saved."))]
        saved.clear()
        saved.update(wanted)
        reason.disabled = True
        return None

    def done() -> str:
        n = len(result["written"])
        return _.ngettext("Your corrections were saved: {n} answer was changed. Your response stays submitted; "
                          "the change and your reason are kept in the audit trail.",
                          "Your corrections were saved: {n} answers were changed. Your response stays submitted; "
                          "the change and your reason are kept in the audit trail.", n).format(n=n)

    controller = FormController(fields, on_submit=save_corrections, initial=shown)
    stamp = row["submitted_at"]
    if isinstance(stamp, (_dt.date, _dt.datetime)):
        when = _("You submitted this survey on {date}.").format(date=f"{stamp:%Y-%m-%d}")
    else:
        when = _("You submitted this survey.")
    intro = (f"{_who(partner_name or _partner_label(store, partner_id), role, who or respondent, _)} {when} "
             + _("Correct your submitted answers below, give the reason, and choose Save corrections."))
    title = _("{title}: correct your submitted answers").format(
        title=getattr(instrument, "title", None) or instrument.form_id)
    form = WidgetForm(controller, title=str(title), intro=intro, submit_label=_("Save corrections"),
                      save_label=None,
                      note=_("Questions marked * (required) must stay answered. Nothing is saved until you choose "
                             "Save corrections; then every changed answer is saved together, or none is."),
                      extra=[reason_box], refused_text=_("Not saved"), done_text=done, lang=lang,
                      header_extra=header_extra)
    form.response_id = response_id
    form.store = store
    form.mode = "correct"
    form.reason = reason
    form.reason_error = reason_error
    return form


# -- languages -------------------------------------------------------------------------------------

def requested_language(instrument: Any, query: str | None = None) -> str | None:
    """The link's ``lang`` parameter (``?lang=es``) when the instrument has that language, else None.

    ``query`` defaults to ``$QUERY_STRING`` (set by Voilà in each page's kernel); see
    :func:`partner_analysis.i18n.language_from_query`.
    """
    return language_from_query(query, tuple(getattr(instrument, "language_codes", ()) or ()))


def language_switcher(instrument: Any, lang: str | None) -> widgets.Dropdown | None:
    """A labelled menu of the instrument's languages (None when it has only one).

    The label names "Language" in every language of the form ("Language / Idioma"), so a respondent who
    does not read the current language still finds it; each option is the language's own name.
    """
    languages = tuple(getattr(instrument, "languages", ()) or ())
    if len(languages) < 2:
        return None
    codes = [code for code, _name in languages]
    label = " / ".join(dict.fromkeys(Translator(code)(LANGUAGE_LABEL) for code in codes))
    current = lang if lang in codes else codes[0]
    menu = widgets.Dropdown(options=[(name, code) for code, name in languages], value=current, description=label,
                            style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
    menu.add_class("pa-q")
    menu.add_class("pa-language")
    return menu


class SurveyPage:
    """One respondent's survey with a language menu; switching rebuilds the form with every answer kept.

    Build it with :func:`survey_page`. Attributes: ``widget`` (display this), ``form`` (the current
    :class:`~partner_analysis.forms.widgets.WidgetForm`), ``lang`` and ``switcher`` (the menu, or None).
    """

    def __init__(self, instrument: Any, store: Store, *, partner_id: str, role: str, respondent: str,
                 wave: str = "annual", lang: str | None = None, partner_name: str | None = None,
                 who: str | None = None, editor: str | None = None,
                 on_form: Callable[[WidgetForm], Any] | None = None):
        codes = tuple(getattr(instrument, "language_codes", ()) or ())
        default = getattr(instrument, "default_language", None)
        self.instrument, self.store = instrument, store
        self._identity = dict(partner_id=partner_id, role=role, respondent=respondent, wave=wave,
                              partner_name=partner_name, who=who, editor=editor)
        self.lang = lang if lang in codes else default
        self._on_form = on_form
        self.widget = widgets.VBox()
        self.form: WidgetForm | None = None
        self.switcher = None
        self._build(None)

    def _build(self, answers: Mapping[str, Any] | None) -> None:
        self.switcher = language_switcher(self.instrument, self.lang)
        extra = (self.switcher,) if self.switcher is not None else ()
        reason = self.form.reason.value if self.form is not None and self.form.reason is not None else ""
        self.form = survey_form(self.instrument, self.store, lang=self.lang, answers=answers, header_extra=extra,
                                **self._identity)
        if reason and self.form.reason is not None:
            self.form.reason.value = reason
        if self.switcher is not None:
            self.switcher.observe(lambda change: self.set_language(change["new"]), names="value")
        self.widget.children = [self.form.widget]
        if self._on_form is not None:
            self._on_form(self.form)

    def set_language(self, lang: str) -> None:
        """Show the form in ``lang``, keeping every answer (and a correction's reason)."""
        if lang == self.lang or self.form is None:
            return
        if self.form.controller.submitted:
            # after Submit the page shows its confirmation; a new form would hide it
            if self.switcher is not None:
                self.switcher.value = self.lang
            return
        self.lang = lang
        self._build(dict(self.form.controller.answers))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def survey_page(instrument: Any, store: Store, *, partner_id: str, role: str, respondent: str,
                wave: str = "annual", lang: str | None = None, partner_name: str | None = None,
                who: str | None = None, editor: str | None = None,
                on_form: Callable[[WidgetForm], Any] | None = None) -> SurveyPage:
    """The survey form of one respondent with a language menu: what the survey app shows.

    Parameters
    ----------
    instrument, store, partner_id, role, respondent, wave, partner_name, who, editor
        As in :func:`survey_form`.
    lang : str, optional
        Language to start in; default :func:`requested_language` (the link's ``?lang=``), else the
        instrument's default language.
    on_form : callable, optional
        Called with every form the page builds (the first, and one per language switch), e.g. to hook the
        app's confirmation banner to its Submit button.

    Returns
    -------
    SurveyPage
    """
    if lang is None:
        lang = requested_language(instrument)
    return SurveyPage(instrument, store, partner_id=partner_id, role=role, respondent=respondent, wave=wave,
                      lang=lang, partner_name=partner_name, who=who, editor=editor, on_form=on_form)
