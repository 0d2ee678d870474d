"""The SIS export the streaming-import tests write: its column map, students and school days.

Shared by ``test_stream_import.py`` (comma-separated) and ``test_stream_per_value.py`` (semicolons).
"""
from __future__ import annotations

import pandas as pd

N_STUDENTS = 40
DAYS = pd.bdate_range("2025-09-01", "2025-10-24")  # inside term 2025-26-Q1 of the embedded config


def column_map(delimiter: str | None = None) -> str:
    """The import map (YAML) of ``students.csv`` and ``attendance.csv``; ``delimiter`` for the attendance file."""
    sep = f'    delimiter: "{delimiter}"\n' if delimiter else ""
    return ("tables:\n"
            "  - table: students\n"
            "    file: students.csv\n"
            "    columns: {student_id: Student Number, school_id: School Code, grade_level: Grade}\n"
            "  - table: attendance_daily\n"
            "    file: attendance.csv\n"
            f"{sep}"
            '    date_format: "%m/%d/%Y"\n'
            "    columns: {student_id: Student Number, date: Att Date, status: Att Code}\n"
            "    recode:\n"
            "      status: {P: present, A: unexcused, E: excused, T: tardy}\n")
