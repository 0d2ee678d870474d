"""The Ed-Fi map: how Ed-Fi entities become the tables of :mod:`.schema` (``import-edfi --map edfi.yml``).

.. code-block:: yaml

    config: district.yml               # district config (terms, schools), relative to the map
    attendance: exceptions_only        # Ed-Fi attendance events list exceptions (default)
    default_enrolment: whole_session   # no StudentSchoolAssociation: see partner_analysis.data.attendance
    sessions:                          # Ed-Fi SessionName -> term id of district.yml
      "2021-2022 Fall Semester": 2021-22-S1
    descriptors:                       # additions/overrides of DEFAULT_DESCRIPTORS, by descriptor type
      AttendanceEventCategoryDescriptor: {"Early departure": partial}
    partners:                          # rows of the partners table
      - {partner_id: P01, name: Grand Bend Career Partners, sector: employer}
    programs:                          # partner programmes, each fed by Ed-Fi program associations
      - {program_id: P01-A, partner_id: P01, name: CTE pathways, type: career_academy,
         edfi_program: Career and Technical Education}   # a ProgramName or ProgramType code value (or a list)

Descriptors are matched by their **code value** (the text after ``#`` in
``uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence``), whatever the namespace, so a state's
own descriptor namespace maps like Ed-Fi's. :data:`DEFAULT_DESCRIPTORS` is the documented default table
(docs/ed-fi.md). A code value neither table knows is an error naming the file, line and descriptor, with the
fix (add it under ``descriptors:``). Sessions not listed under ``sessions:`` map to the district term whose
dates contain the session's begin and end dates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..exceptions import InputDataError, did_you_mean
from ..safeyaml import read_yaml
from .attendance import ATTENDANCE_MODES, DEFAULT_ENROLMENTS
from .schema import TABLES

__all__ = ["EdfiMap", "ProgramRule", "read_edfi_map", "DEFAULT_DESCRIPTORS", "EDFI_MAP_KEYS"]

EDFI_MAP_KEYS = {"description", "config", "attendance", "default_enrolment", "sessions", "descriptors", "partners",
                 "programs"}

#: The default descriptor table: code value -> toolkit value, per descriptor type (docs/ed-fi.md).
#: ``None`` = known, but the toolkit keeps no value (the cell stays empty).
DEFAULT_DESCRIPTORS: Mapping[str, Mapping[str, Any]] = {
    "AttendanceEventCategoryDescriptor": {
        "In Attendance": "present", "Present": "present", "Excused Absence": "excused",
        "Unexcused Absence": "unexcused", "Tardy": "tardy", "Partial": "partial", "Early departure": "partial",
        "Out-of-school suspension": "suspended", "In-school suspension": "present"},
    "SexDescriptor": {"Female": "F", "Male": "M", "Non-binary": "X", "Not Selected": None},
    "GradeLevelDescriptor": {
        "Infant/toddler": None, "Preschool/Prekindergarten": -1, "Kindergarten": 0, "First grade": 1,
        "Second grade": 2, "Third grade": 3, "Fourth grade": 4, "Fifth grade": 5, "Sixth grade": 6,
        "Seventh grade": 7, "Eighth grade": 8, "Ninth grade": 9, "Tenth grade": 10, "Eleventh grade": 11,
        "Twelfth grade": 12, "Postsecondary": 13, "Ungraded": None, "Adult Education": None},
    "SchoolCategoryDescriptor": {
        "Elementary School": "elementary", "Middle School": "middle", "Junior High School": "middle",
        "High School": "high", "Elementary Secondary School": "k12", "Secondary School": "high",
        "Ungraded": "other", "Adult School": "other", "Infant/toddler School": "other", "Preschool/early childhood": "other",
        "Primary School": "elementary", "Intermediate School": "middle", "All Levels": "k12"},
    "CalendarEventDescriptor": {
        "Instructional day": True, "Make-up day": True, "Teacher only day": False, "Holiday": False,
        "Emergency day": False, "Strike": False, "Student late arrival/early dismissal": True,
        "Weather day": False, "Other": False},
}


@dataclass(frozen=True)
class ProgramRule:
    """One partner programme and the Ed-Fi programs whose associations make its participants."""

    program_id: str
    partner_id: str
    name: str
    type: str
    edfi_programs: tuple[str, ...]
    school_ids: str | None = None


@dataclass(frozen=True)
class EdfiMap:
    """A parsed Ed-Fi map (module docstring). The default map has no programmes and the default table."""

    path: str | None = None
    config_path: str | None = None
    attendance: str = "exceptions_only"
    default_enrolment: str = "none"
    sessions: Mapping[str, str] = field(default_factory=dict)
    descriptors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    partners: tuple[Mapping[str, Any], ...] = ()
    programs: tuple[ProgramRule, ...] = ()

    def descriptor(self, kind: str, code: str) -> tuple[bool, Any]:
        """``(known, value)`` of a descriptor code value of type ``kind`` (map first, then the default)."""
        for table in (self.descriptors.get(kind, {}), DEFAULT_DESCRIPTORS.get(kind, {})):
            if code in table:
                return True, table[code]
        return False, None

    def program_for(self, name: str | None, type_code: str | None) -> ProgramRule | None:
        for rule in self.programs:
            if (name is not None and name in rule.edfi_programs) or (
                    type_code is not None and type_code in rule.edfi_programs):
                return rule
        return None


def _err(problem: str, *, path, key=None, value=None, fix=None) -> InputDataError:
    return InputDataError(problem, path=path, column=key, value=value, fix=fix)


def read_edfi_map(path: str | Path | None) -> EdfiMap:
    """Read and check an Ed-Fi map YAML (None = the default map).

    Raises
    ------
    InputDataError
        Naming the map file and the key: unknown keys, modes, tables or columns.
    """
    if path is None:
        return EdfiMap()
    path = Path(path)
    raw = read_yaml(path, missing="Ed-Fi map not found", error=InputDataError,
                    fix="Pass the path of an Ed-Fi map with --map (see examples/edfi_grand_bend/edfi.yml)")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise _err("an Ed-Fi map must be a YAML mapping", path=path, fix="See examples/edfi_grand_bend/edfi.yml")
    for key in raw:
        if key not in EDFI_MAP_KEYS:
            raise _err(f"unknown key {key!r}", path=path, key=key, value=key,
                       fix=f"{did_you_mean(key, EDFI_MAP_KEYS)}Use only {sorted(EDFI_MAP_KEYS)}")
    attendance = str(raw.get("attendance", "exceptions_only"))
    if attendance not in ATTENDANCE_MODES:
        raise _err(f"unknown attendance mode {attendance!r}", path=path, key="attendance", value=attendance,
                   fix=f"Use one of {list(ATTENDANCE_MODES)}")
    default_enrolment = str(raw.get("default_enrolment", "none"))
    if default_enrolment not in DEFAULT_ENROLMENTS:
        raise _err(f"unknown default_enrolment {default_enrolment!r}", path=path, key="default_enrolment",
                   value=default_enrolment, fix=f"Use one of {list(DEFAULT_ENROLMENTS)}")
    sessions = raw.get("sessions") or {}
    descriptors = raw.get("descriptors") or {}
    for key, value in (("sessions", sessions), ("descriptors", descriptors)):
        if not isinstance(value, Mapping):
            raise _err(f"'{key}' must be a mapping", path=path, key=key, value=value,
                       fix=f"Write `{key}: {{...: ...}}`")
    for kind, table in descriptors.items():
        if not isinstance(table, Mapping):
            raise _err(f"descriptors.{kind} must map code values to values", path=path, key=f"descriptors.{kind}",
                       value=table, fix=f"Write `{kind}: {{\"Excused Absence\": excused}}`")
    partners = raw.get("partners") or []
    if not isinstance(partners, list) or not all(isinstance(p, Mapping) for p in partners):
        raise _err("'partners' must be a list of rows", path=path, key="partners",
                   fix="Write `partners: [{partner_id: P01, name: ..., sector: employer}]`")
    for p in partners:
        unknown = set(p) - set(TABLES["partners"].column_names)
        if unknown:
            raise _err(f"partners has no column {sorted(unknown)[0]!r}", path=path, key="partners",
                       value=sorted(unknown)[0], fix=f"Use {list(TABLES['partners'].column_names)}")
    rules = []
    for i, p in enumerate(raw.get("programs") or []):
        key = f"programs[{i}]"
        if not isinstance(p, Mapping):
            raise _err("each programme must be a mapping", path=path, key=key)
        allowed = set(TABLES["programs"].column_names) | {"edfi_program"}
        unknown = set(p) - allowed
        if unknown:
            raise _err(f"{key} has no key {sorted(unknown)[0]!r}", path=path, key=key, value=sorted(unknown)[0],
                       fix=f"Use {sorted(allowed)}")
        missing = [k for k in ("program_id", "partner_id", "name", "type", "edfi_program") if not p.get(k)]
        if missing:
            raise _err(f"{key} lacks {missing[0]!r}", path=path, key=f"{key}.{missing[0]}",
                       fix="Each programme needs program_id, partner_id, name, type and edfi_program (the Ed-Fi "
                           "ProgramName or ProgramType code value whose associations are its participants)")
        edfi = p["edfi_program"]
        edfi = tuple(str(x) for x in (edfi if isinstance(edfi, list) else [edfi]))
        rules.append(ProgramRule(program_id=str(p["program_id"]), partner_id=str(p["partner_id"]),
                                 name=str(p["name"]), type=str(p["type"]), edfi_programs=edfi,
                                 school_ids=None if p.get("school_ids") is None else str(p["school_ids"])))
    config = raw.get("config")
    return EdfiMap(path=str(path), config_path=None if config is None else str(path.parent / str(config)),
                   attendance=attendance, default_enrolment=default_enrolment,
                   sessions={str(k): str(v) for k, v in sessions.items()},
                   descriptors={str(k): {str(c): v for c, v in t.items()} for k, t in descriptors.items()},
                   partners=tuple(dict(p) for p in partners), programs=tuple(rules))
