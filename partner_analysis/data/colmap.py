"""The column map: a YAML file saying how district exports become the tables of :mod:`.schema`.

The format is described in :mod:`partner_analysis.data.load`. :func:`read_map` parses and checks
a map (with the bounded reader of :mod:`partner_analysis.safeyaml`); every problem is an
:class:`~partner_analysis.exceptions.InputDataError` naming the map file, the line (as ``row``)
and the key (as ``column``). OneRoster entries (``- oneroster: EXPORT``) become a ``schools`` and
a ``students`` source read by :mod:`partner_analysis.data.oneroster`.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from ..exceptions import InputDataError, did_you_mean
from ..safeyaml import read_yaml
from .attendance import ATTENDANCE_MODES, DEFAULT_ENROLMENTS
from .schema import FALSE_TEXT, TABLES, TRUE_TEXT, ColumnSpec

__all__ = ["SourceSpec", "ColumnMap", "read_map", "as_text", "ENTRY_KEYS", "MAP_KEYS"]

ENTRY_KEYS = {"table", "file", "rows", "format", "delimiter", "encoding", "sheet", "columns", "recode",
              "constants", "derive", "where", "date_format", "na_values", "extra", "identity", "min_identity"}
MAP_KEYS = {"config", "include", "tables", "description", "attendance", "default_enrolment"}


class _LineDict(dict):
    """A YAML mapping that remembers the line of each key (for error messages)."""

    line: int = 0
    key_lines: dict


class _MapLoader(yaml.SafeLoader):
    pass


# YAML 1.1 reads yes/no/on/off as booleans and 0042 as an octal number; both break
# column maps (recode keys "Y"/"N", school "0101"), so maps use YAML 1.2 rules.
_MapLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_MapLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
_MapLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                                 list("-+0123456789"))


def _construct_map(loader, node):
    data = _LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


_MapLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _line(mapping: Any, key: Any = None) -> int | None:
    if isinstance(mapping, _LineDict):
        if key is not None and key in mapping.key_lines:
            return mapping.key_lines[key]
        return mapping.line
    return None


def _map_error(problem: str, *, path, mapping=None, key=None, column=None, value=None, fix=None):
    """A problem in the column map: row is the YAML line, column the map key."""
    return InputDataError(problem, path=path, row=_line(mapping, key), column=column if column else key,
                          value=value, fix=fix)


@dataclass(frozen=True)
class SourceSpec:
    """One entry of a column map: how one source file becomes (part of) one table."""

    table: str
    file: str | None = None
    rows: tuple | None = None
    format: str = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    sheet: str | int | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    recode: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    derive: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    where: Mapping[str, Any] = field(default_factory=dict)
    date_format: Any = None
    na_values: tuple[str, ...] = ("",)
    extra: Mapping[str, str] = field(default_factory=dict)
    identity: tuple[str, ...] | None = None
    min_identity: int | None = None
    map_path: str | None = None
    line: int | None = None
    #: no `columns:` given: file headers that equal schema column names are taken as they are
    auto_columns: bool = False

    @property
    def canonical_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.columns, *self.constants, *self.derive, *self.extra]))


@dataclass(frozen=True)
class ColumnMap:
    """A parsed column map (see the module docstring for the YAML format)."""

    path: str
    sources: tuple[SourceSpec, ...]
    config_path: str | None = None
    #: ``attendance:`` as declared (None = inferred by :attr:`attendance_mode`)
    attendance: str | None = None
    #: ``default_enrolment:`` none | whole_session (see partner_analysis.data.attendance)
    default_enrolment: str = "none"

    @property
    def attendance_mode(self) -> str:
        """The declared attendance mode, else inferred: events -> exceptions_only, summaries only ->
        term_summaries, else daily_positive."""
        if self.attendance is not None:
            return self.attendance
        tables = set(self.tables)
        if "attendance_events" in tables:
            return "exceptions_only"
        if "attendance_terms" in tables and "attendance_daily" not in tables:
            return "term_summaries"
        return "daily_positive"

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.table for s in self.sources))


def _load_yaml(path: Path):
    return read_yaml(path, missing="column map not found", error=InputDataError, loader=_MapLoader,
                     fix="Pass the path of a map YAML with --map (see examples/sis_csv/map.yml)")


def read_map(path: str | Path, *, _seen: tuple = ()) -> ColumnMap:
    """Read and check a column map YAML.

    Raises
    ------
    InputDataError
        Naming the map file, the line (as ``row``) and the key (as ``column``):
        malformed YAML, unknown tables, unknown canonical columns, unknown keys,
        recode targets the column cannot hold.
    """
    path = Path(path)
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise _map_error("the map must be a YAML mapping with a 'tables' key", path=path, mapping=raw,
                         fix="Start the file with `tables:` (see examples/sis_csv/map.yml)")
    for key in raw:
        # `x-...` keys hold YAML anchors shared by entries (as in docker-compose files)
        if key not in MAP_KEYS and not str(key).startswith("x-"):
            raise _map_error(f"unknown key {key!r}", path=path, mapping=raw, key=key, value=key,
                             fix=f"{did_you_mean(key, MAP_KEYS)}Use only {sorted(MAP_KEYS)}")
    config_path = raw.get("config")
    if config_path is not None:
        config_path = str((path.parent / str(config_path)))
    sources: list[SourceSpec] = []
    include = raw.get("include") or []
    if isinstance(include, str):
        include = [include]
    for inc in include:
        inc_path = path.parent / str(inc)
        if inc_path.resolve() in _seen or inc_path.resolve() == path.resolve():
            raise _map_error("the map includes itself", path=path, mapping=raw, key="include", value=str(inc),
                             fix="Remove the circular include")
        sub = read_map(inc_path, _seen=(*_seen, path.resolve()))
        sources.extend(sub.sources)
        if config_path is None:
            config_path = sub.config_path
    tables = raw.get("tables")
    entries: list[tuple[Any, str | None]] = []
    if isinstance(tables, dict):
        for tname, value in tables.items():
            for entry in (value if isinstance(value, list) else [value]):
                entries.append((entry, str(tname)))
    elif isinstance(tables, list):
        entries = [(e, None) for e in tables]
    elif tables is None and sources:
        entries = []
    else:
        raise _map_error("'tables' must be a list of entries (or a mapping table: entry)", path=path, mapping=raw,
                         key="tables", fix="See examples/sis_csv/map.yml")
    for entry, tname in entries:
        # `oneroster: EXPORT` supplies schools and students (read by data/oneroster.py)
        oneroster = _oneroster_sources(entry, tname, path)
        sources.extend(oneroster if oneroster is not None else [_parse_entry(entry, tname, path)])
    if not sources:
        raise _map_error("the map lists no tables", path=path, mapping=raw, key="tables",
                         fix="Add at least one entry under `tables:`")
    attendance = raw.get("attendance")
    if attendance is not None and attendance not in ATTENDANCE_MODES:
        raise _map_error(f"unknown attendance mode {attendance!r}", path=path, mapping=raw, key="attendance",
                         value=attendance, fix=f"{did_you_mean(attendance, ATTENDANCE_MODES)}Use one of "
                                               f"{list(ATTENDANCE_MODES)}")
    default_enrolment = str(raw.get("default_enrolment", "none"))
    if default_enrolment not in DEFAULT_ENROLMENTS:
        raise _map_error(f"unknown default_enrolment {default_enrolment!r}", path=path, mapping=raw,
                         key="default_enrolment", value=default_enrolment,
                         fix=f"Use one of {list(DEFAULT_ENROLMENTS)}")
    return ColumnMap(path=str(path), sources=tuple(sources), config_path=config_path,
                     attendance=None if attendance is None else str(attendance),
                     default_enrolment=default_enrolment)


def _parse_entry(entry: Any, tname: str | None, path: Path) -> SourceSpec:
    if not isinstance(entry, dict):
        raise _map_error(f"each table entry must be a mapping, found {entry!r}", path=path, column="tables",
                         value=entry, fix="Write `- table: students` followed by `file:` and `columns:`")
    for key in entry:
        if key not in ENTRY_KEYS:
            raise _map_error(f"unknown key {key!r} in a table entry", path=path, mapping=entry, key=key,
                             value=key, fix=f"{did_you_mean(key, ENTRY_KEYS)}Use only {sorted(ENTRY_KEYS)}")
    table = tname or entry.get("table")
    if table not in TABLES:
        raise _map_error(f"unknown table {table!r}", path=path, mapping=entry, key="table", value=table,
                         fix=f"{did_you_mean(table, TABLES)}Use one of {list(TABLES)}")
    spec = TABLES[table]
    if entry.get("file") is None and entry.get("rows") is None:
        raise _map_error(f"table {table!r}: no 'file' (or inline 'rows')", path=path, mapping=entry, key="table",
                         value=table, fix="Add `file: <name of the export, relative to SOURCE>`")
    sections = {}
    for key in ("columns", "recode", "constants", "derive", "where", "extra"):
        value = entry.get(key) or {}
        if not isinstance(value, dict):
            raise _map_error(f"'{key}' must be a mapping", path=path, mapping=entry, key=key, value=value,
                             fix=f"Write `{key}: {{canonical_column: ...}}`")
        sections[key] = value
    known = set(spec.column_names) | set(sections["extra"])
    for key in ("columns", "recode", "constants", "derive"):
        for col in sections[key]:
            if col not in known:
                raise _map_error(f"table {table!r} has no column {col!r}", path=path, mapping=sections[key],
                                 key=col, value=col,
                                 fix=f"Use one of {list(spec.column_names)} (or list it under `extra:`)")
    for col in sections["extra"]:
        if col in spec.column_names:
            raise _map_error(f"{col!r} is a schema column of {table!r}; map it under `columns:`", path=path,
                             mapping=sections["extra"], key=col, value=col, fix="Move it to `columns:`")
    for col, rule in sections["derive"].items():
        kinds = set(rule) if isinstance(rule, dict) else set()
        if len(kinds & {"row_id", "template", "if_passed"}) != 1:
            raise _map_error(f"derive rule for {col!r} must have exactly one of row_id, template, if_passed",
                             path=path, mapping=sections["derive"], key=col, value=rule,
                             fix="e.g. `student_id: {row_id: {prefix: M, width: 4}}`")
    for col, mapping in sections["recode"].items():
        if not isinstance(mapping, dict):
            raise _map_error(f"recode for {col!r} must map source values to values", path=path,
                             mapping=sections["recode"], key=col, value=mapping, fix="Write `{col}: {{P: present}}`")
        _check_recode_targets(spec.column(col) if col in spec.column_names else None, mapping, path=path)
    fmt = entry.get("format")
    file = entry.get("file")
    if fmt is None:
        suffix = Path(str(file)).suffix.lower() if file else ".rows"
        fmt = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx",
               ".parquet": "parquet", ".pq": "parquet", ".rows": "rows"}.get(suffix, "csv")
    if fmt not in ("csv", "xlsx", "parquet", "rows"):
        raise _map_error(f"unknown format {fmt!r}", path=path, mapping=entry, key="format", value=fmt,
                         fix="Use csv, xlsx or parquet")
    rows = entry.get("rows")
    if rows is not None and (not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows)):
        raise _map_error("'rows' must be a list of mappings", path=path, mapping=entry, key="rows",
                         fix="Write `rows: [{partner_id: P01, name: ...}]`")
    auto = not sections["columns"]
    if rows is not None and auto:
        # inline rows are written in canonical names already
        keys = list(dict.fromkeys(k for r in rows for k in r))
        for k in keys:
            if k not in known:
                raise _map_error(f"table {table!r} has no column {k!r}", path=path, mapping=entry, key="rows",
                                 column=k, value=k, fix=f"Use the column names {list(spec.column_names)}")
        sections["columns"] = {k: k for k in keys}
        auto = False
    delimiter = entry.get("delimiter", "\t" if str(file or "").lower().endswith(".tsv") else ",")
    na = entry.get("na_values", [""])
    identity = entry.get("identity")
    return SourceSpec(
        table=table, file=None if file is None else str(file),
        rows=None if rows is None else tuple(dict(r) for r in rows), format=fmt,
        delimiter=str(delimiter), encoding=str(entry.get("encoding", "utf-8")), sheet=entry.get("sheet"),
        columns={str(k): str(v) for k, v in sections["columns"].items()},
        recode={str(k): {str(a) if not isinstance(a, bool) else str(a).lower(): b for a, b in v.items()}
                for k, v in sections["recode"].items()},
        constants=dict(sections["constants"]), derive=dict(sections["derive"]), where=dict(sections["where"]),
        date_format=entry.get("date_format"), na_values=tuple(str(x) for x in (na if isinstance(na, list) else [na])),
        extra={str(k): str(v) for k, v in sections["extra"].items()},
        identity=None if identity is None else tuple(str(x) for x in identity),
        min_identity=entry.get("min_identity"), map_path=str(path), line=_line(entry), auto_columns=auto)


def _check_recode_targets(col: ColumnSpec | None, mapping: dict, *, path: Path) -> None:
    if col is None:
        return
    for src, target in mapping.items():
        if target is None:
            continue
        text = as_text(target)
        ok = True
        if col.kind == "bool":
            ok = text.lower() in TRUE_TEXT + FALSE_TEXT
        elif col.kind == "category":
            ok = col.choices is None or text in col.choices
        elif col.kind in ("int", "float"):
            ok = pd.notna(pd.to_numeric(pd.Series([text]), errors="coerce").iloc[0])
        if not ok:
            allowed = {"bool": "true or false", "int": "a number", "float": "a number"}.get(
                col.kind, f"one of {list(col.choices or ())}")
            raise _map_error(f"recode target {target!r} for {src!r} is not a valid {col.name}", path=path,
                             mapping=mapping, key=src, column=col.name, value=target,
                             fix=f"Recode to {allowed}")


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


# -- OneRoster entries ----------------------------------------------------------------------------------

_ONEROSTER_KEYS = {"oneroster", "format", "file", "enrolment"}
#: canonical column -> OneRoster header, for the import's messages
_ONEROSTER_HEADERS = {"schools": {"school_id": "identifier", "name": "name"},
            "students": {"student_id": "identifier", "school_id": "orgSourcedIds", "grade_level": "grades"},
            "enrollment": {"student_id": "userSourcedId", "school_id": "schoolSourcedId", "entry_date": "beginDate",
                           "exit_date": "endDate"}}


def _oneroster_sources(entry: Any, tname: str | None, map_path: Path) -> list[SourceSpec] | None:
    """The sources a OneRoster map entry stands for, or None when ``entry`` is not one.

    ``- oneroster: EXPORT``, ``- {format: oneroster, file: EXPORT}`` and
    ``tables: {oneroster: EXPORT}`` each become a ``schools`` and a
    ``students`` source reading EXPORT (relative to SOURCE).
    """
    is_dict = isinstance(entry, dict)
    if not (tname == "oneroster" or (is_dict and ("oneroster" in entry or entry.get("format") == "oneroster"))):
        return None
    line = getattr(entry, "line", None)
    if not is_dict:
        entry = {"oneroster": entry}
    for key in entry:
        if key not in _ONEROSTER_KEYS:
            raise InputDataError(f"unknown key {key!r} in a OneRoster entry", path=map_path,
                                 row=getattr(entry, "key_lines", {}).get(key, line), column=key, value=key,
                                 fix="A OneRoster entry is `- oneroster: <export folder or .zip>`; the map's other "
                                     "entries supply the tables OneRoster lacks")
    export = entry.get("oneroster", entry.get("file"))
    if not isinstance(export, str) or not export.strip() or entry.get("format", "oneroster") != "oneroster":
        raise InputDataError("a OneRoster entry needs the export's folder or .zip", path=map_path, row=line,
                             column="oneroster", value=export,
                             fix="Write `- oneroster: oneroster_export.zip` (relative to SOURCE)")
    enrolment = entry.get("enrolment", False)
    if not isinstance(enrolment, bool):
        raise InputDataError("`enrolment` of a OneRoster entry must be true or false", path=map_path, row=line,
                             column="enrolment", value=enrolment,
                             fix="Write `enrolment: true` to take enrolment spans from enrollments.csv")
    tables = ("schools", "students", "enrollment") if enrolment else ("schools", "students")
    return [SourceSpec(table=t, file=export.strip(), format="oneroster", columns=_ONEROSTER_HEADERS[t],
                       map_path=str(map_path), line=line) for t in tables]
