"""KPIs: the catalog (``kpis.yml``), the student × term panel and participant-vs-comparison tables.

Submodules are imported on first use: ``pa.kpi.compare_partners(...)``.
"""
from __future__ import annotations

import importlib

__all__ = ["load_catalog", "build_panel", "compare_partners", "estimate_effect", "compute_panel", "Engine", "catalog",
           "panel", "compare", "designs", "goals", "engines"]

_LAZY = {"load_catalog": "catalog", "build_panel": "panel", "compare_partners": "compare",
         "estimate_effect": "designs", "compute_panel": "engines", "Engine": "engines"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in ("catalog", "panel", "compare", "designs", "goals", "explore", "cli", "engines"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'partner_analysis.kpi' has no attribute {name!r}")
