"""partner_analysis: is a school-district partnership healthy, and does it help students?

Analysts start with ``district = pa.open_district()`` (see :mod:`partner_analysis.district`); the areas are
modules imported on first use, so that ``import partner_analysis`` stays fast in kernels and workers:
``pa.kpi``, ``pa.stats``, ``pa.privacy``, ``pa.fit``, ``pa.records``, ``pa.report``, ``pa.plots``, ``pa.data``,
``pa.store``, ``pa.forms``.
"""
from __future__ import annotations

import importlib as _importlib

from .config import DistrictConfig, load_config
from .exceptions import ConfigError, InputDataError, NotebookRunError, PartnerAnalysisError, PartnerAnalysisWarning

__version__ = "0.1.0"

_SUBMODULES = ("data", "fit", "forms", "kpi", "plots", "privacy", "records", "report", "stats", "store")
_LAZY = {"open_district": "district", "District": "district", "read_dataset": "data.dataset"}

__all__ = ["open_district", "District", "DistrictConfig", "load_config", "read_dataset",
           "PartnerAnalysisError", "InputDataError", "ConfigError", "NotebookRunError",
           "PartnerAnalysisWarning", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'partner_analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
