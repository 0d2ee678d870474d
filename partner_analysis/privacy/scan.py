"""Leak scan: student IDs in anything about to leave the district."""
from __future__ import annotations

import re
import struct
import zlib
from base64 import b64decode
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..exceptions import InputDataError
from .display import is_missing

__all__ = ["Leak", "scan_outputs", "scan_release", "check_publishable", "PrivateFolderError", "PRIVATE_MARKER"]


@dataclass(frozen=True)
class Leak:
    """A student ID found in an output file.

    Attributes
    ----------
    file : str
    kind : str
        ``"text"``, ``"notebook"``, ``"svg_text"``, ``"png_text"`` (PNG
        tEXt/zTXt/iTXt chunk), ``"embedded_png"`` (a base64 PNG inside HTML or
        a notebook) or ``"filename"``.
    snippet : str
        Up to 40 characters either side of the match (internal use only: it
        contains the ID).
    student_id : str
    """

    file: str
    kind: str
    snippet: str
    student_id: str = ""


_TEXT_SUFFIXES = {".html", ".htm", ".csv", ".tsv", ".json", ".jsonl", ".md", ".txt", ".xml", ".yml", ".yaml"}
_SCANNED = _TEXT_SUFFIXES | {".ipynb", ".svg", ".png"}
_MIN_ID_LEN = 4
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_B64_PNG = re.compile(r"iVBORw0KGgo[A-Za-z0-9+/=\\n\s]{20,}")


def scan_outputs(paths: str | Path | Iterable[str | Path], student_ids: Iterable[Any]) -> list[Leak]:
    """Scan rendered outputs for student IDs.

    Reads the text of HTML, notebooks, CSV/TSV, JSON, Markdown, YAML, XML and
    SVG files, the text chunks (tEXt, zTXt, iTXt) of PNG files, and base64
    PNGs embedded in HTML or notebooks. An ID matches as a whole word
    (``\\b`` boundaries: "004217" is found in "id 004217," but not in
    "1004217"). IDs shorter than 4 characters are ignored (they match too
    much ordinary text to mean anything).

    Parameters
    ----------
    paths : path or iterable of paths
        Files or folders (searched recursively for the suffixes above).
    student_ids : iterable
        IDs as strings (leading zeros matter).

    Returns
    -------
    list of Leak
        Empty when nothing was found.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r.html").write_text("<td>004217</td><td>1004217</td>")
    >>> [(leak.kind, leak.student_id) for leak in scan_outputs(d, ["004217", "12"])]
    [('text', '004217')]
    """
    ids = {str(s).strip() for s in student_ids if not is_missing(s)}
    ids = {s for s in ids if len(s) >= _MIN_ID_LEN}
    files = _collect(paths)
    if not ids:
        return []
    matcher = _Matcher(ids)
    leaks: list[Leak] = []
    for f in files:
        for sid, snip in matcher.find(f.name):
            leaks.append(Leak(str(f), "filename", snip, sid))
        suffix = f.suffix.lower()
        try:
            if suffix == ".png":
                data = f.read_bytes()
                for text in _png_texts(data):
                    leaks += [Leak(str(f), "png_text", s, sid) for sid, s in matcher.find(text)]
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise InputDataError(f"cannot read output file: {err}", path=f) from err
        kind = {".ipynb": "notebook", ".svg": "svg_text"}.get(suffix, "text")
        leaks += [Leak(str(f), kind, s, sid) for sid, s in matcher.find(text)]
        if suffix in (".html", ".htm", ".ipynb", ".json", ".md"):
            for blob in _B64_PNG.findall(text):
                try:
                    data = b64decode(re.sub(r"\\n|\s", "", blob), validate=False)
                except ValueError:
                    continue
                for chunk in _png_texts(data):
                    leaks += [Leak(str(f), "embedded_png", s, sid) for sid, s in matcher.find(chunk)]
    return leaks


def _collect(paths: Any) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _SCANNED)
        elif p.is_file():
            files.append(p)
        else:
            raise InputDataError("output path does not exist", path=p, fix="Pass existing files or folders")
    return files


class _Matcher:
    """Whole-word matching of many IDs: one pass over word tokens (or a regex for IDs with punctuation)."""

    def __init__(self, ids: set[str]):
        self.word_ids = {s for s in ids if re.fullmatch(r"\w+", s)}
        other = sorted(ids - self.word_ids, key=len, reverse=True)
        self.other = (re.compile(r"(?<!\w)(" + "|".join(map(re.escape, other)) + r")(?!\w)") if other else None)

    def find(self, text: str) -> list[tuple[str, str]]:
        found = []
        if self.word_ids:
            for m in re.finditer(r"\w+", text):
                if m.group(0) in self.word_ids:
                    found.append((m.group(0), _snippet(text, m.start(), m.end())))
        if self.other is not None:
            for m in self.other.finditer(text):
                found.append((m.group(1), _snippet(text, m.start(), m.end())))
        return found


def _snippet(text: str, start: int, end: int) -> str:
    return re.sub(r"\s+", " ", text[max(0, start - 40):end + 40])


def _png_texts(data: bytes) -> list[str]:
    """Texts of a PNG's tEXt, zTXt and iTXt chunks (keyword and value)."""
    if not data.startswith(_PNG_SIGNATURE):
        return []
    texts, pos = [], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        try:
            if ctype == b"tEXt":
                texts.append(body.replace(b"\x00", b" ").decode("latin-1"))
            elif ctype == b"zTXt":
                key, _, rest = body.partition(b"\x00")
                texts.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
            elif ctype == b"iTXt":
                key, _, rest = body.partition(b"\x00")
                compressed = rest[:1] == b"\x01"
                _lang, _, rest = rest[2:].partition(b"\x00")
                _translated, _, value = rest.partition(b"\x00")
                value = zlib.decompress(value) if compressed else value
                texts.append(key.decode("latin-1") + " " + _translated.decode("utf-8", "replace") + " "
                             + value.decode("utf-8", "replace"))
        except (zlib.error, UnicodeDecodeError):
            texts.append(body.decode("latin-1"))
        if ctype == b"IEND":
            break
    return texts




#: File that marks a folder as private working files (``reports/<term>/work/README.md`` carries it too).
PRIVATE_MARKER = ".private"


class PrivateFolderError(InputDataError):
    """A folder of private working files was passed where only publishable output is allowed."""


def check_publishable(folder: str | Path) -> Path:
    """Refuse a folder that is, or lies inside, or contains, private working files.

    ``reports/<term>/work/`` holds exact values (bundles, executed notebooks,
    logs) and carries a :data:`PRIVATE_MARKER` file; only ``release/`` may be
    shared. Returns the folder when it is publishable.

    Raises
    ------
    PrivateFolderError
        Naming the marker found and the release folder to use instead.
    """
    folder = Path(folder).resolve()
    for p in (folder, *folder.parents):
        if (p / PRIVATE_MARKER).exists():
            raise PrivateFolderError("this folder holds private working files (exact values), not a release",
                                     path=p, fix="Share only reports/<term>/release/")
    if folder.is_dir():
        for marker in folder.rglob(PRIVATE_MARKER):
            raise PrivateFolderError("this folder contains private working files (exact values)",
                                     path=marker.parent, fix="Share only reports/<term>/release/")
    return folder


def scan_release(folder: str | Path, student_ids: Iterable[Any]) -> list[Leak]:
    """The leak scan of a release folder: refuses private working files, then :func:`scan_outputs`.

    Raises
    ------
    PrivateFolderError
        When ``folder`` is, lies in or holds a ``work/`` folder (:func:`check_publishable`).
    """
    return scan_outputs(check_publishable(folder), student_ids)
