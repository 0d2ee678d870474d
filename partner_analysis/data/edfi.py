"""Ed-Fi Data Standard XML interchanges -> district tables (read by :mod:`.edfi_import`).

Every ``*.xml`` file of SOURCE is parsed with :mod:`defusedxml` (no DTDs, entities or external references)
and recognised by the entities it holds, whatever its name:

==========================================  ==========================================================
Ed-Fi entity (interchange)                  table
==========================================  ==========================================================
School (EducationOrganization)              ``schools``: SchoolId, NameOfInstitution, SchoolCategory
Student (Student)                           ``students``: StudentUniqueId, BirthData/BirthDate, BirthSex
StudentSchoolAssociation (StudentEnrollment)  ``enrollment``: EntryDate, ExitWithdrawDate; EntryGradeLevel
                                            gives ``students.grade_level`` (latest entry)
Session (EducationOrgCalendar)              ``school_sessions``: BeginDate, EndDate, TotalInstructionalDays
CalendarDate (EducationOrgCalendar)         ``school_days``: Date, CalendarEvent (instructional or not)
StudentSchoolAttendanceEvent                ``attendance_events``: EventDate, AttendanceEventCategory,
(StudentAttendance)                         EventDuration (the share of the day, for absences)
Student*ProgramAssociation (StudentProgram)  ``participation`` for the programmes of the map
CourseTranscript (StudentTranscript)        ``course_grades``: the academic record's student, SchoolYear
                                            and Term (-> the term of the session of that year and term),
                                            CourseCode, FinalLetterGradeEarned (else
                                            FinalNumericGradeEarned), AttemptedCredits, EarnedCredits
==========================================  ==========================================================

Rules (docs/ed-fi.md)
---------------------
* ``students.school_id`` is the school of the student's latest enrolment span; ``grade_level`` its entry
  grade (missing when there is no StudentSchoolAssociation). With ``default_enrolment: whole_session`` and
  no associations, the school is that of the student's latest attendance event. Students with neither are
  left out (counted in the import's warnings), with their programme associations.
* A school's calendar dates are used for a session only when its instructional dates number the session's
  ``TotalInstructionalDays``; otherwise (the Grand Bend sample lists only the first and last day) the
  session total is used and the import says so.
* Every other problem is an :class:`~partner_analysis.exceptions.InputDataError` naming the file, the line
  of the element (as ``row``), the element path (as ``column``), the value and the fix; the validation,
  the all-or-nothing write and exit 2 are those of the SIS import
  (:func:`partner_analysis.data.load.finish_import`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
import numpy as np
import pandas as pd

from ..config import DistrictConfig
from ..exceptions import InputDataError
from .edfi_map import EdfiMap
from .schema import TABLES
from .validate import ProblemList, TableFrame

__all__ = ["read_interchanges", "assemble_tables", "parse_xml", "EdfiRows", "EntityReader"]

ENROLMENT_ENTITY = "StudentSchoolAssociation"


# -- XML with line numbers -----------------------------------------------------------------------------

class _LineBuilder(ET.TreeBuilder):
    """A tree builder that records the line where each element starts."""

    def __init__(self):
        super().__init__()
        self.lines: dict[int, int] = {}
        self.parser = None

    def start(self, tag, attrs):
        el = super().start(tag.rsplit("}", 1)[-1], attrs)  # local names: namespaces vary by version
        self.lines[id(el)] = self.parser.parser.CurrentLineNumber
        return el


def parse_xml(path: Path) -> tuple[ET.Element, dict[int, int]]:
    """Parse one XML file safely; return the root (local tag names) and element id -> line.

    Raises
    ------
    InputDataError
        Malformed XML (with the line), or a DTD/entity/external reference (refused for safety).
    """
    builder = _LineBuilder()
    parser = DET.DefusedXMLParser(target=builder)
    builder.parser = parser
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                parser.feed(chunk)
        root = parser.close()
    except ET.ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else None
        raise InputDataError(f"not well-formed XML ({err})", path=path, row=line,
                             fix="Export the interchange again; the file is damaged or truncated") from err
    except DefusedXmlException as err:
        raise InputDataError(f"the XML declares a DTD, an entity or an external reference ({err!r}); refused "
                             "for safety", path=path,
                             fix="Export the interchange without a DOCTYPE (Ed-Fi interchanges need none)") from err
    return root, builder.lines


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None


def _year(value: str | None) -> str | None:
    """Ed-Fi school years: ``2021-2022`` (XML) or ``2022`` (the API's ending year) -> ``2022``."""
    if value is None:
        return None
    return str(value).strip().rsplit("-", 1)[-1]


def _code(uri: str | None) -> tuple[str | None, str | None]:
    """``uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence`` -> (type, code value)."""
    if uri is None:
        return None, None
    if "#" not in uri:
        return None, uri
    head, code = uri.split("#", 1)
    return head.rstrip("/").rsplit("/", 1)[-1], code


# -- collected rows --------------------------------------------------------------------------------------

class EdfiRows:
    """Rows per table with where each came from (file, line, element path of each column)."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {}
        self.files: dict[str, list[str]] = {}
        self.headers: dict[str, list[dict]] = {}

    def add(self, table: str, file: str, line: int, values: dict, headers: dict) -> None:
        files = self.files.setdefault(table, [])
        if file not in files:
            files.append(file)
            self.headers.setdefault(table, []).append(dict(headers))
        self.rows.setdefault(table, []).append({**values, "_src": files.index(file), "_row": line})

    def frame(self, table: str) -> pd.DataFrame:
        cols = [c for c in TABLES[table].column_names]
        rows = self.rows.get(table, [])
        frame = pd.DataFrame(rows, columns=[*cols, "_src", "_row"]) if rows else \
            pd.DataFrame(columns=[*cols, "_src", "_row"])
        present = [c for c in cols if c in frame.columns and (frame[c].notna().any() or TABLES[table].column(c).required)]
        frame = frame[[*present, "_src", "_row"]].astype({c: "object" for c in present})
        frame["_src"] = frame["_src"].astype(np.int32)
        frame["_row"] = frame["_row"].astype(np.int64)
        return frame.reset_index(drop=True)

    def table_frame(self, table: str, frame: pd.DataFrame | None = None) -> TableFrame:
        frame = self.frame(table) if frame is None else frame
        files = self.files.get(table, ["(none)"])
        return TableFrame(table, frame, list(files), [None] * len(files), list(self.headers.get(table, [{}])))


class EntityReader:
    """Ed-Fi entities, whatever their format (XML element or ODS/API JSON resource), into :class:`EdfiRows`.

    Each ``add_*`` method takes the entity's values as text, where it came from (``file``, ``line``) and the
    source name of each value (``cols``: canonical column -> element path or JSON path) for messages.
    """

    def __init__(self, emap: EdfiMap, config: DistrictConfig, errors: ProblemList):
        self.emap = emap
        self.config = config
        self.errors = errors
        self.out = EdfiRows()
        self.grades: dict[tuple[str, str, str], Any] = {}  # (student, school, entry) -> grade
        self.ignored_programs: dict[str, int] = {}
        self.session_terms: dict[tuple[str | None, str | None], str] = {}  # (school year, term code) -> term

    def descriptor(self, uri: str | None, kind: str, file: str, line: int, column: str) -> Any:
        """The toolkit value of a descriptor URI (or bare code value); an unknown code is an error."""
        if uri is None:
            return None
        _, code = _code(uri)
        known, value = self.emap.descriptor(kind, code)
        if not known:
            self.errors.add(InputDataError(
                f"unknown {kind} code value {code!r}", path=file, row=line, column=column, value=uri,
                fix=f"Add it to the Ed-Fi map: `descriptors: {{{kind}: {{\"{code}\": <value>}}}}`"))
        return value

    def term_for_session(self, name: str | None, begin: str | None, end: str | None, file: str, line: int,
                         column: str):
        if name in self.emap.sessions:
            return self.emap.sessions[name]
        try:
            b, e = pd.Timestamp(begin).date(), pd.Timestamp(end).date()
        except (TypeError, ValueError):
            return None  # the dates' own checks report them
        for t in self.config.ordered_terms:
            if t.start <= b and e <= t.end:
                return t.id
        self.errors.add(InputDataError(
            f"session {name!r} ({begin} to {end}) lies in no term of the district config", path=file, row=line,
            column=column, value=name,
            fix=f"Map it in the Ed-Fi map (`sessions: {{\"{name}\": <term id>}}`) or add its term to district.yml"))
        return None

    def add_school(self, file, line, cols, *, school_id, name, category):
        self.out.add("schools", file, line, {
            "school_id": school_id, "name": name,
            "level": self.descriptor(category, "SchoolCategoryDescriptor", file, line, cols["level"])}, cols)

    def add_student(self, file, line, cols, *, student_id, birth_date, sex):
        self.out.add("students", file, line, {
            "student_id": student_id, "birth_date": birth_date,
            "gender": self.descriptor(sex, "SexDescriptor", file, line, cols["gender"])}, cols)

    def add_enrolment(self, file, line, cols, *, student_id, school_id, entry_date, exit_date, grade):
        self.grades[(student_id, school_id, entry_date)] = self.descriptor(grade, "GradeLevelDescriptor", file, line,
                                                                           cols["grade_level"])
        self.out.add("enrollment", file, line, {"student_id": student_id, "school_id": school_id,
                                                "entry_date": entry_date, "exit_date": exit_date}, cols)

    def add_session(self, file, line, cols, *, school_id, name, begin, end, days, school_year=None, term=None):
        term_id = self.term_for_session(name, begin, end, file, line, cols["term_id"])
        if term_id is not None and school_year is not None and term is not None:
            # transcripts name their term by school year and TermDescriptor, not by session
            self.session_terms[(_year(school_year), _code(term)[1])] = term_id
        self.out.add("school_sessions", file, line, {
            "school_id": school_id, "term_id": term_id, "begin_date": begin, "end_date": end,
            "instructional_days": days}, cols)

    def add_transcript(self, file, line, cols, *, student_id, school_year, term, course_code, letter, numeric,
                       attempted, earned):
        """A course transcript record; its term is resolved from the sessions in :func:`assemble_tables`."""
        self.out.add("course_grades", file, line, {
            "student_id": student_id, "term_id": (_year(school_year), _code(term)[1]), "course_id": course_code,
            "mark": letter if letter is not None else numeric, "credits_attempted": attempted,
            "credits_earned": earned}, cols)

    def add_calendar_date(self, file, line, cols, *, school_id, date, events):
        kinds = [self.descriptor(e, "CalendarEventDescriptor", file, line, cols["instructional"]) for e in events]
        self.out.add("school_days", file, line, {
            "school_id": school_id, "date": date,
            "instructional": "true" if any(k is True for k in kinds) else "false"}, cols)

    def add_event(self, file, line, cols, *, student_id, school_id, date, category, duration):
        status = self.descriptor(category, "AttendanceEventCategoryDescriptor", file, line, cols["status"])
        # EventDuration is the share of the day the event covers: for an absence, the share missed
        fraction = duration if status in ("excused", "unexcused", "partial", "suspended") else None
        self.out.add("attendance_events", file, line, {
            "student_id": student_id, "date": date, "status": status, "fraction_absent": fraction,
            "school_id": school_id}, cols)

    def add_program_association(self, file, line, cols, *, student_id, program_name, program_type, begin, end):
        _, type_code = _code(program_type)
        rule = self.emap.program_for(program_name, type_code)
        if rule is None:
            key = program_name or type_code or "?"
            self.ignored_programs[key] = self.ignored_programs.get(key, 0) + 1
            return
        self.out.add("participation", file, line, {"student_id": student_id, "program_id": rule.program_id,
                                                   "start_date": begin, "end_date": end}, cols)


_STUDENT = "StudentReference/StudentIdentity/StudentUniqueId"
_SCHOOL = "SchoolReference/SchoolIdentity/SchoolId"


class _XmlReader(EntityReader):
    """Walks the entities of each XML interchange."""

    def read(self, path: Path) -> None:
        root, lines = parse_xml(path)
        file = str(path)
        for el in root:
            name = el.tag
            line = lines.get(id(el), 0)
            handler = getattr(self, f"_{name}", None)
            if handler is None and name.startswith("Student") and name.endswith("ProgramAssociation"):
                handler = self._program_association
            if handler is not None:
                handler(el, file, line)

    def _School(self, el, file, line):
        self.add_school(file, line, {"school_id": "SchoolId", "name": "NameOfInstitution", "level": "SchoolCategory"},
                        school_id=_text(el, "SchoolId"), name=_text(el, "NameOfInstitution"),
                        category=_text(el, "SchoolCategory"))

    def _Student(self, el, file, line):
        self.add_student(file, line, {"student_id": "StudentUniqueId", "birth_date": "BirthData/BirthDate",
                                      "gender": "BirthData/BirthSex"},
                         student_id=_text(el, "StudentUniqueId"), birth_date=_text(el, "BirthData/BirthDate"),
                         sex=_text(el, "BirthData/BirthSex"))

    def _StudentSchoolAssociation(self, el, file, line):
        self.add_enrolment(file, line, {"student_id": _STUDENT, "school_id": _SCHOOL, "entry_date": "EntryDate",
                                        "exit_date": "ExitWithdrawDate", "grade_level": "EntryGradeLevel"},
                           student_id=_text(el, _STUDENT), school_id=_text(el, _SCHOOL),
                           entry_date=_text(el, "EntryDate"), exit_date=_text(el, "ExitWithdrawDate"),
                           grade=_text(el, "EntryGradeLevel"))

    def _Session(self, el, file, line):
        self.add_session(file, line, {"school_id": _SCHOOL, "term_id": "SessionName", "begin_date": "BeginDate",
                                      "end_date": "EndDate", "instructional_days": "TotalInstructionalDays"},
                         school_id=_text(el, _SCHOOL), name=_text(el, "SessionName"), begin=_text(el, "BeginDate"),
                         end=_text(el, "EndDate"), days=_text(el, "TotalInstructionalDays"),
                         school_year=_text(el, "SchoolYear"), term=_text(el, "Term"))

    def _CourseTranscript(self, el, file, line):
        rec = "StudentAcademicRecordReference/StudentAcademicRecordIdentity/"
        self.add_transcript(
            file, line, {"student_id": rec + _STUDENT, "term_id": rec + "Term", "course_id":
                         "CourseReference/CourseIdentity/CourseCode", "mark": "FinalLetterGradeEarned",
                         "credits_attempted": "AttemptedCredits/Credits", "credits_earned": "EarnedCredits/Credits"},
            student_id=_text(el, rec + _STUDENT), school_year=_text(el, rec + "SchoolYear"), term=_text(el, rec + "Term"),
            course_code=_text(el, "CourseReference/CourseIdentity/CourseCode"),
            letter=_text(el, "FinalLetterGradeEarned"), numeric=_text(el, "FinalNumericGradeEarned"),
            attempted=_text(el, "AttemptedCredits/Credits"), earned=_text(el, "EarnedCredits/Credits"))

    def _CalendarDate(self, el, file, line):
        school = "CalendarReference/CalendarIdentity/" + _SCHOOL
        self.add_calendar_date(file, line, {"school_id": school, "date": "Date", "instructional": "CalendarEvent"},
                               school_id=_text(el, school), date=_text(el, "Date"),
                               events=[(e.text or "").strip() or None for e in el.findall("CalendarEvent")])

    def _StudentSchoolAttendanceEvent(self, el, file, line):
        self.add_event(file, line, {"student_id": _STUDENT, "date": "AttendanceEvent/EventDate",
                                    "status": "AttendanceEvent/AttendanceEventCategory",
                                    "fraction_absent": "AttendanceEvent/EventDuration", "school_id": _SCHOOL},
                       student_id=_text(el, _STUDENT), school_id=_text(el, _SCHOOL),
                       date=_text(el, "AttendanceEvent/EventDate"),
                       category=_text(el, "AttendanceEvent/AttendanceEventCategory"),
                       duration=_text(el, "AttendanceEvent/EventDuration"))

    def _program_association(self, el, file, line):
        self.add_program_association(
            file, line, {"student_id": _STUDENT, "program_id": "ProgramReference/ProgramIdentity/ProgramName",
                         "start_date": "BeginDate", "end_date": "EndDate"},
            student_id=_text(el, _STUDENT), program_name=_text(el, "ProgramReference/ProgramIdentity/ProgramName"),
            program_type=_text(el, "ProgramReference/ProgramIdentity/ProgramType"), begin=_text(el, "BeginDate"),
            end=_text(el, "EndDate"))


def _xml_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return sorted(p for p in source.iterdir() if p.suffix.lower() == ".xml" and p.is_file())


def read_interchanges(source: str | Path, emap: EdfiMap, config: DistrictConfig) -> tuple[
        dict[str, TableFrame], ProblemList, list[str]]:
    """Read every Ed-Fi XML interchange of ``source`` into text tables (not yet validated).

    Returns
    -------
    tables, errors, notes
        TableFrames by table name, the problems met, and notes for the import's warnings.
    """
    source = Path(source)
    files = _xml_files(source) if source.exists() else []
    if not files:
        raise InputDataError("no Ed-Fi XML interchange found", path=source,
                             fix="Pass the folder holding the interchanges (Student.xml, StudentSchoolAttendance.xml, "
                                 "...)")
    reader = _XmlReader(emap, config, ProblemList())
    for f in files:
        reader.read(f)
    return assemble_tables(reader, source)


def assemble_tables(reader: EntityReader, source: str | Path) -> tuple[dict[str, TableFrame], ProblemList,
                                                                       list[str]]:
    """The tables an :class:`EntityReader` collected, after the rules of the module docstring."""
    emap, config, errors = reader.emap, reader.config, reader.errors
    notes: list[str] = []
    out = reader.out
    tables: dict[str, TableFrame] = {}
    for name in ("schools", "enrollment", "school_sessions", "attendance_events"):
        if out.rows.get(name):
            tables[name] = out.table_frame(name)
    if out.rows.get("course_grades"):
        tables["course_grades"] = _transcript_terms(reader)
    if "school_days" in out.rows:
        tables["school_days"] = _complete_calendars(out, tables.get("school_sessions"), config, notes)
        if tables["school_days"] is None:
            del tables["school_days"]
    if "students" not in out.rows:
        raise InputDataError("no Student entities found", path=source,
                             fix="Add the Student interchange (Student.xml) to SOURCE")
    students, kept = _students(out, reader, emap, notes)
    tables["students"] = students
    if emap.partners:
        tables["partners"] = TableFrame("partners", pd.DataFrame([{k: (None if v is None else str(v))
                                                                   for k, v in p.items()} for p in emap.partners]),
                                        [f"{emap.path} (partners:)"], [None], [{}])
    if emap.programs:
        tables["programs"] = TableFrame("programs", pd.DataFrame([
            {"program_id": r.program_id, "partner_id": r.partner_id, "name": r.name, "type": r.type,
             "school_ids": r.school_ids} for r in emap.programs]), [f"{emap.path} (programs:)"], [None], [{}])
    if out.rows.get("participation"):
        part = out.frame("participation")
        drop = ~part["student_id"].isin(kept) & part["student_id"].isin(out.frame("students")["student_id"])
        if drop.any():
            notes.append(f"participation: {int(drop.sum()):,} programme association(s) of students without "
                         "enrolment left out")
        tables["participation"] = out.table_frame("participation", part[~drop.to_numpy()].reset_index(drop=True))
    if reader.ignored_programs:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(reader.ignored_programs.items()))
        notes.append(f"participation: program associations not mapped to a partner programme were ignored ({shown})")
    return tables, errors, notes


def _transcript_terms(reader: EntityReader) -> TableFrame:
    """Course transcripts with their term: the session of the same school year and TermDescriptor."""
    frame = reader.out.frame("course_grades")
    keys = list(frame["term_id"])
    terms = [reader.session_terms.get(k) for k in keys]
    unknown = np.array([i for i, t in enumerate(terms) if t is None], dtype=int)
    if len(unknown):
        shown = pd.Series([f"{k[1]} {k[0]}" for k in keys])
        reader.errors.add_rows(reader.out.table_frame("course_grades", frame), unknown, "term_id",
                               lambda v: f"no session of that school year and term ({v}) gives this transcript "
                                         "its term", values=shown,
                               fix="Add the Session (EducationOrgCalendar) of that school year and term, or map its "
                                   "SessionName under `sessions:` in the Ed-Fi map")
    frame["term_id"] = terms
    frame = frame[[t is not None for t in terms]].reset_index(drop=True)
    return reader.out.table_frame("course_grades", frame)


def _complete_calendars(out: EdfiRows, sessions: TableFrame | None, config, notes: list[str]) -> TableFrame | None:
    """Keep a school's calendar dates only for sessions they fully cover (see the module docstring)."""
    days = out.frame("school_days")
    if sessions is None or not len(sessions.frame):
        return out.table_frame("school_days", days)
    ses = sessions.frame
    keep = np.ones(len(days), dtype=bool)
    d = pd.to_datetime(days["date"], errors="coerce")
    instructional = days["instructional"].eq("true").to_numpy()
    for rec in ses.itertuples():
        b, e = pd.to_datetime(rec.begin_date, errors="coerce"), pd.to_datetime(rec.end_date, errors="coerce")
        total = pd.to_numeric(rec.instructional_days, errors="coerce")
        if pd.isna(b) or pd.isna(e) or pd.isna(total):
            continue
        inside = (days["school_id"] == rec.school_id).to_numpy() & (d >= b).to_numpy() & (d <= e).to_numpy()
        n = int((inside & instructional).sum())
        if inside.any() and n != int(total):
            keep &= ~inside
            notes.append(f"school_days: school {rec.school_id}, session {rec.term_id}: {n} instructional calendar "
                         f"date(s) listed for {int(total)} instructional days; the session total is used")
    kept = days[keep].reset_index(drop=True)
    return out.table_frame("school_days", kept) if len(kept) else None


def _students(out: EdfiRows, reader: EntityReader, emap: EdfiMap, notes: list[str]) -> tuple[TableFrame, set]:
    """Students with their school (latest enrolment) and entry grade; students without enrolment left out."""
    st = out.frame("students")
    school: dict[str, str] = {}
    grade: dict[str, Any] = {}
    for r in sorted(out.rows.get("enrollment", []), key=lambda r: str(r.get("entry_date") or "")):
        school[r["student_id"]] = r["school_id"]
        grade[r["student_id"]] = reader.grades.get((r["student_id"], r["school_id"], r["entry_date"]))
    if not school and emap.default_enrolment == "whole_session":
        for r in sorted(out.rows.get("attendance_events", []), key=lambda r: str(r.get("date") or "")):
            if r.get("school_id"):
                school[r["student_id"]] = r["school_id"]
    st["school_id"] = st["student_id"].map(school)
    st["grade_level"] = st["student_id"].map(grade).astype("object")
    st["grade_level"] = st["grade_level"].where(st["grade_level"].notna(), None)
    without = st["school_id"].isna() & st["student_id"].notna()
    if without.any():
        how = ("no attendance event, so no default enrolment"
               if emap.default_enrolment == "whole_session" and not out.rows.get("enrollment")
               else "no StudentSchoolAssociation")
        notes.append(f"students: {int(without.sum()):,} of {len(st):,} students have no enrolment ({how}) and were "
                     "left out")
    kept = st[~without.to_numpy()].reset_index(drop=True)
    cols = [c for c in TABLES["students"].column_names if c in kept.columns]
    kept = kept[[*cols, "_src", "_row"]]
    headers = [{**h, "school_id": "(enrolment)", "grade_level": "EntryGradeLevel"} for h in out.headers["students"]]
    tf = TableFrame("students", kept, list(out.files["students"]), [None] * len(out.files["students"]), headers)
    return tf, set(kept["student_id"].dropna())
