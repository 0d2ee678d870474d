"""The respondent-facing survey app: an invitation link opens that respondent's own fit survey.

Used by ``notebooks/fit_survey.ipynb``, which ``partner-analysis survey-app`` serves with Voilà.
All logic lives here so the notebook only calls :func:`survey_app`.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..exceptions import PartnerAnalysisError
from ..i18n import N_, Translator
from ..store import Store
from .survey import survey_page
from .widgets import FORM_CSS

__all__ = ["SurveyApp", "survey_app", "load_instrument", "VoilaSettings", "voila_command", "voila_environment",
           "serve_survey_app", "serve_notebook_app", "survey_notebook_path", "refused_app", "partner_name",
           "confirmation_banner", "page_markers"]


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


class ChooserApp:
    """What every coordinator app shares: a chooser page shown as ``self.widget`` and errors in ``self.status``.

    Voilà shows nothing a callback prints, so every message goes to a widget, as text with ``role="alert"``
    (not colour alone).
    """

    widget: widgets.Widget
    status: widgets.HTML
    #: the page's language (``"es"``; None: English)
    lang: str | None = None

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _error(self, text: str) -> None:
        prefix = Translator(self.lang)("Error:")
        self.status.value = f'<p class="pa-error" role="alert">{html.escape(prefix)} {html.escape(text)}</p>'

    def _missing(self, choices, *, before: str) -> bool:
        """Show one error naming every unanswered ``(label, value)`` choice; True when something is missing."""
        missing = [label for label, value in choices if not value]
        if missing:
            listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
            self._error(f"Please choose {listed} {before}.")
        return bool(missing)


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
        if self.store.find_submitted(form_id, version, self.partner_id, who.role, who.respondent,
                                     wave=wave) is not None:
            return
        self.store.register_instrument(self.instrument)
        rid = self.store.open_response(form_id, version, self.partner_id, who.role, who.respondent, wave=wave)
        if NAME_ITEM not in self.store.get_answers(rid):
            self.store.save_answer(rid, NAME_ITEM, who.name)

    def _after_submit(self, _button=None) -> None:
        if self.form is None or not self.form.controller.submitted:
            return
        self.banner.value = confirmation_banner(
            corrected=self.form.mode == "correct", partner=self.partner_name or self.partner_id,
            lang=self.page.lang)
        self.form.widget.layout.display = "none"


#: the confirmation banner (dark green text on pale green: contrast 9.6:1; the heading says it in words)
BANNER_CSS = ("<style>.pa-banner{border:2px solid #1b5e20;background:#e8f5e9;color:#1b3a1d;padding:0.4em 1em;"
              "margin:0.6em 0;border-radius:4px;max-width:48em}"
              ".pa-banner h1,.pa-banner h2{margin:0.3em 0;font-size:1.25em}"
              "</style>")

#: the survey app's heading on a refusal page (English msgid)
SURVEY_HEADING = N_("Partnership fit survey")

#: the instrument's name question, answered from the invitation (the respondent may still correct it)
NAME_ITEM = "respondent_name"


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


def page_markers(lang: str | None, title: str) -> str:
    """Hidden markers from which the ``pa_survey`` page template sets ``<html lang>`` and the page title
    (``title``, an English msgid, shown in ``lang``)."""
    _ = Translator(lang)
    return (f'<span class="pa-lang" data-lang="{html.escape(_.code.replace("_", "-"))}" hidden></span>'
            f'<span class="pa-title" data-title="{html.escape(_(title))}" hidden></span>')


def refused_app(reason: str, *, heading: str, lang: str | None = None) -> ChooserApp:
    """A page that shows only why the link was refused (no data, no form), in ``lang``."""
    from ..access.serving import refusal_html
    marker = page_markers(lang, heading)
    box = widgets.HTML(refusal_html(reason, heading=heading, lang=lang) + marker)
    app = ChooserApp()
    app.lang = lang
    app.widget = widgets.VBox([widgets.HTML(FORM_CSS), box])
    app.status = box
    app.form = None
    app.refused = reason
    return app


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


# -- serving with Voilà ------------------------------------------------------------------------------

@dataclass(frozen=True)
class VoilaSettings:
    """How ``partner-analysis survey-app`` and ``records-app`` run Voilà.

    Voilà starts one kernel (about 54 MB) per page load and keeps it until it is culled. Answers are
    autosaved on every change, so culling an idle form loses nothing but the open page: the defaults
    cull a kernel after 30 minutes without activity, checked every 5 minutes, even while a tab is
    still connected (abandoned tabs would otherwise hold kernels forever). At most ``max_kernels``
    pages are open at once.

    Attributes
    ----------
    port : int
    ip : str
        Address to listen on: ``127.0.0.1`` (default) behind a reverse proxy on the same machine.
    allowed_hosts : tuple of str
        Host names the server answers to besides ``localhost`` and loopback addresses, e.g. the public name
        the reverse proxy serves (``survey.district.org``); any other ``Host`` header gets HTTP 403
        (jupyter_server's ``allow_remote_access=False`` / ``local_hostnames``).
    allow_origin : str
        jupyter_server's ``allow_origin`` (``""``: the page's own origin only).
    max_kernels : int
        Most kernels (open pages) at once.
    invitations : bool
        Let in only requests with a valid invitation link (:mod:`partner_analysis.access.serving`).
    """

    port: int = 8866
    ip: str = "127.0.0.1"
    cull_interval: int = 300
    cull_idle_timeout: int = 1800
    cull_connected: bool = True
    allowed_hosts: tuple[str, ...] = ()
    allow_origin: str = ""
    max_kernels: int = 40
    invitations: bool = True

    def __post_init__(self):
        from ..exceptions import ConfigError
        if not 0 < int(self.port) < 65536:
            raise ConfigError(f"port must be 1-65535, got {self.port!r}")
        if self.cull_interval <= 0 or self.cull_idle_timeout <= 0:
            raise ConfigError("cull_interval and cull_idle_timeout must be positive (seconds)")
        if self.max_kernels <= 0:
            raise ConfigError(f"max_kernels must be positive, got {self.max_kernels!r}")
        for host in self.allowed_hosts:
            if not host or any(c in host for c in "/:@ *"):
                raise ConfigError(f"an allowed host is a plain name such as survey.district.org, got {host!r}",
                                  key="allow_host")

    def server_config(self) -> dict:
        """The Voilà/jupyter_server configuration (written as ``voila.json`` for the server)."""
        return {"Voila": {"tornado_settings": {
            "allow_remote_access": False,
            "local_hostnames": ["localhost", *self.allowed_hosts],
            **({"allow_origin": self.allow_origin} if self.allow_origin else {}),
        }}}


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
        "from partner_analysis.forms.app import survey_app\n\nsurvey_app(db=db, instrument=instrument)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, out)
    return out


#: Jupyter data dir holding the ``pa_survey`` Voilà template (add to ``JUPYTER_PATH``)
TEMPLATE_DATA_DIR = Path(__file__).resolve().parent / "jupyter"


def voila_environment(env: dict | None = None) -> dict:
    """``env`` (default ``os.environ``) with the survey template's data dir first on ``JUPYTER_PATH``."""
    env = dict(os.environ if env is None else env)
    paths = [str(TEMPLATE_DATA_DIR)] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def voila_command(settings: VoilaSettings = VoilaSettings(), *, notebook: str | os.PathLike | None = None,
                  config_dir: str | os.PathLike | None = None) -> list[str]:
    """The Voilà command line: sources stripped, no browser, idle kernels culled and bounded, invitation
    links required (:class:`~partner_analysis.access.serving.InvitationIdentityProvider`).

    Run it with :func:`voila_environment` so Voilà finds the ``pa_survey`` template (Voilà's lab
    template plus a main landmark and named radio groups). ``config_dir`` holds the ``voila.json`` of
    :meth:`VoilaSettings.server_config` (the allowed ``Host`` names).
    """
    notebook = survey_notebook_path() if notebook is None else Path(notebook)
    template = "pa_survey" if (TEMPLATE_DATA_DIR / "voila" / "templates" / "pa_survey").is_dir() else "lab"
    return [
        sys.executable, "-m", "voila", str(notebook),
        "--no-browser",
        f"--template={template}",
        f"--Voila.ip={settings.ip}",
        f"--port={int(settings.port)}",
        "--Voila.port_retries=0",
        "--strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--MappingKernelManager.cull_interval={int(settings.cull_interval)}",
        f"--MappingKernelManager.cull_idle_timeout={int(settings.cull_idle_timeout)}",
        f"--MappingKernelManager.cull_connected={settings.cull_connected}",
        "--VoilaConfiguration.multi_kernel_manager_class=partner_analysis.access.serving.BoundedKernelManager",
        f"--BoundedKernelManager.max_kernels={int(settings.max_kernels)}",
        # the browser's language reaches each page's kernel as $HTTP_ACCEPT_LANGUAGE (partner_analysis.i18n)
        "--VoilaConfiguration.http_header_envs=Accept-Language",
    ] + ([f"--Voila.config_file_paths={config_dir}"] if config_dir is not None else []) + (
        ["--Voila.identity_provider_class=partner_analysis.access.serving.InvitationIdentityProvider"]
        if settings.invitations else [])


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


def serve_notebook_app(notebook: str | os.PathLike, env: dict[str, str], settings: VoilaSettings = VoilaSettings(),
                       *, name: str = "app") -> int:
    """Serve a coordinator notebook with Voilà until interrupted; returns Voilà's exit code.

    Parameters
    ----------
    notebook : path
        The notebook to serve (code hidden; it should read its parameters from the environment).
    env : dict
        Variables added to the kernels' environment, e.g. ``PA_DB_URL`` (Voilà cannot pass notebook
        parameters). When ``PA_DB_URL`` is given the store is opened once here so that a wrong URL
        fails with a clear message rather than in every kernel.
    settings : VoilaSettings
        Port, address and kernel culling (see :func:`voila_command`).
    name : str
        What the start-up line calls the app.
    """
    full = voila_environment()
    full.update({k: str(v) for k, v in env.items()})
    where = ""
    if full.get("PA_DB_URL"):
        Store(full["PA_DB_URL"]).close()
        where = f" (store: {Store._mask(full['PA_DB_URL'])})"
    config_dir = tempfile.mkdtemp(prefix="pa-voila-")     # private (0700): the server's settings
    (Path(config_dir) / "voila.json").write_text(json.dumps(settings.server_config(), indent=1))
    cmd = voila_command(settings, notebook=notebook, config_dir=config_dir)
    hosts = ", ".join(["localhost", *settings.allowed_hosts])
    print(f"{name} at http://{settings.ip}:{settings.port}/{where}; answers to Host {hosts}"
          f"{'; opens only from invitation links (partner-analysis invite create)' if settings.invitations else ''}"
          "; Ctrl-C stops", flush=True)
    proc = subprocess.Popen(cmd, env=full)
    # SIGTERM (service managers, test harnesses) must stop Voilà too, not orphan it with its kernels.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(config_dir, ignore_errors=True)


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt
