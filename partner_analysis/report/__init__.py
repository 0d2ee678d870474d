"""Quarterly partner reports: privacy-boundary bundles, papermill batch, accessible HTML, district index.

Public entry points (imported on first use so that report kernels start fast):

- :func:`build_bundles` / :func:`load_bundle` (:mod:`.bundle`): the only code that reads student-level data
  for a report; it writes aggregated, suppressed tables per partner and term.
- :func:`run_reports` (:mod:`.batch`): bundles once, one fresh kernel per partner, HTML/PDF, manifest, index.
- :func:`notebook_to_html` (:mod:`.html`): in-process nbconvert with the toolkit's template.
- :func:`validate_parameters` (:mod:`.contract`): the report notebook's typed parameter contract.
- :func:`write_brief` (:mod:`.brief`): the district's one-page community brief, from the bundles.
"""
from __future__ import annotations

import importlib

__all__ = ["build_bundles", "load_bundle", "run_reports", "notebook_to_html", "validate_parameters",
           "BatchManifest", "BundleInfo", "Bundle", "write_brief"]

_WHERE = {"build_bundles": "bundle", "load_bundle": "bundle", "BundleInfo": "bundle", "Bundle": "bundle",
          "run_reports": "batch", "BatchManifest": "batch", "notebook_to_html": "html",
          "validate_parameters": "contract", "write_brief": "brief"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'partner_analysis.report' has no attribute {name!r}")
