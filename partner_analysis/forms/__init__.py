"""Reusable forms: pure form logic (:mod:`.engine`), an ipywidgets view (:mod:`.widgets`), the fit
survey form (:mod:`.survey`) and the Voilà app around it (:mod:`.app`).

Names are imported lazily so that ``forms.engine`` stays usable without ipywidgets loaded.
"""
from __future__ import annotations

import importlib

__all__ = ["FieldSpec", "FormController", "Progress", "WidgetForm", "survey_form", "survey_app",
           "add_survey_app_parser", "add_serving_args", "serving_settings"]

_WHERE = {
    "FieldSpec": "engine",
    "FormController": "engine",
    "Progress": "engine",
    "WidgetForm": "widgets",
    "survey_form": "survey",
    "survey_app": "app",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cmd_survey_app(args) -> int:
    from .app import VoilaSettings, serve_survey_app
    db = args.db
    if not db and args.data_dir:
        from ..store import resolve_db_url
        db = resolve_db_url(None, data_dir=args.data_dir)
    return serve_survey_app(db, instrument=args.instrument, settings=serving_settings(args))


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
    """:class:`~partner_analysis.forms.app.VoilaSettings` from :func:`add_serving_args`' options.

    The host of the app's public address in the DATA_DIR's district.yml (``apps.survey_url`` /
    ``apps.records_url``) is allowed besides the ``--allow-host`` names.
    """
    from urllib.parse import urlsplit

    from ..access.mail import district_config
    from .app import VoilaSettings
    hosts = list(args.allow_host)
    config = district_config(getattr(args, "data_dir", None))
    public = config.apps.url(form) if config is not None else None
    if public and urlsplit(public).hostname not in (*hosts, "localhost", "127.0.0.1", "::1"):
        hosts.append(urlsplit(public).hostname)
    return VoilaSettings(port=args.port, ip=args.ip, cull_idle_timeout=args.cull_idle_timeout,
                         allowed_hosts=tuple(hosts), max_kernels=args.max_kernels)


def add_survey_app_parser(subparsers) -> None:
    """Add ``partner-analysis survey-app [--db URL] [--port N]`` (called from ``fit/cli.py``)."""
    p = subparsers.add_parser(
        "survey-app", help="serve the fit-survey form with Voila (invitation links only)",
        description="Serve notebooks/fit_survey.ipynb with Voila (code hidden, no browser opened, idle kernels "
                    "culled). Only invitation links (`partner-analysis invite create`) open it: each opens that "
                    "respondent's own survey; answers are saved on every change to the records store.")
    from ..cliargs import add_store_args
    add_store_args(p)
    add_serving_args(p, port=8866)
    p.add_argument("--instrument", default=None, help="instrument workbook (default: surveys/partner_fit_v1.xlsx)")
    p.set_defaults(func=_cmd_survey_app)
