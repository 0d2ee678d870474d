"""The coordinator-facing records app: an invitation link opens the forms of its own partnership(s).

Used by ``notebooks/records_forms.ipynb``, which ``partner-analysis records-app`` serves with Voilà
(code hidden). All logic lives here so the notebook only calls :func:`records_app`. The forms are
those of :mod:`partner_analysis.records.forms`: every change is autosaved as a draft
(``records_drafts``), keyed by the invitation, so opening the same form again by the same link resumes it.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..exceptions import PartnerAnalysisError
from ..forms.voila import BANNER_CSS, ChooserApp, VoilaSettings, page_markers, serve_notebook_app
from ..forms.widgets import FORM_CSS
from ..i18n import N_, Translator

__all__ = ["RecordsApp", "records_app", "serve_records_app", "records_notebook_path", "FORM_OPTIONS", "saved_banner"]

#: the chooser's second question: label shown (English msgid, translated where shown), form kind
FORM_OPTIONS = ((N_("Enter a check-in"), "checkin"), (N_("Record an investment"), "investment"),
                (N_("Set a goal"), "goal"))
#: the records app's heading (English msgid)
RECORDS_HEADING = N_("Partnership records")

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
    """A coordinator's records forms: their partnership(s) from the invitation, then the chosen form.

    Parameters
    ----------
    store : Store
    ctx : RecordsContext
        What submitted records are checked against (terms, rates, known partners).
    partners : dict[str, str]
        partner_id -> name, for headings and the partner choice.
    identity : Identity
        From the invitation link: the partnerships shown and who enters the records.
    lang : str, optional
        The page's language (``"es"``); default :func:`partner_analysis.i18n.choose_language` (the link's
        ``?lang=``, the invitation's language, the browser's, English). The forms opened follow it.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole app; the chooser is replaced by the form after **Open the form**.
    partner : ipywidgets.Dropdown or None
        The partner choice, only when the invitation covers several partnerships.
    kind : ipywidgets.RadioButtons
    start_button, back_button : ipywidgets.Button
    status : ipywidgets.HTML
        Chooser messages.
    banner : ipywidgets.HTML
        After a submission: what was saved and what happens next (at the top of the page).
    form : WidgetForm or None
        The open form.
    saved : list[tuple[str, Any]]
        ``(kind, record id)`` of every record submitted in this page.
    """

    def __init__(self, store, ctx, partners: dict[str, str], identity, *, lang: str | None = None):
        from ..i18n import choose_language
        self.store = store
        self.ctx = ctx
        self.identity = identity
        self.lang = lang or choose_language(invitation=identity.lang)
        _ = Translator(self.lang)
        self.form = None
        self.saved: list[tuple[str, Any]] = []
        self.names = {pid: (partners.get(pid) or pid) for pid in identity.partners}
        wide = {"description_width": "initial"}
        self.partner = None
        if len(identity.partners) > 1:
            options = [(f"{name} ({pid})" if name != pid else pid, pid) for pid, name in self.names.items()]
            # max_width: a long partnership name must not push the menu past a phone's screen
            self.partner = widgets.Dropdown(options=options, value=None, description=_("Partnership"), style=wide,
                                            layout=widgets.Layout(width="auto", max_width="100%"))
            self.partner.add_class("pa-q")
        self.kind = widgets.RadioButtons(options=[(_(label), kind) for label, kind in FORM_OPTIONS], value=None,
                                         description=_("What do you want to do?"), style=wide)
        self.kind.add_class("pa-q")
        self.start_button = widgets.Button(description=_("Open the form"), button_style="primary",
                                           tooltip=_("Open the chosen form (resumes a saved draft)"))
        self.start_button.on_click(self._start)
        self.back_button = widgets.Button(description=_("Back to the choices"),
                                          tooltip=_("Choose another form; this form's answers stay saved"))
        self.back_button.on_click(self._back)
        self.status = widgets.HTML("")
        self.banner = widgets.HTML("")
        if self.partner is None:
            only = next(iter(self.names.values()))
            heading = _("Partnership records: {partner}").format(partner=only)
            questions = [self.kind]
        else:
            heading = _(RECORDS_HEADING)
            questions = [self.partner, self.kind]
        intro = _("Signed in by your invitation link as {name}. Choose what you want to record. Answers are saved "
                  "as you go: opening the same form again brings back one you did not submit.")
        self.chooser = widgets.VBox([
            widgets.HTML(f"<h1>{html.escape(heading)}</h1>{page_markers(self.lang, RECORDS_HEADING)}"),
            widgets.HTML(f"<p>{html.escape(intro.format(name=identity.display_name))}</p>"),
            *(_spaced(c) for c in questions), self.start_button, self.status,
        ])
        self.chooser.add_class("pa-form")
        back = widgets.VBox([self.back_button])
        back.add_class("pa-form")
        self._form_footer = back
        self.widget = widgets.VBox([widgets.HTML(FORM_CSS + BANNER_CSS), self.banner, self.chooser])

    @property
    def partner_id(self) -> str | None:
        if self.partner is None:
            return self.identity.partners[0]
        return self.partner.value

    def _start(self, _button=None) -> None:
        from .forms import checkin_form, goal_form, investment_form
        _ = Translator(self.lang)
        partner_id = self.partner_id
        missing = {(True, True): _("Please choose the partnership and what you want to do before opening the form."),
                   (True, False): _("Please choose the partnership before opening the form."),
                   (False, True): _("Please choose what you want to do before opening the form.")}.get(
            (not partner_id, not self.kind.value))
        if missing:
            self._error(missing)
            return
        kind = self.kind.value
        lang = self.lang
        self.banner.value = ""

        def saved(record_id, kind=kind):
            self.saved.append((kind, record_id))
            self.banner.value = saved_banner(kind, record_id, self.names.get(partner_id, partner_id), lang=lang)

        builders = {"checkin": checkin_form, "goal": goal_form, "investment": investment_form}
        try:
            self.form = builders[kind](self.store, self.ctx, partner_id=partner_id, on_saved=saved,
                                       identity=self.identity, partner_name=self.names.get(partner_id), lang=lang)
        except PartnerAnalysisError as err:
            self._error(_("The form could not be opened: {error}").format(error=err))
            return
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; say something useful
            self._error(_("The form could not be opened ({error}). Tell the coordinator.")
                        .format(error=f"{type(err).__name__}: {err}"))
            return
        self.status.value = ""
        self.form.submit_button.on_click(self._after_submit)
        self.widget.children = [self.widget.children[0], self.banner, self.form.widget, self._form_footer]

    def _after_submit(self, _button=None) -> None:
        # after the form's own Submit handler: a stored record replaces the greyed form by the banner
        if self.form is not None and self.form.controller.submitted:
            self.form.widget.layout.display = "none"

    def _back(self, _button=None) -> None:
        self.form = None
        self.widget.children = [self.widget.children[0], self.banner, self.chooser]


# English msgids, translated where shown (N_ marks them for `make i18n-extract`)
_KIND_TEXT = {"checkin": N_("check-in"), "investment": N_("investment entry"), "goal": N_("goal")}


def saved_banner(kind: str, record_id: Any, partner: str, lang: str | None = None) -> str:
    """The banner shown at the top after a record is stored: what, and what happens next (in ``lang``)."""
    _ = Translator(lang)
    what = _(_KIND_TEXT.get(kind, kind))
    nxt = {"checkin": _("It counts for this term's check-in compliance and its action items appear on the "
                        "district board."),
           "investment": _("It is valued with the district's rates in the partnership's balance."),
           "goal": _("It is reviewed at every check-in until its due term.")}.get(kind, "")
    head = _("Saved: {what} {record}").format(what=what, record=record_id)
    body = _("The {what} for {partner} is stored and goes into the partnership's quarterly report.").format(
        what=what, partner=partner)
    again = _("Choose Back to the choices to record something else.")
    return (f'<div class="pa-banner" role="status"><h2>{html.escape(head)}</h2><p>'
            f"{html.escape(body)} {html.escape(nxt)} {html.escape(again)}</p></div>")


def _error_app(text: str, lang: str | None = None) -> ChooserApp:
    # Shown in the page: under Voilà a raised error would only leave a blank screen.
    _ = Translator(lang)
    box = widgets.HTML(f'<main><h1>{html.escape(_(RECORDS_HEADING))}</h1><p class="pa-error" role="alert">'
                       f'{html.escape(_("Error:"))} {html.escape(text)}</p></main>')
    app = ChooserApp()
    app.lang = lang
    app.widget = widgets.VBox([box])
    app.form = None
    app.status = box
    app.saved = []
    return app


def records_app(db: str | os.PathLike | None = "", data_dir: str | os.PathLike | None = "", *,
                token: str | None = None) -> RecordsApp | ChooserApp:
    """Build the records app for the invitation ``token`` (Voilà: the page link's ``?token=``).

    Parameters
    ----------
    db : str or path
        Store URL or SQLite path (``""``: ``$PA_DB_URL``, then ``data_dir/records/records.sqlite``, then
        ``./partner_analysis.sqlite``; see :func:`partner_analysis.store.resolve_db_url`).
    data_dir : str or path
        DATA_DIR whose ``district.yml`` gives terms and hourly rates and whose ``partners.parquet`` the
        partner names (``""``: ``$PA_DATA_DIR``; neither: the embedded configuration and the partnerships
        registered in the store).
    token : str, optional
        A records invitation's token; ``None`` reads it from ``$QUERY_STRING`` (Voilà sets it from the page's
        address).

    Returns
    -------
    RecordsApp, or a refusal page (``.refused`` gives the reason) for a missing, unknown, altered, expired,
    revoked or survey link. Displays itself; ``.widget`` is the ipywidgets tree.
    """
    from ..access.invitations import resolve_token
    from ..access.serving import token_from_query
    from ..config import load_config
    from ..exceptions import AccessDenied
    from ..forms.voila import refused_app
    from ..i18n import choose_language
    from ..store import Store
    from ._common import records_context
    data_dir = data_dir or os.environ.get("PA_DATA_DIR", "") or None
    token = token_from_query() if token is None else token
    try:
        store = Store(db or None, data_dir=data_dir, create=False)
        identity = resolve_token(store, token, form="records")
        config = load_config(data_dir)
        names = _partner_names(store, data_dir)
    except AccessDenied as err:
        from ..access.invitations import invitation_language
        return refused_app(err.reason, heading=RECORDS_HEADING,
                           lang=choose_language(invitation=invitation_language(store, token)))
    except PartnerAnalysisError as err:
        return _error_app(str(err), choose_language())
    except Exception as err:  # noqa: BLE001 - e.g. an unreadable partners.parquet
        lang = choose_language()
        return _error_app(Translator(lang)("The records could not be opened ({error}). Tell the coordinator.")
                          .format(error=f"{type(err).__name__}: {err}"), lang)
    ctx = records_context(store, config, list(names) if names else None)
    return RecordsApp(store, ctx, names, identity)


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
    env = {"PA_DB_URL": resolve_db_url(db, data_dir=data_dir), "PA_APP_FORM": "records"}
    if data_dir:
        if not (Path(data_dir) / "district.yml").exists() and not (Path(data_dir) / "partners.parquet").exists():
            from ..exceptions import ConfigError
            raise ConfigError(f"{data_dir} holds neither district.yml nor partners.parquet",
                              fix="Pass the DATA_DIR written by `partner-analysis import` or "
                                  "`partner-analysis demo-data`")
        env["PA_DATA_DIR"] = str(Path(data_dir).resolve())
    return serve_notebook_app(records_notebook_path(), env, settings, name="records forms")
