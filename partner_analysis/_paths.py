"""Identifiers and the paths built from them.

Student, school, partner, program and term IDs end up in file names (a report per partner and
term), so they are checked once, at import and when ``district.yml`` is read, against one
pattern, :data:`ID_PATTERN`: 1 to 64 characters, letters, digits, ``.``, ``_`` and ``-``, starting
with a letter or a digit. ``../../x``, ``/etc/x``, ``a b`` and ``P01;rm`` are refused there, with the
file, row, column and value named.

:func:`safe_child` is the one way to build a path under an output root from such parts: every part
must be a single plain name, and the resolved result must lie inside the resolved root, before
anything is written.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

__all__ = ["ID_PATTERN", "ID_RULE", "IDENTIFIER_COLUMNS", "is_identifier", "safe_child", "shorten"]

#: The pattern every student, school, partner, program and term ID must match (documented in
#: examples/README.md).
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The pattern in words, for messages.
ID_RULE = ("an ID is 1-64 characters: letters, digits, '.', '_' and '-', starting with a letter or digit "
           "(no spaces, slashes or other symbols)")
#: Columns of the data model holding such IDs.
IDENTIFIER_COLUMNS = ("student_id", "school_id", "partner_id", "program_id", "term_id")


def is_identifier(value: Any) -> bool:
    """True when ``value`` is a string matching :data:`ID_PATTERN` as a whole."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def shorten(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long it was (for messages)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}...{length}"


def safe_child(root: str | Path, *parts: Any) -> Path:
    """``root / part / ...``, verified to stay inside ``root``.

    Parameters
    ----------
    root : path
        The output root (``--out``, a reports folder). It need not exist yet.
    *parts : str
        Single path components: checked identifiers or fixed file names (``P01.html``).

    Returns
    -------
    Path
        The joined path (not resolved, so relative roots stay relative).

    Raises
    ------
    ConfigError
        A part is empty, ``.``/``..``, holds a path separator or a NUL, or the resolved path (links
        followed) lies outside the resolved root.
    """
    root = Path(root)
    for part in parts:
        text = str(part)
        if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text \
                or Path(text).is_absolute() or Path(text).drive:
            raise ConfigError(f"{shorten(text)} cannot be part of a file name under {root}",
                              value=text, fix=ID_RULE[0].upper() + ID_RULE[1:])
    path = root.joinpath(*map(str, parts))
    base = root.resolve()
    target = path.resolve()
    if target != base and base not in target.parents:
        raise ConfigError(f"{path} resolves to {target}, outside {base}", value=str(path),
                          fix="Remove the link that leads outside the output folder, or choose another one")
    return path
