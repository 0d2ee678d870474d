"""Validation of district tables: types, ranges, keys, config rules and references.

Every problem becomes an :class:`~partner_analysis.exceptions.InputDataError` naming file, row
(header = row 1), column, value and the fix; the problems of one run (up to :data:`MAX_ERRORS`)
are raised together as one :class:`ImportValidationError`. Used by the import
(:mod:`partner_analysis.data.load`), ``validate`` and the OneRoster reader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._paths import ID_PATTERN, ID_RULE, IDENTIFIER_COLUMNS, shorten
from ..config import DistrictConfig
from ..exceptions import InputDataError
from . import dedupe
from .schema import FALSE_TEXT, IMPORT_ORDER, TABLES, TRUE_TEXT, ColumnSpec, TableSpec

__all__ = ["MAX_ERRORS", "ImportValidationError", "ProblemList", "TableFrame", "plain_value", "is_texty",
           "CROSS_COLUMN_RULES", "check_table", "check_values", "check_keys", "check_references",
           "check_references_of", "validate_tables"]

#: At most this many problems are listed; the message says how many more there were.
MAX_ERRORS = 50
#: Longest text cell (a name, a subject) an import accepts: reports copy names into every page.
MAX_TEXT_CHARS = 500


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


class ProblemList:
    """Collects problems up to a cap and counts all of them."""

    def __init__(self, cap: int = MAX_ERRORS):
        self.cap = cap
        self.items: list[InputDataError] = []
        self.total = 0

    def add(self, err: InputDataError) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(err)

    def add_rows(self, table: "TableFrame", positions: np.ndarray, column: str | None, problem, fix: str,
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
                                    value=plain_value(value), fix=fix, sheet=sheet))

    def raise_if_any(self, context: str) -> None:
        if self.items:
            raise ImportValidationError(self.items, n_errors=self.total, context=context)


def plain_value(value: Any) -> Any:
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




@dataclass
class TableFrame:
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
    _value_index: dict = field(default_factory=dict, repr=False, compare=False)

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

    def value_index(self, column: str) -> pd.Index:
        """The distinct present values of ``column`` as an index of Python objects (its hash table
        is built once per frame, however many chunks look values up in it)."""
        cached = self._value_index.get(column)
        if cached is None or cached[0] is not self.frame:
            values = self.frame[column].dropna().unique()
            cached = self._value_index[column] = (self.frame, pd.Index(np.asarray(values, dtype=object),
                                                                       dtype=object))
        return cached[1]

    def raw_value(self, pos: int, column: str):
        source = self.raw if self.raw is not None and column in self.raw.columns else self.frame
        return source[column].iloc[pos]



# -- casting and checks --------------------------------------------------------------------------

def is_texty(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _cast(s: pd.Series, col: ColumnSpec, date_format: Any = None) -> tuple[pd.Series, np.ndarray]:
    """Typed values and a mask of present values that could not be read as ``col.kind``."""
    present = s.notna().to_numpy()
    kind = col.kind
    if kind in ("id", "str"):
        if is_texty(s):
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
        typed[low.isin(TRUE_TEXT).to_numpy()] = True
        typed[low.isin(FALSE_TEXT).to_numpy()] = False
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


#: Tables with a config rule comparing two columns of one row (:func:`check_values` on each row's
#: distinct values alone would miss it).
CROSS_COLUMN_RULES = frozenset({"attendance_terms", "participation"})


def check_table(t: TableFrame, config: DistrictConfig, errors: ProblemList, *, drop_exact: bool) -> None:
    """Cast and check one table in place (``t.frame`` becomes typed).

    :func:`check_values` (every cell and config rule), then exact repeats (dropped when
    ``drop_exact``) and keys repeated with different values.
    """
    check_values(t, config, errors)
    if t.frame is None:
        return
    check_keys(t, errors, drop_exact=drop_exact)


def check_values(t: TableFrame, config: DistrictConfig, errors: ProblemList) -> None:
    """Cast and check every cell of one table in place, and the config's rules (not its keys).

    ``t.frame`` becomes typed (None when a required column is missing) and ``t.raw`` keeps the
    text. Apart from the tables in :data:`CROSS_COLUMN_RULES`, every problem found here depends on
    one cell's value only.
    """
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
                            lambda v, c=col: f"expected {c.name} as {_expected(c, fmt_shown)}, found {shorten(v)}",
                            fix="Correct the value in the file, or add a `recode:`/`date_format:` for it in the map")
        null = values.isna().to_numpy() & ~bad
        if not col.nullable and null.any():
            errors.add_rows(t, np.flatnonzero(null), col.name, f"{col.name} is missing (empty cell)",
                            fix=f"Fill in {col.name}: every row of {t.name} needs one")
        if col.kind == "category" and col.choices is not None:
            unknown = values.notna().to_numpy() & ~values.isin(col.choices).to_numpy()
            if unknown.any():
                errors.add_rows(t, np.flatnonzero(unknown), col.name,
                                lambda v, c=col: f"unknown {c.name} {shorten(v)}; expected one of {list(c.choices)}",
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
                                lambda v, c=col: f"{c.name} must lie between {c.min:g} and {c.max:g}, found {shorten(v)}",
                                fix="Correct the value in the file")
        if col.name in IDENTIFIER_COLUMNS and is_texty(values):
            present = values.notna().to_numpy()
            ok = values.astype("string").str.fullmatch(ID_PATTERN.pattern).to_numpy(dtype=bool, na_value=True)
            bad_id = present & ~ok
            if bad_id.any():
                errors.add_rows(t, np.flatnonzero(bad_id), col.name,
                                lambda v, c=col: f"{c.name} {shorten(v)} is not a valid ID: {ID_RULE}",
                                fix="Correct the ID in the file, or build a clean one in the map "
                                    "(`recode:` or `derive: {template: ...}`)")
        elif col.kind == "str" and is_texty(values):
            long_ = (values.astype("string").str.len() > MAX_TEXT_CHARS).to_numpy(dtype=bool, na_value=False)
            if long_.any():
                errors.add_rows(t, np.flatnonzero(long_), col.name,
                                lambda v, c=col: f"{c.name} {shorten(v)} is longer than the {MAX_TEXT_CHARS} "
                                                 "characters allowed",
                                fix="Shorten the text in the file")
        typed[col.name] = values
    other = [c for c in frame.columns if c not in typed]
    out = pd.DataFrame(typed, index=frame.index)
    for c in other:
        out[c] = frame[c]
    t.frame = out
    _check_rules(t, config, errors)


def check_keys(t: TableFrame, errors: ProblemList, *, drop_exact: bool) -> None:
    """Drop exact repeats (when ``drop_exact``) and report keys repeated with different values."""
    spec: TableSpec = TABLES[t.name]
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
            keyval = " / ".join(str(plain_value(t.frame[k].iloc[rec.position])) for k in spec.key)
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


def _check_rules(t: TableFrame, config: DistrictConfig, errors: ProblemList) -> None:
    """Cross-column and config-dependent checks (all vectorised).

    A rule comparing two columns of one row must name its table in :data:`CROSS_COLUMN_RULES`
    (the streaming import checks the other tables a distinct value at a time).
    """
    f = t.frame
    n = t.name
    if "term_id" in f.columns:
        known = f["term_id"].notna().to_numpy() & ~f["term_id"].isin(config.term_ids).to_numpy()
        if known.any():
            errors.add_rows(t, np.flatnonzero(known), "term_id",
                            lambda v: f"unknown term {shorten(v)}; the district config defines {list(config.term_ids)}",
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
                            lambda v: f"date {plain_value(v)} lies outside every configured term ({span}, "
                                      "with breaks between terms)",
                            values=f["date"], fix="Correct the date, or add the term to district.yml `terms:`")
    if n == "attendance_terms" and {"days_absent", "days_enrolled"} <= set(f.columns):
        over = (f["days_absent"] > f["days_enrolled"]).to_numpy(dtype=bool, na_value=False)
        if over.any():
            errors.add_rows(t, np.flatnonzero(over), "days_absent",
                            lambda v: f"days_absent {shorten(v)} exceeds days_enrolled",
                            values=f["days_absent"].astype("float").map(lambda x: f"{x:g}"),
                            fix="A student cannot miss more days than they were enrolled: correct either column")
    if n == "participation" and {"start_date", "end_date"} <= set(f.columns):
        back = (f["end_date"] < f["start_date"]).to_numpy(dtype=bool, na_value=False)
        if back.any():
            errors.add_rows(t, np.flatnonzero(back), "end_date", lambda v: f"end_date {plain_value(v)} is before "
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
                            lambda v: f"mark {shorten(v)} is not on the grade scale: expected a letter in "
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
                                lambda v: f"score {shorten(v)} lies outside the engagement scale {lo}-{hi}",
                                fix="Correct the score, or set thresholds.engagement_scale in district.yml")


def check_references(tables: dict[str, TableFrame], errors: ProblemList, *, mapped: Iterable[str] = ()) -> None:
    """Check every table's references (students -> schools, ...) against the other tables."""
    for name in IMPORT_ORDER:
        t = tables.get(name)
        if t is None or t.frame is None:
            continue
        check_references_of(t, tables, errors, mapped=mapped)


def check_references_of(t: TableFrame, tables: Mapping[str, TableFrame], errors: ProblemList, *,
                        mapped: Iterable[str] = ()) -> None:
    """Check the references of one table (or one chunk of it) against ``tables``."""
    name = t.name
    if t.frame is None:
        return
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
        unknown = values.notna().to_numpy() & (target.value_index(ref_col).get_indexer(
            values.to_numpy(dtype=object)) < 0)
        if unknown.any():
            where = target.files[0] if target.files else ref_table
            errors.add_rows(t, np.flatnonzero(unknown), col,
                            lambda v, rt=ref_table: f"unknown {col} {shorten(v)}: not in the {rt} table",
                            fix=f"Add it to {where} or correct the ID (IDs are text: '0042' and '42' differ)")


def validate_tables(tables: Mapping[str, pd.DataFrame], config: DistrictConfig, *,
                    paths: Mapping[str, str] | None = None, context: str = "the dataset") -> None:
    """Run every check on already-typed tables (as stored in a DATA_DIR).

    Raises
    ------
    ImportValidationError
        Listing every problem (up to :data:`MAX_ERRORS`).
    """
    errors = ProblemList()
    wrapped = {name: TableFrame(name, frame, [str((paths or {}).get(name, f"{name}.parquet"))], [None], [{}])
               for name, frame in tables.items() if name in TABLES}
    for name in IMPORT_ORDER:
        if name in wrapped:
            check_table(wrapped[name], config, errors, drop_exact=False)
    check_references(wrapped, errors)
    errors.raise_if_any(context)

