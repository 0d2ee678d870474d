"""The coordinator-facing survey app: choose partnership, role and name, then answer the fit survey.

Used by ``notebooks/fit_survey.ipynb``, which ``partner-analysis survey-app`` serves with Voilà.
All logic lives here so the notebook only calls :func:`survey_app`.
"""
from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..exceptions import PartnerAnalysisError
from ..store import Store
from .survey import survey_page
from .widgets import FORM_CSS

__all__ = ["SurveyApp", "survey_app", "load_instrument", "VoilaSettings", "voila_command", "voila_environment",
           "serve_survey_app", "serve_notebook_app", "survey_notebook_path"]

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


class ChooserApp:
    """What every coordinator app shares: a chooser page shown as ``self.widget`` and errors in ``self.status``.

    Voilà shows nothing a callback prints, so every message goes to a widget, as text with ``role="alert"``
    (not colour alone).
    """

    widget: widgets.Widget
    status: widgets.HTML

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _error(self, text: str) -> None:
        self.status.value = f'<p class="pa-error" role="alert">Error: {html.escape(text)}</p>'

    def _missing(self, choices, *, before: str) -> bool:
        """Show one error naming every unanswered ``(label, value)`` choice; True when something is missing."""
        missing = [label for label, value in choices if not value]
        if missing:
            listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
            self._error(f"Please choose {listed} {before}.")
        return bool(missing)


class SurveyApp(ChooserApp):
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
        The open form after **Start**: the respondent's draft, or, when they already submitted in this
        wave, their submitted answers in correction mode (``form.mode == "correct"``).
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
                                           tooltip="Open your survey (resumes a draft, or corrects a submitted response)")
        self.start_button.on_click(self._start)
        self.status = widgets.HTML("")
        title = html.escape(str(getattr(instrument, "title", "") or "Partnership fit survey"))
        self.chooser = widgets.VBox([
            widgets.HTML(f"<h1>{title}</h1>"),
            widgets.HTML("<p>Choose the partnership and your role, and enter your name or email. If you saved "
                         "a draft before, the same three answers bring it back; if you already submitted, "
                         "they open your submitted answers so you can correct them.</p>"),
            self.partner, self.role, self.respondent, self.start_button, self.status,
        ])
        self.chooser.add_class("pa-form")
        self.widget = widgets.VBox([widgets.HTML(FORM_CSS), self.chooser])

    def _start(self, _button=None) -> None:
        partner_id = (self.partner.value or "").strip()
        respondent = (self.respondent.value or "").strip()
        if self._missing((("the partnership", partner_id), ("your role", self.role.value),
                          ("your name or email", respondent)), before="before starting"):
            return
        try:
            # language hook: the page starts in the link's ?lang= (else the instrument's default) and has a
            # language menu; self.page.form is the form currently shown
            self.page = survey_page(self.instrument, self.store, partner_id=partner_id, role=self.role.value,
                                    respondent=respondent, wave=self.wave)
            self.form = self.page.form
        except PartnerAnalysisError as err:
            self._error(f"The survey could not be opened: {err}")
            return
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; say something useful
            self._error(f"The survey could not be opened ({type(err).__name__}: {err}). Tell the coordinator.")
            return
        self.widget.children = [self.page.widget]


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


# -- serving with Voilà ------------------------------------------------------------------------------

@dataclass(frozen=True)
class VoilaSettings:
    """How ``partner-analysis survey-app`` and ``records-app`` run Voilà.

    Voilà starts one kernel (about 54 MB) per page load and keeps it until it is culled. Answers are
    autosaved on every change, so culling an idle form loses nothing but the open page: the defaults
    cull a kernel after 30 minutes without activity, checked every 5 minutes, even while a tab is
    still connected (abandoned tabs would otherwise hold kernels forever).
    """

    port: int = 8866
    ip: str = "127.0.0.1"
    cull_interval: int = 300
    cull_idle_timeout: int = 1800
    cull_connected: bool = True

    def __post_init__(self):
        from ..exceptions import ConfigError
        if not 0 < int(self.port) < 65536:
            raise ConfigError(f"port must be 1-65535, got {self.port!r}")
        if self.cull_interval <= 0 or self.cull_idle_timeout <= 0:
            raise ConfigError("cull_interval and cull_idle_timeout must be positive (seconds)")


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


def voila_command(settings: VoilaSettings = VoilaSettings(), *, notebook: str | os.PathLike | None = None
                  ) -> list[str]:
    """The Voilà command line: localhost only, sources stripped, no browser, idle kernels culled.

    Run it with :func:`voila_environment` so Voilà finds the ``pa_survey`` template (Voilà's lab
    template plus a main landmark and named radio groups).
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
    ]


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
    cmd = voila_command(settings, notebook=notebook)
    print(f"{name} at http://{settings.ip}:{settings.port}/{where}; Ctrl-C stops", flush=True)
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


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt
