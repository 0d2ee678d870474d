"""The respondent-facing survey app: an invitation link opens that respondent's own fit survey.

Used by ``notebooks/fit_survey.ipynb``, which ``partner-analysis survey-app`` serves with Voilà.
All logic lives here so the notebook only calls :func:`survey_app`.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..exceptions import PartnerAnalysisError
from ..forms.voila import BANNER_CSS, ChooserApp, VoilaSettings, page_markers, refused_app, serve_notebook_app
from ..forms.widgets import FORM_CSS
from ..i18n import N_, Translator
from ..store import Store
from .form import survey_page
from . import responses

__all__ = ["SurveyApp", "survey_app", "load_instrument", "serve_survey_app", "survey_notebook_path",
           "partner_name", "confirmation_banner", "NAME_ITEM"]


def load_instrument(instrument: str | os.PathLike | Any = "") -> Any:
    """Read an instrument; ``""`` or ``None`` means ``$PA_INSTRUMENT`` or else the shipped
    ``surveys/partner_fit_v1.xlsx`` (Voilà cannot pass parameters, so the CLI uses the variable).

    An object that already looks like an Instrument (has ``items_for``) is returned unchanged.
    """
    if hasattr(instrument, "items_for"):
        return instrument
    from ..fit.instrument import default_instrument_path, read_instrument
    if instrument in (None, ""):
        instrument = os.environ.get("PA_INSTRUMENT", "")
    path = default_instrument_path() if instrument in (None, "") else instrument
    return read_instrument(path)



class SurveyApp(ChooserApp):
    """One invited respondent's survey: their partnership, side and wave come from the invitation.

    Parameters
    ----------
    store : Store
    instrument : Instrument
    identity : Identity
        From the invitation link (:func:`partner_analysis.access.resolve_token`); nothing typed in the page
        changes it.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole app: the form, and after a successful submission a confirmation banner at the top.
    form : WidgetForm
        The respondent's draft, or, when they already submitted in this wave, their submitted answers in
        correction mode (``form.mode == "correct"``).
    banner : ipywidgets.HTML
        Empty until the answers are submitted; then says what happens next.
    status : ipywidgets.HTML
        Errors opening the form.
    """

    def __init__(self, store: Store, instrument: Any, identity: Any):
        self.store = store
        self.instrument = instrument
        self.identity = identity
        self.form = None
        self.status = widgets.HTML("")
        self.banner = widgets.HTML("")
        self.partner_id = identity.partners[0]
        self.partner_name = partner_name(store, self.partner_id)
        self.title = widgets.HTML("")          # the page title in the form's language (page_markers)
        self.widget = widgets.VBox([widgets.HTML(FORM_CSS + BANNER_CSS), self.title, self.banner, self.status])
        self._open()

    def _open(self) -> None:
        from ..i18n import choose_language
        who = self.identity
        # the link's ?lang=, the invitation's language, the browser's, else the instrument's default
        codes = tuple(getattr(self.instrument, "language_codes", ()) or ())
        self.lang = choose_language(invitation=who.lang, languages=codes) if codes else None
        try:
            self._prefill_name()
            # language: the page starts in the link's ?lang= (else the instrument's default) and has a language
            # menu, which rebuilds the form; _adopt keeps self.form and the Submit hook on the form shown
            self.page = survey_page(self.instrument, self.store, partner_id=self.partner_id, role=who.role,
                                    respondent=who.respondent, wave=who.wave or "annual",
                                    partner_name=self.partner_name, who=who.display_name,
                                    editor=f"{who.display_name} (invitation {who.invitation_id})",
                                    on_form=self._adopt, lang=self.lang)
        except PartnerAnalysisError as err:
            self._error(Translator(self.lang)("The survey could not be opened: {error}").format(error=err))
            return
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; say something useful
            self._error(Translator(self.lang)("The survey could not be opened ({error}). Tell the coordinator.")
                        .format(error=f"{type(err).__name__}: {err}"))
            return
        self.widget.children = [self.widget.children[0], self.title, self.banner, self.page.widget]

    def _adopt(self, form) -> None:
        """Each form the page shows (a language switch builds a new one) becomes ``self.form``."""
        self.form = form
        self.title.value = page_markers(getattr(getattr(self, "page", None), "lang", self.lang), SURVEY_HEADING)
        # runs after the form's own Submit handler: the banner reports what that handler did
        form.submit_button.on_click(self._after_submit)

    def _prefill_name(self) -> None:
        """The invitation's name answers the instrument's name question of a new draft (asked once)."""
        who = self.identity
        names = [i.name for i in self.instrument.items_for(who.role) if i.name == NAME_ITEM]
        if not names or not who.name:
            return
        form_id, version = str(self.instrument.form_id), str(self.instrument.version)
        wave = who.wave or "annual"
        if responses.find_submitted(self.store, form_id, version, self.partner_id, who.role, who.respondent,
                                     wave=wave) is not None:
            return
        responses.register_instrument(self.store, self.instrument)
        rid = responses.open_response(self.store, form_id, version, self.partner_id, who.role, who.respondent, wave=wave)
        if NAME_ITEM not in responses.get_answers(self.store, rid):
            responses.save_answer(self.store, rid, NAME_ITEM, who.name)

    def _after_submit(self, _button=None) -> None:
        if self.form is None or not self.form.controller.submitted:
            return
        self.banner.value = confirmation_banner(
            corrected=self.form.mode == "correct", partner=self.partner_name or self.partner_id,
            lang=self.page.lang)
        self.form.widget.layout.display = "none"


#: the instrument's name question, answered from the invitation (the respondent may still correct it)
NAME_ITEM = "respondent_name"

#: the survey app's heading on a refusal page (English msgid)
SURVEY_HEADING = N_("Partnership fit survey")


def partner_name(store: Store, partner_id: str) -> str:
    """The partnership's name from the store (its id when it has none)."""
    frame = store.partnerships_frame()
    names = dict(zip(frame["partner_id"], frame["name"]))
    name = names.get(partner_id)
    return name if isinstance(name, str) and name else partner_id


def confirmation_banner(*, corrected: bool, partner: str, lang: str | None = None) -> str:
    """The banner shown at the top after a submission: done, and what happens next (in ``lang``)."""
    _ = Translator(lang)
    head = _("Your corrections were saved") if corrected else _("Thank you: your answers were submitted")
    nxt = _("What happens next: the district's partnership team combines the answers of both sides into the fit "
            "report for {partner} and goes through it with the partnership at the next check-in. Individual "
            "answers are not shown to the other side.").format(partner=partner)
    again = _("To correct an answer, open the same link again while it is valid; you will be asked for the "
              "reason. You can close this page now.")
    # an h1: the banner replaces the form (and its h1) on the page
    return (f'<div class="pa-banner" role="status" lang="{html.escape(_.code.replace("_", "-"))}"><h1>'
            f"{html.escape(head)}</h1><p>{html.escape(nxt)}</p><p>{html.escape(again)}</p></div>")



def survey_app(db: str | os.PathLike | None = "", instrument: str | os.PathLike | Any = "", *,
               token: str | None = None) -> SurveyApp | ChooserApp:
    """Build the survey app for the invitation ``token`` (Voilà: the page link's ``?token=``).

    Parameters
    ----------
    db : str or path
        Store URL or SQLite path (``""``: ``PA_DB_URL`` or ``./partner_analysis.sqlite``; see
        :func:`partner_analysis.store.resolve_db_url`).
    instrument : str, path or Instrument
        ``""`` means the shipped ``surveys/partner_fit_v1.xlsx``.
    token : str, optional
        The invitation token; ``None`` reads it from ``$QUERY_STRING``, which Voilà sets from the page's
        address.

    Returns
    -------
    SurveyApp, or a refusal page (``.refused`` gives the reason) when the link is missing, unknown,
    altered, expired, revoked or for another app. Displays itself; ``.widget`` is the ipywidgets tree.
    """
    from ..access.invitations import resolve_token
    from ..access.serving import token_from_query
    from ..exceptions import AccessDenied
    token = token_from_query() if token is None else token
    try:
        store = Store(db or None, create=False)
        identity = resolve_token(store, token, form="survey")
        inst = load_instrument(instrument)
    except AccessDenied as err:
        from ..access.invitations import invitation_language
        from ..i18n import choose_language
        return refused_app(err.reason, heading=SURVEY_HEADING,
                           lang=choose_language(invitation=invitation_language(store, token)))
    except PartnerAnalysisError as err:
        # Shown in the page: under Voilà a raised error would only leave a blank screen.
        box = widgets.HTML(f'<main><h1>Partnership fit survey</h1><p class="pa-error" role="alert">Error: '
                           f'{html.escape(str(err))}</p></main>')
        app = ChooserApp()
        app.widget = widgets.VBox([box])
        app.form = None
        app.status = box
        return app
    return SurveyApp(store, inst, identity)


def survey_notebook_path() -> Path:
    """``notebooks/fit_survey.ipynb`` of this checkout (written to the user cache dir if absent)."""
    from ..resources import project_file
    here = project_file("notebooks/fit_survey.ipynb", required=False)
    if here.is_file():
        return here
    # Installed without its data files: write the same two cells somewhere private.
    import nbformat
    out = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "partner_analysis" / "fit_survey.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('db: str = ""\ninstrument: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from partner_analysis.fit.app import survey_app\n\nsurvey_app(db=db, instrument=instrument)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, out)
    return out


def serve_survey_app(db: str | os.PathLike | None = None, *, instrument: str | os.PathLike | None = None,
                     settings: VoilaSettings = VoilaSettings()) -> int:
    """Serve the survey app with Voilà until interrupted; returns Voilà's exit code.

    The store and instrument reach the kernel through ``PA_DB_URL`` and ``PA_INSTRUMENT`` (Voilà
    cannot pass notebook parameters).
    """
    from ..store import resolve_db_url
    env = {"PA_DB_URL": resolve_db_url(db)}
    if instrument:
        env["PA_INSTRUMENT"] = str(Path(instrument).resolve())
    env["PA_APP_FORM"] = "survey"
    return serve_notebook_app(survey_notebook_path(), env, settings, name="fit survey")


