"""The coordinator-facing survey app: choose partnership, role and name, then answer the fit survey.

Used by ``notebooks/fit_survey.ipynb``, which ``partner-analysis survey-app`` serves with Voilà.
All logic lives here so the notebook only calls :func:`survey_app`.
"""
from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as widgets

from ..exceptions import PartnerAnalysisError
from ..store import Store
from .survey import survey_form
from .widgets import FORM_CSS

__all__ = ["SurveyApp", "survey_app", "load_instrument"]

ROLE_OPTIONS = (("District staff", "district"), ("Partner staff", "partner"))


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


class SurveyApp:
    """Chooser (partnership, role, respondent, Start) followed by the survey form.

    Parameters
    ----------
    store : Store
    instrument : Instrument
    wave : str

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole app; the chooser is replaced by the form after **Start**.
    partner, role, respondent : ipywidgets inputs of the chooser
    start_button : ipywidgets.Button
    status : ipywidgets.HTML
    form : WidgetForm or None
        The open form after **Start**.
    """

    def __init__(self, store: Store, instrument: Any, *, wave: str = "annual"):
        self.store = store
        self.instrument = instrument
        self.wave = wave
        self.form = None
        partners = store.partnerships_frame()
        wide = {"description_width": "initial"}
        if len(partners):
            options = [(f"{pid} – {name}" if name else pid, pid)
                       for pid, name in zip(partners["partner_id"], partners["name"])]
            self.partner = widgets.Dropdown(options=options, value=None, description="Partnership", style=wide)
        else:
            # an empty store (first use): let the coordinator type the partnership id
            self.partner = widgets.Text(description="Partnership id", placeholder="e.g. P01", style=wide)
        self.role = widgets.RadioButtons(options=list(ROLE_OPTIONS), value=None, description="I answer as",
                                         style=wide)
        self.respondent = widgets.Text(description="Your name or email", style=wide,
                                       layout=widgets.Layout(width="32em"))
        for control in (self.partner, self.role, self.respondent):
            control.add_class("pa-q")
        self.start_button = widgets.Button(description="Start survey", button_style="primary",
                                           tooltip="Open your survey (resumes a saved draft)")
        self.start_button.on_click(self._start)
        self.status = widgets.HTML("")
        title = html.escape(str(getattr(instrument, "title", "") or "Partnership fit survey"))
        self.chooser = widgets.VBox([
            widgets.HTML(f"<h1>{title}</h1>"),
            widgets.HTML("<p>Choose the partnership and your role, and enter your name or email. If you saved "
                         "a draft before, the same three answers bring it back.</p>"),
            self.partner, self.role, self.respondent, self.start_button, self.status,
        ])
        self.chooser.add_class("pa-form")
        self.widget = widgets.VBox([widgets.HTML(FORM_CSS), self.chooser])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _error(self, text: str) -> None:
        self.status.value = f'<p class="pa-error" role="alert">Error: {html.escape(text)}</p>'

    def _start(self, _button=None) -> None:
        partner_id = (self.partner.value or "").strip()
        respondent = (self.respondent.value or "").strip()
        missing = [label for label, value in (("the partnership", partner_id), ("your role", self.role.value),
                                              ("your name or email", respondent)) if not value]
        if missing:
            self._error("Please choose " + ", ".join(missing) + " before starting.")
            return
        try:
            self.form = survey_form(self.instrument, self.store, partner_id=partner_id, role=self.role.value,
                                    respondent=respondent, wave=self.wave)
        except PartnerAnalysisError as err:
            self._error(f"The survey could not be opened: {err}")
            return
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; say something useful
            self._error(f"The survey could not be opened ({type(err).__name__}: {err}). Tell the coordinator.")
            return
        self.widget.children = [self.form.widget]


def survey_app(db: str | os.PathLike | None = "", instrument: str | os.PathLike | Any = "", *,
               wave: str = "annual") -> SurveyApp:
    """Build the survey app for a notebook or Voilà.

    Parameters
    ----------
    db : str or path
        Store URL or SQLite path (``""``: ``PA_DB_URL`` or ``./partner_analysis.sqlite``; see
        :func:`partner_analysis.store.resolve_db_url`).
    instrument : str, path or Instrument
        ``""`` means the shipped ``surveys/partner_fit_v1.xlsx``.
    wave : str
        Survey round stored with each response.

    Returns
    -------
    SurveyApp
        Displays itself; ``.widget`` is the ipywidgets tree.
    """
    try:
        store = Store(db or None)
        inst = load_instrument(instrument)
    except PartnerAnalysisError as err:
        # Shown in the page: under Voilà a raised error would only leave a blank screen.
        box = widgets.HTML(f'<main><h1>Partnership fit survey</h1><p class="pa-error" role="alert">Error: '
                           f'{html.escape(str(err))}</p></main>')
        app = SurveyApp.__new__(SurveyApp)
        app.widget = widgets.VBox([box])
        app.form = None
        app.status = box
        return app
    return SurveyApp(store, inst, wave=wave)
