"""Reading CSV files people export from other systems, with messages that name the place.

pandas reads a CSV with a repeated header by renaming the second copy (``score.1``), reports a
decoding problem as a byte offset in an internal buffer, and an empty file as "No columns to
parse from file". The helpers here check what pandas would hide and translate what it reports:

- :func:`check_header`: a header that appears twice is an error naming the header and both
  column positions (1-based, as a spreadsheet counts);
- :func:`first_undecodable_line`: the row (1-based, the header is row 1) of the first line that
  is not valid in the encoding, and the byte found there;
- :func:`read_csv_strings`: all of it for a plain CSV of text cells (records files, survey
  exports), with our own message for a 0-byte file.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .exceptions import InputDataError

__all__ = ["check_header", "first_undecodable_line", "decode_error", "parse_error", "read_csv_strings"]


def _encoding_name(encoding: str) -> str:
    low = encoding.lower().replace("_", "-")
    return "UTF-8" if low in ("utf-8", "utf8", "utf-8-sig") else encoding


def parse_error(err: Exception, *, shown: Any, fix: str = "Check the delimiter and the quoting of that line"
                ) -> InputDataError:
    """Translate a pandas/csv parse error into one naming the row (header = row 1), without pandas' wording."""
    text = str(err)
    m = re.search(r"EOF inside string starting at row (\d+)", text)
    if m:  # pandas counts the header as row 0
        row = int(m.group(1)) + 1
        return InputDataError("a quote (\") opened in this row is never closed, so the rest of the file reads as "
                              "one value", path=shown, row=row, fix="Close the quote, or remove it")
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        return InputDataError(f"this row has {m.group(3)} values but the header has {m.group(1)} columns", path=shown,
                              row=int(m.group(2)), fix=fix)
    m = re.search(r"line (\d+)", text)
    return InputDataError(f"cannot parse the file ({text.strip().splitlines()[-1]})", path=shown,
                          row=int(m.group(1)) if m else None, fix=fix)


def _header_cells(path: Path, *, sep: str | None, encoding: str) -> list[str]:
    with open(path, "rb") as fh:
        first = fh.readline(1_000_000)
    text = first.decode(encoding, errors="replace").lstrip("\ufeff")
    if sep is None:
        try:
            sep = csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
        except csv.Error:
            sep = ","
    if len(sep) != 1:  # a regex separator: pandas' own reading decides
        return []
    return next(csv.reader(io.StringIO(text), delimiter=sep), [])


def check_header(path: str | Path, *, sep: str | None = ",", encoding: str = "utf-8", shown: Any = None,
                 fix: str = "Rename or remove one of the two columns") -> None:
    """Raise when a header appears twice in the first line of ``path``.

    Raises
    ------
    InputDataError
        Naming the header and both column positions (row 1).
    """
    path = Path(path)
    seen: dict[str, int] = {}
    for i, cell in enumerate(_header_cells(path, sep=sep, encoding=encoding), start=1):
        name = cell.strip()
        if not name:
            continue
        if name in seen:
            raise InputDataError(f"the header {name!r} appears twice, in columns {seen[name]} and {i}; "
                                 "it is not clear which one to read", path=shown or path, row=1, column=name,
                                 value=name, fix=fix)
        seen[name] = i


def first_undecodable_line(path: str | Path, encoding: str) -> tuple[int, bytes] | None:
    """``(row, bytes)`` of the first line of ``path`` that does not decode, or None."""
    enc = "utf-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf8") else encoding
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            if n == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            try:
                line.decode(enc)
            except UnicodeDecodeError as err:
                return n, line[err.start:err.end]
            except LookupError:
                return None
    return None


def decode_error(path: str | Path, encoding: str, *, shown: Any = None, fix: str) -> InputDataError:
    """The error for a file that is not valid ``encoding``: the first bad row and the byte found."""
    found = first_undecodable_line(path, encoding)
    if found is None:
        return InputDataError(f"cannot decode the file as {_encoding_name(encoding)}", path=shown or path, fix=fix)
    row, raw = found
    return InputDataError(f"this line is not valid {_encoding_name(encoding)} text (byte {raw.hex(' ')} found; it is the first "
                          "such line): the file was probably saved in another encoding", path=shown or path, row=row, value=raw.hex(" "),
                          fix=fix)


def read_csv_strings(path: str | Path, *, sep: str | None = ",", encoding: str = "utf-8-sig",
                     fix: str = "Save the file as UTF-8 CSV with a header row") -> pd.DataFrame:
    """Read a CSV of text cells (no value turned into a number or NaN), checked as described above.

    Raises
    ------
    InputDataError
        Missing or 0-byte file, no header, a repeated header, a line that does not decode, a line
        that does not parse (its row named).
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError("file not found", path=path, fix="Check the path")
    if path.stat().st_size == 0:
        raise InputDataError("the file is empty (0 bytes): it has no header row", path=path, row=1,
                             fix="Export the file again; a file with no records still needs its header row")
    check_header(path, sep=sep, encoding=encoding)
    try:
        if sep is None:
            frame = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False,
                                encoding=encoding)
        else:
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding)
    except UnicodeDecodeError:
        raise decode_error(path, encoding, fix=fix) from None
    except pd.errors.EmptyDataError:
        raise InputDataError("the file has no header row (only blank lines)", path=path, row=1, fix=fix) from None
    except (pd.errors.ParserError, csv.Error) as err:
        raise parse_error(err, shown=path) from None
    return frame
