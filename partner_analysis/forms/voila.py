"""Serving widget forms with Voilà: the shared app shell, the server settings and the command line.

Generic to every form app (the fit survey in :mod:`partner_analysis.fit.app`, the partnership records in
:mod:`partner_analysis.records.app`): a chooser page with its errors (:class:`ChooserApp`), a refusal page
(:func:`refused_app`), the Voilà settings (:class:`VoilaSettings`), the command line (:func:`voila_command`)
and the server loop (:func:`serve_notebook_app`), plus the CLI options they share (:func:`add_serving_args`).
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

import ipywidgets as widgets

from ..i18n import Translator
from ..store import Store, mask_url
from .widgets import FORM_CSS

__all__ = ["ChooserApp", "BANNER_CSS", "refused_app", "page_markers", "VoilaSettings", "TEMPLATE_DATA_DIR", "voila_environment",
           "voila_command", "serve_notebook_app", "add_serving_args", "serving_settings"]


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


#: the confirmation banner (dark green text on pale green: contrast 9.6:1; the heading says it in words)
BANNER_CSS = ("<style>.pa-banner{border:2px solid #1b5e20;background:#e8f5e9;color:#1b3a1d;padding:0.4em 1em;"
              "margin:0.6em 0;border-radius:4px;max-width:48em}"
              ".pa-banner h1,.pa-banner h2{margin:0.3em 0;font-size:1.25em}"
              "</style>")


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


#: Jupyter data dir holding the ``pa_survey`` Voilà template (add to ``JUPYTER_PATH``)
TEMPLATE_DATA_DIR = Path(__file__).resolve().parent / "jupyter"


def voila_environment(env: dict | None = None) -> dict:
    """``env`` (default ``os.environ``) with the survey template's data dir first on ``JUPYTER_PATH``."""
    env = dict(os.environ if env is None else env)
    paths = [str(TEMPLATE_DATA_DIR)] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def voila_command(settings: VoilaSettings = VoilaSettings(), *, notebook: str | os.PathLike,
                  config_dir: str | os.PathLike | None = None) -> list[str]:
    """The Voilà command line: sources stripped, no browser, idle kernels culled and bounded, invitation
    links required (:class:`~partner_analysis.access.serving.InvitationIdentityProvider`).

    Run it with :func:`voila_environment` so Voilà finds the ``pa_survey`` template (Voilà's lab
    template plus a main landmark and named radio groups). ``config_dir`` holds the ``voila.json`` of
    :meth:`VoilaSettings.server_config` (the allowed ``Host`` names).
    """
    notebook = Path(notebook)
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
        where = f" (store: {mask_url(full['PA_DB_URL'])})"
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


def add_serving_args(p, *, port: int) -> None:
    """The serving options of ``survey-app`` and ``records-app`` (address, allowed hosts, kernels)."""
    p.add_argument("--port", type=int, default=port, help=f"port (default {port})")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: behind a reverse proxy on this machine)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a Host name to answer to besides localhost, e.g. the public name the HTTPS reverse "
                        "proxy serves (repeatable; any other Host header is refused with 403)")
    p.add_argument("--max-kernels", type=int, default=40, help="most forms open at once (default 40)")
    p.add_argument("--cull-idle-timeout", type=int, default=1800,
                   help="seconds before an idle form's kernel is stopped (default 1800; answers are autosaved)")


def serving_settings(args, *, form: str = "survey"):
    """:class:`~partner_analysis.forms.voila.VoilaSettings` from :func:`add_serving_args`' options.

    The host of the app's public address in the DATA_DIR's district.yml (``apps.survey_url`` /
    ``apps.records_url``) is allowed besides the ``--allow-host`` names.
    """
    from urllib.parse import urlsplit

    from ..access.mail import district_config
    hosts = list(args.allow_host)
    config = district_config(getattr(args, "data_dir", None))
    public = config.apps.url(form) if config is not None else None
    if public and urlsplit(public).hostname not in (*hosts, "localhost", "127.0.0.1", "::1"):
        hosts.append(urlsplit(public).hostname)
    return VoilaSettings(port=args.port, ip=args.ip, cull_idle_timeout=args.cull_idle_timeout,
                         allowed_hosts=tuple(hosts), max_kernels=args.max_kernels)
