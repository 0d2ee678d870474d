"""The coordinator-facing records app: choose a partner, the form and your name, then fill the form.

Used by ``notebooks/records_forms.ipynb``, which ``partner-analysis records-app`` serves with Voilà
(code hidden). All logic lives here so the notebook only calls :func:`records_app`. The forms are
those of :mod:`partner_analysis.records.forms`: every change is autosaved as a draft
(``records_drafts``), so choosing the same partner, form and name again resumes it.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..exceptions import PartnerAnalysisError
from ..forms.app import ChooserApp, VoilaSettings, serve_notebook_app
from ..forms.widgets import FORM_CSS

__all__ = ["RecordsApp", "records_app", "serve_records_app", "records_notebook_path", "FORM_OPTIONS"]

#: the chooser's second question: label shown, form kind
FORM_OPTIONS = (("Enter a check-in", "checkin"), ("Record an investment", "investment"), ("Set a goal", "goal"))

NOTEBOOK = "notebooks/records_forms.ipynb"


def _partner_names(store, data_dir: str | os.PathLike | None) -> dict[str, str]:
    """partner_id -> display name, from DATA_DIR's partners.parquet and the store's partnerships."""
    names: dict[str, str] = {}
    known = store.partnerships_frame()
    for pid, name in zip(known["partner_id"], known["name"]):
        names[str(pid)] = "" if pd.isna(name) else str(name)
    if data_dir and (Path(data_dir) / "partners.parquet").exists():
        frame = pd.read_parquet(Path(data_dir) / "partners.parquet")
        labels = frame["name"] if "name" in frame else [""] * len(frame)
        for pid, name in zip(frame["partner_id"].astype(str), labels):
            if pd.notna(name) and str(name):
                names[pid] = str(name)
            else:
                names.setdefault(pid, "")
    return dict(sorted(names.items()))


def _spaced(control) -> widgets.VBox:
    # the forms' question spacing (FORM_CSS .pa-question), so the chooser's questions do not run together
    box = widgets.VBox([control])
    box.add_class("pa-question")
    return box


class RecordsApp(ChooserApp):
    """Chooser (partner, form, your name, Open) followed by the check-in, investment or goal form.

    Parameters
    ----------
    store : Store
    ctx : RecordsContext
        What submitted records are checked against (terms, rates, known partners).
    partners : dict[str, str]
        partner_id -> name shown in the chooser (empty: the partner id is typed).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole app; the chooser is replaced by the form after **Open the form**.
    partner, kind, entered_by : ipywidgets inputs of the chooser
    start_button, back_button : ipywidgets.Button
    status : ipywidgets.HTML
        Chooser messages.
    form : WidgetForm or None
        The open form.
    saved : list[tuple[str, Any]]
        ``(kind, record id)`` of every record submitted in this page.
    """

    def __init__(self, store, ctx, partners: dict[str, str]):
        self.store = store
        self.ctx = ctx
        self.form = None
        self.saved: list[tuple[str, Any]] = []
        wide = {"description_width": "initial"}
        if partners:
            options = [(f"{pid} – {name}" if name else pid, pid) for pid, name in partners.items()]
            self.partner = widgets.Dropdown(options=options, value=None, description="Partner", style=wide)
        else:
            # no partner list yet (first use): let the coordinator type the partner id
            self.partner = widgets.Text(description="Partner id", placeholder="e.g. P01", style=wide)
        self.kind = widgets.RadioButtons(options=list(FORM_OPTIONS), value=None, description="What do you want to do?",
                                         style=wide)
        self.entered_by = widgets.Text(description="Your name", style=wide, layout=widgets.Layout(width="32em"))
        for control in (self.partner, self.kind, self.entered_by):
            control.add_class("pa-q")
        self.start_button = widgets.Button(description="Open the form", button_style="primary",
                                           tooltip="Open the chosen form (resumes a saved draft)")
        self.start_button.on_click(self._start)
        self.back_button = widgets.Button(description="Back to the choices",
                                          tooltip="Choose another partner or form; this form's answers stay saved")
        self.back_button.on_click(self._back)
        self.status = widgets.HTML("")
        self.chooser = widgets.VBox([
            widgets.HTML("<h1>Partnership records</h1>"),
            widgets.HTML("<p>Choose the partner and what you want to record, and enter your name. Answers are "
                         "saved as you go: the same three choices bring back a form you did not submit.</p>"),
            *(_spaced(c) for c in (self.partner, self.kind, self.entered_by)), self.start_button, self.status,
        ])
        self.chooser.add_class("pa-form")
        back = widgets.VBox([self.back_button])
        back.add_class("pa-form")
        self._form_footer = back
        self.widget = widgets.VBox([widgets.HTML(FORM_CSS), self.chooser])

    def _start(self, _button=None) -> None:
        from ..i18n import language_from_query
        from .forms import checkin_form, goal_form, investment_form
        partner_id = (self.partner.value or "").strip()
        entered_by = (self.entered_by.value or "").strip()
        if self._missing((("the partner", partner_id), ("what you want to do", self.kind.value),
                          ("your name", entered_by)), before="before opening the form"):
            return
        if self.ctx.partners is not None and partner_id not in self.ctx.partners:
            self._error(f"Partner {partner_id!r} is not in the district's partner list.")
            return
        kind = self.kind.value
        lang = language_from_query()  # language hook: the link's ?lang= (English by default)

        def saved(record_id, kind=kind):
            self.saved.append((kind, record_id))

        try:
            if kind == "checkin":
                self.form = checkin_form(self.store, self.ctx, partner_id=partner_id, entered_by=entered_by,
                                         on_saved=saved, lang=lang)
            elif kind == "goal":
                self.form = goal_form(self.store, self.ctx, entered_by=entered_by, partner_id=partner_id,
                                      on_saved=saved, lang=lang)
            else:
                self.form = investment_form(self.store, self.ctx, entered_by=entered_by, partner_id=partner_id,
                                            on_saved=saved, lang=lang)
        except PartnerAnalysisError as err:
            self._error(f"The form could not be opened: {err}")
            return
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; say something useful
            self._error(f"The form could not be opened ({type(err).__name__}: {err}). Tell the coordinator.")
            return
        self.status.value = ""
        self.widget.children = [self.widget.children[0], self.form.widget, self._form_footer]

    def _back(self, _button=None) -> None:
        self.form = None
        self.widget.children = [self.widget.children[0], self.chooser]


def _error_app(text: str) -> RecordsApp:
    # Shown in the page: under Voilà a raised error would only leave a blank screen.
    box = widgets.HTML(f'<main><h1>Partnership records</h1><p class="pa-error" role="alert">Error: '
                       f'{html.escape(text)}</p></main>')
    app = RecordsApp.__new__(RecordsApp)
    app.widget = widgets.VBox([box])
    app.form = None
    app.status = box
    app.saved = []
    return app


def records_app(db: str | os.PathLike | None = "", data_dir: str | os.PathLike | None = "") -> RecordsApp:
    """Build the records app for a notebook or Voilà.

    Parameters
    ----------
    db : str or path
        Store URL or SQLite path (``""``: ``$PA_DB_URL``, then ``data_dir/records/records.sqlite``, then
        ``./partner_analysis.sqlite``; see :func:`partner_analysis.store.resolve_db_url`).
    data_dir : str or path
        DATA_DIR whose ``district.yml`` gives terms and hourly rates and whose ``partners.parquet`` the
        partner list (``""``: ``$PA_DATA_DIR``; neither: the embedded configuration and the partnerships
        registered in the store).

    Returns
    -------
    RecordsApp
        Displays itself; ``.widget`` is the ipywidgets tree.
    """
    from ..config import load_config
    from ..store import Store
    from . import records_context
    data_dir = data_dir or os.environ.get("PA_DATA_DIR", "") or None
    try:
        store = Store(db or None, data_dir=data_dir)
        config = load_config(data_dir)
        names = _partner_names(store, data_dir)
    except PartnerAnalysisError as err:
        return _error_app(str(err))
    except Exception as err:  # noqa: BLE001 - e.g. an unreadable partners.parquet
        return _error_app(f"The records could not be opened ({type(err).__name__}: {err}). Tell the coordinator.")
    ctx = records_context(store, config, list(names) if names else None)
    return RecordsApp(store, ctx, names)


def records_notebook_path() -> Path:
    """The shipped ``notebooks/records_forms.ipynb`` (see :func:`partner_analysis.resources.project_file`)."""
    from ..resources import project_file
    return project_file(NOTEBOOK)


def serve_records_app(db: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None,
                      settings: VoilaSettings = VoilaSettings()) -> int:
    """Serve the records forms with Voilà on localhost until interrupted; returns Voilà's exit code.

    The store and DATA_DIR reach the kernels through ``PA_DB_URL`` and ``PA_DATA_DIR`` (Voilà cannot
    pass notebook parameters). Idle kernels are culled (``settings``); drafts are autosaved, so a culled
    page loses nothing.
    """
    from ..store import resolve_db_url
    env = {"PA_DB_URL": resolve_db_url(db, data_dir=data_dir)}
    if data_dir:
        if not (Path(data_dir) / "district.yml").exists() and not (Path(data_dir) / "partners.parquet").exists():
            from ..exceptions import ConfigError
            raise ConfigError(f"{data_dir} holds neither district.yml nor partners.parquet",
                              fix="Pass the DATA_DIR written by `partner-analysis import` or "
                                  "`partner-analysis demo-data`")
        env["PA_DATA_DIR"] = str(Path(data_dir).resolve())
    return serve_notebook_app(records_notebook_path(), env, settings, name="records forms")
