"""Validated import of district exports through a column map, and re-validation of a DATA_DIR.

``partner-analysis import SOURCE --map map.yml --out DATA_DIR`` reads the CSV,
XLSX or parquet files a YAML *column map* names, renames and recodes their
columns into the tables of :mod:`partner_analysis.data.schema`, checks every
value, and writes ``DATA_DIR`` only when everything is valid (atomically, via
:func:`~partner_analysis.data.dataset.write_dataset`).

The column map
--------------
.. code-block:: yaml

    config: district.yml            # optional, relative to the map
    include: [other_map.yml]        # optional: tables of other maps, appended
    tables:
      - table: students             # one entry per source file; entries for one table are stacked
        file: students.csv          # relative to SOURCE (csv, xlsx/xls, parquet)
        delimiter: ","              # csv only (default ","); encoding (default utf-8, BOM tolerated)
        sheet: Students             # xlsx only (default: the first sheet)
        columns: {student_id: "Student Number", school_id: "School Code", grade_level: Grade}
        recode: {frl: {Y: true, N: false}}      # per canonical column, source value -> value
        constants: {term_id: "2025-26-Q1"}      # columns the export lacks
        derive:                                  # computed columns
          student_id: {row_id: {prefix: "M", width: 4}}   # generated IDs: M0001, M0002, ...
          course_key: {template: "{school_id}-{Course}"}  # canonical columns or source headers
          credits_earned: {if_passed: mark, then: 1, else: 0}  # on the district grade scale
        where: {schoolsup: "yes"}       # keep only rows whose source column has this value (or list)
        date_format: "%m/%d/%Y"         # or {column: format}; ISO dates are always accepted
        na_values: ["", "NULL"]         # cells read as missing (default: empty cells only)
        extra: {age: age}               # non-schema columns kept as strings
        identity: [school_id, gender, age]   # attributes for possible-duplicate detection
        min_identity: 3

``tables`` may also be a mapping ``{table: entry}`` or ``{table: [entry, ...]}``.
A table may come from inline ``rows: [{...}, ...]`` instead of a ``file``.
Unknown source columns are ignored. Every cell is read as text (``dtype=str``),
so identifiers keep their leading zeros. YAML in maps is read with YAML 1.2
rules: ``yes``/``no`` and ``0042`` stay strings.

Checks
------
Required columns, types (int, float, bool, date, category choices), missing
values, column ranges from the schema, unique keys (exact duplicates dropped,
conflicting ones reported with both rows), ``days_absent <= days_enrolled``,
``term_id`` known to the district config, daily dates inside a configured
term, ``end_date >= start_date``, marks on the configured grade scale,
engagement scores within ``thresholds.engagement_scale``, and referential
integrity (students -> schools, programs -> partners, participation and
wbl_hours -> students and programs, attendance, course grades and engagement
-> students). Every problem becomes an :class:`InputDataError` naming file,
row (header = row 1), column, value and the fix; all problems of one run
(up to :data:`MAX_ERRORS`) are raised together as one
:class:`ImportValidationError`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..config import DistrictConfig, load_config
from ..exceptions import InputDataError
from . import dedupe
from .colmap import ColumnMap, SourceSpec, read_map
from .dataset import check_replaceable, read_dataset, staging_dir, write_dataset
from .readers import assemble
from .stream import StreamedTable, StreamOptions, storage_frame, stream_table, streamed_tables
from .schema import IMPORT_ORDER, TABLES
from . import attendance as attendance_mod
from . import quality
from .validate import (MAX_ERRORS, ImportValidationError, ProblemList, TableFrame, check_references, check_table,
                       validate_tables)

__all__ = ["ColumnMap", "SourceSpec", "ImportResult", "ValidationResult", "ImportValidationError",
           "read_map", "import_source", "finish_import", "validate_dataset", "validate_tables", "MAX_ERRORS"]

POSSIBLE_DUPLICATES_FILE = "possible_duplicates.csv"


# -- results -------------------------------------------------------------------------------------

def _table_lines(rows: Mapping[str, int], dropped: Mapping[str, int] | None = None) -> list[str]:
    width = max([len(n) for n in rows] + [5])
    lines = [f"  {'table':<{width}}  {'rows':>10}" + ("  dropped exact duplicates" if dropped is not None else "")]
    for name, n in rows.items():
        line = f"  {name:<{width}}  {n:>10,}"
        if dropped is not None:
            line += f"  {dropped.get(name, 0):>10,}"
        lines.append(line)
    return lines


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote. ``report()`` is the summary the CLI prints (no student-level data)."""

    out: Path
    rows: Mapping[str, int]
    dropped_duplicates: Mapping[str, int]
    warnings: tuple[str, ...] = ()
    possible_duplicates_path: Path | None = None
    possible_duplicate_groups: int = 0
    possible_duplicate_records: int = 0
    map_path: str | None = None
    config_source: str | None = None
    #: the data-quality page the import wrote (partner_analysis.data.quality)
    quality_path: Path | None = None

    def report(self) -> str:
        lines = [f"Imported {len(self.rows)} tables into {self.out} (map: {self.map_path}; "
                 f"config: {self.config_source or 'embedded default'})"]
        lines += _table_lines(self.rows, self.dropped_duplicates)
        total = sum(self.dropped_duplicates.values())
        lines.append(f"Dropped {total:,} exact duplicate row(s).")
        if self.possible_duplicates_path is not None:
            lines.append(f"Possible duplicates: {self.possible_duplicate_groups:,} group(s), "
                         f"{self.possible_duplicate_records:,} record(s) with different IDs but identical "
                         f"attributes, written to {self.possible_duplicates_path} for review "
                         "(holds IDs: keep it inside the district).")
        else:
            lines.append("Possible duplicates: none found.")
        if self.quality_path is not None:
            lines.append(f"Data-quality profile: {self.quality_path} (and quality.csv beside it); read it before "
                         "trusting the KPIs.")
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class ValidationResult:
    """A DATA_DIR that passed every check."""

    path: Path
    rows: Mapping[str, int]
    warnings: tuple[str, ...] = ()
    possible_duplicate_groups: int = 0
    possible_duplicate_records: int = 0

    @property
    def ok(self) -> bool:
        return True

    def report(self) -> str:
        lines = [f"{self.path}: valid ({len(self.rows)} tables)"]
        lines += _table_lines(self.rows)
        if self.possible_duplicate_groups:
            lines.append(f"Possible duplicates: {self.possible_duplicate_groups:,} group(s), "
                         f"{self.possible_duplicate_records:,} record(s) with different IDs but identical "
                         "attributes (see possible_duplicates.csv if the import wrote one).")
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


# -- public entry points ---------------------------------------------------------------------------

def _resolve_config(config: Any, map_: ColumnMap | None) -> DistrictConfig:
    if isinstance(config, DistrictConfig):
        return config
    if config is not None:
        return load_config(config)
    if map_ is not None and map_.config_path is not None:
        return load_config(map_.config_path)
    return load_config()


def _schools_from_config(config: DistrictConfig) -> pd.DataFrame:
    return pd.DataFrame({"school_id": [s.school_id for s in config.schools],
                         "name": [s.name for s in config.schools],
                         "level": [s.level for s in config.schools]}, dtype="object")


def _possible_duplicates(t: TableFrame) -> pd.DataFrame:
    spec = TABLES[t.name]
    identity = t.identity if t.identity is not None else spec.identity
    if not identity or t.frame is None:
        return pd.DataFrame()
    return dedupe.possible_duplicates(t.frame, id_column=spec.key[0], identity=identity,
                                      min_identity=t.min_identity)


def import_source(source: str | Path, *, map_path: str | Path, out: str | Path,
                  config: DistrictConfig | str | Path | None = None,
                  stream: StreamOptions | None = StreamOptions()) -> ImportResult:
    """Read, map, validate and (only if everything is valid) write a district dataset.

    Parameters
    ----------
    source : path
        Folder holding the exports named in the map (or one export file).
    map_path : path
        Column map YAML (module docstring; ``examples/sis_csv/map.yml``).
    out : path
        DATA_DIR to write. Its imported files are replaced atomically; the records store in it
        (``records/``, ``records.sqlite*``) is kept; untouched when anything fails.
    config : DistrictConfig or path, optional
        District config; default the map's ``config:``, else the embedded default.
    stream : StreamOptions or None
        A table with a CSV file of at least ``stream.above`` bytes (default 64 MiB) is validated in
        chunks and written as a partitioned parquet folder without holding the file in memory
        (:mod:`partner_analysis.data.stream`); None reads every file whole.

    Returns
    -------
    ImportResult
        Rows per table, dropped exact duplicates, warnings, possible duplicates.

    Raises
    ------
    ImportValidationError (an InputDataError)
        Every problem found (up to :data:`MAX_ERRORS`), each naming file, row,
        column, value and the fix. Nothing is written.
    ConfigError
        The district config is invalid.
    InputDataError
        ``out`` holds files an import did not write (see
        :func:`~partner_analysis.data.dataset.check_replaceable`).
    """
    source = Path(source)
    map_ = read_map(map_path)
    check_replaceable(out)  # refuse at once, before minutes of reading, a DATA_DIR holding foreign files
    cfg = _resolve_config(config, map_)
    if not source.exists():
        raise InputDataError("source folder not found", path=source, fix="Pass the folder holding the exports")
    streamed = streamed_tables(map_, source, stream)
    tables, errors = assemble(map_, source, cfg.grade_scale, skip_tables=streamed)
    staging = staging_dir(out) if streamed else None
    try:
        return finish_import(tables, errors, cfg, out, mapped=map_.tables, map_path=map_.path,
                             attendance=map_.attendance_mode, default_enrolment=map_.default_enrolment,
                             streaming=Streaming(map_, source, streamed, staging, stream) if streamed else None)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class Streaming:
    """The tables of one import read in chunks (:mod:`partner_analysis.data.stream`) and where they are staged."""

    map: ColumnMap
    source: Path
    tables: set[str]
    staging: Path
    options: StreamOptions | None


def finish_import(tables: dict[str, TableFrame], errors: ProblemList, cfg: DistrictConfig, out: str | Path, *,
                  mapped: tuple[str, ...], map_path: str, attendance: str = "daily_positive",
                  default_enrolment: str = "none", streaming: Streaming | None = None) -> ImportResult:
    """Validate assembled tables, derive what the attendance mode needs, and write DATA_DIR atomically.

    The common tail of every import (SIS column map, OneRoster, Ed-Fi): ``tables`` hold the text frames
    read from the sources, ``errors`` the problems met while reading them. Exceptions-only attendance is
    turned into ``attendance_terms`` here (:func:`partner_analysis.data.attendance.summarise_exceptions`);
    a declared default enrolment becomes ``enrollment`` rows. Tables named in ``streaming`` are validated
    chunk by chunk after the whole-file tables (they may refer to them) and staged as parquet folders;
    they are not part of the coverage checks or the quality profile, which need the whole table.

    Raises
    ------
    ImportValidationError
        Every problem found; nothing is written.
    """
    if "schools" not in tables and "schools" not in mapped:
        frame = _schools_from_config(cfg)
        tables["schools"] = TableFrame("schools", frame, [f"{cfg.source or 'district config'} (schools:)"], [None], [{}])
    for name in IMPORT_ORDER:
        if name in tables:
            check_table(tables[name], cfg, errors, drop_exact=True)
    check_references(tables, errors, mapped=mapped)
    done: dict[str, StreamedTable] = {}
    if streaming is not None:
        for name in IMPORT_ORDER:
            if name in streaming.tables:
                result = stream_table(name, [s for s in streaming.map.sources if s.table == name], streaming.source,
                                      cfg, tables, errors, streaming.staging, mapped=mapped, options=streaming.options)
                if result is not None:
                    done[name] = result
    errors.raise_if_any(f"the import ({map_path})")
    typed = {n: t.frame for n, t in tables.items() if t.frame is not None}
    problems = attendance_mod.check_coverage(typed, cfg, mode=attendance, default_enrolment_rule=default_enrolment,
                                             paths={n: t.files[0] for n, t in tables.items() if t.files},
                                             map_path=map_path)
    for p in problems:
        errors.add(p)
    errors.raise_if_any(f"the import ({map_path})")
    warnings: list[str] = []
    if attendance == "exceptions_only":
        warnings += _derive_exception_summaries(tables, cfg, default_enrolment)
    if "schools" in tables and tables["schools"].frame is not None and cfg.schools:
        unlisted = sorted(set(tables["schools"].frame["school_id"].dropna()) - set(cfg.school_ids))
        if unlisted:
            warnings.append(f"schools: {len(unlisted)} imported school(s) are not listed in the district config "
                            f"({', '.join(unlisted[:5])}{', ...' if len(unlisted) > 5 else ''}); add them to "
                            "district.yml `schools:` so reports can name them")
    extra_files: dict[str, bytes] = {}
    groups = records = 0
    frames = []
    for name in IMPORT_ORDER:
        t = tables.get(name)
        if t is None:
            continue
        pd_ = _possible_duplicates(t)
        if len(pd_):
            pd_ = pd_.copy()
            pd_.insert(0, "table", name)
            pd_["file"] = [t.files[int(c)] for c in pd_["_src"]] if "_src" in pd_ else t.files[0]
            pd_ = pd_.rename(columns={"_row": "row"}).drop(columns=["_src"], errors="ignore")
            frames.append(pd_)
            g = int(pd_["group"].max())
            groups += g
            records += len(pd_)
            warnings.append(f"{name}: {g:,} group(s) of records with different IDs but identical "
                            f"{', '.join(t.identity or TABLES[name].identity)}")
        if t.frame is not None and len(t.frame) == 0:
            warnings.append(f"{name}: no rows")
    warnings += [f"{name}: no rows" for name, st in done.items() if st.rows == 0]
    if frames:
        extra_files[POSSIBLE_DUPLICATES_FILE] = pd.concat(frames, ignore_index=True).to_csv(index=False).encode()
    clean = {name: storage_frame(name, t.frame) for name, t in tables.items()}
    possible = pd.concat(frames, ignore_index=True) if frames else None
    if done:  # a profile without the streamed tables would call their KPIs impossible: say so instead
        warnings.append(f"no data-quality page: {', '.join(sorted(done))} were imported in chunks and a profile "
                        "reads every table whole; run `partner-analysis quality DATA_DIR` on a machine with the "
                        "memory for it")
    else:
        extra_files.update(quality.quality_files(quality.profile_tables(clean, cfg, possible_duplicates=possible,
                                                                        mode=attendance)))
    out = write_dataset(clean, cfg, out, extra_files=extra_files, staged={n: st.path for n, st in done.items()})
    rows = {n: len(clean[n]) if n in clean else done[n].rows for n in IMPORT_ORDER if n in clean or n in done}
    dropped = {n: tables[n].dropped if n in tables else done[n].dropped for n in IMPORT_ORDER
               if n in tables or n in done}
    return ImportResult(out=out, rows=rows, dropped_duplicates=dropped,
                        warnings=tuple(warnings),
                        possible_duplicates_path=(out / POSSIBLE_DUPLICATES_FILE) if frames else None,
                        possible_duplicate_groups=groups, possible_duplicate_records=records,
                        map_path=map_path, config_source=cfg.source,
                        quality_path=None if done else out / "quality.html")


def _derive_exception_summaries(tables: dict[str, TableFrame], cfg: DistrictConfig,
                                default_enrolment: str) -> list[str]:
    """Exceptions-only attendance -> enrolment (default rule) and ``attendance_terms`` (new TableFrames)."""
    events = tables["attendance_events"].frame if "attendance_events" in tables else None
    if events is None:
        return []
    students = tables["students"].frame if "students" in tables else None
    days = tables["school_days"].frame if "school_days" in tables else None
    sessions = tables["school_sessions"].frame if "school_sessions" in tables else None
    warnings = []
    if "enrollment" not in tables and default_enrolment == "whole_session":
        spans = attendance_mod.default_enrolment(events, students, cfg, school_days=days, school_sessions=sessions)
        tables["enrollment"] = TableFrame("enrollment", spans, ["default_enrolment: whole_session"], [None], [{}])
        warnings.append(f"enrollment: {len(spans):,} span(s) from the default enrolment (every student with an "
                        "event at a school enrolled there for the whole session)")
    summary = attendance_mod.summarise_exceptions(events, tables["enrollment"].frame, cfg, school_days=days,
                                                  school_sessions=sessions)
    given = tables.get("attendance_terms")
    if given is not None and given.frame is not None and len(given.frame):
        have = pd.MultiIndex.from_frame(given.frame[["student_id", "term_id"]].astype(str))
        new = ~pd.MultiIndex.from_frame(summary[["student_id", "term_id"]]).isin(have)
        merged = pd.concat([given.frame.drop(columns=["_src", "_row"], errors="ignore"), summary[new]],
                           ignore_index=True)
        given.frame = merged
    else:
        tables["attendance_terms"] = TableFrame("attendance_terms", summary,
                                                ["attendance_events (exceptions only)"], [None], [{}])
    return warnings


def validate_dataset(path: str | Path) -> ValidationResult:
    """Re-run every import check on a DATA_DIR (parquet tables + district.yml).

    Raises
    ------
    ImportValidationError (an InputDataError)
        Every problem found, naming the parquet file, row (first record = row 2),
        column and value.
    """
    path = Path(path)
    ds = read_dataset(path)
    paths = {name: str(path / f"{name}.parquet") for name in ds.tables}
    tables = dict(ds.tables)
    if "schools" not in tables:
        tables["schools"] = _schools_from_config(ds.config)
        paths["schools"] = f"{path / 'district.yml'} (schools:)"
    validate_tables(tables, ds.config, paths=paths, context=str(path))
    groups = records = 0
    warnings = []
    for name, frame in tables.items():
        spec = TABLES.get(name)
        if spec is None or not spec.identity:
            continue
        found = dedupe.possible_duplicates(frame, id_column=spec.key[0], identity=spec.identity)
        if len(found):
            groups += int(found["group"].max())
            records += len(found)
            warnings.append(f"{name}: {int(found['group'].max()):,} group(s) of records with different IDs but "
                            f"identical {', '.join(spec.identity)}")
    return ValidationResult(path=path, rows={n: len(f) for n, f in ds.tables.items()}, warnings=tuple(warnings),
                            possible_duplicate_groups=groups, possible_duplicate_records=records)
