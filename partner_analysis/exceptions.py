"""One exception hierarchy for the whole toolkit.

Every error a user can cause by giving the toolkit bad input is a
:class:`PartnerAnalysisError`. The command line catches that class, prints the
message and exits non-zero; anything else is a bug and keeps its traceback.

Locations (file, row, column, value) are stored as attributes as well as in the
message, so that reports and tests read them instead of parsing text, as
papermill's ``PapermillExecutionError`` keeps ``cell_index``. All exceptions
pickle (they cross process-pool boundaries in the report batch).
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "PartnerAnalysisError",
    "InputDataError",
    "ConfigError",
    "InstrumentError",
    "ScoringError",
    "StoreError",
    "StoreSchemaError",
    "NotebookRunError",
    "PartnerAnalysisWarning",
    "AccessDenied",
    "MailError",
    "did_you_mean",
]


class PartnerAnalysisError(Exception):
    """Base class of every expected, user-facing error."""

    #: exit code the CLI uses for this kind of error
    exit_code = 2

    def __reduce__(self):  # keep keyword attributes through pickling
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls, args, state):
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


def _where(path: Any = None, row: Any = None, column: Any = None, sheet: Any = None) -> str:
    parts = []
    if path is not None:
        parts.append(str(path))
    if sheet is not None:
        parts.append(f"sheet '{sheet}'")
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


class InputDataError(PartnerAnalysisError, ValueError):
    """A data file (or a value in it) is not what the toolkit needs.

    Parameters
    ----------
    problem : str
        What was found, e.g. ``"expected an integer 0-180, found 'abc'"``.
    path, row, column, value :
        Where. ``row`` is the 1-based data row as a spreadsheet user sees it
        (the header is row 1, so the first data row is row 2).
    fix : str
        What to do about it.
    """

    def __init__(self, problem: str, *, path: Any = None, row: Any = None,
                 column: Any = None, value: Any = None, fix: str | None = None,
                 sheet: Any = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.value = value
        self.fix = fix
        self.sheet = sheet
        where = _where(self.path, row, column, sheet)
        msg = f"{where}: {problem}" if where else problem
        if fix:
            msg = f"{msg}. {fix}"
        super().__init__(msg)


class ConfigError(PartnerAnalysisError, ValueError):
    """A configuration file or argument is invalid."""

    def __init__(self, problem: str, *, path: Any = None, key: str | None = None,
                 value: Any = None, fix: str | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.key = key
        self.value = value
        self.fix = fix
        where = ", ".join(p for p in [self.path, f"key '{key}'" if key else None] if p)
        msg = f"{where}: {problem}" if where else problem
        if fix:
            msg = f"{msg}. {fix}"
        super().__init__(msg)


class InstrumentError(InputDataError):
    """A survey instrument (XLSForm) is malformed. Names sheet, row and column."""


class ScoringError(PartnerAnalysisError):
    """Answers cannot be scored with the given instrument."""


class StoreError(PartnerAnalysisError):
    """The records store refused an operation (unknown key, closed response, ...)."""


class StoreSchemaError(StoreError):
    """The store's schema revision is not the one this code needs (run ``partner-analysis db upgrade``)."""


class NotebookRunError(PartnerAnalysisError):
    """A report notebook failed. The failed notebook is saved before raising."""

    exit_code = 1

    def __init__(self, message: str, *, notebook: Any = None, partner: Any = None,
                 output: Any = None, cell_index: int | None = None):
        self.notebook = None if notebook is None else str(notebook)
        self.partner = partner
        self.output = None if output is None else str(output)
        self.cell_index = cell_index
        super().__init__(message)


class AccessDenied(PartnerAnalysisError):
    """An invitation link (or an identity) does not give access to what was asked.

    Attributes
    ----------
    reason : str
        ``"missing"``, ``"unknown"`` (no such link, or an altered one), ``"expired"``, ``"revoked"``,
        ``"wrong_app"`` or ``"scope"`` (another partnership than the invitation's).
    """

    def __init__(self, message: str, *, reason: str = "unknown"):
        self.reason = reason
        super().__init__(message)


class MailError(PartnerAnalysisError):
    """An e-mail could not be sent (SMTP server unreachable, refused login or recipient, no TLS)."""


class PartnerAnalysisWarning(UserWarning):
    """Something the user should know about, but not an error."""


def did_you_mean(value: Any, allowed) -> str:
    """``"Did you mean 'x'? "`` for the allowed name closest to ``value`` (difflib), or ``""``."""
    import difflib
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'? " if close else ""


def check_argument(name: str, value: Any, allowed, *, key: str | None = None) -> None:
    """Raise ``ConfigError`` (a ``ValueError``) naming the parameter when ``value`` is not allowed.

    Like seaborn's ``_check_argument``:
    ``The value for `method` must be one of ['a', 'b'], but 'c' was passed.``
    ``key`` (e.g. ``privacy.profile``) and ``value`` are kept on the error.
    """
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"The value for `{name}` must be one of {allowed}, but {value!r} was passed", key=key, value=value
        )
