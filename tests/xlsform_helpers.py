"""Helpers of the instrument tests: write a small XLSForm workbook from rows, and change one cell of a sheet."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import openpyxl

Rows = Sequence[Sequence]


def write_xlsform(path: Path, *, survey: Rows, choices: Rows, settings: Rows, drop_sheets: Sequence[str] = ()) -> Path:
    """Write the ``survey``, ``choices`` and ``settings`` sheets (first row the header) to ``path``; return it.

    Sheets named in ``drop_sheets`` are left out (for the "missing sheet" errors).
    """
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in (("survey", survey), ("choices", choices), ("settings", settings)):
        if name in drop_sheets:
            continue
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(list(r))
    wb.save(path)
    return path


def edit(rows: Rows, row: int, column: str, value) -> list[list]:
    """Copy of a sheet with one cell changed (``row`` = spreadsheet row, ``column`` = header name)."""
    rows = copy.deepcopy([list(r) for r in rows])
    rows[row - 1][rows[0].index(column)] = value
    return rows
