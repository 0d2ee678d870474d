"""Reusable forms: pure form logic (:mod:`.engine`), an ipywidgets view (:mod:`.widgets`), the fit
survey form (:mod:`.survey`) and the Voilà app around it (:mod:`.app`).

Names are imported lazily so that ``forms.engine`` stays usable without ipywidgets loaded.
"""
from __future__ import annotations

import importlib

__all__ = ["FieldSpec", "FormController", "Progress", "WidgetForm", "survey_form", "survey_app"]

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
