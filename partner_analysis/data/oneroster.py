"""OneRoster 1.1 CSV bulk exports: the schools and students of a district.

Rostering services (Clever, ClassLink, Google Classroom, LMSs) already receive a
OneRoster export from the SIS: a folder or ``.zip`` of UTF-8 CSVs plus
``manifest.csv``. :func:`read_oneroster` turns one into our ``schools`` and
``students`` tables. OneRoster carries no attendance, credits, programmes or
participation (``docs/column-map.md#oneroster``), so a full import combines the export
with SIS files through the column map:

.. code-block:: yaml

    tables:
      - oneroster: oneroster_export.zip   # relative to SOURCE; supplies schools and students
      - table: attendance_daily           # every other table comes from the SIS, as usual
        file: attendance.csv
        ...

``- {format: oneroster, file: export.zip}`` and the mapping form
``tables: {oneroster: export.zip, ...}`` mean the same.

How fields map
--------------
``schools`` (``orgs.csv``, rows with ``type=school``)
    ``school_id`` = ``identifier`` (the district's school code, e.g. ``0101``)
    when present, else ``sourcedId``. The code is what SIS exports and
    ``district.yml`` use, so the other tables join to it; sourcedIds are often
    GUIDs. ``name`` = ``name``; ``level`` is left empty (orgs have none).
``students`` (``users.csv``, rows with ``role=student``)
    ``student_id`` = ``identifier`` (the SIS student number) when present, else
    ``sourcedId``. ``school_id`` = the first org of ``orgSourcedIds`` that is a
    school of ``orgs.csv`` (district orgs are skipped). ``grade_level`` = the
    first code of ``grades``: ``PK`` and ``TK`` -> -1, ``KG`` -> 0, ``01``-``13``
    -> 1-13 (unpadded ``1``-``13`` and ``K`` are accepted too).
``students`` demographics (``demographics.csv``, joined on ``sourcedId``)
    ``birth_date`` = ``birthDate``; ``gender`` = ``sex`` (female -> F, male -> M,
    other -> X, unspecified -> empty); ``race_ethnicity`` = Hispanic/Latino when
    ``hispanicOrLatinoEthnicity`` is true, else Two or more races when
    ``demographicRaceTwoOrMoreRaces`` or more than one race flag is true, else
    the one race flagged (the labels of the demo district), else empty.

Identifiers are read as text, so ``000101`` keeps its zeros. Headers are
matched by name (case-insensitively; a UTF-8 byte-order mark is tolerated);
``metadata.*``, ``ext_*`` and other unknown columns are ignored. Rows with
``status=tobedeleted`` are dropped. ``manifest.csv`` is obeyed: ``orgs`` and
``users`` must be ``bulk``, ``demographics`` may be ``absent``; a ``delta``
export is refused because an import replaces the whole roster.
``enrollment`` (``enrollments.csv``, only with ``enrolment: true`` in the map entry)
    One span per student and school: ``entry_date`` = the earliest
    ``beginDate`` of the student's class enrolments at the school (rows with
    ``role=student``; rows without ``beginDate`` are skipped), ``exit_date`` =
    the latest ``endDate`` (empty when one of them is empty: still enrolled).
``classes.csv``, ``courses.csv`` and ``academicSessions.csv`` are not needed
and not read.

Every problem is an :class:`~partner_analysis.exceptions.InputDataError`
naming the file inside the export (``.../export.zip/users.csv``), the row
(header = row 1), the column, the value and the fix; all problems of a read
are raised together as one
:class:`~partner_analysis.data.validate.ImportValidationError`.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..config import load_config
from ..exceptions import InputDataError
from .dataset import coerce_table
from .colmap import SourceSpec
from .validate import MAX_ERRORS, ImportValidationError, validate_tables

__all__ = ["read_oneroster", "GRADE_CODES", "RACE_LABELS"]

#: OneRoster (CEDS) grade codes that have a place on our -1..13 scale. TK (transitional
#: kindergarten) is the year before kindergarten, so it counts as pre-K.
GRADE_CODES: dict[str, int] = {"PK": -1, "TK": -1, "KG": 0, "K": 0,
                               **{f"{g:02d}": g for g in range(1, 14)}, **{str(g): g for g in range(1, 14)}}

#: demographics.csv race flags -> race_ethnicity labels (the labels of the demo district)
RACE_LABELS: dict[str, str] = {
    "americanIndianOrAlaskaNative": "American Indian/Alaska Native",
    "asian": "Asian",
    "blackOrAfricanAmerican": "Black/African American",
    "nativeHawaiianOrOtherPacificIslander": "Native Hawaiian/Pacific Islander",
    "white": "White",
}
_HISPANIC = "Hispanic/Latino"
_TWO_OR_MORE = "Two or more races"
_SEX = {"female": "F", "male": "M", "other": "X", "unspecified": None}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")

_REQUIRED = {"orgs": ("sourcedId", "name", "type"),
             "users": ("sourcedId", "orgSourcedIds", "role", "grades"),
             "demographics": ("sourcedId",)}
_BULK_FIX = "Ask the rostering system (or SIS) for a full OneRoster 1.1 CSV bulk export"


# -- problems ------------------------------------------------------------------------------------

class _Problems:
    """Problems of one read, capped like the import's, raised together."""

    def __init__(self):
        self.items: list[InputDataError] = []
        self.total = 0

    def add(self, problem: str, **where: Any) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(InputDataError(problem, **where))

    def raise_if_any(self, context: str) -> None:
        if self.items:
            raise ImportValidationError(self.items, n_errors=self.total, context=context)


class _Unreadable(ImportValidationError):
    """The export could not be read, and another entry already reports why.

    Schools and students are two sources of one export; both need the manifest
    and ``orgs.csv``. The schools source reports their problems, the students
    source raises this (holding no problems) so they are not listed twice.
    """

    def __init__(self, err: ImportValidationError):
        super().__init__(err.errors, n_errors=err.n_errors)
        self.errors = []


# -- reading the export --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Export:
    """A OneRoster export (folder or zip) and its manifest."""

    path: Path
    members: Mapping[str, str]  # lower-case file name -> name in the folder / zip member
    manifest: Mapping[str, tuple[str, int]]  # propertyName -> (value, row)

    @property
    def is_zip(self) -> bool:
        return self.path.is_file()

    def shown(self, name: str) -> str:
        """How messages name a file of the export: ``export.zip/users.csv`` or ``folder/users.csv``."""
        return str(self.path / self.members.get(name.lower(), name))

    def has(self, name: str) -> bool:
        return name.lower() in self.members

    def read_bytes(self, name: str) -> bytes:
        member = self.members[name.lower()]
        if self.is_zip:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(member)
        return (self.path / member).read_bytes()


def _open(path: Path) -> _Export:
    if not path.exists():
        raise InputDataError("OneRoster export not found", path=path,
                             fix="Give the folder or .zip of the OneRoster export (relative to SOURCE in a map)")
    if path.is_dir():
        members = {p.name.lower(): p.name for p in sorted(path.iterdir()) if p.is_file()}
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        except (zipfile.BadZipFile, OSError) as err:
            raise InputDataError(f"not a readable zip file ({err})", path=path,
                                 fix="Give the OneRoster .zip as downloaded, or the folder it unpacks to") from err
        # a zip made by compressing a folder holds the CSVs one level down; the shallowest copy wins
        members = {}
        for n in sorted(names, key=lambda n: (n.count("/"), n)):
            members.setdefault(n.rsplit("/", 1)[-1].lower(), n)
    export = _Export(path, members, {})
    if not export.has("manifest.csv"):
        raise InputDataError("manifest.csv is not in the OneRoster export", path=export.shown("manifest.csv"),
                             fix=f"{_BULK_FIX}; every OneRoster CSV export holds manifest.csv")
    frame, rows = _read_csv(export, "manifest.csv", ("propertyName", "value"))
    manifest = {}
    for name, value, row in zip(frame["propertyName"], frame["value"], rows):
        if isinstance(name, str):
            manifest[name.strip()] = ("" if not isinstance(value, str) else value.strip(), int(row))
    return _Export(path, members, manifest)


def _read_csv(export: _Export, name: str, required: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """The CSV's columns (canonical OneRoster spelling) as text, and each record's spreadsheet row."""
    shown = export.shown(name)
    try:
        raw = export.read_bytes(name)
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig", skip_blank_lines=False)
    except UnicodeDecodeError as err:
        raise InputDataError(f"not UTF-8 text ({err.reason} at byte {err.start})", path=shown,
                             fix="OneRoster files are UTF-8: export again, or re-save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise InputDataError("the file is empty (no header row)", path=shown, row=1,
                             fix=f"{_BULK_FIX}; every file starts with its header row") from None
    except pd.errors.ParserError as err:
        raise InputDataError(f"cannot parse the CSV ({err})", path=shown,
                             fix="Check the quoting of that line, or export again") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise InputDataError(f"cannot read the file ({err})", path=shown, fix="Export again") from err
    # vendors vary the case of headers and pad them with spaces
    by_lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in required if c.lower() not in by_lower]
    if missing:
        found = [str(c) for c in frame.columns][:20]
        raise ImportValidationError([InputDataError(
            f"required OneRoster column {c!r} is missing", path=shown, row=1, column=c, value=None,
            fix=f"The header is {found}; export {name} with the OneRoster 1.1 columns") for c in missing])
    rows = np.arange(len(frame), dtype="int64") + 2
    frame = frame.rename(columns={v: k for k, v in _canonical_headers(by_lower).items()})
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    frame = frame.mask(frame == "")
    # blank lines are not records, but they keep their numbers for the rows after them
    keep = ~frame.isna().all(axis=1).to_numpy()
    return frame.loc[keep].reset_index(drop=True), rows[keep]


_KNOWN_HEADERS = ("propertyName", "value", "sourcedId", "status", "name", "type", "identifier", "orgSourcedIds",
                  "userSourcedId", "schoolSourcedId", "beginDate", "endDate",
                  "role", "grades", "birthDate", "sex", "hispanicOrLatinoEthnicity",
                  "demographicRaceTwoOrMoreRaces", *RACE_LABELS)


def _canonical_headers(by_lower: Mapping[str, Any]) -> dict[str, Any]:
    return {h: by_lower[h.lower()] for h in _KNOWN_HEADERS if h.lower() in by_lower}


def _declared(export: _Export, name: str, *, required: bool) -> bool:
    """Whether ``name`` is to be read, by the manifest; raise when it cannot be used."""
    key = f"file.{name}"
    value, row = export.manifest.get(key, (None, None))
    value = None if value is None else value.lower()
    where = dict(path=export.shown("manifest.csv"), row=row, column="value")
    if value == "delta":
        raise InputDataError(f"{name}.csv is a delta export ({key}=delta: only changes since the last "
                             "export); an import needs the full roster", value="delta", fix=_BULK_FIX, **where)
    if value == "absent":
        if required:
            raise InputDataError(f"{name}.csv is declared absent ({key}=absent), but schools and students come "
                                 "from it", value="absent", fix=f"{_BULK_FIX} that includes {name}.csv", **where)
        return False
    if value not in (None, "bulk"):
        raise InputDataError(f"{key} must be bulk, delta or absent, found {value!r}", value=value,
                             fix="Correct manifest.csv, or export again", **where)
    if not export.has(f"{name}.csv"):
        if not required and value is None:
            return False  # neither declared nor present: an export without demographics
        raise InputDataError(f"{name}.csv is not in the OneRoster export", path=export.shown(f"{name}.csv"),
                             value=f"{name}.csv",
                             fix=f"{_BULK_FIX} that includes {name}.csv" +
                                 (" (manifest.csv declares it bulk)" if value == "bulk" else ""))
    return True


def _check_version(export: _Export) -> None:
    value, row = export.manifest.get("oneroster.version", (None, None))
    if value and not value.startswith("1."):
        raise InputDataError(f"OneRoster version {value!r} is not 1.x", path=export.shown("manifest.csv"), row=row,
                             column="value", value=value, fix="Export OneRoster 1.1 CSV")


def _active(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if "status" not in frame.columns:
        return frame, rows
    keep = ~(frame["status"].str.lower() == "tobedeleted").to_numpy(dtype=bool, na_value=False)
    return frame.loc[keep].reset_index(drop=True), rows[keep]


# -- schools ---------------------------------------------------------------------------------------

def _schools(export: _Export) -> tuple[pd.DataFrame, dict[str, str]]:
    """Schools (canonical text columns + ``_row``) and school sourcedId -> school_id."""
    _check_version(export)
    _declared(export, "orgs", required=True)
    frame, rows = _active(*_read_csv(export, "orgs.csv", _REQUIRED["orgs"]))
    is_school = (frame["type"].str.lower() == "school").to_numpy(dtype=bool, na_value=False)
    frame, rows = frame.loc[is_school].reset_index(drop=True), rows[is_school]
    ident = frame["identifier"] if "identifier" in frame.columns else pd.Series(None, index=frame.index)
    school_id = ident.where(ident.notna(), frame["sourcedId"])
    out = pd.DataFrame({"school_id": school_id.astype("object"), "name": frame["name"].astype("object"),
                        "_row": rows})
    lookup = {s: i for s, i in zip(frame["sourcedId"], school_id) if isinstance(s, str)}
    return out, lookup


# -- students --------------------------------------------------------------------------------------

def _flag(value: Any) -> bool | None:
    """A OneRoster boolean; None when empty; raises KeyError on anything else."""
    if not isinstance(value, str):
        return None
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise KeyError(value)


def _demographics(export: _Export, problems: _Problems) -> pd.DataFrame | None:
    """birth_date, gender, race_ethnicity indexed by user sourcedId (None when the export has none)."""
    if not _declared(export, "demographics", required=False):
        return None
    shown = export.shown("demographics.csv")
    frame, rows = _active(*_read_csv(export, "demographics.csv", _REQUIRED["demographics"]))
    n = len(frame)
    empty = [None] * n

    def column(header: str) -> list:
        return frame[header].tolist() if header in frame.columns else empty

    birth, gender, race = list(empty), list(empty), list(empty)
    flag_headers = [h for h in ("hispanicOrLatinoEthnicity", "demographicRaceTwoOrMoreRaces", *RACE_LABELS)
                    if h in frame.columns]
    flag_values = {h: column(h) for h in flag_headers}
    for i, (b, s, row) in enumerate(zip(column("birthDate"), column("sex"), rows.tolist())):
        if isinstance(b, str):
            # a date, or a date-time whose date part is taken
            text = b[:10] if len(b) > 10 and b[10] in "T " else b
            try:
                if len(text) != 10:
                    raise ValueError(text)
                birth[i] = dt.date.fromisoformat(text).isoformat()
            except ValueError:
                problems.add(f"birthDate {b!r} is not a date YYYY-MM-DD", path=shown, row=row, column="birthDate",
                             value=b, fix="Correct the date in the SIS and export again")
        if isinstance(s, str):
            if s.lower() in _SEX:
                gender[i] = _SEX[s.lower()]
            else:
                problems.add(f"unknown sex {s!r}; OneRoster uses female, male (1.2 adds other, unspecified)",
                             path=shown, row=row, column="sex", value=s,
                             fix="Correct the value in the SIS and export again")
        flags = {}
        for h in flag_headers:
            value = flag_values[h][i]
            try:
                flags[h] = _flag(value)
            except KeyError:
                problems.add(f"{h} must be true or false, found {value!r}", path=shown, row=row, column=h,
                             value=value, fix="Correct the value in the SIS and export again")
        race[i] = _race_label(flags)
    out = pd.DataFrame({"sourcedId": frame["sourcedId"], "birth_date": birth, "gender": gender,
                        "race_ethnicity": race}, dtype="object")
    ids = out["sourcedId"]
    dup = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
    if dup.any():
        first_row = dict(zip(ids.iloc[::-1], rows[::-1].tolist()))
        for i in np.flatnonzero(dup):
            problems.add(f"sourcedId {ids.iloc[i]!r} also has demographics in row {first_row[ids.iloc[i]]}",
                         path=shown, row=int(rows[i]), column="sourcedId", value=ids.iloc[i],
                         fix="Keep one demographics row per user")
    out = out.loc[~dup & ids.notna().to_numpy()]
    return out.set_index("sourcedId")


def _race_label(flags: Mapping[str, bool | None]) -> str | None:
    """The federal reporting rule: Hispanic first, then two or more races, then the one race."""
    if flags.get("hispanicOrLatinoEthnicity"):
        return _HISPANIC
    races = [RACE_LABELS[h] for h in RACE_LABELS if flags.get(h)]
    if flags.get("demographicRaceTwoOrMoreRaces") or len(races) > 1:
        return _TWO_OR_MORE
    return races[0] if races else None


def _students(export: _Export, schools: Mapping[str, str], problems: _Problems) -> pd.DataFrame:
    """Students (canonical text columns + ``_row``)."""
    _declared(export, "users", required=True)
    name = "users.csv"
    shown = export.shown(name)
    frame, rows = _active(*_read_csv(export, name, _REQUIRED["users"]))
    is_student = (frame["role"].str.lower() == "student").to_numpy(dtype=bool, na_value=False)
    frame, rows = frame.loc[is_student].reset_index(drop=True), rows[is_student]
    ident = frame["identifier"] if "identifier" in frame.columns else pd.Series(None, index=frame.index)
    student_id = ident.where(ident.notna(), frame["sourcedId"]).astype("object")
    school_id: list[str | None] = []
    grade: list[str | None] = []
    known = ", ".join(sorted(schools)[:5]) + (", ..." if len(schools) > 5 else "")
    for orgs, grades, row in zip(frame["orgSourcedIds"], frame["grades"], rows):
        row = int(row)
        ids = [o.strip() for o in orgs.split(",")] if isinstance(orgs, str) else []
        hit = next((schools[o] for o in ids if o in schools), None)
        if hit is None:
            problems.add(
                "orgSourcedIds is empty" if not ids else
                f"orgSourcedIds {orgs!r} names no school of orgs.csv (orgs with type=school, not tobedeleted)",
                path=shown, row=row, column="orgSourcedIds", value=orgs,
                fix=f"List the student's school by its sourcedId ({known or 'orgs.csv has no schools'}), "
                    "or add the school to orgs.csv")
        school_id.append(hit)
        codes = [g.strip() for g in grades.split(",") if g.strip()] if isinstance(grades, str) else []
        if not codes:
            problems.add("grades is empty: every student needs a grade", path=shown, row=row, column="grades",
                         value=grades, fix="Give the student a grade (PK, KG, 01-13) in the SIS and export again")
            grade.append(None)
        elif codes[0].upper() not in GRADE_CODES:
            problems.add(f"grade code {codes[0]!r} has no place on the grade scale -1 (pre-K) to 13",
                         path=shown, row=row, column="grades", value=grades,
                         fix="Use PK, TK, KG or 01-13 for the student, or leave ungraded students (UG, IT, PR, "
                             "PS, Other) out of the export")
            grade.append(None)
        else:
            grade.append(str(GRADE_CODES[codes[0].upper()]))
    out = pd.DataFrame({"student_id": student_id, "school_id": school_id, "grade_level": grade},
                       index=frame.index, dtype="object")
    demo = _demographics(export, problems)
    for c in ("birth_date", "gender", "race_ethnicity"):
        if demo is None:
            out[c] = None
        else:
            out[c] = frame["sourcedId"].map(demo[c]).astype("object").where(lambda s: s.notna(), None)
    out["_row"] = rows
    return out


# -- public API ------------------------------------------------------------------------------------

def _read_shared(path: Path) -> tuple[_Export, pd.DataFrame, dict[str, str]]:
    """The export, its schools and school sourcedId -> school_id; problems as ImportValidationError."""
    try:
        export = _open(path)
        schools, lookup = _schools(export)
    except ImportValidationError:
        raise
    except InputDataError as err:
        raise ImportValidationError([err]) from None
    return export, schools, lookup


def _read_students(export: _Export, lookup: Mapping[str, str]) -> pd.DataFrame:
    problems = _Problems()
    students = None
    try:
        students = _students(export, lookup, problems)
    except ImportValidationError as err:
        for e in err.errors:
            problems.add(e.problem, path=e.path, row=e.row, column=e.column, value=e.value, fix=e.fix)
    except InputDataError as err:
        problems.add(err.problem, path=err.path, row=err.row, column=err.column, value=err.value, fix=err.fix)
    problems.raise_if_any(f"the OneRoster export {export.path}")
    return students


def read_oneroster(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read a OneRoster 1.1 CSV bulk export into our ``schools`` and ``students`` tables.

    Parameters
    ----------
    path : path
        The export: a folder or a ``.zip`` holding ``manifest.csv``,
        ``orgs.csv``, ``users.csv`` and (optionally) ``demographics.csv``.

    Returns
    -------
    dict of str to DataFrame
        ``schools``: school_id, name (one row per ``orgs.csv`` school).
        ``students``: student_id, school_id, grade_level (-1 = pre-K, 0 = K),
        birth_date, gender (F/M/X), race_ethnicity (one row per student).
        Typed as in a DATA_DIR; identifiers are strings.

    Raises
    ------
    ImportValidationError (an InputDataError)
        Every problem found (up to ``MAX_ERRORS``), each naming the file in
        the export, the row, the column, the value and the fix: a missing or
        ``absent``/``delta`` file, missing columns, unknown grade codes,
        students of no known school, bad demographics, duplicate IDs.

    See Also
    --------
    partner_analysis.data.load.import_source : imports an export together with SIS files
        (map entry ``oneroster: EXPORT``), validated and written to a DATA_DIR.

    Notes
    -----
    The field mapping is in the module docstring. The tables are checked with
    :func:`~partner_analysis.data.validate.validate_tables` (types, ranges, unique
    IDs, students -> schools), as an import checks them.

    Examples
    --------
    >>> tables = read_oneroster("examples/oneroster/export")      # doctest: +SKIP
    >>> tables["students"].columns.tolist()                        # doctest: +SKIP
    ['student_id', 'school_id', 'grade_level', 'birth_date', 'gender', 'race_ethnicity']
    """
    path = Path(path)
    export, schools, lookup = _read_shared(path)
    located = {"schools": schools.assign(_src=np.int32(0)),
               "students": _read_students(export, lookup).assign(_src=np.int32(0))}
    # the config matters only for tables OneRoster does not supply, so the embedded default serves
    validate_tables(located, load_config(),
                    paths={"schools": export.shown("orgs.csv"), "students": export.shown("users.csv")},
                    context=f"the OneRoster export {path}")
    return {name: coerce_table(name, frame.drop(columns=["_src", "_row"]).reset_index(drop=True))
            for name, frame in located.items()}


# -- the import's reader hook (used by data/readers.py) ---------------------------------------------

def read_for_import(src: SourceSpec, source: Path) -> tuple[pd.DataFrame, str]:
    """One table of the export as :func:`~partner_analysis.data.readers.read_source` returns it."""
    path = source / src.file if source.is_dir() else (source if source.name == src.file else source.parent / src.file)
    if src.table == "schools":
        export, frame, _ = _read_shared(path)
        return frame.assign(_src=np.int32(0)), export.shown("orgs.csv")
    try:
        export, _, lookup = _read_shared(path)
    except ImportValidationError as err:
        raise _Unreadable(err) from None
    if src.table == "enrollment":
        return _enrolment(export, lookup).assign(_src=np.int32(0)), export.shown("enrollments.csv")
    return _read_students(export, lookup).assign(_src=np.int32(0)), export.shown("users.csv")


def _enrolment(export: _Export, lookup: Mapping[str, str]) -> pd.DataFrame:
    """Enrolment spans per student and school from class enrolments (the module docstring's rule)."""
    _declared(export, "enrollments", required=True)
    users, _ = _active(*_read_csv(export, "users.csv", _REQUIRED["users"]))
    ident = users["identifier"] if "identifier" in users.columns else pd.Series(None, index=users.index)
    student_of = dict(zip(users["sourcedId"], ident.where(ident.notna(), users["sourcedId"])))
    frame, rows = _active(*_read_csv(export, "enrollments.csv",
                                     ("sourcedId", "userSourcedId", "schoolSourcedId", "role")))
    for c in ("beginDate", "endDate"):
        if c not in frame.columns:
            frame[c] = None
    keep = ((frame["role"].str.lower() == "student").to_numpy(dtype=bool, na_value=False)
            & frame["beginDate"].notna().to_numpy())
    frame = frame.loc[keep].assign(_row=rows[keep])
    out = pd.DataFrame({"student_id": frame["userSourcedId"].map(student_of).fillna(frame["userSourcedId"]),
                        "school_id": frame["schoolSourcedId"].map(lookup).fillna(frame["schoolSourcedId"]),
                        "entry_date": frame["beginDate"], "exit_date": frame["endDate"], "_row": frame["_row"]})
    # ISO dates (OneRoster requires them) sort as text
    g = out.groupby(["student_id", "school_id"], sort=False)
    spans = g.agg(entry_date=("entry_date", "min"), exit_date=("exit_date", "max"), _row=("_row", "min"),
                  open_=("exit_date", lambda s: s.isna().any())).reset_index()
    spans["exit_date"] = spans["exit_date"].where(~spans.pop("open_").to_numpy(dtype=bool), None)
    return spans.astype({"student_id": "object", "school_id": "object", "entry_date": "object",
                         "exit_date": "object"})
