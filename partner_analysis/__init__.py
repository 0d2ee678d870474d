"""partner_analysis: is a school-district partnership healthy, and does it help students?

Analysts use ``import partner_analysis as pa``; modules are imported on first
use so that ``import partner_analysis`` stays fast in kernels and workers.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .config import DistrictConfig, load_config  # noqa: E402
from .exceptions import (ConfigError, InputDataError, NotebookRunError,  # noqa: E402
                         PartnerAnalysisError, PartnerAnalysisWarning)

_SUBMODULES = {"stats", "privacy", "data", "kpi", "fit", "records", "store", "forms", "report", "plots"}

__all__ = ["DistrictConfig", "load_config", "read_dataset", "PartnerAnalysisError", "InputDataError",
           "ConfigError", "NotebookRunError", "PartnerAnalysisWarning", "__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "read_dataset":
        from .data.dataset import read_dataset
        return read_dataset
    raise AttributeError(f"module 'partner_analysis' has no attribute {name!r}")
