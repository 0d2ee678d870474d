"""Spreadsheet-safe CSV cells: exports that cannot run formulas, and imports that undo the escaping.

A CSV opened in Excel or LibreOffice turns a cell starting with ``=``, ``+``, ``-`` or ``@`` (and,
in some versions, a tab or carriage return) into a formula, so a partner name or a check-in note
typed as ``=HYPERLINK(...)`` would run on the reader's machine ("CSV injection"). Following the
OWASP advice, every export of typed-in text (``records export``, ``survey export``) writes such a
cell with a leading ``'``, which spreadsheets show as text and do not store.

The rule, exactly (:func:`neutralise`):

- a *text* cell whose first character is one of ``= + - @``, tab, carriage return, or ``'`` is
  written with a ``'`` in front;
- except a cell that is a plain decimal number (``-5``, ``+0.25``, ``-1e3``): a number is not a
  formula, so negative numbers stay numbers (and numeric columns are never touched at all);
- the ``'`` case keeps the rule reversible: :func:`restore` (used by ``records import``) removes
  the first ``'`` exactly when the rest would have been escaped, so export then import gives back
  every original value, including text that itself starts with ``'``.

References
----------
OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from ._io import atomic_path

__all__ = ["FORMULA_START", "neutralise", "restore", "neutralise_frame", "restore_frame", "write_csv"]

#: First characters a spreadsheet may read as the start of a formula (OWASP list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = (*FORMULA_START, "'")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _needs_prefix(text: str) -> bool:
    return text.startswith(_ESCAPED) and _NUMBER.fullmatch(text) is None


def neutralise(value: Any) -> Any:
    """The cell as an export writes it (non-text values pass through unchanged)."""
    if isinstance(value, str) and _needs_prefix(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """Undo :func:`neutralise` (``restore(neutralise(x)) == x`` for every ``x``)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and _needs_prefix(value[1:]):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and text header) neutralised."""
    out = frame.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(neutralise, na_action="ignore")
    out.columns = [neutralise(c) for c in out.columns]
    return out


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`restore` applied to every text cell."""
    out = frame.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(restore, na_action="ignore")
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` neutralised, atomically (a temporary file beside ``path``, then a rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        neutralise_frame(frame).to_csv(tmp, index=False)
    return path
