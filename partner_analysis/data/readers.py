"""Readers: one source of a column map (CSV, XLSX, parquet, inline rows, OneRoster) as a text frame.

:func:`read_source` reads one :class:`~partner_analysis.data.colmap.SourceSpec` into a frame of
text columns under canonical names, with ``_src``/``_row`` locating every row in its file;
:func:`assemble` reads every source of a map into :class:`~partner_analysis.data.validate.TableFrame`
objects. Every cell is read as text, so identifiers keep their leading zeros.
"""
from __future__ import annotations

import dataclasses
import string
from pathlib import Path
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from ..csvread import check_header, decode_error, parse_error
from ..exceptions import InputDataError
from . import oneroster
from .colmap import ColumnMap, SourceSpec, as_text
from .schema import TABLES
from .validate import ImportValidationError, ProblemList, TableFrame, is_texty

__all__ = ["read_source", "source_path", "map_source_frame", "clean_cells", "check_source_file", "diagnose_csv",
           "assemble"]


def _display(path: Path) -> str:
    return str(path)


def read_source(src: SourceSpec, source: Path, code: int, grade_scale=None) -> tuple[pd.DataFrame, str]:
    """Read one source into a frame of text columns (canonical names) with ``_src``/``_row``."""
    if src.format == "oneroster":  # -- OneRoster hook: the export is read by data/oneroster.py --
        return oneroster.read_for_import(src, source)
    fpath = None
    if src.rows is not None:
        raw = pd.DataFrame([{k: as_text(v) if v is not None else None for k, v in r.items()} for r in src.rows])
        raw = raw.astype("object").where(raw.notna(), None)
        shown = f"{src.map_path} (inline rows of {src.table})"
    else:
        fpath = source_path(src, source)
        shown = _display(fpath)
        raw = _read_file(src, fpath, shown)
    return map_source_frame(raw, src, code, shown, grade_scale, fpath=fpath), shown


def source_path(src: SourceSpec, source: Path) -> Path:
    """The file a source entry names, resolved against SOURCE (a folder or one export file)."""
    return source / src.file if source.is_dir() else (source if source.name == src.file else
                                                      source.parent / src.file)


def map_source_frame(raw: pd.DataFrame, src: SourceSpec, code: int, shown: str, grade_scale=None, *,
                     first_row: int = 2, fpath: Path | None = None) -> pd.DataFrame:
    """Map one block of a source's text cells to canonical columns (``_src``/``_row`` added).

    ``raw`` holds consecutive records of the file, blank records included, the first of them on
    spreadsheet row ``first_row`` (the header is row 1), so a file read in chunks keeps its row
    numbers: pass each chunk's first row.
    """
    # row numbers as a spreadsheet shows them: header is row 1
    raw.index = pd.RangeIndex(len(raw))
    rows = np.arange(len(raw), dtype="int64") + first_row
    raw = clean_cells(raw, src)
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
        elif src.format == "xlsx" and src.rows is None:
            other = _sheets_holding(fpath, missing, src.sheet)
            if other:
                fix = (f"The headers are on sheet {other!r}, not on the sheet read "
                       f"({'the first' if src.sheet is None else repr(src.sheet)}); the workbook's sheets are "
                       f"{_sheet_names(fpath)}: set `sheet: {other}` for this table in {src.map_path}")
            else:
                fix = (f"The sheet read has columns {found[:30]}; the workbook's sheets are {_sheet_names(fpath)}: "
                       f"set `sheet:` for this table or correct the header names in {src.map_path}")
        raise ImportValidationError([InputDataError(f"column {h!r} named in the map is not in the file", path=shown,
                                                    row=1, column=h, value=h, fix=fix) for h in missing])
    # generated IDs count file rows before any `where` filter, so every entry reading the same
    # file gives a row the same ID
    for col, rule in src.derive.items():
        if "row_id" in rule:
            opts = rule["row_id"] or {}
            width = int(opts.get("width", 0))
            start = int(opts.get("start", 1))
            numbers = pd.Series(np.arange(len(raw)) + start + (first_row - 2),
                                index=raw.index).astype(str).str.zfill(width)
            out[col] = str(opts.get("prefix", "")) + numbers
    keep = np.ones(len(raw), dtype=bool)
    for header, wanted in src.where.items():
        wanted = [as_text(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        keep &= raw[header].isin(wanted).to_numpy()
    for canon, header in src.columns.items():
        out[canon] = raw[header]
    for canon, header in src.extra.items():
        out[canon] = raw[header]
    for canon, value in src.constants.items():
        out[canon] = None if value is None else as_text(value)
    for canon, mapping in src.recode.items():
        if canon in out.columns:
            s = out[canon].astype("object")
            targets = {k: (None if v is None else as_text(v)) for k, v in mapping.items()}
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
    return out


def clean_cells(raw: pd.DataFrame, src: SourceSpec) -> pd.DataFrame:
    """Text cells as the import reads them: stripped, the map's ``na_values`` and empty cells missing.

    ``raw``'s text columns are stripped in place; the result is a new frame when anything is masked.
    """
    for c in raw.columns:
        if is_texty(raw[c]):
            raw[c] = raw[c].str.strip()
    na = [v for v in src.na_values if v != ""]
    if na:
        raw = raw.mask(raw.isin(na))
    return raw.mask(raw == "") if len(raw) else raw


def _sheet_names(fpath: Path) -> list[str]:
    import openpyxl
    wb = openpyxl.load_workbook(fpath, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _sheets_holding(fpath: Path, headers: list[str], current) -> str | None:
    """The first other sheet whose first row holds every one of ``headers`` (the map's columns)."""
    import openpyxl
    wb = openpyxl.load_workbook(fpath, read_only=True)
    try:
        for i, ws in enumerate(wb.worksheets):
            if ws.title == current or (current is None and i == 0) or current == i:
                continue
            ws.reset_dimensions()  # bounded by content, not by a declared dimension
            first = next(ws.iter_rows(max_row=1, values_only=True), ())
            cells = {str(c).strip() for c in first if c is not None}
            if set(headers) <= cells:
                return ws.title
    finally:
        wb.close()
    return None


def _check_xlsx_header(fpath: Path, sheet, shown: str, src: SourceSpec) -> None:
    """pandas renames a repeated header ('Grade.1'); name it and both columns instead."""
    import openpyxl
    from openpyxl.utils import get_column_letter
    wb = openpyxl.load_workbook(fpath, read_only=True)
    try:
        ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
        ws.reset_dimensions()
        first = next(ws.iter_rows(max_row=1, values_only=True), ())
    finally:
        wb.close()
    seen: dict[str, int] = {}
    for i, cell in enumerate(first, start=1):
        name = "" if cell is None else str(cell).strip()
        if name and name in seen:
            raise InputDataError(f"the header {name!r} appears twice, in columns {get_column_letter(seen[name])} "
                                 f"and {get_column_letter(i)}; it is not clear which one to read", path=shown,
                                 sheet=ws.title, row=1, column=name, value=name,
                                 fix=f"Rename or remove one of the two columns, so that `columns:` in "
                                     f"{src.map_path} names one")
        seen.setdefault(name, i)


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
    then, other = as_text(rule.get("then", True)), as_text(rule.get("else", False))
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


def _csv_encoding(src: SourceSpec) -> str:
    enc = src.encoding
    # a UTF-8 byte-order mark would otherwise glue itself to the first header
    if enc.lower().replace("_", "-") in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    return enc


def check_source_file(src: SourceSpec, fpath: Path, shown: str) -> None:
    """The checks made before a source file is parsed: it exists, is not empty, has no repeated header.

    Raises
    ------
    InputDataError
        Naming the file (and for a repeated header row 1, the header and both column positions).
    """
    if not fpath.exists():
        raise InputDataError("file not found", path=shown, row=None, column=None, value=src.file,
                             fix=f"Put the export there or correct `file:` for table {src.table!r} in {src.map_path}")
    if fpath.stat().st_size == 0:
        raise InputDataError("the file is empty (0 bytes)", path=shown, row=1, column=None,
                             fix="Export the table again with a header row")
    if src.format == "csv":
        check_header(fpath, sep=src.delimiter, encoding=_csv_encoding(src), shown=shown,
                     fix=f"Rename or remove one of the two columns, so that `columns:` in {src.map_path} "
                         "names one")


def diagnose_csv(src: SourceSpec, fpath: Path, shown: str, *, chunksize: int = 200_000) -> None:
    """Parse a CSV source with pandas in chunks (bounded memory) and raise the error it meets, if any.

    The streaming reader (:mod:`partner_analysis.data.stream`) calls this when its parser refuses
    a file, so the message (row of an unclosed quote, a ragged row, an undecodable line) is the
    one the whole-file reader gives.

    Raises
    ------
    InputDataError
        The first problem pandas meets, translated as :func:`read_source` translates it.
    """
    _read_file(src, fpath, shown, chunksize=chunksize)


def _read_file(src: SourceSpec, fpath: Path, shown: str, chunksize: int | None = None) -> pd.DataFrame | None:
    check_source_file(src, fpath, shown)
    try:
        if src.format == "csv":
            kw = dict(sep=src.delimiter, encoding=_csv_encoding(src), dtype=str, keep_default_na=False,
                      na_values=[""], skip_blank_lines=False, engine="c")
            if chunksize is not None:
                with pd.read_csv(fpath, chunksize=chunksize, **kw) as reader:
                    for _ in reader:
                        pass
                return None
            return pd.read_csv(fpath, **kw)
        if src.format == "xlsx":
            sheet = 0 if src.sheet is None else src.sheet
            try:
                frame = pd.read_excel(fpath, sheet_name=sheet, dtype=str, keep_default_na=False, na_values=[""])
                _check_xlsx_header(fpath, sheet, shown, src)
                return frame
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
    except UnicodeDecodeError:
        raise decode_error(fpath, src.encoding, shown=shown,
                           fix=f"Set `encoding:` (e.g. cp1252 or latin-1) for this table in {src.map_path}") from None
    except pd.errors.ParserError as err:
        raise parse_error(err, shown=shown) from None
    except Exception as err:  # openpyxl/pyarrow raise many types for corrupt files
        raise InputDataError(f"cannot read the file as {src.format} ({type(err).__name__}: {err})", path=shown,
                             row=None, column=None, fix="Check `file:`/`format:` in the map, or export again") \
            from err


def assemble(map_: ColumnMap, source: Path, grade_scale, *,
             skip_tables: Collection[str] = ()) -> tuple[dict[str, TableFrame], ProblemList]:
    """Read every source of ``map_`` (except those of ``skip_tables``, which are streamed) into TableFrames."""
    errors = ProblemList()
    tables: dict[str, TableFrame] = {}
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
        if src.table in skip_tables:
            continue
        try:
            frame, shown = read_source(src, source, 0, grade_scale)
        except ImportValidationError as err:
            for e in err.errors:
                errors.add(e)
            continue
        except InputDataError as err:
            errors.add(err)
            continue
        t = tables.get(src.table)
        if t is None:
            t = tables[src.table] = TableFrame(src.table, None, [], [], [])
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

