"""The display layer: the only code that turns a number into published text.

Every figure that reaches a reader (HTML, PDF, PNG, alt text, CSV, a deck) is
made here, so the rules of ``docs/privacy.md`` hold everywhere:

* **Rounding** (§3.4): whole-number percentages, counts to the nearest 5 or
  "<10" (public), means to 1 decimal, effect sizes to 2.
* **Top/bottom coding** (§3.3): shares of students at or below 5 % / at or
  above 95 % are shown "≤5%" / "≥95%" (Delaware "5/95" rule); "<1%" / ">99%"
  only for groups of at least ``extreme_codes_min_n`` (Texas prints "<1%" for
  any 0 %); a coded bound is never below one student (``100/n`` %).
* **Markers**: the primary marker "*" (fewer than ``min_group_n`` students, or
  fewer than ``min_numerator`` with or without the outcome) and "‡" (hidden to
  protect another cell).
* **Derived figures** (differences, changes since last term) are shown only
  when both figures they derive from are shown plainly (not suppressed, not
  coded): otherwise ``level + change`` would give the hidden or coded level
  back (PTAC FAQ: blurring fails when the unblurred parts are published).

Sources: PTAC, *Frequently Asked Questions — Disclosure Avoidance*; NCES
SLDS Technical Brief 3 (NCES 2011-603); Delaware and Texas rules as cited in
docs/privacy.md#state-rules.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InputDataError
from .profile import PrivacyProfile, resolve_profile

__all__ = ["is_missing", "format_percent", "format_count", "format_mean", "format_effect", "drb_round",
           "format_level", "format_change", "format_p", "format_score", "format_money", "format_whole",
           "format_share", "format_points", "format_participants", "shown_plainly", "numerator", "NOT_SHOWN",
           "PERCENT_UNITS", "localize"]

#: Text for a figure that is not published (suppressed, or derived from a figure that is not shown plainly).
NOT_SHOWN = "not shown"
#: KPI units whose values are proportions (0..1), shown as percentages.
PERCENT_UNITS = ("proportion", "share", "rate", "percent")
_CURRENCY = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "EUR": "\u20ac", "GBP": "\u00a3"}


def is_missing(value: Any) -> bool:
    """True for None, NA, NaT and NaN."""
    if value is pd.NaT:
        return True
    try:
        return value is None or value is pd.NA or bool(np.isnan(value))
    except TypeError:
        return False


def _fmt_number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    # "-0.0" would suggest a direction the data do not have
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text


def format_percent(x: float, n: float, profile: PrivacyProfile | str | None = None) -> str:
    """A percentage ``100 x / n`` for display, suppressed or coded as the profile says.

    Rules, in order (docs/privacy.md#primary-suppression, #top-bottom-coding, #rounding):

    1. ``n < min_group_n`` (or missing): the primary marker ``"*"``.
    2. ``x`` or ``n - x`` below ``min_numerator``: ``"*"`` when the profile
       suppresses small numerators (``"code"`` falls through to coding).
    3. Groups of at least ``extreme_codes_min_n``: below 1 % -> ``"<1%"``,
       above 99 % -> ``">99%"`` (only if one student is <= 1 % when
       ``bound_at_least_one_student``).
    4. At or below ``low_code_pct`` -> ``"≤5%"``, at or above ``high_code_pct``
       -> ``"≥95%"``. With ``bound_at_least_one_student`` the bound widens to
       at least one student (``100/n`` %), rounded outwards to a whole percent;
       small numerators under the ``"code"`` action are coded the same way.
    5. Otherwise the percentage with ``percent_decimals`` decimals.

    A value just outside the coded range never rounds into it: 5.2 % is shown
    "6%" and 94.8 % "94%" (one display step outwards), so no plain "5%" or
    "95%" is printed next to the codes "≤5%" / "≥95%" while every code stays
    true (Delaware "5/95" rule, docs/privacy.md#state-rules).

    Parameters
    ----------
    x : float
        Numerator (students with the outcome).
    n : float
        Denominator (students in the group).
    profile : PrivacyProfile or str, optional
        Default ``public``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_percent(9, 20), format_percent(1, 25, "delaware_assessment"), format_percent(0, 5, "texas")
    ('45%', '≤5%', '<1%')
    """
    p = resolve_profile(profile)
    if is_missing(n) or is_missing(x) or float(n) < p.min_group_n or float(n) <= 0:
        return p.primary_marker
    x, n = float(x), float(n)
    if x < 0 or x > n:
        raise InputDataError(f"numerator {x:g} is outside 0..{n:g}", column="x", value=x,
                             fix="Check the numerator and denominator")
    pct = 100.0 * x / n
    shown = float(_fmt_number(pct, p.percent_decimals))
    one = 100.0 / n
    small = p.min_numerator > 0 and (x < p.min_numerator or n - x < p.min_numerator)
    if small and p.small_numerator_action == "suppress":
        return p.primary_marker
    small_low = small and x < p.min_numerator
    small_high = small and n - x < p.min_numerator
    # Coded small numerators must all get the same code, or the code tells 0, 1 and 2 apart.
    small_span = 100.0 * (p.min_numerator - 1) / n if p.min_numerator > 0 else 0.0
    if p.extreme_codes_min_n is not None and n >= p.extreme_codes_min_n and (
            not p.bound_at_least_one_student or one <= 1.0):
        if pct < 1.0 and not (small_low and small_span >= 1.0):
            return "<1%"
        if pct > 99.0 and not (small_high and small_span >= 1.0):
            return ">99%"
    if p.low_code_pct is not None or small_low:
        bound = p.low_code_pct if p.low_code_pct is not None else 0.0
        if p.bound_at_least_one_student:
            bound = max(bound, one)
        if small_low:
            bound = max(bound, 100.0 * (p.min_numerator - 1) / n, one)
        if pct <= bound + 1e-9:
            return f"≤{_fmt_bound(math.ceil(bound - 1e-9))}%"
    if p.high_code_pct is not None or small_high:
        bound = p.high_code_pct if p.high_code_pct is not None else 100.0
        if p.bound_at_least_one_student:
            bound = min(bound, 100.0 - one)
        if small_high:
            bound = min(bound, 100.0 - 100.0 * (p.min_numerator - 1) / n, 100.0 - one)
        if pct >= bound - 1e-9:
            return f"≥{_fmt_bound(math.floor(bound + 1e-9))}%"
    # A value just outside the coded range must not round into it: "5%" would read as a value the code hides.
    step = 10.0 ** -p.percent_decimals
    if p.low_code_pct is not None and shown <= p.low_code_pct + 1e-9:
        shown = p.low_code_pct + step
    if p.high_code_pct is not None and shown >= p.high_code_pct - 1e-9:
        shown = p.high_code_pct - step
    return f"{_fmt_number(shown, p.percent_decimals)}%"


def _fmt_bound(value: float) -> str:
    return str(int(value))


def drb_round(count: float) -> int | str:
    """Round a count with the US Census Bureau DRB rules.

    Counts below 15 become ``"<15"``; 15-99 round to the nearest 10; 100-999
    to the nearest 50; 1,000-9,999 to the nearest 100; larger counts keep 4
    significant figures (docs/privacy.md#state-rules, from the open ``drb_rounder``
    implementation; to confirm against current DRB guidance). Halves round up.

    Examples
    --------
    >>> [drb_round(c) for c in (14, 47, 234, 4321)]
    ['<15', 50, 250, 4300]
    """
    c = float(count)
    if c < 0:
        raise InputDataError(f"a count cannot be negative, found {count!r}", column="count", value=count)
    if c < 15:
        return "<15"
    if c < 100:
        step = 10.0
    elif c < 1000:
        step = 50.0
    elif c < 10000:
        step = 100.0
    else:
        step = 10.0 ** (math.floor(math.log10(c)) - 3)
    return int(math.floor(c / step + 0.5) * step)


def format_count(count: float, profile: PrivacyProfile | str | None = None) -> str:
    """A count for display: rounded to the nearest 5 or "<10" (public), or DRB bands.

    Examples
    --------
    >>> format_count(7), format_count(12), format_count(13), format_count(4321, "census_drb")
    ('<10', '10', '15', '4,300')
    """
    p = resolve_profile(profile)
    if is_missing(count):
        return ""
    c = float(count)
    if c < 0:
        raise InputDataError(f"a count cannot be negative, found {count!r}", column="count", value=count)
    if p.count_rounding == "drb":
        value = drb_round(c)
        return value if isinstance(value, str) else f"{value:,}"
    if c < p.small_count_below:
        return p.small_count_label
    if p.count_rounding == "none":
        return f"{int(round(c)):,}"
    return f"{int(math.floor(c / p.count_to + 0.5) * p.count_to):,}"


def format_mean(mean: float, n: float, profile: PrivacyProfile | str | None = None) -> str:
    """A mean with ``mean_decimals`` decimals, or the primary marker when ``n < k``.

    Examples
    --------
    >>> format_mean(3.456, 25), format_mean(3.456, 9)
    ('3.5', '*')
    """
    p = resolve_profile(profile)
    if is_missing(n) or float(n) < p.min_group_n:
        return p.primary_marker
    if is_missing(mean):
        return ""
    return _fmt_number(float(mean), p.mean_decimals)


def format_effect(es: float, n_t: float, n_c: float, profile: PrivacyProfile | str | None = None) -> str:
    """An effect size with ``effect_decimals`` decimals.

    The primary marker when either group is below ``min_group_n``; the
    ``descriptive_label`` when either is below ``inference_min_n`` (no effect
    is shown for descriptive-only comparisons).

    Examples
    --------
    >>> format_effect(0.2468, 40, 50), format_effect(0.2468, 15, 50), format_effect(0.2468, 9, 50)
    ('0.25', '—', '*')
    """
    p = resolve_profile(profile)
    ns = [float("nan") if is_missing(v) else float(v) for v in (n_t, n_c)]
    if any(math.isnan(v) or v < p.min_group_n for v in ns):
        return p.primary_marker
    if any(v < p.inference_min_n for v in ns):
        return p.descriptive_label
    if is_missing(es):
        return ""
    return _fmt_number(float(es), p.effect_decimals)


def numerator(value: Any, n: Any) -> float:
    """Students with the outcome behind a share ``value`` of ``n`` students (``round(value * n)``)."""
    if is_missing(value) or is_missing(n):
        return float("nan")
    return float(round(float(value) * float(n)))


def _is_share(unit: Any, kind: Any) -> bool:
    return str(kind) == "binary"


def _is_percent(unit: Any, kind: Any) -> bool:
    return str(kind) == "binary" or str(unit or "") in PERCENT_UNITS


def format_level(value: Any, n: Any, *, unit: Any = None, kind: Any = None,
                 profile: PrivacyProfile | str | None = None, marker: Any = None) -> str:
    """A KPI level of a group of ``n`` students for readers.

    * a share of students (``kind == "binary"``): :func:`format_percent` of
      ``round(value * n)`` out of ``n`` (suppression of small groups and small
      numerators, top/bottom coding);
    * another proportion (``unit`` a rate or share, e.g. the mean attendance
      rate): a whole percentage, the primary marker below ``min_group_n``;
    * anything else: :func:`format_mean` plus the unit ("2.9", "14.5 hours").

    A missing value is :data:`NOT_SHOWN` followed by ``marker`` (the row's
    suppression marker) when one is given.

    Examples
    --------
    >>> format_level(0.0, 108, kind="binary"), format_level(0.03, 210, kind="binary")
    ('*', '≤5%')
    >>> format_level(0.5, 40, kind="binary"), format_level(0.912, 40, unit="rate"), format_level(2.94, 40)
    ('50%', '91%', '2.9')
    """
    p = resolve_profile(profile)
    if is_missing(value):
        return NOT_SHOWN + ("" if is_missing(marker) or not str(marker) else str(marker))
    if is_missing(n) or float(n) < p.min_group_n:
        return p.primary_marker
    v = float(value)
    if _is_share(unit, kind):
        return format_percent(numerator(v, n), float(n), p)
    if _is_percent(unit, kind):
        return f"{_fmt_number(100.0 * v, p.percent_decimals)}%"
    suffix = {"hours": " hours", "credits": " credits", "points": " points"}.get(str(unit or ""), "")
    if abs(v) >= 100:
        return f"{v:,.0f}{suffix}"
    return format_mean(v, n, p) + suffix


def shown_plainly(text: str) -> bool:
    """True when a displayed figure is a plain number (not suppressed, not coded, not "not shown")."""
    t = str(text).strip()
    return bool(t) and t[0] not in "<>≤≥*‡" and not t.startswith(NOT_SHOWN) and any(c.isdigit() for c in t)


def format_change(now: Any, before: Any, *, n_now: Any, n_before: Any, unit: Any = None, kind: Any = None,
                  profile: PrivacyProfile | str | None = None, change: Any = None) -> str:
    """A difference between two levels (a change since last term, participants minus comparison).

    Shown only when both levels are shown plainly (:func:`shown_plainly` of
    :func:`format_level`) and both groups have ``change_min_n`` students
    (California: 20): a change next to a coded or hidden level gives it back.
    Shares in percentage points, other units with one decimal. ``change``
    (the exact difference) defaults to ``now - before``.

    Examples
    --------
    >>> format_change(0.82, 0.94, n_now=40, n_before=32, kind="binary")
    'not shown'
    >>> format_change(0.62, 0.50, n_now=40, n_before=32, kind="binary")
    '+12 percentage points'
    """
    p = resolve_profile(profile)
    shown = []
    for v, n in ((now, n_now), (before, n_before)):
        text = format_level(v, n, unit=unit, kind=kind, profile=p)
        if not shown_plainly(text):
            return NOT_SHOWN
        if is_missing(n) or float(n) < p.change_min_n:
            return NOT_SHOWN
        shown.append(text)
    raw = float(now) - float(before)
    if is_missing(change) or abs(float(change) - raw) < 1e-9:
        # A plain change between two shown levels is the difference of the levels as shown, so the reader's
        # own subtraction agrees ("2.7 -> 3.0" reads "+0.3", never "+0.2"). An adjusted difference (a
        # ``change`` that is not now - before) keeps its own value.
        a, b = (_shown_value(t) for t in shown)
        diff = raw if a is None or b is None else a - b
    else:
        diff = float(change)
    if _is_percent(unit, kind):
        pts = 100.0 * diff
        if round(pts, p.percent_decimals) == 0:
            return "no change"
        text = f"{pts:+.{p.percent_decimals}f}"
        return f"{text} percentage point{'' if text.lstrip('+-') == '1' else 's'}"
    return "no change" if round(diff, p.mean_decimals) == 0 else f"{diff:+.{p.mean_decimals}f}"


def _shown_value(text: str) -> float | None:
    """The value a reader sees in a plainly shown level ("45%" -> 0.45, "2.9 credits" -> 2.9)."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    if not m:
        return None
    v = float(m.group(0).replace(",", ""))
    return v / 100 if text.rstrip().endswith("%") else v


def format_p(value: Any) -> str:
    """A p-value: "<0.001" or three decimals; "not tested" when missing."""
    if is_missing(value):
        return "not tested"
    v = float(value)
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def format_score(value: Any, decimals: int = 2) -> str:
    """A survey scale score or gap (staff answers, not student data); "not shown" when missing."""
    return NOT_SHOWN if is_missing(value) else _fmt_number(float(value), decimals)


def format_participants(n: Any, profile: PrivacyProfile | str | None = None) -> str:
    """Students taking part: "none", "<10" below the minimum, else :func:`format_count`."""
    p = resolve_profile(profile)
    if is_missing(n):
        return p.small_count_label
    if float(n) == 0:
        return "none"
    if float(n) < p.min_group_n:
        return f"<{p.min_group_n}"
    return format_count(n, p)


def format_money(value: Any, currency: str | None = "USD", *, round_to: float = 1) -> str:
    """Whole currency units with the currency's symbol ("$5,898"), or the ISO code after the amount."""
    if is_missing(value):
        return ""
    v = float(value)
    if round_to and round_to != 1:
        v = round(v / round_to) * round_to
    code = (currency or "USD").upper()
    sym = _CURRENCY.get(code)
    amount = f"{abs(v):,.0f}"
    sign = "-" if round(v) < 0 else ""
    return f"{sign}{sym}{amount}" if sym else f"{sign}{amount} {code}"


def format_whole(value: Any) -> str:
    """A whole number with thousands separators (hours, meetings): never a count of students."""
    return "" if is_missing(value) else f"{float(value):,.0f}"


def format_share(value: Any) -> str:
    """A proportion of money or time (not of students) as a whole percentage."""
    return "" if is_missing(value) else f"{100 * float(value):.0f}%"


def format_points(value: Any) -> str:
    """A signed change of a money or time proportion, in percentage points."""
    if is_missing(value):
        return ""
    pts = 100 * float(value)
    if round(pts) == 0:
        return "no change"
    text = f"{pts:+.0f}"
    return f"{text} percentage point{'' if text.lstrip('+-') == '1' else 's'}"


_FIGURE_NUMBER = re.compile(r"(?P<cur>[$\u20ac\u00a3])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+)"
                            r"(?P<pct>%)?")
_SYMBOL_CODES = {"$": "USD", "\u20ac": "EUR", "\u00a3": "GBP"}


def localize(text: str, locale: str | None = None) -> str:
    """A figure made by this module, written the way ``locale`` writes numbers (Babel's CLDR data).

    Only the writing changes, never the value or its rounding: ``"2.9"`` -> ``"2,9"``, ``"45%"`` ->
    ``"45 %"``, ``"$1,200"`` -> ``"1200 US$"`` in ``"es"`` (``"es_US"`` keeps "2.9" and "$1,200.00"-style
    separators). Plain integers without a thousands separator (years, ids, "<10") are left as they are;
    English (or ``None``) returns ``text`` unchanged.

    Parameters
    ----------
    text : str
        A figure returned by one of the ``format_*`` functions (or a sentence holding such figures).
    locale : str, optional
        A language code (``"es"``, ``"es-MX"``).
    """
    code = (locale or "en").replace("-", "_")
    if code.split("_")[0].lower() == "en" or not text:
        return text
    from babel import Locale
    from babel.numbers import format_currency, format_decimal, format_percent
    loc = Locale.parse(code)

    def one(m: re.Match) -> str:
        cur, num, pct = m.group("cur"), m.group("num"), m.group("pct")
        if not (cur or pct or "," in num or "." in num):
            return m.group(0)
        # as many decimals as displayed ("2.90" keeps two): only the separators change
        decimals = len(num.split(".")[1]) if "." in num else 0
        whole_digits = len(num.split(".")[0].replace(",", ""))
        grouped = whole_digits >= 4 + _min_grouping_digits(code) - 1      # "1234" in es, "12.345" grouped
        written = format_decimal(Decimal(num.replace(",", "")), locale=loc,
                                 format=("#,##0" if grouped else "0") + ("." + "0" * decimals if decimals else ""))
        if pct:
            return format_percent(7, locale=loc).replace("700", written, 1)
        if cur:
            return _currency_template(loc, _SYMBOL_CODES[cur]).replace("7", written, 1)
        return written

    return _FIGURE_NUMBER.sub(one, str(text))


#: CLDR ``<minimumGroupingDigits>`` (common/main/<locale>.xml): with 2, a number is grouped only from five
#: whole digits on ("1234" but "12.345"). Spanish (es, and es_ES, es_GQ... inheriting it) has 2; Latin
#: American Spanish (es_419, parent of es_US, es_MX and the rest, per CLDR's parentLocales) sets it back to
#: 1; Polish and European Portuguese have 2. Babel does not carry this value, so it is kept here; the test
#: compares with Chromium's ICU ``Intl.NumberFormat``.
_MIN_GROUPING = {"es": 2, "es_419": 1, "pl": 2, "pt_PT": 2}


def _min_grouping_digits(code: str) -> int:
    """CLDR's minimum grouping digits of a locale (1 unless it or a CLDR parent of it is listed above)."""
    from babel.core import get_global
    parents = get_global("parent_exceptions")
    while code:
        if code in _MIN_GROUPING:
            return _MIN_GROUPING[code]
        code = parents.get(code) or (code.rsplit("_", 1)[0] if "_" in code else "")
    return 1


def _currency_template(loc, code: str) -> str:
    """The locale's way of writing 7 whole units of ``code`` ("7 US$", "US$7"): whole units, as displayed."""
    from babel.numbers import format_currency
    pattern = loc.currency_formats["standard"].pattern.split(";")[0]
    whole = re.sub(r"[#0,.]+", "0", pattern)
    return format_currency(7, code, locale=loc, format=whole, currency_digits=False)
