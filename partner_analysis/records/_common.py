"""Shared pieces of the records area: the validation context, problem lists and date parsing.

Every input path (widget forms, CSV import, the Python API) checks a row with
the same ``check_*`` functions, which return a list of :class:`Problem` rather
than raising, so that a CSV import can collect every problem in every file
before writing anything.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping, Sequence

import pandas as pd

from ..config import DistrictConfig
from ..exceptions import InputDataError
from ..i18n import N_, Translator

PARTIES = ("district", "partner")


#: parameters of a problem's text that are themselves English msgids (translated with the text)
_TRANSLATED_PARAMS = ("what",)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value: where (column), what was found, and the fix.

    ``problem`` and ``fix`` are English (CSV imports and the Python API report them as they are). A problem
    made with :func:`problem` also keeps its texts as gettext msgids with their parameters, so a form can
    show it in the respondent's language (:meth:`text`).
    """

    column: str
    value: Any
    problem: str
    fix: str | None = None
    template: tuple[str, str | None, Mapping[str, Any]] | None = field(default=None, compare=False, repr=False)

    def to_error(self, *, path: Any = None, row: Any = None) -> InputDataError:
        return InputDataError(self.problem, path=path, row=row, column=self.column, value=self.value, fix=self.fix)

    def text(self, lang: str | None = None) -> str:
        """``"Problem. Fix"`` as a sentence, in ``lang`` (English when the problem has no template)."""
        message, fix = self.problem, self.fix
        if self.template is not None and lang:
            _ = Translator(lang)
            msgid, fixid, params = self.template
            shown = {k: (_(v) if k in _TRANSLATED_PARAMS and isinstance(v, str) else v) for k, v in params.items()}
            message = _(msgid).format(**shown)
            fix = _(fixid).format(**shown) if fixid else None
        return message[:1].upper() + message[1:] + (f". {fix}" if fix else "")


def problem(column: str, value: Any, message: str, fix: str | None = None, /, **params: Any) -> Problem:
    """A :class:`Problem` whose ``message`` and ``fix`` are English msgids with ``{placeholders}`` filled from
    ``params`` (mark the literals with ``N_`` where they are written, so ``make i18n-extract`` finds them)."""
    return Problem(column, value, message.format(**params), fix.format(**params) if fix else None,
                   template=(message, fix, params))


@dataclass(frozen=True)
class RecordsContext:
    """What a record is checked against: the district config and the known partner ids.

    ``partners=None`` skips the partner check (used only where no partner list
    is available, e.g. a bare store in an analyst's session).
    """

    config: DistrictConfig
    partners: frozenset[str] | None = None

    @classmethod
    def build(cls, config: DistrictConfig, partners: Iterable[str] | pd.DataFrame | None = None) -> "RecordsContext":
        if isinstance(partners, pd.DataFrame):
            partners = partners["partner_id"]
        return cls(config=config, partners=None if partners is None else frozenset(str(p) for p in partners))


def records_context(store, config: DistrictConfig, partners: Iterable[str] | pd.DataFrame | None = None
                    ) -> RecordsContext:
    """The validation context: ``partners`` when given, else the store's partnerships (if any are registered)."""
    if partners is None and hasattr(store, "partnerships_frame"):
        known = store.partnerships_frame()
        if len(known):
            partners = known["partner_id"]
    return RecordsContext.build(config, partners)


def raise_problems(problems: Sequence[Problem], *, path: Any = None, row: Any = None,
                   what: str = "record") -> None:
    """Raise one :class:`InputDataError` listing every problem; do nothing when there are none.

    The error carries the first problem's location as attributes and every problem,
    as its own ``InputDataError``, in ``.errors``.
    """
    if not problems:
        return
    errors = [p.to_error(path=path, row=row) for p in problems]
    raise_errors(errors, what=what)


def raise_errors(errors: Sequence[InputDataError], *, what: str = "record") -> None:
    if not errors:
        return
    if len(errors) == 1:
        err = errors[0]
        err.errors = [errors[0]]
        raise err
    first = errors[0]
    lines = "\n".join(f"  - {e}" for e in errors)
    err = InputDataError(f"{len(errors)} problems in the {what}, nothing was saved:\n{lines}",
                         path=None, row=None, column=None, value=None, fix=None)
    err.path, err.row, err.column, err.value, err.fix = first.path, first.row, first.column, first.value, first.fix
    err.errors = list(errors)
    raise err


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip() == ""


def parse_date(value: Any, column: str, problems: list[Problem], *, required: bool = True) -> dt.date | None:
    """A date from a date, datetime, Timestamp or ``YYYY-MM-DD`` string; records a problem otherwise."""
    if is_missing(value):
        if required:
            problems.append(problem(column, value, N_("a date is required"), N_("Write the date as YYYY-MM-DD")))
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        problems.append(problem(column, value, N_("expected a date as YYYY-MM-DD, found {value!r}"),
                                N_("Write the date as YYYY-MM-DD, e.g. 2025-10-02"), value=value))
        return None


def parse_number(value: Any, column: str, problems: list[Problem], *, minimum: float | None = 0.0,
                 required: bool = True) -> float | None:
    if is_missing(value):
        if required:
            problems.append(problem(column, value, N_("a number is required"), N_("Enter an amount")))
        return None
    try:
        x = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        problems.append(problem(column, value, N_("expected a number, found {value!r}"),
                                N_("Write a plain number without currency signs, e.g. 1250.50"), value=value))
        return None
    if math.isnan(x) or math.isinf(x):
        problems.append(problem(column, value, N_("expected a finite number, found {value!r}"),
                                N_("Enter an amount"), value=value))
        return None
    if minimum is not None and x < minimum:
        problems.append(problem(column, value, N_("the amount must not be negative, found {x:g}"),
                                N_("Enter the size of the contribution as a positive number; a withdrawn "
                                   "contribution is deleted, not entered as a negative"), x=x))
        return None
    return x


def check_choice(value: Any, column: str, allowed: Collection[str], problems: list[Problem], *,
                 what: str, required: bool = True) -> str | None:
    if is_missing(value):
        if required:
            problems.append(problem(column, value, N_("a {what} is required"), N_("Use one of {allowed}"),
                                    what=what, allowed=sorted(allowed)))
        return None
    v = str(value).strip()
    if v not in allowed:
        problems.append(problem(column, value, N_("unknown {what} {value!r}"), N_("Use one of {allowed}"),
                                what=what, value=v, allowed=sorted(allowed)))
        return None
    return v


def check_partner(value: Any, ctx: RecordsContext, problems: list[Problem], column: str = "partner_id") -> str | None:
    if is_missing(value):
        problems.append(problem(column, value, N_("a partner id is required"), N_("Enter the partner id, e.g. P01")))
        return None
    pid = str(value).strip()
    if ctx.partners is not None and pid not in ctx.partners:
        shown = sorted(ctx.partners)
        problems.append(problem(column, value, N_("unknown partner {value!r}"),
                                N_("Use one of the district's partners {shown} (partners.parquet in DATA_DIR)"),
                                value=pid, shown=f"{shown[:12]}{' ...' if len(shown) > 12 else ''}"))
        return None
    return pid


def check_term(value: Any, ctx: RecordsContext, problems: list[Problem], column: str = "term",
               required: bool = True) -> str | None:
    if is_missing(value):
        if required:
            problems.append(problem(column, value, N_("a term is required"), N_("Use one of {allowed}"),
                                    allowed=list(ctx.config.term_ids)))
        return None
    tid = str(value).strip()
    if tid not in ctx.config.term_ids:
        problems.append(problem(column, value, N_("term {value!r} is outside the configured terms"),
                                N_("Use one of {allowed}, or add the term to district.yml"),
                                value=tid, allowed=list(ctx.config.term_ids)))
        return None
    return tid


def check_text(value: Any, column: str, problems: list[Problem], *, what: str, required: bool = True,
               max_len: int = 2000) -> str | None:
    if is_missing(value):
        if required:
            problems.append(problem(column, value, N_("{what} is required"), N_("Enter {what}"), what=what))
        return None
    text = str(value).strip()
    if len(text) > max_len:
        problems.append(problem(column, value[:40] + "...", N_("{what} is longer than {max_len} characters"),
                                N_("Shorten the text"), what=what, max_len=max_len))
        return None
    return text


def parse_timestamp(value: Any, column: str, problems: list[Problem]) -> dt.datetime:
    """When a record was entered: the given timestamp, or now (UTC) when missing or unreadable."""
    if is_missing(value):
        return now_utc()
    try:
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            raise ValueError(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.to_pydatetime()
    except (TypeError, ValueError):
        problems.append(Problem(column, value, f"expected a timestamp as YYYY-MM-DDTHH:MM:SS, found {value!r}",
                                "Write it like 2025-10-02T14:30:00, or leave it empty for now"))
        return now_utc()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)


def term_order(config: DistrictConfig) -> list[str]:
    return [t.id for t in config.ordered_terms]
