"""The district data model: tables, columns, types, keys and ranges.

One :class:`TableSpec` per table of ``DESIGN.md``'s data model. Import
(:mod:`partner_analysis.data.load`), the demo generator and ``validate`` all
read these specs, so a column is described exactly once.

Identifiers are strings end to end (``"0042"`` stays ``"0042"``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["ColumnSpec", "TableSpec", "TABLES", "ATTENDANCE_STATUSES", "PROGRAM_TYPES", "table_spec",
           "TRUE_TEXT", "FALSE_TEXT"]

#: Text read as true / false in bool columns (case-insensitive).
TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")

#: Daily attendance status vocabulary (Ed-Fi categories, simplified).
ATTENDANCE_STATUSES = ("present", "excused", "unexcused", "tardy", "partial", "suspended")
#: Statuses that count as a (whole or partial) absence. Tardy counts as present.
ABSENT_STATUSES = ("excused", "unexcused", "partial", "suspended")

PROGRAM_TYPES = ("internship", "apprenticeship", "job_shadow", "lab_visit", "mentoring",
                 "dual_enrollment", "tutoring", "career_academy", "other")
PARTNER_SECTORS = ("healthcare", "employer", "higher_education", "community", "government", "other")
PARTNER_STATUSES = ("prospective", "active", "paused", "ended")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its kind and the values it may take.

    kind: ``id`` (string identifier), ``str``, ``int``, ``float``, ``bool``, ``date``, ``category``.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    description: str = ""
    #: foreign keys: column -> (table, column)
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: columns whose values identify a person, used for possible-duplicate detection
    identity: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = ColumnSpec

TABLES: dict[str, TableSpec] = {t.name: t for t in [
    TableSpec("schools", (
        C("school_id", "id"), C("name", "str"),
        C("level", "category", required=False, choices=("elementary", "middle", "high", "k8", "k12", "other")),
    ), key=("school_id",), description="One row per school."),
    TableSpec("students", (
        C("student_id", "id"), C("school_id", "id"),
        C("grade_level", "int", min=-1, max=13, nullable=True,
          description="-1 = pre-K, 0 = K; missing when the source has no grade (Ed-Fi without enrolment)"),
        C("birth_date", "date", required=False, nullable=True),
        C("gender", "category", required=False, nullable=True, choices=("F", "M", "X")),
        C("race_ethnicity", "str", required=False, nullable=True),
        C("frl", "bool", required=False, nullable=True, description="free/reduced-price lunch"),
        C("ell", "bool", required=False, nullable=True, description="English learner"),
        C("swd", "bool", required=False, nullable=True, description="student with disability"),
    ), key=("student_id",), references={"school_id": ("schools", "school_id")},
        identity=("school_id", "grade_level", "birth_date", "gender", "race_ethnicity", "frl", "ell", "swd"),
        description="One row per student (current enrolment)."),
    TableSpec("partners", (
        C("partner_id", "id"), C("name", "str"),
        C("sector", "category", required=False, choices=PARTNER_SECTORS),
        C("start_date", "date", required=False, nullable=True),
        C("status", "category", required=False, choices=PARTNER_STATUSES),
    ), key=("partner_id",)),
    TableSpec("programs", (
        C("program_id", "id"), C("partner_id", "id"), C("name", "str"),
        C("type", "category", choices=PROGRAM_TYPES),
        C("school_ids", "str", required=False, nullable=True, description="';'-separated school ids"),
    ), key=("program_id",), references={"partner_id": ("partners", "partner_id")}),
    TableSpec("participation", (
        C("student_id", "id"), C("program_id", "id"), C("start_date", "date"),
        C("end_date", "date", required=False, nullable=True),
        C("hours", "float", required=False, nullable=True, min=0, max=2000),
    ), key=("student_id", "program_id", "start_date"),
        references={"student_id": ("students", "student_id"), "program_id": ("programs", "program_id")}),
    TableSpec("attendance_daily", (
        C("student_id", "id"), C("date", "date"),
        C("status", "category", choices=ATTENDANCE_STATUSES),
        C("fraction_absent", "float", required=False, nullable=True, min=0, max=1,
          description="share of the day missed; defaults to 1 for absences, 0 for present/tardy"),
    ), key=("student_id", "date"), references={"student_id": ("students", "student_id")}),
    TableSpec("attendance_terms", (
        C("student_id", "id"), C("term_id", "id"),
        C("days_enrolled", "float", min=0, max=366), C("days_absent", "float", min=0, max=366),
    ), key=("student_id", "term_id"), references={"student_id": ("students", "student_id")},
        description="Per-term attendance summaries, for SIS exports without daily data."),
    TableSpec("enrollment", (
        C("student_id", "id"), C("school_id", "id"), C("entry_date", "date"),
        C("exit_date", "date", required=False, nullable=True,
          description="last day enrolled (inclusive); missing = still enrolled"),
    ), key=("student_id", "school_id", "entry_date"),
        references={"student_id": ("students", "student_id"), "school_id": ("schools", "school_id")},
        description="Enrolment spans: a student at a school from entry_date to exit_date (both inclusive)."),
    TableSpec("school_days", (
        C("school_id", "id"), C("date", "date"),
        C("instructional", "bool", required=False, nullable=True,
          description="an instructional day (default true)"),
    ), key=("school_id", "date"), references={"school_id": ("schools", "school_id")},
        description="The school calendar, one row per school day (Ed-Fi calendarDates)."),
    TableSpec("school_sessions", (
        C("school_id", "id"), C("term_id", "id"), C("begin_date", "date"), C("end_date", "date"),
        C("instructional_days", "float", min=0, max=366),
    ), key=("school_id", "term_id"), references={"school_id": ("schools", "school_id")},
        description="Instructional days per school and session (Ed-Fi sessions' TotalInstructionalDays), "
                    "for calendars that give totals, not dates."),
    TableSpec("attendance_events", (
        C("student_id", "id"), C("date", "date"),
        C("status", "category", choices=ATTENDANCE_STATUSES),
        C("fraction_absent", "float", required=False, nullable=True, min=0, max=1),
        C("school_id", "id", required=False, nullable=True),
    ), key=("student_id", "date", "status"),
        references={"student_id": ("students", "student_id"), "school_id": ("schools", "school_id")},
        description="Exceptions-only attendance: one row per absence/tardy event; a day without an event is a "
                    "day present (see partner_analysis.data.attendance)."),
    TableSpec("course_grades", (
        C("student_id", "id"), C("term_id", "id"), C("course_id", "id"),
        C("subject", "str", required=False, nullable=True),
        C("mark", "str", description="letter (A-F) or a number on the configured scale"),
        C("grade_points", "float", required=False, nullable=True, min=0, max=5),
        C("credits_attempted", "float", min=0, max=10), C("credits_earned", "float", min=0, max=10),
        C("college_credit", "bool", required=False, nullable=True),
        C("is_core", "bool", required=False, nullable=True),
    ), key=("student_id", "term_id", "course_id"), references={"student_id": ("students", "student_id")}),
    TableSpec("engagement", (
        C("student_id", "id"), C("term_id", "id"), C("score", "float"),
    ), key=("student_id", "term_id"), references={"student_id": ("students", "student_id")}),
    TableSpec("wbl_hours", (
        C("student_id", "id"), C("program_id", "id"), C("date", "date"),
        C("hours", "float", min=0, max=24),
    ), key=("student_id", "program_id", "date"),
        references={"student_id": ("students", "student_id"), "program_id": ("programs", "program_id")}),
]}

#: Order in which tables are validated/imported (referenced tables first).
IMPORT_ORDER = ("schools", "students", "partners", "programs", "participation", "enrollment", "school_days",
                "school_sessions", "attendance_daily", "attendance_events", "attendance_terms", "course_grades",
                "engagement", "wbl_hours")


def table_spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        from ..exceptions import ConfigError
        raise ConfigError(f"unknown table {name!r}", fix=f"Use one of {list(TABLES)}") from None
