"""Small HTML builders shared by the report sections and the district index (private).

No number is formatted here: every published figure goes through :mod:`partner_analysis.privacy.display`.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import pandas as pd

#: Text on white and marks on white meet WCAG 1.4.3 (4.5:1) and 1.4.11 (3:1).
PALETTE = {"participants": "#1f4e79", "comparison": "#8a4f00", "all": "#4d4d4d", "text": "#1a1a1a"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


_GOAL_STATUS = {"met": "met", "on_track": "on track", "at_risk": "at risk", "off_track": "off track",
                "no_data": "no data yet"}


def fmt_date(value: Any) -> str:
    """A day for readers: "29 Nov 2025"."""
    if missing(value) or str(value).strip() == "":
        return ""
    try:
        d = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    return f"{d.day} {d.strftime('%b %Y')}"


def yes_no(value: Any) -> str:
    if missing(value):
        return ""
    if isinstance(value, str):
        return {"true": "yes", "false": "no"}.get(value.strip().lower(), value)
    return "yes" if bool(value) else "no"


def words(value: Any) -> str:
    """An internal code ("on_track") as words ("on track")."""
    return "" if missing(value) else str(value).replace("_", " ")


def goal_status_words(status: Any, source: Any = None) -> str:
    """A goal's status in words; a status taken from a check-in review says so."""
    if missing(status):
        return ""
    text = _GOAL_STATUS.get(str(status), words(status))
    if str(source) == "checkin":
        text += " (check-in review)"
    return text


def drop_empty_columns(rows: Sequence[Sequence[str]], columns: Sequence[str], *, keep: int = 1
                       ) -> tuple[list[list[str]], list[str]]:
    """Drop the columns that are blank in every row (the first ``keep`` columns always stay)."""
    rows = [list(r) for r in rows]
    keep_idx = [i for i in range(len(columns))
                if i < keep or any(str(r[i]).strip() for r in rows)]
    return [[r[i] for i in keep_idx] for r in rows], [columns[i] for i in keep_idx]


def table(rows: Sequence[Sequence[str]], *, columns: Sequence[str], caption: str, row_header: bool = True,
          css_class: str = "data") -> str:
    """An accessible table: caption, column headers with scope, the first cell of each row a row header.

    Cells are escaped here; pass plain text.
    """
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in columns)
    body = []
    for r in rows:
        cells = []
        for i, cell in enumerate(r):
            if i == 0 and row_header:
                cells.append(f'<th scope="row">{esc(cell)}</th>')
            else:
                cells.append(f'<td data-label="{esc(columns[i])}">{esc(cell)}</td>' if i < len(columns)
                             else f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="{css_class}"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def section(heading: str, body: str, *, level: int = 2, id: str | None = None) -> str:
    ident = f' id="{esc(id)}"' if id else ""
    labelled = f' aria-labelledby="{esc(id)}"' if id else ""
    return f'<section{labelled}><h{level}{ident}>{esc(heading)}</h{level}>{body}</section>'


def not_recorded(what: str) -> str:
    """"<what>: not yet recorded." in the report's language (``what`` already translated)."""
    from . import text as T
    return f'<p class="not-recorded">{esc(T.not_recorded(what))}</p>'
