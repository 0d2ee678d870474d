"""Files shipped beside the package: the notebooks and the survey instruments.

``notebooks/`` and ``surveys/`` sit at the top of the project (DESIGN.md), not
inside the package. In a source checkout (``pip install -e .``, what
``make`` does) they are found there; a wheel installs them as data files under
``<prefix>/share/partner_analysis/`` (``[tool.setuptools.data-files]`` in
``pyproject.toml``), so an ordinary ``pip install`` finds them too.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .exceptions import ConfigError

__all__ = ["project_file", "search_roots"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def search_roots() -> list[Path]:
    """Where shipped files are looked for, in order.

    1. ``PA_RESOURCE_DIR`` (a folder holding ``notebooks/`` and ``surveys/``), for districts that keep
       their own copies;
    2. the source checkout the package lives in;
    3. ``<prefix>/share/partner_analysis`` of the installation the package lives in
       (``site-packages`` is ``<prefix>/lib/pythonX.Y/site-packages``), then of ``sys.prefix``.
    """
    roots = []
    env = os.environ.get("PA_RESOURCE_DIR")
    if env:
        roots.append(Path(env))
    roots.append(_PACKAGE_DIR.parent)
    if len(_PACKAGE_DIR.parents) > 3:
        roots.append(_PACKAGE_DIR.parents[3] / "share" / "partner_analysis")
    roots.append(Path(sys.prefix) / "share" / "partner_analysis")
    return roots


def project_file(relpath: str, *, required: bool = True) -> Path:
    """Path of a shipped file such as ``"notebooks/quarterly_report.ipynb"``.

    Raises
    ------
    ConfigError
        When ``required`` and no search root holds the file; the message lists where it looked.
    """
    for root in search_roots():
        candidate = root / relpath
        if candidate.is_file():
            return candidate
    if not required:
        return search_roots()[1] / relpath
    looked = ", ".join(str(r) for r in search_roots())
    raise ConfigError(f"shipped file {relpath!r} not found (looked in {looked})",
                      fix="Reinstall partner_analysis, or set PA_RESOURCE_DIR to a folder holding notebooks/ "
                          "and surveys/")
