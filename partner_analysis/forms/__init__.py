"""Reusable forms: pure form logic (:mod:`.engine`), an ipywidgets view (:mod:`.widgets`), the fit
survey form (:mod:`.survey`) and the Voilà app around it (:mod:`.app`).

Names are imported lazily so that ``forms.engine`` stays usable without ipywidgets loaded.
"""
from __future__ import annotations

import importlib

__all__ = ["FieldSpec", "FormController", "Progress", "WidgetForm", "survey_form", "survey_app",
           "add_survey_app_parser"]

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
    settings = VoilaSettings(port=args.port, cull_idle_timeout=args.cull_idle_timeout)
    return serve_survey_app(db, instrument=args.instrument, settings=settings)


def add_survey_app_parser(subparsers) -> None:
    """Add ``partner-analysis survey-app [--db URL] [--port N]`` (called from ``fit/cli.py``)."""
    p = subparsers.add_parser(
        "survey-app", help="serve the fit-survey form with Voila on localhost",
        description="Serve notebooks/fit_survey.ipynb with Voila on 127.0.0.1 (code hidden, no browser opened, "
                    "idle kernels culled). Respondents choose partnership, role and name; answers are saved on "
                    "every change to the records store.")
    from ..cliargs import add_store_args
    add_store_args(p)
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866)")
    p.add_argument("--instrument", default=None, help="instrument workbook (default: surveys/partner_fit_v1.xlsx)")
    p.add_argument("--cull-idle-timeout", type=int, default=1800,
                   help="seconds before an idle form's kernel is stopped (default 1800; answers are autosaved)")
    p.set_defaults(func=_cmd_survey_app)
