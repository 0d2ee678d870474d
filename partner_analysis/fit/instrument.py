r"""Read and validate a partner-fit instrument written as an XLSForm.

An instrument is an ordinary XLSForm workbook (sheets ``survey``, ``choices``, ``settings``;
https://xlsform.org) plus a few namespaced ``fit::`` columns that other XLSForm tools ignore:

=========  =====================  ==============================================================
sheet      column                 meaning
=========  =====================  ==============================================================
survey     ``fit::dimension``     the dimension an item scores into (required for scored items)
survey     ``fit::reverse``       ``yes`` to reverse-code (x' = max + min - x)
survey     ``fit::weight``        item weight, > 0 (default 1)
survey     ``fit::role``          ``district``, ``partner`` or ``both`` (default both)
survey     ``fit::pair``          links the mirrored district and partner wording of one construct
choices    ``fit::score``         numeric score; blank = not scored (don't know, not applicable)
settings   ``fit::bands``         ``concern<3.0; borderline<4.0; strength`` (half-open intervals)
settings   ``fit::gap_watch``     \|gap\| at or above which a dimension is flagged "watch" (0.5)
settings   ``fit::gap_discuss``   \|gap\| at or above which it is flagged "discuss" (1.0)
settings   ``fit::min_items_pct`` share of a dimension's items that must be answered (0.75)
settings   ``fit::min_n``         minimum responses before reliability is shown (5)
settings   ``fit::confidential``  ``yes``: within-side spread and comments need >= 5 respondents
settings   ``fit::form_title::L`` the form title in language ``L`` (``fit::form_title::Español (es)``)
=========  =====================  ==============================================================

Translations use XLSForm's own columns: ``label::English (en)``, ``label::Español (es)``, likewise
``hint::``, ``required_message::`` and ``constraint_message::`` (survey) and ``label::`` (choices);
``default_language`` (settings) names the language a plain ``label`` column is in. Every scored item
must carry its label, hint and choice labels in every declared language. :meth:`Instrument.in_language`
gives the same instrument with the texts of one language; names and scores never change.

:func:`read_instrument` runs our own checks first (they know the ``fit::`` columns and give exact
locations), then pyxform's XLSForm conversion on a copy without the ``fit::`` columns as a
back-stop for XLSForm-level errors; pyxform's message is translated into an
:class:`~partner_analysis.exceptions.InstrumentError` naming sheet, row and column.
"""
from __future__ import annotations

import datetime as _dt
import io
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..exceptions import InstrumentError
from ..i18n import N_
from .expressions import Expression, ExpressionError, is_blank, parse_expression

__all__ = ["Choice", "Item", "Band", "GapThresholds", "Instrument", "read_instrument", "check_version_increases",
           "default_instrument_path", "write_plain_xlsform", "parse_language", "ROLES", "ITEM_TYPES", "TRANSLATABLE"]

ROLES = ("district", "partner", "both")
ITEM_TYPES = ("select_one", "select_multiple", "integer", "decimal", "text", "date", "note")
_GROUP_TYPES = ("begin group", "end group", "begin_group", "end_group")
# XLSForm metadata types carry no question; we accept and skip them so forms from Kobo/ODK load
_META_TYPES = ("start", "end", "today", "deviceid", "username", "phonenumber", "audit", "calculate")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YES = ("yes", "true", "true()", "1")
_NO = ("no", "false", "false()", "0", "")
_DEFAULT_BANDS = "concern<3.0; borderline<4.0; strength"


@dataclass(frozen=True)
class Choice:
    """One answer option: ``name`` (stored value), ``label`` and ``score`` (None = not scored).

    ``label`` is in the instrument's default language; ``labels`` holds ``(language code, label)``
    for every declared language (empty for an untranslated form).
    """

    name: str
    label: str
    score: float | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def label_in(self, lang: str | None) -> str:
        """The label in language ``lang`` (a code such as ``"es"``), else the default-language label."""
        return dict(self.labels).get(lang or "", "") or self.label


@dataclass(frozen=True)
class Item:
    """One survey row that holds a question (or a note). ``row`` is the spreadsheet row number."""

    name: str
    type: str
    label: str
    hint: str = ""
    list_name: str | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = False
    required_message: str = ""
    relevant: str = ""
    constraint: str = ""
    constraint_message: str = ""
    dimension: str | None = None
    reverse: bool = False
    weight: float = 1.0
    role: str = "both"
    pair: str | None = None
    group: str = ""
    row: int = 0
    #: relevant expressions of the enclosing groups, outermost first
    group_relevant: tuple[str, ...] = ()
    #: ``required`` when it is an expression rather than yes/no
    required_if: str = ""
    #: translations: ``(language code, text)`` pairs per translatable column ("label", "hint",
    #: "required_message", "constraint_message"), including the default language
    translations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    #: XLSForm ``appearance`` (``likert``, ``multiline``, ...): how a form may draw the question
    appearance: str = ""

    def text_in(self, column: str, lang: str | None) -> str:
        """``column`` ("label", "hint", ...) in language ``lang``, else in the default language."""
        return dict(dict(self.translations).get(column, ())).get(lang or "", "") or getattr(self, column)

    @property
    def scored(self) -> bool:
        """True when the item scores into a dimension."""
        return self.dimension is not None

    @property
    def score_range(self) -> tuple[float, float]:
        """(min, max) of the scored choices; reverse coding maps x to max + min - x."""
        scores = [c.score for c in self.choices if c.score is not None]
        if not scores:
            return (math.nan, math.nan)
        return (min(scores), max(scores))

    def choice(self, name: Any) -> Choice | None:
        key = cell_text(name)
        for c in self.choices:
            if c.name == key:
                return c
        return None

    def applies_to(self, role: str) -> bool:
        return self.role == "both" or self.role == role


@dataclass(frozen=True)
class Band:
    """A score band: values ``< upper`` (and at or above the previous band's upper) get ``label``."""

    label: str
    upper: float = math.inf


@dataclass(frozen=True)
class GapThresholds:
    """|partner - district| at or above ``watch`` is flagged "watch", at or above ``discuss`` "discuss"."""

    watch: float = 0.5
    discuss: float = 1.0

    def flag(self, gap: float) -> str:
        if gap is None or (isinstance(gap, float) and math.isnan(gap)):
            return ""
        g = abs(float(gap))
        # rounding guards against 4.5 - 4.0 landing a hair below 0.5 in floating point
        g = round(g, 9)
        if g >= self.discuss:
            return "discuss"
        if g >= self.watch:
            return "watch"
        return "ok"


@dataclass(frozen=True)
class Instrument:
    """A validated fit-survey instrument.

    Attributes
    ----------
    form_id, version, title : str
    items : tuple of Item
        Questions and notes in form order (groups are not items; ``Item.group`` names the section).
    dimensions : tuple of str
        Scored dimensions in order of first appearance.
    bands : tuple of Band
    gap_thresholds : GapThresholds
    min_items_pct : float
    min_n : int
    confidential : bool
    path : str or None
        The workbook the instrument was read from.
    """

    form_id: str
    version: str
    title: str
    items: tuple[Item, ...]
    dimensions: tuple[str, ...]
    bands: tuple[Band, ...] = (Band("concern", 3.0), Band("borderline", 4.0), Band("strength"))
    gap_thresholds: GapThresholds = GapThresholds()
    min_items_pct: float = 0.75
    min_n: int = 5
    confidential: bool = False
    path: str | None = None
    groups: tuple[tuple[str, str], ...] = ()
    dimension_labels: tuple[tuple[str, str], ...] = field(default=())
    #: declared languages as ``(code, name)``, default language first (``(("en", "English"),)`` when untranslated)
    languages: tuple[tuple[str, str], ...] = (("en", "English"),)
    #: group labels per language: ``(code, ((group name, label), ...))``
    group_translations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    #: form titles per language from ``fit::form_title::<Language (code)>`` settings columns
    title_translations: tuple[tuple[str, str], ...] = ()

    @property
    def default_language(self) -> str:
        """Code of the default language (the first of :attr:`languages`)."""
        return self.languages[0][0]

    @property
    def language_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.languages)

    def in_language(self, lang: str | None) -> "Instrument":
        """The same instrument with labels, hints, messages and titles in ``lang``.

        Names, choice names, scores, logic and version are unchanged, so answers given in any language
        are stored and scored identically. An unknown or empty ``lang`` gives the default language.
        """
        if not lang or lang not in self.language_codes or lang == self.default_language:
            return self
        items = tuple(replace(
            it, label=it.text_in("label", lang), hint=it.text_in("hint", lang),
            required_message=it.text_in("required_message", lang),
            constraint_message=it.text_in("constraint_message", lang),
            choices=tuple(replace(c, label=c.label_in(lang)) for c in it.choices))
            for it in self.items)
        group_labels = dict(dict(self.group_translations).get(lang, ()))
        groups = tuple((name, group_labels.get(name) or label) for name, label in self.groups)
        items = tuple(replace(it, group=next((group_labels.get(g) or lab for g, lab in self.groups
                                                         if lab == it.group), it.group)) for it in items)
        title = dict(self.title_translations).get(lang) or self.title
        return replace(self, items=items, groups=groups, title=title)

    # -- look-ups ------------------------------------------------------------------------------

    def item(self, name: str) -> Item:
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(f"instrument '{self.form_id}' has no item {name!r}")

    def items_for(self, role: str) -> tuple[Item, ...]:
        """Items a respondent of ``role`` ("district" or "partner") sees."""
        if role not in ("district", "partner", "both"):
            raise InstrumentError(f"role must be 'district' or 'partner', found {role!r}", value=role)
        return tuple(it for it in self.items if role == "both" or it.applies_to(role))

    def scored_items(self, dimension: str | None = None, role: str | None = None) -> tuple[Item, ...]:
        return tuple(it for it in self.items if it.scored and (dimension is None or it.dimension == dimension)
                     and (role is None or it.applies_to(role)))

    def dimension_label(self, dimension: str) -> str:
        """Plain-language name of a dimension (``data_sharing`` -> "data sharing")."""
        return dict(self.dimension_labels).get(dimension, dimension.replace("_", " "))

    def band(self, value: float) -> str:
        """The band label of a score (half-open intervals); ``""`` for a missing score."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        for b in self.bands:
            if value < b.upper:
                return b.label
        return self.bands[-1].label

    # -- logic ---------------------------------------------------------------------------------

    def is_relevant(self, item_name: str, answers: Mapping[str, Any]) -> bool:
        """Whether ``item_name`` is shown given ``answers`` (its groups' and its own ``relevant``)."""
        it = self.item(item_name)
        for text in (*it.group_relevant, it.relevant):
            if text and not parse_expression(text).evaluate(answers):
                return False
        return True

    def is_required(self, item_name: str, answers: Mapping[str, Any]) -> bool:
        it = self.item(item_name)
        if it.required_if:
            return parse_expression(it.required_if).evaluate(answers)
        return it.required

    def check_value(self, item_name: str, value: Any, answers: Mapping[str, Any]) -> str | None:
        """Error text when ``value`` is not a valid answer to ``item_name``, else None.

        Checks, in order: required (only when the item is relevant), the type (a known choice name,
        an integer, a number, an ISO date), then the ``constraint`` with ``.`` bound to ``value``.
        """
        it = self.item(item_name)
        if is_blank(value):
            if it.type != "note" and self.is_relevant(item_name, answers) and self.is_required(item_name, answers):
                return it.required_message or N_("This question is required.")
            return None
        problem = _type_problem(it, value)
        if problem:
            return problem
        if it.constraint and not parse_expression(it.constraint).evaluate(answers, current=value):
            return it.constraint_message or N_("This answer is not allowed.")
        return None

    def validate_answers(self, answers: Mapping[str, Any], role: str | None = None) -> list[tuple[str, str]]:
        """All problems of a response as ``(item, message)`` pairs (for ``responses.submit(validator=...)``).

        Answers to questions hidden by skip logic are ignored (the form clears them).
        """
        problems = []
        for it in (self.items_for(role) if role else self.items):
            if it.type == "note" or not self.is_relevant(it.name, answers):
                continue
            msg = self.check_value(it.name, answers.get(it.name), answers)
            if msg:
                problems.append((it.name, msg))
        return problems


# -- reading -----------------------------------------------------------------------------------

def default_instrument_path() -> Path:
    """The shipped instrument ``surveys/partner_fit_v1.xlsx``."""
    from ..resources import project_file
    return project_file("surveys/partner_fit_v1.xlsx", required=False)


def cell_text(v: Any) -> str:
    """A workbook or answer cell as text: ``""`` for empty/NaN, ``yes``/``no`` for booleans, whole floats without ``.0``."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v).strip()


def _type_problem(it: Item, value: Any) -> str | None:
    if it.type == "select_one":
        if it.choice(value) is None:
            return f"Choose one of the listed answers (found {value!r})."
    elif it.type == "select_multiple":
        values = value if isinstance(value, (list, tuple, set)) else str(value).split()
        bad = [v for v in values if it.choice(v) is None]
        if bad:
            return f"Choose only listed answers (found {', '.join(map(repr, bad))})."
    elif it.type == "integer":
        try:
            f = float(value)
        except (TypeError, ValueError):
            return N_("Enter a whole number.")
        if isinstance(value, bool) or not f.is_integer():
            return N_("Enter a whole number.")
    elif it.type == "decimal":
        try:
            f = float(value)
        except (TypeError, ValueError):
            return N_("Enter a number.")
        if math.isnan(f) or isinstance(value, bool):
            return N_("Enter a number.")
    elif it.type == "date":
        if isinstance(value, (_dt.date, _dt.datetime)):
            return None
        try:
            _dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return N_("Enter a date as YYYY-MM-DD.")
    elif it.type == "note":
        return "This is a note; it takes no answer."
    return None


@dataclass
class _Sheet:
    name: str
    header: dict[str, int]  # lower-cased column name -> 0-based index
    headers: list[str]
    rows: list[tuple[int, tuple]]  # (spreadsheet row, values)

    def get(self, values: tuple, column: str) -> str:
        idx = self.header.get(column)
        if idx is None or idx >= len(values):
            return ""
        return cell_text(values[idx])


class _Reader:
    """Collects the workbook and raises InstrumentError with exact locations."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, problem: str, *, sheet=None, row=None, column=None, value=None, fix=None):
        return InstrumentError(problem, path=self.path, sheet=sheet, row=row, column=column, value=value, fix=fix)

    def load(self) -> dict[str, _Sheet]:
        import openpyxl
        if not self.path.is_file():
            raise self.error("file not found", fix="Check the path; the shipped instrument is "
                                                   "surveys/partner_fit_v1.xlsx")
        try:
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises several unrelated types for a non-workbook file
            raise self.error(f"cannot be read as an .xlsx workbook ({type(err).__name__}: {err})",
                             fix="Save the instrument as an Excel .xlsx file") from err
        sheets = {}
        try:
            for ws in wb.worksheets:
                # Read the cells the sheet holds, not the range it declares: LibreOffice may declare
                # A1:AMJ1048576 (a billion empty cells), which would take minutes to walk.
                ws.reset_dimensions()
                rows = list(ws.iter_rows(values_only=True))
                key = ws.title.strip().lower()
                if not rows:
                    sheets[key] = _Sheet(ws.title, {}, [], [])
                    continue
                headers = [cell_text(h) for h in rows[0]]
                header = {}
                for i, h in enumerate(headers):
                    if h and h.lower() not in header:
                        header[h.lower()] = i
                body = [(n, tuple(r)) for n, r in enumerate(rows[1:], start=2)
                        if any(cell_text(v) for v in r)]
                sheets[key] = _Sheet(ws.title, header, headers, body)
        finally:
            wb.close()
        return sheets

    def require(self, sheets: dict[str, _Sheet], name: str, columns: Sequence[str]) -> _Sheet:
        if name not in sheets:
            raise self.error(f"the workbook has no '{name}' sheet (found: {', '.join(sorted(sheets)) or 'none'})",
                             sheet=name, fix=f"Add a sheet named '{name}' as described in surveys/README.md")
        sheet = sheets[name]
        for col in columns:
            if col not in sheet.header:
                raise self.error(f"required column '{col}' is missing", sheet=name, row=1, column=col,
                                 fix=f"Add a '{col}' column header in row 1 of the '{name}' sheet")
        return sheet


def _parse_float(reader: _Reader, text: str, *, sheet: str, row: int, column: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise reader.error(f"{what} must be a number, found {text!r}", sheet=sheet, row=row, column=column,
                           value=text, fix="Enter a number such as 3 or 0.5") from None
    if math.isnan(value) or math.isinf(value):
        raise reader.error(f"{what} must be a finite number, found {text!r}", sheet=sheet, row=row,
                           column=column, value=text, fix="Enter a number such as 3 or 0.5")
    return value


_LANGUAGE = re.compile(r"^(?P<name>.*?)\s*\((?P<code>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\)\s*$")
#: survey columns that XLSForm lets a form translate (``label::Español (es)``)
TRANSLATABLE = ("label", "hint", "required_message", "constraint_message")


def _text_in(sheet: "_Sheet", values: tuple, base: str, code: str, cols: dict, default: str) -> str:
    """Cell ``base::<language code>`` of a row; the plain ``base`` column counts as the default language."""
    text = ""
    if code in cols.get(base, {}):
        text = sheet.get(values, cols[base][code][0].lower())
    if not text and code == default:
        text = sheet.get(values, base)
    return text


def _translations(sheet: "_Sheet", values: tuple, bases: Sequence[str], langs: Sequence[str], cols: dict,
                  default: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return tuple((b, tuple((code, t) for code in langs if (t := _text_in(sheet, values, b, code, cols, default))))
                 for b in bases)


def _require_label(reader: "_Reader", sheet: "_Sheet", cols: dict) -> None:
    if "label" not in sheet.header and not cols.get("label"):
        raise reader.error("required column 'label' is missing", sheet=sheet.name, row=1, column="label",
                           fix=f"Add a 'label' column (or 'label::English (en)' per language) in row 1 of the "
                               f"'{sheet.name}' sheet")


def parse_language(text: str) -> tuple[str, str] | None:
    """``"Español (es)"`` -> ``("es", "Español")``; None when the text has no ``(code)``.

    XLSForm writes a language as ``Name (code)`` with an IANA subtag as the code
    (https://xlsform.org/en/#multiple-language-support); the code chooses the interface catalog.
    """
    m = _LANGUAGE.match(text or "")
    if m is None or not m.group("name"):
        return None
    return m.group("code").lower().replace("_", "-"), m.group("name")


def _language_columns(reader: "_Reader", sheet: "_Sheet", bases: Sequence[str]
                      ) -> dict[str, dict[str, tuple[str, str]]]:
    """``{base: {code: (header as written, language name)}}`` for the sheet's ``base::Language (code)`` columns."""
    found: dict[str, dict[str, tuple[str, str]]] = {b: {} for b in bases}
    for header in sheet.headers:
        base, sep, lang = header.partition("::")
        if not sep or base.lower() not in bases:
            continue
        parsed = parse_language(lang)
        if parsed is None:
            raise reader.error(f"column {header!r} names the language {lang!r} without a code", sheet=sheet.name,
                               row=1, column=header, value=header,
                               fix=f"Write the language as 'Name (code)', e.g. '{base}::Español (es)'")
        code, _name = parsed
        if code in found[base.lower()]:
            raise reader.error(f"two {base} columns are in language {code!r}", sheet=sheet.name, row=1,
                               column=header, value=header, fix="Keep one column per language")
        found[base.lower()][code] = (header, parsed[1])
    return found


def _languages(reader: "_Reader", settings: "_Sheet", svals: tuple, srow: int,
               columns: Sequence[dict[str, dict[str, tuple[str, str]]]]) -> tuple[tuple[str, str], ...]:
    """Declared languages, default first: the settings' ``default_language`` and every translated column."""
    declared: dict[str, str] = {}
    for cols in columns:
        for per_lang in cols.values():
            for code, (_h, name) in per_lang.items():
                declared.setdefault(code, name)
    text = settings.get(svals, "default_language")
    if text:
        parsed = parse_language(text)
        if parsed is None:
            raise reader.error(f"default_language {text!r} has no language code", sheet="settings", row=srow,
                               column="default_language", value=text,
                               fix="Write it as 'English (en)' (the name, then the code in brackets)")
        default = parsed
    elif declared:
        default = next(iter(declared.items()))
    else:
        default = ("en", "English")
    declared.pop(default[0], None)
    return (default, *declared.items())


def _parse_bands(reader: _Reader, text: str, row: int) -> tuple[Band, ...]:
    """``concern<3.0; borderline<4.0; strength`` -> bands with increasing upper limits."""
    fix = "Write bands as 'concern<3.0; borderline<4.0; strength': label<upper for each band, increasing, " \
          "and a last label without a limit"
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    bands, last_upper = [], -math.inf
    for i, part in enumerate(parts):
        m = re.fullmatch(r"([A-Za-z][\w -]*?)\s*(?:<\s*([-+0-9.eE]+))?", part)
        if m is None:
            raise reader.error(f"band {part!r} is not 'label<number'", sheet="settings", row=row,
                               column="fit::bands", value=text, fix=fix)
        label, upper = m.group(1).strip(), m.group(2)
        is_last = i == len(parts) - 1
        if upper is None and not is_last:
            raise reader.error(f"band {label!r} has no upper limit but is not the last band", sheet="settings",
                               row=row, column="fit::bands", value=text, fix=fix)
        if upper is not None and is_last:
            raise reader.error(f"the last band {label!r} must have no upper limit (it takes everything above)",
                               sheet="settings", row=row, column="fit::bands", value=text, fix=fix)
        value = math.inf if upper is None else _parse_float(reader, upper, sheet="settings", row=row,
                                                            column="fit::bands", what="a band limit")
        if value <= last_upper:
            raise reader.error("band limits must increase", sheet="settings", row=row, column="fit::bands",
                               value=text, fix=fix)
        last_upper = value
        bands.append(Band(label, value))
    if len(bands) < 2:
        raise reader.error("at least two bands are needed", sheet="settings", row=row, column="fit::bands",
                           value=text, fix=fix)
    return tuple(bands)


def _check_expression(reader: _Reader, text: str, *, row: int, column: str, names: set[str],
                      allow_dot: bool) -> Expression:
    try:
        expr = parse_expression(text)
    except ExpressionError as err:
        raise reader.error(f"the expression does not parse: {err.message} (character {err.position + 1})",
                           sheet="survey", row=row, column=column, value=text,
                           fix="Use ${name} for questions, quotes for text, and = != < <= > >= and or not() "
                               "selected() (see surveys/README.md)") from err
    for ref in expr.refs:
        if ref not in names:
            raise reader.error(f"the expression refers to ${{{ref}}}, which is not a question in this form",
                               sheet="survey", row=row, column=column, value=text,
                               fix="Correct the name, or add the question it refers to")
    if expr.uses_dot and not allow_dot:
        raise reader.error("'.' (the current answer) is only meaningful in a constraint", sheet="survey", row=row,
                           column=column, value=text, fix="Refer to the question by ${name} instead")
    return expr


def check_version_increases(old: Any, new: Any) -> None:
    """Raise InstrumentError unless version ``new`` is greater than ``old``.

    Both may be version strings or :class:`Instrument` objects. Versions are compared as integers
    (the XLSForm convention ``yyyymmddrr``).
    """
    old_v = old.version if isinstance(old, Instrument) else cell_text(old)
    new_v = new.version if isinstance(new, Instrument) else cell_text(new)
    path = new.path if isinstance(new, Instrument) else None
    for v in (old_v, new_v):
        if not v.isdigit():
            raise InstrumentError(f"version must be digits, found {v!r}", path=path, sheet="settings",
                                  column="version", value=v, fix="Use a version like 2025090101 (yyyymmddrr)")
    if int(new_v) <= int(old_v):
        raise InstrumentError(f"version {new_v} does not increase on the previous version {old_v}", path=path,
                              sheet="settings", row=2, column="version", value=new_v,
                              fix="Give every revision a larger version, e.g. today's date as yyyymmdd01")


def read_instrument(path: str | Path | None = None, previous_version: str | int | None = None, *,
                    pyxform_check: bool = True) -> Instrument:
    """Read and validate an XLSForm fit instrument.

    Parameters
    ----------
    path : str or Path, optional
        The workbook; default :func:`default_instrument_path`.
    previous_version : str or int, optional
        The version this revision replaces; the new version must be greater.
    pyxform_check : bool
        Also convert the form with pyxform (without the ``fit::`` columns) to catch XLSForm-level
        problems our checks do not cover.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        Naming ``path``, ``sheet``, ``row`` (spreadsheet row, header = 1), ``column``, ``value`` and the fix.
    """
    path = Path(path) if path is not None else default_instrument_path()
    reader = _Reader(path)
    sheets = reader.load()
    settings = reader.require(sheets, "settings", ("form_id", "version"))
    survey = reader.require(sheets, "survey", ("type", "name"))
    survey_cols = _language_columns(reader, survey, TRANSLATABLE)
    _require_label(reader, survey, survey_cols)
    if not settings.rows:
        raise reader.error("the settings sheet has no values row", sheet="settings", row=2,
                           fix="Put form_id and version values in row 2")
    srow, svals = settings.rows[0]
    form_id = settings.get(svals, "form_id")
    if not form_id:
        raise reader.error("form_id is empty", sheet="settings", row=srow, column="form_id",
                           fix="Give the form an id such as partner_fit")
    if not _NAME.match(form_id):
        raise reader.error(f"form_id {form_id!r} may contain only letters, digits, '_', '-', '.'",
                           sheet="settings", row=srow, column="form_id", value=form_id,
                           fix="Use an id such as partner_fit")
    version = settings.get(svals, "version")
    if not version.isdigit() or len(version) > 10:
        raise reader.error(f"version must be 1-10 digits, found {version!r}", sheet="settings", row=srow,
                           column="version", value=version, fix="Use a version like 2025090101 (yyyymmddrr)")
    if previous_version is not None:
        try:
            check_version_increases(previous_version, version)
        except InstrumentError as err:
            raise reader.error(err.problem, sheet="settings", row=srow, column="version", value=version,
                               fix=err.fix) from err
    title = settings.get(svals, "form_title") or form_id

    def setting_float(col: str, default: float, lo: float, hi: float, what: str) -> float:
        text = settings.get(svals, col)
        if not text:
            return default
        value = _parse_float(reader, text, sheet="settings", row=srow, column=col, what=what)
        if not lo <= value <= hi:
            raise reader.error(f"{what} must be between {lo} and {hi}, found {text}", sheet="settings", row=srow,
                               column=col, value=text, fix=f"Enter a value between {lo} and {hi}")
        return value

    bands = _parse_bands(reader, settings.get(svals, "fit::bands") or _DEFAULT_BANDS, srow)
    watch = setting_float("fit::gap_watch", 0.5, 0.0, 100.0, "fit::gap_watch")
    discuss = setting_float("fit::gap_discuss", 1.0, 0.0, 100.0, "fit::gap_discuss")
    if discuss < watch:
        raise reader.error(f"fit::gap_discuss ({discuss}) is below fit::gap_watch ({watch})", sheet="settings",
                           row=srow, column="fit::gap_discuss", value=discuss,
                           fix="The discuss threshold must be at least the watch threshold")
    min_pct = setting_float("fit::min_items_pct", 0.75, 0.0, 1.0, "fit::min_items_pct")
    if min_pct <= 0:
        raise reader.error("fit::min_items_pct must be above 0", sheet="settings", row=srow,
                           column="fit::min_items_pct", value=min_pct, fix="Use a share such as 0.75")
    min_n_f = setting_float("fit::min_n", 5, 1, 10_000, "fit::min_n")
    if not float(min_n_f).is_integer():
        raise reader.error("fit::min_n must be a whole number", sheet="settings", row=srow, column="fit::min_n",
                           value=min_n_f, fix="Use a whole number such as 5")
    conf_text = settings.get(svals, "fit::confidential").lower()
    if conf_text not in _YES + _NO:
        raise reader.error(f"fit::confidential must be yes or no, found {conf_text!r}", sheet="settings",
                           row=srow, column="fit::confidential", value=conf_text, fix="Enter yes or no")

    choice_cols: dict = {}
    if "choices" in sheets:
        choice_cols = _language_columns(reader, reader.require(sheets, "choices", ("list_name", "name")),
                                        ("label",))
        _require_label(reader, sheets["choices"], choice_cols)
    languages = _languages(reader, settings, svals, srow, (survey_cols, choice_cols))
    lang = _Languages(tuple(c for c, _ in languages), survey_cols, choice_cols)
    title_translations = []
    for header in settings.headers:
        if header.lower().startswith("fit::form_title::"):
            parsed = parse_language(header.split("::", 2)[2])
            if parsed is None:
                raise reader.error(f"column {header!r} names no language code", sheet="settings", row=1,
                                   column=header, fix="Write it as 'fit::form_title::Español (es)'")
            if settings.get(svals, header.lower()):
                title_translations.append((parsed[0], settings.get(svals, header.lower())))
    choices = _read_choices(reader, sheets, lang)
    items, groups, dim_labels, group_translations = _read_survey(reader, survey, choices, lang)
    _check_translated(reader, items, choices, lang)
    dimensions = tuple(dict.fromkeys(it.dimension for it in items if it.dimension))
    instrument = Instrument(form_id=form_id, version=version, title=title, items=tuple(items),
                            dimensions=dimensions, bands=bands, gap_thresholds=GapThresholds(watch, discuss),
                            min_items_pct=min_pct, min_n=int(min_n_f), confidential=conf_text in _YES,
                            path=str(path), groups=tuple(groups), dimension_labels=tuple(dim_labels.items()),
                            languages=tuple(languages), group_translations=group_translations,
                            title_translations=tuple(title_translations))
    if pyxform_check:
        rows = {survey.get(v, "name"): r for r, v in survey.rows if survey.get(v, "name")}
        _pyxform_check(reader, path, rows)
    return instrument


@dataclass(frozen=True)
class _Languages:
    """The declared language codes (default first) and the translated columns of survey and choices."""

    codes: tuple[str, ...]
    survey: dict
    choices: dict

    @property
    def default(self) -> str:
        return self.codes[0]


def _read_choices(reader: _Reader, sheets: dict[str, _Sheet], lang: _Languages
                  ) -> dict[str, list[tuple[Choice, int]]]:
    if "choices" not in sheets:
        return {}
    sheet = sheets["choices"]
    lists: dict[str, list[tuple[Choice, int]]] = {}
    for row, values in sheet.rows:
        list_name = sheet.get(values, "list_name")
        name = sheet.get(values, "name")
        if not list_name:
            raise reader.error("list_name is empty", sheet="choices", row=row, column="list_name",
                               fix="Name the choice list this row belongs to")
        if not name:
            raise reader.error("choice name is empty", sheet="choices", row=row, column="name",
                               fix="Give the choice a name (the value stored in the data)")
        if " " in name:
            raise reader.error(f"choice name {name!r} contains a space", sheet="choices", row=row, column="name",
                               value=name, fix="Use '_' instead of spaces (select_multiple stores names "
                                               "separated by spaces)")
        score_text = sheet.get(values, "fit::score")
        score = None
        if score_text:
            score = _parse_float(reader, score_text, sheet="choices", row=row, column="fit::score",
                                 what="fit::score")
        if any(c.name == name for c, _ in lists.get(list_name, [])):
            raise reader.error(f"choice name {name!r} appears twice in list {list_name!r}", sheet="choices",
                               row=row, column="name", value=name, fix="Give every choice in a list its own name")
        labels = dict(_translations(sheet, values, ("label",), lang.codes, lang.choices, lang.default))["label"]
        lists.setdefault(list_name, []).append((Choice(name, dict(labels).get(lang.default, ""), score, labels),
                                                row))
    return lists


def _read_survey(reader: _Reader, sheet: _Sheet, choices: dict[str, list[tuple[Choice, int]]], lang: _Languages):
    rows = []
    names: dict[str, int] = {}
    # first pass: names, so expressions may refer to later questions as XLSForm allows
    for row, values in sheet.rows:
        type_text = re.sub(r"\s+", " ", sheet.get(values, "type"))
        name = sheet.get(values, "name")
        base = type_text.split(" ")[0] if type_text else ""
        if type_text in ("end group", "end_group"):
            rows.append((row, values, type_text, name))
            continue
        if not type_text:
            raise reader.error("type is empty", sheet="survey", row=row, column="type",
                               fix="Enter a question type such as select_one agree5, text or integer")
        if not name:
            raise reader.error("name is empty", sheet="survey", row=row, column="name",
                               fix="Give every question and group a name")
        if not _NAME.match(name):
            raise reader.error(f"name {name!r} is not allowed: names start with a letter or '_' and contain only "
                               "letters, digits, '_', '-', '.'", sheet="survey", row=row, column="name", value=name,
                               fix="Rename the question, e.g. 'shared_values_1'")
        if name in names:
            raise reader.error(f"name {name!r} is already used in row {names[name]}", sheet="survey", row=row,
                               column="name", value=name, fix="Give every question a unique name")
        names[name] = row
        if base not in ITEM_TYPES and type_text not in _GROUP_TYPES and base not in _META_TYPES:
            raise reader.error(f"unknown question type {type_text!r}", sheet="survey", row=row, column="type",
                               value=type_text, fix=f"Use one of {', '.join(ITEM_TYPES)}, begin group, end group")
        rows.append((row, values, type_text, name))

    known = set(names)
    items: list[Item] = []
    groups: list[tuple[str, str]] = []
    stack: list[tuple[str, str, str, int]] = []  # (name, label, relevant, row)
    dim_labels: dict[str, str] = {}
    pairs: dict[str, tuple[str, int]] = {}
    group_translations: dict[str, list[tuple[str, str]]] = {}
    for row, values, type_text, name in rows:
        relevant = sheet.get(values, "relevant")
        if relevant:
            _check_expression(reader, relevant, row=row, column="relevant", names=known, allow_dot=False)
        if type_text in ("begin group", "begin_group"):
            group_labels = dict(_translations(sheet, values, ("label",), lang.codes, lang.survey,
                                              lang.default))["label"]
            label = dict(group_labels).get(lang.default) or name
            stack.append((name, label, relevant, row))
            groups.append((name, label))
            for code, text in group_labels:
                group_translations.setdefault(code, []).append((name, text))
            continue
        if type_text in ("end group", "end_group"):
            if not stack:
                raise reader.error("'end group' without a matching 'begin group'", sheet="survey", row=row,
                                   column="type", value=type_text, fix="Remove this row or add a begin group above")
            stack.pop()
            continue
        parts = type_text.split(" ")
        base = parts[0]
        if base in _META_TYPES:
            continue
        list_name = None
        item_choices: tuple[Choice, ...] = ()
        if base in ("select_one", "select_multiple"):
            if len(parts) != 2:
                raise reader.error(f"{base} needs a choice list name, found {type_text!r}", sheet="survey", row=row,
                                   column="type", value=type_text, fix=f"Write '{base} <list_name>'")
            list_name = parts[1]
            if list_name not in choices:
                raise reader.error(f"choice list {list_name!r} is not on the choices sheet", sheet="survey", row=row,
                                   column="type", value=type_text,
                                   fix=f"Add rows with list_name '{list_name}' to the choices sheet or correct "
                                       "the name")
            item_choices = tuple(c for c, _ in choices[list_name])
        elif len(parts) != 1:
            raise reader.error(f"unknown question type {type_text!r}", sheet="survey", row=row, column="type",
                               value=type_text, fix=f"Use one of {', '.join(ITEM_TYPES)}")

        required_text = sheet.get(values, "required")
        required, required_if = False, ""
        if required_text.lower() in _YES:
            required = True
        elif required_text.lower() not in _NO:
            _check_expression(reader, required_text, row=row, column="required", names=known, allow_dot=False)
            required_if = required_text
        constraint = sheet.get(values, "constraint")
        if constraint:
            _check_expression(reader, constraint, row=row, column="constraint", names=known, allow_dot=True)

        role = (sheet.get(values, "fit::role") or "both").lower()
        if role not in ROLES:
            raise reader.error(f"fit::role must be district, partner or both, found {role!r}", sheet="survey",
                               row=row, column="fit::role", value=role, fix="Enter district, partner or both")
        reverse_text = sheet.get(values, "fit::reverse").lower()
        if reverse_text not in _YES + _NO:
            raise reader.error(f"fit::reverse must be yes or no, found {reverse_text!r}", sheet="survey", row=row,
                               column="fit::reverse", value=reverse_text, fix="Enter yes or no (blank = no)")
        weight_text = sheet.get(values, "fit::weight")
        weight = 1.0
        if weight_text:
            weight = _parse_float(reader, weight_text, sheet="survey", row=row, column="fit::weight",
                                  what="fit::weight")
            if weight <= 0:
                raise reader.error(f"fit::weight must be greater than 0, found {weight_text}", sheet="survey",
                                   row=row, column="fit::weight", value=weight_text,
                                   fix="Use a positive weight, or leave blank for 1")
        dimension = sheet.get(values, "fit::dimension") or None
        has_scores = any(c.score is not None for c in item_choices)
        if dimension is not None:
            if not _NAME.match(dimension):
                raise reader.error(f"fit::dimension {dimension!r} may contain only letters, digits, '_', '-', '.'",
                                   sheet="survey", row=row, column="fit::dimension", value=dimension,
                                   fix="Use a short id such as data_sharing")
            if base != "select_one":
                raise reader.error(f"only select_one items can be scored, but this {base} item has a fit::dimension",
                                   sheet="survey", row=row, column="fit::dimension", value=dimension,
                                   fix="Clear fit::dimension, or make it a select_one with scored choices")
            if not has_scores:
                raise reader.error(f"item is in dimension {dimension!r} but choice list {list_name!r} has no "
                                   "fit::score values", sheet="survey", row=row, column="fit::dimension",
                                   value=dimension, fix="Add fit::score values to the choices")
            section = stack[-1][1] if stack else ""
            dim_labels.setdefault(dimension, section or dimension.replace("_", " "))
        elif has_scores:
            raise reader.error("the item's choices carry fit::score values but it has no fit::dimension",
                               sheet="survey", row=row, column="fit::dimension", value=None,
                               fix="Enter the dimension it scores into, or use a choice list without fit::score")
        if reverse_text in _YES and dimension is None:
            raise reader.error("fit::reverse is set on an item that is not scored", sheet="survey", row=row,
                               column="fit::reverse", value=reverse_text, fix="Clear fit::reverse or add a dimension")
        pair = sheet.get(values, "fit::pair") or None
        if pair is not None:
            if pair in pairs and pairs[pair][0] != (dimension or ""):
                raise reader.error(f"fit::pair {pair!r} links items in different dimensions (row {pairs[pair][1]} "
                                   f"is in {pairs[pair][0] or 'none'!r})", sheet="survey", row=row,
                                   column="fit::pair", value=pair, fix="Mirrored items must share one dimension")
            pairs.setdefault(pair, (dimension or "", row))
        translations = _translations(sheet, values, TRANSLATABLE, lang.codes, lang.survey, lang.default)
        default_text = {b: dict(t).get(lang.default, "") for b, t in translations}
        items.append(Item(
            name=name, type=base, label=default_text["label"], hint=default_text["hint"],
            list_name=list_name, choices=item_choices, required=required,
            required_message=default_text["required_message"], relevant=relevant, constraint=constraint,
            constraint_message=default_text["constraint_message"], dimension=dimension,
            reverse=reverse_text in _YES, weight=weight, role=role, pair=pair,
            group=stack[-1][1] if stack else "", row=row,
            group_relevant=tuple(r for _, _, r, _ in stack if r), required_if=required_if,
            translations=translations, appearance=sheet.get(values, "appearance").lower()))
    if stack:
        name, _, _, row = stack[-1]
        raise reader.error(f"group {name!r} is never closed", sheet="survey", row=row, column="type",
                           value="begin group", fix="Add an 'end group' row after the group's last question")
    if not any(it.type != "note" for it in items):
        raise reader.error("the survey has no questions", sheet="survey", row=2, fix="Add question rows")
    return items, groups, dim_labels, tuple((code, tuple(g)) for code, g in group_translations.items())


def _check_translated(reader: _Reader, items: Sequence[Item], choices: dict[str, list[tuple[Choice, int]]],
                      lang: _Languages) -> None:
    """Every scored item (its label, hint and choice labels) must be written in every declared language."""
    names = dict(lang.survey.get("label", {}))

    def column(base: str, code: str, cols: dict) -> str:
        """The column holding ``base`` in ``code`` (as written), or the one to add (named like its siblings)."""
        if code in cols.get(base, {}):
            return cols[base][code][0]
        if code == lang.default:
            return base
        for sheet_cols in (lang.survey, lang.choices):
            for found in sheet_cols.values():
                if code in found:
                    return f"{base}::{found[code][0].split('::', 1)[1]}"
        return f"{base}::{code}"

    for it in items:
        if not it.scored:
            continue
        texts = dict(it.translations)
        needed = ["label"] + (["hint"] if it.hint else [])
        for base in needed:
            have = dict(texts.get(base, ()))
            for code in lang.codes:
                if not have.get(code):
                    col = column(base, code, lang.survey)
                    what = names.get(code, (None, code))[1]
                    raise reader.error(f"scored item {it.name!r} has no {base} in language {what} ({code})",
                                       sheet="survey", row=it.row, column=col, value=it.name,
                                       fix=f"Write the {base} in every declared language ({', '.join(lang.codes)}); "
                                           "scores are only comparable when every respondent read the question")
        for choice, row in choices.get(it.list_name or "", []):
            have = dict(choice.labels)
            for code in lang.codes:
                if not have.get(code):
                    raise reader.error(f"choice {choice.name!r} of list {it.list_name!r} (used by scored item "
                                       f"{it.name!r}) has no label in language {code!r}", sheet="choices", row=row,
                                       column=column("label", code, lang.choices), value=choice.name,
                                       fix="Add the label in every declared language, or remove the language")


# -- pyxform back-stop -------------------------------------------------------------------------

def write_plain_xlsform(path: str | Path, out: str | Path | io.BytesIO) -> None:
    """Write a copy of the workbook without ``fit::`` columns, for upload to KoboToolbox / ODK Central.

    pyxform 4.5 turns extra choice columns with ``::`` into nested XML and fails, so the toolkit
    columns are dropped; the form and its names are otherwise unchanged, so exported data maps back.
    """
    import openpyxl
    # Values only, read by content (not by the declared dimension, see _Reader.load): a workbook
    # declaring 1,048,576 x 1,024 cells must not be materialised cell by cell.
    src = openpyxl.load_workbook(path, read_only=True, data_only=True)
    dst = openpyxl.Workbook()
    dst.remove(dst.active)
    try:
        for ws in src.worksheets:
            ws.reset_dimensions()
            rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
            last = max((i for i, r in enumerate(rows) if any(v is not None and v != "" for v in r)), default=-1)
            header = [cell_text(h) for h in rows[0]] if rows else []
            keep = [i for i, h in enumerate(header) if not h.lower().startswith("fit::")]
            width = max((i for i, h in enumerate(header) if h), default=-1) + 1
            keep = [i for i in keep if i < width]
            out_ws = dst.create_sheet(ws.title)
            for r in rows[:last + 1]:
                out_ws.append([r[i] if i < len(r) else None for i in keep])
    finally:
        src.close()
    dst.save(out)


_PYX_ROW = re.compile(r"\[row\s*:\s*(\d+)\]")
_PYX_SHEET = re.compile(r"On the '(\w+)' sheet")
_PYX_COLUMN = re.compile(r"the '([\w:]+)' value")


_PYX_NAMED = re.compile(r"named '([^']+)'")


def _pyxform_check(reader: _Reader, path: Path, rows: Mapping[str, int]) -> None:
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError
    buf = io.BytesIO()
    write_plain_xlsform(path, buf)
    buf.seek(0)
    try:
        xls2xform.convert(buf, file_type=".xlsx", warnings=[])
    except PyXFormError as err:
        context = getattr(err, "context", None) or {}
        text = str(err)
        m_row, m_sheet, m_col = _PYX_ROW.search(text), _PYX_SHEET.search(text), _PYX_COLUMN.search(text)
        row = context.get("row") or (int(m_row.group(1)) if m_row else None)
        sheet = context.get("sheet") or (m_sheet.group(1) if m_sheet else ("survey" if row else None))
        column = context.get("column") or (m_col.group(1) if m_col else None)
        m_named = _PYX_NAMED.search(text)
        if row is None and m_named and m_named.group(1) in rows:
            # some pyxform messages name the element instead of the row; find its row ourselves
            row, sheet = rows[m_named.group(1)], sheet or "survey"
            column = column or next((c for c in ("label", "hint", "type") if c in text), None)
        problem = _PYX_ROW.sub("", text).strip().rstrip(".")
        raise reader.error(f"XLSForm check (pyxform): {problem}", sheet=sheet, row=row, column=column,
                           fix="Correct the form as pyxform describes; see https://xlsform.org") from err
