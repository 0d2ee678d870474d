"""Form logic without widgets: field specs, parsing, skip logic, required checks, progress.

:class:`FormController` holds the answers of one form and decides what is valid,
visible and required. Views (:mod:`partner_analysis.forms.widgets`) and tests
drive it through :meth:`FormController.set` and :meth:`FormController.submit`;
persistence is a pair of callbacks (``on_change`` for autosave, ``on_submit``).
"""
from __future__ import annotations

import datetime as _dt
import decimal
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from ..exceptions import ConfigError
from ..i18n import N_

__all__ = ["FieldSpec", "FormController", "Progress", "KINDS", "REQUIRED_MESSAGE", "is_empty", "fields_by_section"]

KINDS = ("choice", "multi_choice", "integer", "decimal", "text", "long_text", "date", "note")
# Messages are English msgids (marked with N_); the widget view translates them when it shows them.
REQUIRED_MESSAGE = N_("This question is required.")

_PARSE_MESSAGES = {
    "integer": N_("Enter a whole number, for example 12."),
    "decimal": N_("Enter a number, for example 2.5."),
    "date": N_("Enter a date as YYYY-MM-DD, for example 2025-09-30."),
}


@dataclass(frozen=True)
class FieldSpec:
    """One question (or note) of a form.

    Parameters
    ----------
    name : str
        Answer key (the instrument item name).
    kind : str
        One of ``"choice"``, ``"multi_choice"``, ``"integer"``, ``"decimal"``, ``"text"``,
        ``"long_text"``, ``"date"``, ``"note"`` (display only, never answered).
    label : str
        The question text shown to the respondent.
    choices : tuple of (value, label)
        Allowed values for choice kinds, in display order.
    required : bool or callable
        Must be answered when visible. A callable ``required(answers) -> bool`` makes the requirement
        depend on other answers (XLSForm ``required`` expressions).
    hint : str
        Help text shown under the question.
    section : str
        Section heading the field is grouped under.
    relevant : callable, optional
        ``relevant(answers) -> bool``: skip logic; hidden fields are neither required nor submitted.
    validate : callable, optional
        ``validate(value, answers) -> str | None``: error text for an unacceptable parsed value.
    default : optional
        Initial value when no saved answer exists.
    required_message : str, optional
        Text shown when a required field is empty (default :data:`REQUIRED_MESSAGE`).
    appearance : str
        XLSForm-style display hint: ``"likert"`` puts a run of choice questions with the same choices in
        one compact matrix; ``"multiline"`` makes a text question a multi-line box.
    """

    name: str
    kind: str
    label: str
    choices: tuple = ()
    required: bool | Callable[[dict], bool] = False
    hint: str = ""
    section: str = ""
    relevant: Callable[[dict], bool] | None = None
    validate: Callable[[Any, dict], str | None] | None = None
    default: Any = None
    required_message: str | None = None
    appearance: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"The value for `kind` must be one of {list(KINDS)}, but {self.kind!r} was passed "
                              f"(field '{self.name}')")
        if not self.name or not isinstance(self.name, str):
            raise ConfigError(f"a form field needs a non-empty string name, got {self.name!r}")
        choices = tuple((c[0], str(c[1])) if isinstance(c, (tuple, list)) else (c, str(c)) for c in self.choices)
        object.__setattr__(self, "choices", choices)
        if self.kind in ("choice", "multi_choice") and not choices:
            raise ConfigError(f"field '{self.name}' is a {self.kind} field without choices")

    @property
    def is_answerable(self) -> bool:
        return self.kind != "note"

    def is_required(self, answers: Mapping[str, Any]) -> bool:
        """Whether the field must be answered given ``answers`` (only meaningful when visible)."""
        if not self.is_answerable:
            return False
        if callable(self.required):
            return bool(self.required(dict(answers)))
        return bool(self.required)


class Progress(NamedTuple):
    """Answered visible required questions out of all visible required questions."""

    answered: int
    total: int

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.answered / self.total

    @property
    def text(self) -> str:
        noun = "question" if self.total == 1 else "questions"
        return f"{self.answered} of {self.total} required {noun} answered"


def is_empty(value: Any) -> bool:
    """Whether ``value`` is no answer: ``None``, blank text or an empty selection.

    The one rule for forms and for what the store keeps: saving such a value clears the answer
    (:func:`partner_analysis.fit.responses.save_answer`).
    """
    if value is None:
        return True
    if isinstance(value, str) and value.strip() == "":
        return True
    if isinstance(value, (tuple, list, set, frozenset)) and len(value) == 0:
        return True
    return False


class FormController:
    """State and rules of one form; no widgets.

    Parameters
    ----------
    fields : sequence of FieldSpec
        In display order; names must be unique.
    on_change : callable, optional
        ``on_change(name, value)`` after every accepted change (autosave); ``value`` is the parsed
        value or ``None`` when the answer was cleared.
    on_submit : callable, optional
        ``on_submit(answers)`` with the visible, non-empty answers when :meth:`submit` finds no
        errors. It may return a list of ``(name, message)`` problems to refuse the submission.
    initial : mapping, optional
        Saved answers to resume from (parsed like user input; unparseable ones are dropped and reported
        by :meth:`errors`).
    """

    def __init__(self, fields: Sequence[FieldSpec], *, on_change: Callable[[str, Any], Any] | None = None,
                 on_submit: Callable[[dict], Any] | None = None, initial: Mapping[str, Any] | None = None):
        self.fields: tuple[FieldSpec, ...] = tuple(fields)
        self._by_name: dict[str, FieldSpec] = {}
        for f in self.fields:
            if f.name in self._by_name:
                raise ConfigError(f"two form fields are named '{f.name}'; names must be unique")
            self._by_name[f.name] = f
        self.on_change = on_change
        self.on_submit = on_submit
        self._values: dict[str, Any] = {}
        self._input_errors: dict[str, str] = {}
        self.submitted = False
        start = {f.name: f.default for f in self.fields if f.is_answerable and f.default is not None}
        start.update({k: v for k, v in dict(initial or {}).items() if k in self._by_name})
        for name, raw in start.items():
            value, message = self._parse(self._by_name[name], raw)
            if message is None and not is_empty(value):
                self._values[name] = value
            elif message is not None:
                self._input_errors[name] = message

    # -- lookups -------------------------------------------------------------------------------

    def field(self, name: str) -> FieldSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigError(f"this form has no field '{name}'; fields are {list(self._by_name)[:20]}") from None

    @property
    def answers(self) -> dict[str, Any]:
        """All current answers (hidden fields included, empty ones left out)."""
        return dict(self._values)

    def value(self, name: str) -> Any:
        return self._values.get(self.field(name).name)

    def visible_fields(self) -> list[FieldSpec]:
        """Fields shown under the current answers, in order.

        A field hidden by skip logic does not count as answered for later ``relevant`` checks, so a
        chain (``b`` depends on ``a``, ``c`` on ``b``) closes completely when ``a`` changes.
        """
        context = dict(self._values)
        shown = []
        for f in self.fields:
            if self._relevant(f, context):
                shown.append(f)
            else:
                context.pop(f.name, None)
        return shown

    def is_visible(self, name: str) -> bool:
        return any(f.name == name for f in self.visible_fields())

    @staticmethod
    def _relevant(f: FieldSpec, context: dict) -> bool:
        if f.relevant is None:
            return True
        return bool(f.relevant(dict(context)))

    # -- changes -------------------------------------------------------------------------------

    def set(self, name: str, value: Any) -> str | None:
        """Parse, check and store one answer.

        Returns
        -------
        str or None
            The error text when the value is refused (the previous answer is kept and the error is
            reported by :meth:`errors` until a valid value arrives), else ``None``.
        """
        spec = self.field(name)
        if not spec.is_answerable:
            raise ConfigError(f"field '{name}' is a note and takes no answer")
        parsed, message = self._parse(spec, value)
        if message is None and not is_empty(parsed) and spec.validate is not None:
            message = spec.validate(parsed, self._context_with(name, parsed))
        if message is not None:
            self._input_errors[name] = message
            return message
        self._input_errors.pop(name, None)
        old = self._values.get(name)
        if is_empty(parsed):
            self._values.pop(name, None)
            parsed = None
        else:
            self._values[name] = parsed
        if parsed != old and self.on_change is not None:
            self.on_change(name, parsed)
        return None

    def _context_with(self, name: str, value: Any) -> dict:
        context = dict(self._values)
        context[name] = value
        return context

    def _parse(self, spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
        """Turn user input into the stored type: (value, None) or (None, error text)."""
        if is_empty(value):
            return None, None
        kind = spec.kind
        if kind == "choice":
            allowed = [c[0] for c in spec.choices]
            if value in allowed:
                return value, None
            for v in allowed:  # "3" from a text box or JSON still matches the choice 3
                if str(v) == str(value):
                    return v, None
            return None, N_("Choose one of the listed options.")
        if kind == "multi_choice":
            items = [value] if isinstance(value, (str, int)) else list(value)
            allowed = [c[0] for c in spec.choices]
            lookup = {str(v): v for v in allowed}
            picked = set()
            for item in items:
                if item in allowed:
                    picked.add(item)
                elif str(item) in lookup:
                    picked.add(lookup[str(item)])
                else:
                    return None, f"'{item}' is not one of the listed options."
            # keep the display order, not the click order, so stored answers compare equal
            return tuple(v for v in allowed if v in picked), None
        if kind == "integer":
            return _parse_integer(value)
        if kind == "decimal":
            return _parse_decimal(value)
        if kind == "date":
            return _parse_date(value)
        if kind in ("text", "long_text"):
            return str(value).strip(), None
        return None, None

    # -- checks --------------------------------------------------------------------------------

    def field_error(self, name: str, *, include_required: bool = True) -> str | None:
        """The current error of one field (None when fine or hidden)."""
        spec = self.field(name)
        if not spec.is_answerable or not self.is_visible(name):
            return None
        return self._field_error(spec, include_required)

    def _field_error(self, spec: FieldSpec, include_required: bool) -> str | None:
        if spec.name in self._input_errors:
            return self._input_errors[spec.name]
        value = self._values.get(spec.name)
        if is_empty(value):
            if include_required and spec.is_required(self._values):
                return spec.required_message or REQUIRED_MESSAGE
            return None
        if spec.validate is not None:
            # constraints may depend on other answers that changed since this one was entered
            return spec.validate(value, dict(self._values))
        return None

    def errors(self) -> list[tuple[str, str]]:
        """``(name, message)`` for every visible field that blocks submission, in display order."""
        out = []
        for spec in self.visible_fields():
            if not spec.is_answerable:
                continue
            message = self._field_error(spec, True)
            if message:
                out.append((spec.name, message))
        return out

    def progress(self) -> Progress:
        """Answered visible required questions / visible required questions."""
        required = [f for f in self.visible_fields() if f.is_required(self._values)]
        answered = sum(1 for f in required if not is_empty(self._values.get(f.name))
                       and f.name not in self._input_errors)
        return Progress(answered, len(required))

    def final_answers(self) -> dict[str, Any]:
        """What a submission stores: visible, non-empty answers (hidden ones are cleared)."""
        shown = {f.name for f in self.visible_fields() if f.is_answerable}
        return {k: v for k, v in self._values.items() if k in shown}

    def submit(self) -> list[tuple[str, str]]:
        """Check everything; when clean, hand the final answers to ``on_submit``.

        Returns
        -------
        list of (name, message)
            Empty when the form was submitted.
        """
        problems = self.errors()
        if problems:
            return problems
        final = self.final_answers()
        if self.on_submit is not None:
            refused = self.on_submit(final)
            if refused:
                return [tuple(p) if isinstance(p, (tuple, list)) else ("", str(p)) for p in refused]
        # hidden answers are gone from the record; drop them here too so the view matches the store
        self._values = dict(final)
        self.submitted = True
        return []


def _parse_integer(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, _PARSE_MESSAGES["integer"]
    if isinstance(value, int):
        return int(value), None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value), None
        return None, _PARSE_MESSAGES["integer"]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _parse_integer(value.item())
    text = str(value).strip().replace(",", "").replace("_", "")
    try:
        return int(text), None
    except ValueError:
        try:
            d = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None, _PARSE_MESSAGES["integer"]
        if d.is_finite() and d == d.to_integral_value():
            return int(d), None
        return None, _PARSE_MESSAGES["integer"]


def _parse_decimal(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, _PARSE_MESSAGES["decimal"]
    if isinstance(value, (int, float, decimal.Decimal)) or hasattr(value, "item") and not isinstance(value, str):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        try:
            number = float(text)
        except ValueError:
            return None, _PARSE_MESSAGES["decimal"]
    if not math.isfinite(number):
        return None, _PARSE_MESSAGES["decimal"]
    return number, None


def _parse_date(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, _dt.datetime):
        return value.date(), None
    if isinstance(value, _dt.date):
        return value, None
    text = str(value).strip()
    try:
        return _dt.date.fromisoformat(text[:10]), None
    except ValueError:
        return None, _PARSE_MESSAGES["date"]


def fields_by_section(fields: Iterable[FieldSpec]) -> list[tuple[str, list[FieldSpec]]]:
    """Group fields by ``section`` keeping first-appearance order."""
    groups: dict[str, list[FieldSpec]] = {}
    for f in fields:
        groups.setdefault(f.section, []).append(f)
    return list(groups.items())
