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

import dataclasses
import datetime as dt
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from ..config import DistrictConfig, load_config
from ..exceptions import InputDataError
from . import dedupe
from .dataset import coerce_table, read_dataset, write_dataset
from .schema import IMPORT_ORDER, TABLES, ColumnSpec, TableSpec

__all__ = ["ColumnMap", "SourceSpec", "ImportResult", "ValidationResult", "ImportValidationError",
           "read_map", "import_source", "validate_dataset", "validate_tables", "MAX_ERRORS"]

#: At most this many problems are listed; the message says how many more there were.
MAX_ERRORS = 50
POSSIBLE_DUPLICATES_FILE = "possible_duplicates.csv"

_ENTRY_KEYS = {"table", "file", "rows", "format", "delimiter", "encoding", "sheet", "columns", "recode",
               "constants", "derive", "where", "date_format", "na_values", "extra", "identity", "min_identity"}
_MAP_KEYS = {"config", "include", "tables", "description"}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


# -- errors --------------------------------------------------------------------------------------

class ImportValidationError(InputDataError):
    """All problems of one import (or validate) run, raised together.

    The location attributes (``path``, ``row``, ``column``, ``value``, ``fix``)
    are those of the first problem; ``errors`` holds every problem (up to
    :data:`MAX_ERRORS`) and ``n_errors`` how many were found in total. With a
    single problem the message is that problem's one-line message.
    """

    def __init__(self, errors: Sequence[InputDataError], *, n_errors: int | None = None,
                 context: str = "the import"):
        errors = list(errors)
        first = errors[0]
        self.errors = errors
        self.n_errors = len(errors) if n_errors is None else int(n_errors)
        self.problem = first.problem
        self.path, self.row, self.column = first.path, first.row, first.column
        self.value, self.fix, self.sheet = first.value, first.fix, first.sheet
        if self.n_errors == 1:
            msg = str(first)
        else:
            written = "; nothing was written" if context.startswith("the import") else ""
            lines = [f"{self.n_errors} problems found in {context}{written}. Fix them all and re-run:"]
            lines += [f"  - {e}" for e in errors]
            if self.n_errors > len(errors):
                lines.append(f"  ... and {self.n_errors - len(errors)} more of the same kinds")
            msg = "\n".join(lines)
        Exception.__init__(self, msg)


class _Errors:
    """Collects problems up to a cap and counts all of them."""

    def __init__(self, cap: int = MAX_ERRORS):
        self.cap = cap
        self.items: list[InputDataError] = []
        self.total = 0

    def add(self, err: InputDataError) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(err)

    def add_rows(self, table: "_Table", positions: np.ndarray, column: str | None, problem, fix: str,
                 values: pd.Series | None = None) -> None:
        """One error per failing row; ``problem`` is a str or a callable(value) -> str."""
        positions = np.asarray(positions)
        room = max(self.cap - len(self.items), 0)
        self.total += len(positions) - min(room, len(positions))
        for pos in positions[:room]:
            value = None
            if values is not None:
                value = values.iloc[pos]
            elif column is not None and column in table.frame.columns:
                value = table.raw_value(pos, column)
            path, sheet, row = table.locate(int(pos))
            text = problem(value) if callable(problem) else problem
            self.add(InputDataError(text, path=path, row=row, column=table.source_column(pos, column),
                                    value=_plain(value), fix=fix, sheet=sheet))

    def raise_if_any(self, context: str) -> None:
        if self.items:
            raise ImportValidationError(self.items, n_errors=self.total, context=context)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- the column map ------------------------------------------------------------------------------

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

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.table for s in self.sources))


def _load_yaml(path: Path):
    if not path.exists():
        raise InputDataError("column map not found", path=path, fix="Pass the path of a map YAML with --map "
                             "(see examples/sis_csv/map.yml)")
    try:
        return yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_MapLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputDataError(f"not valid YAML: {getattr(err, 'problem', None) or err}", path=path,
                             row=None if mark is None else mark.line + 1,
                             column=None if mark is None else f"character {mark.column + 1}",
                             fix="Correct the YAML syntax (indentation, colons, quotes) at that line") from None


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
        if key not in _MAP_KEYS and not str(key).startswith("x-"):
            raise _map_error(f"unknown key {key!r}", path=path, mapping=raw, key=key, value=key,
                             fix=f"Use only {sorted(_MAP_KEYS)}")
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
        # -- OneRoster hook (data/oneroster.py): `oneroster: EXPORT` supplies schools and students --
        from .oneroster import map_sources
        oneroster = map_sources(entry, tname, path)
        sources.extend(oneroster if oneroster is not None else [_parse_entry(entry, tname, path)])
    if not sources:
        raise _map_error("the map lists no tables", path=path, mapping=raw, key="tables",
                         fix="Add at least one entry under `tables:`")
    return ColumnMap(path=str(path), sources=tuple(sources), config_path=config_path)


def _parse_entry(entry: Any, tname: str | None, path: Path) -> SourceSpec:
    if not isinstance(entry, dict):
        raise _map_error(f"each table entry must be a mapping, found {entry!r}", path=path, column="tables",
                         value=entry, fix="Write `- table: students` followed by `file:` and `columns:`")
    for key in entry:
        if key not in _ENTRY_KEYS:
            raise _map_error(f"unknown key {key!r} in a table entry", path=path, mapping=entry, key=key,
                             value=key, fix=f"Use only {sorted(_ENTRY_KEYS)}")
    table = tname or entry.get("table")
    if table not in TABLES:
        raise _map_error(f"unknown table {table!r}", path=path, mapping=entry, key="table", value=table,
                         fix=f"Use one of {list(TABLES)}")
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
        text = _as_text(target)
        ok = True
        if col.kind == "bool":
            ok = text.lower() in _TRUE + _FALSE
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


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


# -- reading sources -----------------------------------------------------------------------------

@dataclass
class _Table:
    """A table being validated: the frame plus where each row came from."""

    name: str
    frame: pd.DataFrame
    files: list[str]
    sheets: list[Any]
    #: per source code: canonical column -> source header (for messages)
    headers: list[dict]
    raw: pd.DataFrame | None = None
    dropped: int = 0
    identity: tuple[str, ...] | None = None
    min_identity: int | None = None
    date_formats: list[Any] = field(default_factory=list)

    def locate(self, pos: int) -> tuple[str | None, Any, int]:
        if "_src" in self.frame.columns:
            src = int(self.frame["_src"].iloc[pos])
            return self.files[src], self.sheets[src], int(self.frame["_row"].iloc[pos])
        return self.files[0], self.sheets[0], pos + 2

    def source_column(self, pos: int, column: str | None) -> str | None:
        if column is None:
            return None
        src = int(self.frame["_src"].iloc[pos]) if "_src" in self.frame.columns else 0
        header = self.headers[src].get(column) if src < len(self.headers) else None
        return column if header is None else header

    def raw_value(self, pos: int, column: str):
        source = self.raw if self.raw is not None and column in self.raw.columns else self.frame
        return source[column].iloc[pos]


def _display(path: Path) -> str:
    return str(path)


def _read_source(src: SourceSpec, source: Path, code: int, grade_scale=None) -> tuple[pd.DataFrame, str]:
    """Read one source into a frame of text columns (canonical names) with ``_src``/``_row``."""
    if src.format == "oneroster":  # -- OneRoster hook: the export is read by data/oneroster.py --
        from .oneroster import read_for_import
        return read_for_import(src, source)
    if src.rows is not None:
        raw = pd.DataFrame([{k: _as_text(v) if v is not None else None for k, v in r.items()} for r in src.rows])
        raw = raw.astype("object").where(raw.notna(), None)
        shown = f"{src.map_path} (inline rows of {src.table})"
    else:
        fpath = source / src.file if source.is_dir() else (source if source.name == src.file else
                                                           source.parent / src.file)
        shown = _display(fpath)
        raw = _read_file(src, fpath, shown)
    # row numbers as a spreadsheet shows them: header is row 1
    raw.index = pd.RangeIndex(len(raw))
    rows = np.arange(len(raw), dtype="int64") + 2
    for c in raw.columns:
        if _is_texty(raw[c]):
            raw[c] = raw[c].str.strip()
    na = [v for v in src.na_values if v != ""]
    if na:
        raw = raw.mask(raw.isin(na))
    raw = raw.mask(raw == "") if len(raw) else raw
    out = pd.DataFrame(index=raw.index)
    if src.auto_columns:
        names = TABLES[src.table].column_names
        src = dataclasses.replace(src, columns={c: c for c in raw.columns if c in names and c not in src.constants
                                                and c not in src.derive})
    missing = [h for h in src.columns.values() if h not in raw.columns]
    missing += [h for h in src.extra.values() if h not in raw.columns]
    missing += [h for h in src.where if h not in raw.columns]
    if missing:
        found = [str(c) for c in raw.columns]
        fix = f"The file's columns are {found[:30]}; correct the header names under `columns:` in {src.map_path}"
        if len(found) == 1 and any(d in found[0] for d in ";\t|,"):
            guess = next(d for d in ";\t|," if d in found[0])
            fix = (f"Only one column was read ({found[0][:60]!r}): the file is probably {guess!r}-separated; "
                   f"set `delimiter: {guess!r}` for this table in {src.map_path}")
        raise ImportValidationError([InputDataError(f"column {h!r} named in the map is not in the file", path=shown,
                                                    row=1, column=h, value=h, fix=fix) for h in missing])
    # generated IDs count file rows before any `where` filter, so every entry reading the same
    # file gives a row the same ID
    for col, rule in src.derive.items():
        if "row_id" in rule:
            opts = rule["row_id"] or {}
            width = int(opts.get("width", 0))
            start = int(opts.get("start", 1))
            numbers = pd.Series(np.arange(len(raw)) + start, index=raw.index).astype(str).str.zfill(width)
            out[col] = str(opts.get("prefix", "")) + numbers
    keep = np.ones(len(raw), dtype=bool)
    for header, wanted in src.where.items():
        wanted = [_as_text(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        keep &= raw[header].isin(wanted).to_numpy()
    for canon, header in src.columns.items():
        out[canon] = raw[header]
    for canon, header in src.extra.items():
        out[canon] = raw[header]
    for canon, value in src.constants.items():
        out[canon] = None if value is None else _as_text(value)
    for canon, mapping in src.recode.items():
        if canon in out.columns:
            s = out[canon].astype("object")
            targets = {k: (None if v is None else _as_text(v)) for k, v in mapping.items()}
            hit = s.isin(list(targets)).to_numpy()
            out[canon] = s.where(~hit, s.map(targets))
    for col, rule in src.derive.items():
        if "template" in rule:
            out[col] = _template(str(rule["template"]), out, raw, src)
        elif "if_passed" in rule:
            out[col] = _if_passed(out, rule, src, grade_scale)
    out["_src"] = np.int32(code)
    out["_row"] = rows
    # completely blank lines are not records; their numbers still count for the rows after them
    data_cols = [c for c in raw.columns]
    blank = raw[data_cols].isna().all(axis=1).to_numpy() if data_cols else np.zeros(len(raw), bool)
    out = out.loc[keep & ~blank].reset_index(drop=True)
    return out, shown


def _if_passed(out: pd.DataFrame, rule: Mapping, src: SourceSpec, grade_scale) -> pd.Series:
    col = str(rule["if_passed"])
    if col not in out.columns:
        raise InputDataError(f"if_passed refers to {col!r}, which this entry does not map", path=src.map_path,
                             row=src.line, column=col, fix="Map the mark column under `columns:`")
    mark = out[col]
    num = pd.to_numeric(mark, errors="coerce")
    letter_ok = mark.isin([k for k in grade_scale.letters if k not in grade_scale.failing_letters])
    letter_fail = mark.isin(list(grade_scale.failing_letters))
    passed = letter_ok | (num >= grade_scale.pass_mark)
    failed = letter_fail | (num < grade_scale.pass_mark)
    then, other = _as_text(rule.get("then", True)), _as_text(rule.get("else", False))
    result = pd.Series(None, index=out.index, dtype="object")
    result[passed.to_numpy()] = then
    result[failed.to_numpy()] = other
    return result


def _template(template: str, out: pd.DataFrame, raw: pd.DataFrame, src: SourceSpec) -> pd.Series:
    result = pd.Series("", index=out.index, dtype="object")
    for literal, fieldname, _, _ in string.Formatter().parse(template):
        result = result + literal
        if fieldname is None:
            continue
        if fieldname in out.columns:
            part = out[fieldname]
        elif fieldname in raw.columns:
            part = raw[fieldname]
        else:
            raise InputDataError(f"template field {{{fieldname}}} is neither a mapped column nor a file header",
                                 path=src.map_path, row=src.line, column=fieldname, value=template,
                                 fix="Use a canonical column of this entry or a header of the file")
        result = result + part.astype("object").where(part.notna(), "").astype(str)
    return result


def _read_file(src: SourceSpec, fpath: Path, shown: str) -> pd.DataFrame:
    if not fpath.exists():
        raise InputDataError("file not found", path=shown, row=None, column=None, value=src.file,
                             fix=f"Put the export there or correct `file:` for table {src.table!r} in {src.map_path}")
    if fpath.stat().st_size == 0:
        raise InputDataError("the file is empty (0 bytes)", path=shown, row=1, column=None,
                             fix="Export the table again with a header row")
    try:
        if src.format == "csv":
            enc = src.encoding
            # a UTF-8 byte-order mark would otherwise glue itself to the first header
            if enc.lower().replace("_", "-") in ("utf-8", "utf8"):
                enc = "utf-8-sig"
            return pd.read_csv(fpath, sep=src.delimiter, encoding=enc, dtype=str, keep_default_na=False,
                               na_values=[""], skip_blank_lines=False, engine="c")
        if src.format == "xlsx":
            sheet = 0 if src.sheet is None else src.sheet
            try:
                return pd.read_excel(fpath, sheet_name=sheet, dtype=str, keep_default_na=False, na_values=[""])
            except ValueError as err:
                if "not found" in str(err) or "Worksheet" in str(err):
                    import openpyxl
                    names = openpyxl.load_workbook(fpath, read_only=True).sheetnames
                    raise InputDataError(f"no sheet named {src.sheet!r}", path=shown, sheet=src.sheet, row=None,
                                         column=None, value=src.sheet,
                                         fix=f"The workbook's sheets are {names}; correct `sheet:` in "
                                             f"{src.map_path}") from None
                raise
        frame = pd.read_parquet(fpath)
        text = {}
        for c in frame.columns:
            s = frame[c]
            if pd.api.types.is_datetime64_any_dtype(s):
                text[c] = s.dt.strftime("%Y-%m-%d")
            elif pd.api.types.is_bool_dtype(s):
                text[c] = s.astype("object").map({True: "true", False: "false"})
            else:
                text[c] = s.astype("string")
        return pd.DataFrame(text, index=frame.index)
    except InputDataError:
        raise
    except pd.errors.EmptyDataError:
        raise InputDataError("the file has no header row", path=shown, row=1, column=None,
                             fix="Export the table again with a header row") from None
    except UnicodeDecodeError as err:
        raise InputDataError(f"cannot decode the file as {src.encoding} ({err.reason} at byte {err.start})",
                             path=shown, row=None, column=None,
                             fix=f"Set `encoding:` (e.g. cp1252 or latin-1) for this table in {src.map_path}") from None
    except pd.errors.ParserError as err:
        m = re.search(r"line (\d+)", str(err))
        raise InputDataError(f"cannot parse the file: {err}".rstrip(), path=shown,
                             row=int(m.group(1)) if m else None, column=None,
                             fix="Check the delimiter and quoting of that line") from None
    except Exception as err:  # openpyxl/pyarrow raise many types for corrupt files
        raise InputDataError(f"cannot read the file as {src.format} ({type(err).__name__}: {err})", path=shown,
                             row=None, column=None, fix="Check `file:`/`format:` in the map, or export again") \
            from err


def _assemble(map_: ColumnMap, source: Path, grade_scale) -> tuple[dict[str, _Table], _Errors]:
    errors = _Errors()
    tables: dict[str, _Table] = {}
    parts: dict[str, list[pd.DataFrame]] = {}
    for src in map_.sources:
        lacking = [c for c in TABLES[src.table].required_columns if c not in src.canonical_columns]
        if lacking and not src.auto_columns:
            for c in lacking:
                errors.add(InputDataError(
                    f"required column {c!r} of table {src.table!r} is not mapped",
                    path=src.map_path, row=src.line, column=c,
                    fix=f"Add `{c}: <header in {src.file or 'the rows'}>` under `columns:` (or under `constants:`)"))
            continue
        try:
            frame, shown = _read_source(src, source, 0, grade_scale)
        except ImportValidationError as err:
            for e in err.errors:
                errors.add(e)
            continue
        except InputDataError as err:
            errors.add(err)
            continue
        t = tables.get(src.table)
        if t is None:
            t = tables[src.table] = _Table(src.table, None, [], [], [])
        code = len(t.files)
        frame["_src"] = np.int32(code)
        t.files.append(shown)
        t.sheets.append(src.sheet if src.format == "xlsx" else None)
        t.headers.append({**src.columns, **src.extra})
        t.date_formats.append(src.date_format)
        if src.identity is not None:
            t.identity = src.identity
        if src.min_identity is not None:
            t.min_identity = int(src.min_identity)
        parts.setdefault(src.table, []).append(frame)
    for name, t in tables.items():
        frames = parts[name]
        t.frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return tables, errors


# -- casting and checks --------------------------------------------------------------------------

def _is_texty(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _cast(s: pd.Series, col: ColumnSpec, date_format: Any = None) -> tuple[pd.Series, np.ndarray]:
    """Typed values and a mask of present values that could not be read as ``col.kind``."""
    present = s.notna().to_numpy()
    kind = col.kind
    if kind in ("id", "str"):
        if _is_texty(s):
            return s, np.zeros(len(s), bool)
        typed = s.astype("string")
        return typed, np.zeros(len(s), bool)
    if kind == "category":
        return s, np.zeros(len(s), bool)
    if kind in ("int", "float"):
        num = s if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else \
            pd.to_numeric(s, errors="coerce")
        num = num.astype("float64")
        bad = present & num.isna().to_numpy()
        if kind == "int":
            frac = (num % 1 != 0).to_numpy() & ~np.isnan(num.to_numpy())
            bad |= frac
            num = num.where(~frac)
            return num.astype("Int64"), bad
        bad |= present & np.isinf(num.to_numpy())
        return num, bad
    if kind == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), np.zeros(len(s), bool)
        low = s.astype("string").str.strip().str.lower()
        typed = pd.Series(pd.NA, index=s.index, dtype="boolean")
        typed[low.isin(_TRUE).to_numpy()] = True
        typed[low.isin(_FALSE).to_numpy()] = False
        return typed, present & typed.isna().to_numpy()
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s, np.zeros(len(s), bool)
        fmt = date_format.get(col.name) if isinstance(date_format, dict) else date_format
        text = s.astype("object").where(s.notna(), None)
        typed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        todo = present.copy()
        # the declared format first; ISO 8601 dates (and Excel's "YYYY-MM-DD 00:00:00") always read
        for f in ([fmt] if fmt else []) + ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]:
            if not todo.any():
                break
            parsed = pd.to_datetime(text[todo], format=f, errors="coerce")
            typed.loc[parsed.index] = typed.loc[parsed.index].where(parsed.isna(), parsed)
            todo = present & typed.isna().to_numpy()
        return typed, todo
    raise ValueError(f"unknown column kind {kind!r}")  # a schema bug, not user input


_KIND_TEXT = {"int": "a whole number", "float": "a number", "bool": "true/false (or yes/no, Y/N, 1/0)",
              "date": "a date", "id": "an identifier", "str": "text"}


def _expected(col: ColumnSpec, date_format: Any) -> str:
    if col.kind == "date":
        fmt = date_format.get(col.name) if isinstance(date_format, dict) else date_format
        return f"a date in the format {fmt or 'YYYY-MM-DD'}"
    text = _KIND_TEXT.get(col.kind, col.kind)
    if col.min is not None and col.max is not None and col.kind in ("int", "float"):
        text += f" from {col.min:g} to {col.max:g}"
    return text


def _check_table(t: _Table, config: DistrictConfig, errors: _Errors, *, drop_exact: bool) -> None:
    """Cast and check one table in place (``t.frame`` becomes typed)."""
    spec: TableSpec = TABLES[t.name]
    frame = t.frame
    missing = [c for c in spec.required_columns if c not in frame.columns]
    for c in missing:
        path, sheet, _ = t.locate(0) if len(frame) else (t.files[0] if t.files else None, None, 1)
        errors.add(InputDataError(f"required column {c!r} of table {t.name!r} is missing", path=path, sheet=sheet,
                                  row=1, column=c,
                                  fix=f"Map it under `columns:` (or give it under `constants:`) for table "
                                      f"{t.name!r} in the column map"))
    if missing:
        t.frame = None
        return
    t.raw = frame
    typed = {}
    fmt_by_src = t.date_formats or [None]
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        if col.kind == "date" and len(set(map(repr, fmt_by_src))) > 1 and "_src" in frame.columns:
            # entries of one table may declare different date formats
            parts_typed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
            bad = np.zeros(len(s), bool)
            codes = frame["_src"].to_numpy()
            for code, fmt in enumerate(fmt_by_src):
                sel = codes == code
                if sel.any():
                    v, b = _cast(s[sel], col, fmt)
                    parts_typed[sel] = v
                    bad[sel] = b
            values = parts_typed
        else:
            values, bad = _cast(s, col, fmt_by_src[0])
        fmt_shown = fmt_by_src[0] if len(fmt_by_src) == 1 else None
        if bad.any():
            errors.add_rows(t, np.flatnonzero(bad), col.name,
                            lambda v, c=col: f"expected {c.name} as {_expected(c, fmt_shown)}, found {v!r}",
                            fix="Correct the value in the file, or add a `recode:`/`date_format:` for it in the map")
        null = values.isna().to_numpy() & ~bad
        if not col.nullable and null.any():
            errors.add_rows(t, np.flatnonzero(null), col.name, f"{col.name} is missing (empty cell)",
                            fix=f"Fill in {col.name}: every row of {t.name} needs one")
        if col.kind == "category" and col.choices is not None:
            unknown = values.notna().to_numpy() & ~values.isin(col.choices).to_numpy()
            if unknown.any():
                errors.add_rows(t, np.flatnonzero(unknown), col.name,
                                lambda v, c=col: f"unknown {c.name} {v!r}; expected one of {list(c.choices)}",
                                fix=f"Add a `recode: {{{col.name}: {{<source value>: <allowed value>}}}}` "
                                    f"to the map, or correct the file")
        if col.kind in ("int", "float") and (col.min is not None or col.max is not None):
            arr = values.astype("float64").to_numpy()
            out = np.zeros(len(arr), bool)
            with np.errstate(invalid="ignore"):
                if col.min is not None:
                    out |= arr < col.min
                if col.max is not None:
                    out |= arr > col.max
            if out.any():
                errors.add_rows(t, np.flatnonzero(out), col.name,
                                lambda v, c=col: f"{c.name} must lie between {c.min:g} and {c.max:g}, found {v!r}",
                                fix="Correct the value in the file")
        typed[col.name] = values
    other = [c for c in frame.columns if c not in typed]
    out = pd.DataFrame(typed, index=frame.index)
    for c in other:
        out[c] = frame[c]
    t.frame = out
    _check_rules(t, config, errors)
    if drop_exact:
        before = len(t.frame)
        keep = ~t.frame.duplicated(subset=dedupe.data_columns(t.frame), keep="first").to_numpy()
        if not keep.all():
            t.frame = t.frame.loc[keep].reset_index(drop=True)
            t.raw = t.raw.loc[keep].reset_index(drop=True)
            t.dropped = before - len(t.frame)
    conflicts = dedupe.key_conflicts(t.frame, spec.key)
    if len(conflicts):
        keyname = ", ".join(spec.key)
        room = max(errors.cap - len(errors.items), 0)
        errors.total += max(len(conflicts) - room, 0)
        for rec in conflicts.head(room).itertuples():
            path, sheet, row = t.locate(rec.position)
            fpath, _, frow = t.locate(rec.first_position)
            other_where = f"row {frow}" if fpath == path else f"{fpath}, row {frow}"
            keyval = " / ".join(str(_plain(t.frame[k].iloc[rec.position])) for k in spec.key)
            errors.add(InputDataError(
                f"{keyname} {keyval!r} also appears in {other_where} with different values "
                f"(differs in: {rec.differs or 'formatting'})", path=path, sheet=sheet, row=row,
                column=t.source_column(rec.position, spec.key[0]), value=keyval,
                fix=f"Keep one row per {keyname}: delete or correct one of the two rows"))


def _term_index(config: DistrictConfig):
    terms = config.ordered_terms
    starts = np.array([np.datetime64(t.start, "ns") for t in terms])
    ends = np.array([np.datetime64(t.end, "ns") + np.timedelta64(1, "D") - np.timedelta64(1, "ns")
                     for t in terms])
    return starts, ends


def _check_rules(t: _Table, config: DistrictConfig, errors: _Errors) -> None:
    """Cross-column and config-dependent checks (all vectorised)."""
    f = t.frame
    n = t.name
    if "term_id" in f.columns:
        known = f["term_id"].notna().to_numpy() & ~f["term_id"].isin(config.term_ids).to_numpy()
        if known.any():
            errors.add_rows(t, np.flatnonzero(known), "term_id",
                            lambda v: f"unknown term {v!r}; the district config defines {list(config.term_ids)}",
                            fix="Correct the term, add it to district.yml `terms:`, or set the term with "
                                "`constants:` in the map")
    if n in ("attendance_daily", "wbl_hours") and "date" in f.columns:
        starts, ends = _term_index(config)
        d = f["date"].to_numpy(dtype="datetime64[ns]")
        i = np.searchsorted(starts, d, side="right") - 1
        ok = (i >= 0) & (d <= ends[np.clip(i, 0, len(ends) - 1)])
        outside = ~ok & ~np.isnat(d)
        if outside.any():
            span = f"{min(t_.start for t_ in config.terms)} to {max(t_.end for t_ in config.terms)}"
            errors.add_rows(t, np.flatnonzero(outside), "date",
                            lambda v: f"date {_plain(v)} lies outside every configured term ({span}, "
                                      "with breaks between terms)",
                            values=f["date"], fix="Correct the date, or add the term to district.yml `terms:`")
    if n == "attendance_terms" and {"days_absent", "days_enrolled"} <= set(f.columns):
        over = (f["days_absent"] > f["days_enrolled"]).to_numpy(dtype=bool, na_value=False)
        if over.any():
            errors.add_rows(t, np.flatnonzero(over), "days_absent",
                            lambda v: f"days_absent {v!r} exceeds days_enrolled",
                            values=f["days_absent"].astype("float").map(lambda x: f"{x:g}"),
                            fix="A student cannot miss more days than they were enrolled: correct either column")
    if n == "participation" and {"start_date", "end_date"} <= set(f.columns):
        back = (f["end_date"] < f["start_date"]).to_numpy(dtype=bool, na_value=False)
        if back.any():
            errors.add_rows(t, np.flatnonzero(back), "end_date", lambda v: f"end_date {_plain(v)} is before "
                            "start_date", values=f["end_date"], fix="Swap or correct the dates")
    if n == "course_grades" and "mark" in f.columns:
        gs = config.grade_scale
        mark = f["mark"]
        present = mark.notna().to_numpy()
        letter = mark.isin(list(gs.letters)).to_numpy()
        num = pd.to_numeric(mark, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            on_scale = (num >= gs.numeric_min) & (num <= gs.numeric_max)
        bad = present & ~letter & ~on_scale
        if bad.any():
            errors.add_rows(t, np.flatnonzero(bad), "mark",
                            lambda v: f"mark {v!r} is not on the grade scale: expected a letter in "
                                      f"{list(gs.letters)} or a number from {gs.numeric_min:g} to "
                                      f"{gs.numeric_max:g}",
                            fix="Correct the mark, recode it in the map, or adjust `grade_scale:` in district.yml")
    if n == "engagement" and "score" in f.columns:
        scale = config.threshold("engagement_scale") or {}
        lo, hi = scale.get("min"), scale.get("max")
        if lo is not None and hi is not None:
            sc = f["score"].to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = (sc < lo) | (sc > hi)
            if bad.any():
                errors.add_rows(t, np.flatnonzero(bad), "score",
                                lambda v: f"score {v!r} lies outside the engagement scale {lo}-{hi}",
                                fix="Correct the score, or set thresholds.engagement_scale in district.yml")


def _check_references(tables: dict[str, _Table], errors: _Errors, *, mapped: Iterable[str] = ()) -> None:
    for name in IMPORT_ORDER:
        t = tables.get(name)
        if t is None or t.frame is None:
            continue
        for col, (ref_table, ref_col) in TABLES[name].references.items():
            if col not in t.frame.columns:
                continue
            target = tables.get(ref_table)
            if target is None:
                if ref_table in mapped:
                    continue  # listed in the map but unreadable: that error is already reported
                errors.add(InputDataError(
                    f"table {name!r} refers to {ref_table!r}, which is not imported", path=t.files[0],
                    row=None, column=col, fix=f"Add a `{ref_table}` entry to the column map"))
                continue
            if target.frame is None:
                continue  # its own errors are already reported
            values = t.frame[col]
            unknown = values.notna().to_numpy() & ~values.isin(target.frame[ref_col].dropna().unique()).to_numpy()
            if unknown.any():
                where = target.files[0] if target.files else ref_table
                errors.add_rows(t, np.flatnonzero(unknown), col,
                                lambda v, rt=ref_table: f"unknown {col} {v!r}: not in the {rt} table",
                                fix=f"Add it to {where} or correct the ID (IDs are text: '0042' and '42' differ)")


def validate_tables(tables: Mapping[str, pd.DataFrame], config: DistrictConfig, *,
                    paths: Mapping[str, str] | None = None, context: str = "the dataset") -> None:
    """Run every check on already-typed tables (as stored in a DATA_DIR).

    Raises
    ------
    ImportValidationError
        Listing every problem (up to :data:`MAX_ERRORS`).
    """
    errors = _Errors()
    wrapped = {name: _Table(name, frame, [str((paths or {}).get(name, f"{name}.parquet"))], [None], [{}])
               for name, frame in tables.items() if name in TABLES}
    for name in IMPORT_ORDER:
        if name in wrapped:
            _check_table(wrapped[name], config, errors, drop_exact=False)
    _check_references(wrapped, errors)
    errors.raise_if_any(context)


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


def _possible_duplicates(t: _Table) -> pd.DataFrame:
    spec = TABLES[t.name]
    identity = t.identity if t.identity is not None else spec.identity
    if not identity or t.frame is None:
        return pd.DataFrame()
    return dedupe.possible_duplicates(t.frame, id_column=spec.key[0], identity=identity,
                                      min_identity=t.min_identity)


def import_source(source: str | Path, *, map_path: str | Path, out: str | Path,
                  config: DistrictConfig | str | Path | None = None) -> ImportResult:
    """Read, map, validate and (only if everything is valid) write a district dataset.

    Parameters
    ----------
    source : path
        Folder holding the exports named in the map (or one export file).
    map_path : path
        Column map YAML (module docstring; ``examples/sis_csv/map.yml``).
    out : path
        DATA_DIR to write. Replaced atomically; untouched when anything fails.
    config : DistrictConfig or path, optional
        District config; default the map's ``config:``, else the embedded default.

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
    """
    source = Path(source)
    map_ = read_map(map_path)
    cfg = _resolve_config(config, map_)
    if not source.exists():
        raise InputDataError("source folder not found", path=source, fix="Pass the folder holding the exports")
    tables, errors = _assemble(map_, source, cfg.grade_scale)
    if "schools" not in tables and not any(s.table == "schools" for s in map_.sources):
        frame = _schools_from_config(cfg)
        tables["schools"] = _Table("schools", frame, [f"{cfg.source or 'district config'} (schools:)"], [None], [{}])
    for name in IMPORT_ORDER:
        if name in tables:
            _check_table(tables[name], cfg, errors, drop_exact=True)
    _check_references(tables, errors, mapped=map_.tables)
    errors.raise_if_any(f"the import ({map_.path})")

    warnings: list[str] = []
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
    if frames:
        extra_files[POSSIBLE_DUPLICATES_FILE] = pd.concat(frames, ignore_index=True).to_csv(index=False).encode()
    clean = {}
    for name, t in tables.items():
        frame = t.frame.drop(columns=[c for c in ("_src", "_row") if c in t.frame.columns])
        extras = [c for c in frame.columns if c not in TABLES[name].column_names]
        for c in extras:
            frame[c] = frame[c].astype("string")
        clean[name] = coerce_table(name, frame)
    out = write_dataset(clean, cfg, out, extra_files=extra_files)
    return ImportResult(out=out, rows={n: len(clean[n]) for n in IMPORT_ORDER if n in clean},
                        dropped_duplicates={n: tables[n].dropped for n in IMPORT_ORDER if n in tables},
                        warnings=tuple(warnings),
                        possible_duplicates_path=(out / POSSIBLE_DUPLICATES_FILE) if frames else None,
                        possible_duplicate_groups=groups, possible_duplicate_records=records,
                        map_path=map_.path, config_source=cfg.source)


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
