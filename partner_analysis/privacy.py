"""Disclosure avoidance for everything that leaves the district.

The rules are those of ``../shared/reference/privacy.md`` (PTAC, NCES SLDS
Technical Brief 3, published state rules):

* **Profiles.** :class:`PrivacyProfile` holds the minimum group size ``k``,
  the small-numerator rule, top/bottom coding and rounding. ``"public"`` is the
  default (privacy.md §5); ``"partner"`` may never be less strict on
  ``min_group_n``. State profiles reproduce published rules for tests; they do
  **not** claim conformance with current state practice.
* **Primary suppression.** A statistic of a group with ``n < k`` is hidden, and
  so is a proportion whose numerator or complement is below ``min_numerator``.
* **Complementary suppression.** :func:`suppress_table` makes sure no line with
  a published total holds exactly one hidden cell (the next-smallest cell is
  hidden too, marker "‡"). :func:`suppress_comparisons` applies the same idea
  to the KPI comparison table, where participants + comparison = all students,
  and subgroup and programme rows add up to their "all" rows.
* **Formatting** (:func:`format_percent`, :func:`format_count`,
  :func:`format_mean`, :func:`format_effect`) rounds and top/bottom-codes.
* **Checks and records.** :func:`scan_outputs` looks for student IDs in
  rendered outputs; :class:`ReleaseLedger` records every release, because
  FERPA judges identifiability over single *and multiple* releases.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import struct
import zlib
from base64 import b64decode
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import ConfigError, InputDataError, check_argument

__all__ = [
    "PrivacyProfile",
    "PROFILES",
    "get_profile",
    "primary_suppressed",
    "suppress_table",
    "suppress_comparisons",
    "format_percent",
    "format_count",
    "format_mean",
    "format_effect",
    "drb_round",
    "edfacts_perturb",
    "change_allowed",
    "Leak",
    "scan_outputs",
    "ReleaseLedger",
]

_SMALL_NUMERATOR_ACTIONS = ("suppress", "code")
_COUNT_ROUNDING = ("nearest", "drb", "none")


# =========================================================================== profile
@dataclass(frozen=True)
class PrivacyProfile:
    """A disclosure-avoidance profile (privacy.md §5).

    Parameters
    ----------
    name : str, default "public"
        ``"public"`` (board packs, partner reports, web pages), ``"partner"``
        (reports under a data-sharing agreement) or a state test profile.
    min_group_n : int, default 10
        ``k``: statistics of a group with ``n < k`` are hidden. Counted per
        group: both sides of a comparison need ``n >= k``.
    min_numerator : int, default 3
        A proportion with ``x < min_numerator`` or ``n - x < min_numerator``
        is suppressed (or coded, see ``small_numerator_action``). 0 disables.
    inference_min_n : int, default 20
        Below this per group, comparisons are descriptive only: no test, no
        effect size (statistics.md §7).
    small_numerator_action : {"suppress", "code"}, default "suppress"
    low_code_pct, high_code_pct : float or None, default 5 and 95
        Percentages at or below / at or above are shown as "≤5%" / "≥95%".
        None disables.
    extreme_codes_min_n : int or None, default 200
        "<1%" / ">99%" are used only for groups at least this large
        (None: never).
    bound_at_least_one_student : bool, default True
        A coded bound is widened to at least ``100/n`` % (one student);
        otherwise the code could only mean zero and would disclose.
    percent_decimals, mean_decimals, effect_decimals : int
        Display precision (0, 1, 2).
    count_rounding : {"nearest", "drb", "none"}, default "nearest"
        Counts to the nearest ``count_to`` (and ``small_count_label`` below
        ``small_count_below``), or the Census DRB bands (:func:`drb_round`).
    no_numerator_denominator_percent_below_n : int, default 30
        Reports never print x, n and % together for smaller groups.
    change_min_n : int, default 10
        Change measures need this n in both periods (California uses 20).
    complementary_rows, complementary_columns : bool
    linked_tables : tuple of str
    never_publish : tuple of str
    primary_marker, complementary_marker : str, default "*" and "‡"
    descriptive_label : str, default "—"
        Shown instead of an effect size for descriptive-only comparisons.
    release_ledger : bool, default True
    perturb_max_cell : int or None
        EDFacts-style perturbation of cells up to this count (test profile
        only; the toolkit never perturbs by default, privacy.md §3.5).

    Raises
    ------
    ConfigError
        Invalid values, or a ``partner`` profile with ``min_group_n`` below
        the public floor.
    """

    name: str = "public"
    min_group_n: int = 10
    min_numerator: int = 3
    inference_min_n: int = 20
    small_numerator_action: str = "suppress"
    low_code_pct: float | None = 5.0
    high_code_pct: float | None = 95.0
    extreme_codes_min_n: int | None = 200
    bound_at_least_one_student: bool = True
    percent_decimals: int = 0
    count_rounding: str = "nearest"
    count_to: int = 5
    small_count_below: int = 10
    small_count_label: str = "<10"
    mean_decimals: int = 1
    effect_decimals: int = 2
    no_numerator_denominator_percent_below_n: int = 30
    change_min_n: int = 10
    complementary_rows: bool = True
    complementary_columns: bool = True
    linked_tables: tuple[str, ...] = ("participant_vs_all", "quarter_vs_ytd")
    never_publish: tuple[str, ...] = ("student_rows", "student_names", "min", "max", "small_group_median")
    primary_marker: str = "*"
    complementary_marker: str = "‡"
    descriptive_label: str = "—"
    release_ledger: bool = True
    perturb_max_cell: int | None = None

    def __post_init__(self):
        for key in ("min_group_n", "min_numerator", "inference_min_n", "percent_decimals", "count_to",
                    "small_count_below", "mean_decimals", "effect_decimals",
                    "no_numerator_denominator_percent_below_n", "change_min_n"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ConfigError(f"`{key}` must be a whole number >= 0, but {value!r} was passed",
                                  key=f"privacy.{key}", value=value)
        if self.min_group_n < 1:
            raise ConfigError("`min_group_n` must be at least 1", key="privacy.min_group_n", value=self.min_group_n)
        if self.count_to < 1:
            raise ConfigError("`count_to` must be at least 1", key="privacy.rounding.count_to", value=self.count_to)
        if self.inference_min_n < self.min_group_n:
            raise ConfigError(f"`inference_min_n` ({self.inference_min_n}) must not be below `min_group_n` "
                              f"({self.min_group_n})", key="privacy.inference_min_n", value=self.inference_min_n)
        check_argument("small_numerator_action", self.small_numerator_action, _SMALL_NUMERATOR_ACTIONS,
                       key="privacy.small_numerator_action")
        check_argument("count_rounding", self.count_rounding, _COUNT_ROUNDING, key="privacy.count_rounding")
        low, high = self.low_code_pct, self.high_code_pct
        if low is not None and not (0 <= low < 50):
            raise ConfigError(f"`low_code_pct` must lie in [0, 50), but {low!r} was passed",
                              key="privacy.top_bottom_code.low", value=low)
        if high is not None and not (50 < high <= 100):
            raise ConfigError(f"`high_code_pct` must lie in (50, 100], but {high!r} was passed",
                              key="privacy.top_bottom_code.high", value=high)
        if self.name == "partner" and self.min_group_n < _PUBLIC_MIN_GROUP_N:
            raise ConfigError(f"a 'partner' profile may not be less strict than 'public' on min_group_n "
                              f"({self.min_group_n} < {_PUBLIC_MIN_GROUP_N})", key="privacy.min_group_n",
                              value=self.min_group_n, fix=f"Use min_group_n >= {_PUBLIC_MIN_GROUP_N}")
        # tuples keep the profile hashable even when built from YAML lists
        object.__setattr__(self, "linked_tables", tuple(self.linked_tables))
        object.__setattr__(self, "never_publish", tuple(self.never_publish))

    @property
    def markers(self) -> dict[str, str]:
        """``{"primary": "*", "complementary": "‡"}`` (CONTRACTS.md shape)."""
        return {"primary": self.primary_marker, "complementary": self.complementary_marker}

    @property
    def k(self) -> int:
        """Alias of ``min_group_n``."""
        return self.min_group_n

    def footnote(self) -> str:
        """The footnote explaining the markers, for reports."""
        return (f"{self.primary_marker} fewer than {self.min_group_n} students; "
                f"{self.complementary_marker} hidden to protect another cell")

    def replace(self, **changes: Any) -> "PrivacyProfile":
        """A copy with some fields changed (``dataclasses.replace``; checks run again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def named(cls, name: str) -> "PrivacyProfile":
        """A named profile: ``public``, ``partner`` or a state test profile (see :data:`PROFILES`)."""
        return get_profile(name)

    @classmethod
    def from_config(cls, privacy: Mapping[str, Any] | None = None, *, path: Any = None) -> "PrivacyProfile":
        """Build a profile from the ``privacy`` section of ``district.yml``.

        Starts from the profile named by ``profile`` (``public`` when absent or
        unknown) and overrides it with the keys given, in the YAML shape of
        privacy.md §5 (``top_bottom_code``, ``rounding``, ``complementary``,
        ``markers`` are nested mappings).

        Raises
        ------
        ConfigError
            An unknown key, or a value failing the profile checks.
        """
        privacy = dict(privacy or {})
        name = str(privacy.pop("profile", privacy.pop("name", "public")))
        base = PROFILES.get(name, {})
        values: dict[str, Any] = dict(base)
        values["name"] = name
        fields = {f.name for f in dataclasses.fields(cls)}
        for key, value in privacy.items():
            if key == "top_bottom_code":
                _nested(values, value, key, path, {
                    "low": ("low_code_pct", _code_pct), "high": ("high_code_pct", _code_pct),
                    "extreme_codes_min_n": ("extreme_codes_min_n", None),
                    "bound_at_least_one_student": ("bound_at_least_one_student", None)})
            elif key == "rounding":
                _nested(values, value, key, path, {
                    "percent": ("percent_decimals", None), "count_to": ("count_to", None),
                    "small_count_label": ("small_count_label", None), "mean": ("mean_decimals", None),
                    "effect_size": ("effect_decimals", None), "count": ("count_rounding", None),
                    "small_count_below": ("small_count_below", None)})
            elif key == "complementary":
                _nested(values, value, key, path, {
                    "rows": ("complementary_rows", None), "columns": ("complementary_columns", None),
                    "linked_tables": ("linked_tables", tuple)})
            elif key == "markers":
                _nested(values, value, key, path, {"primary": ("primary_marker", None),
                                                   "complementary": ("complementary_marker", None)})
            elif key == "no_numerator_denominator_percent_below_n" or key in fields:
                values[key] = tuple(value) if key in ("never_publish", "linked_tables") else value
            else:
                raise ConfigError(f"unknown privacy setting '{key}'", path=path, key=f"privacy.{key}",
                                  fix=f"Use one of {sorted(fields | {'profile', 'top_bottom_code', 'rounding', 'complementary', 'markers'})}")
        try:
            return cls(**values)
        except ConfigError as err:
            raise ConfigError(err.problem, path=path, key=err.key, value=err.value, fix=err.fix) from err


def _code_pct(value: Any) -> float | None:
    # YAML gives the display label ("≤5%"); the number in it is the bound.
    if value is None or value is False:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = re.search(r"(\d+(?:\.\d+)?)", str(value))
    if not match:
        raise ConfigError(f"cannot read a percentage from {value!r}", key="privacy.top_bottom_code", value=value)
    return float(match.group(1))


def _nested(values: dict, mapping: Any, section: str, path: Any, keys: Mapping[str, tuple]) -> None:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"'{section}' must be a mapping", path=path, key=f"privacy.{section}", value=mapping)
    for key, value in mapping.items():
        if key not in keys:
            raise ConfigError(f"unknown key '{key}' in '{section}'", path=path, key=f"privacy.{section}.{key}",
                              fix=f"Use one of {sorted(keys)}")
        target, convert = keys[key]
        values[target] = convert(value) if convert is not None else value


_PUBLIC_MIN_GROUP_N = 10

#: Named profiles (field overrides of the public defaults). State profiles encode the rules as published at the
#: dates cited in privacy.md §2; current state practice may differ (to confirm before claiming conformance).
PROFILES: dict[str, dict[str, Any]] = {
    "public": {},
    "partner": {},
    # "Rule of X": mask n <= 15 (assessment, enrolment) or n <= 40 (accountability); "5/95" coding.
    "delaware_assessment": {"min_group_n": 16, "min_numerator": 0, "extreme_codes_min_n": None,
                            "inference_min_n": 20},
    "delaware_accountability": {"min_group_n": 41, "min_numerator": 0, "extreme_codes_min_n": None,
                                "inference_min_n": 41},
    # NCLB report card: 0 % printed "<1 %" (even 0/5), 100 % printed ">99 %"; small groups "*" (n < 5).
    "texas": {"min_group_n": 5, "min_numerator": 0, "low_code_pct": None, "high_code_pct": None,
              "extreme_codes_min_n": 0, "bound_at_least_one_student": False, "inference_min_n": 5},
    # suppress groups < 5 and the next-smallest group
    "new_york": {"min_group_n": 5, "min_numerator": 0, "inference_min_n": 5},
    # suppress counts < 11
    "vermont": {"min_group_n": 11, "inference_min_n": 20},
    # n < 11 not displayed; change measures need n >= 20 in both years
    "california": {"min_group_n": 11, "change_min_n": 20, "inference_min_n": 20},
    # Census Bureau DRB rounding of counts
    "census_drb": {"count_rounding": "drb", "min_group_n": 15, "inference_min_n": 20},
    # EDFacts perturbation (+-1 for cells <= 4); used in a bound test only, never a toolkit default
    "edfacts": {"perturb_max_cell": 4},
}


def get_profile(name: str | PrivacyProfile | None = None) -> PrivacyProfile:
    """The named profile (``None`` gives ``public``); a profile passes through unchanged."""
    if isinstance(name, PrivacyProfile):
        return name
    if name is None:
        name = "public"
    check_argument("profile", name, sorted(PROFILES), key="privacy.profile")
    return PrivacyProfile(name=name, **PROFILES[name])


def _profile(profile: PrivacyProfile | str | Mapping | None) -> PrivacyProfile:
    if isinstance(profile, Mapping):
        return PrivacyProfile.from_config(profile)
    return get_profile(profile)


# =========================================================================== primary rules
def primary_suppressed(n: Any, x: Any = None, profile: PrivacyProfile | str | None = None) -> Any:
    """True where a group's statistics must be hidden (vectorised).

    Hidden when ``n < min_group_n`` or ``n`` is missing; with ``x`` (numerator
    of a proportion) also when ``x < min_numerator`` or ``n - x <
    min_numerator`` and the profile suppresses (rather than codes) small
    numerators.

    Examples
    --------
    >>> primary_suppressed(9), primary_suppressed(25, x=2), primary_suppressed(25, x=12)
    (True, True, False)
    """
    p = _profile(profile)
    scalar = np.ndim(n) == 0 and np.ndim(x) == 0
    nn = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        hidden = np.isnan(nn) | (nn < p.min_group_n)
        if x is not None and p.min_numerator > 0 and p.small_numerator_action == "suppress":
            xx = np.asarray(x, dtype=float)
            hidden = hidden | (~np.isnan(xx) & ((xx < p.min_numerator) | (nn - xx < p.min_numerator)))
    return bool(hidden) if scalar else hidden


def change_allowed(n_before: float, n_after: float, profile: PrivacyProfile | str | None = None) -> bool:
    """True when a change measure may be shown: both periods have ``n >= change_min_n``.

    Examples
    --------
    >>> change_allowed(19, 40, "california"), change_allowed(20, 40, "california")
    (False, True)
    """
    p = _profile(profile)
    values = [float(v) for v in (n_before, n_after)]
    return all(not math.isnan(v) and v >= p.change_min_n for v in values)


# =========================================================================== formatting
def _is_missing(value: Any) -> bool:
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

    Rules, in order (privacy.md §3.1, §3.3, §3.4):

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
    p = _profile(profile)
    if _is_missing(n) or _is_missing(x) or float(n) < p.min_group_n or float(n) <= 0:
        return p.primary_marker
    x, n = float(x), float(n)
    if x < 0 or x > n:
        raise InputDataError(f"numerator {x:g} is outside 0..{n:g}", column="x", value=x,
                             fix="Check the numerator and denominator")
    pct = 100.0 * x / n
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
    return f"{_fmt_number(pct, p.percent_decimals)}%"


def _fmt_bound(value: float) -> str:
    return str(int(value))


def drb_round(count: float) -> int | str:
    """Round a count with the US Census Bureau DRB rules.

    Counts below 15 become ``"<15"``; 15-99 round to the nearest 10; 100-999
    to the nearest 50; 1,000-9,999 to the nearest 100; larger counts keep 4
    significant figures (privacy.md §2, from the open ``drb_rounder``
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
    p = _profile(profile)
    if _is_missing(count):
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
    p = _profile(profile)
    if _is_missing(n) or float(n) < p.min_group_n:
        return p.primary_marker
    if _is_missing(mean):
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
    p = _profile(profile)
    ns = [float("nan") if _is_missing(v) else float(v) for v in (n_t, n_c)]
    if any(math.isnan(v) or v < p.min_group_n for v in ns):
        return p.primary_marker
    if any(v < p.inference_min_n for v in ns):
        return p.descriptive_label
    if _is_missing(es):
        return ""
    return _fmt_number(float(es), p.effect_decimals)


def edfacts_perturb(count: int, *, rng: np.random.Generator,
                    profile: PrivacyProfile | str | None = "edfacts") -> int:
    """EDFacts-style perturbation: cells up to ``perturb_max_cell`` move by at most 1.

    Not a toolkit default (privacy.md §3.5: it breaks reproducibility); kept
    so the published rule can be tested. Never returns a negative count.
    """
    p = _profile(profile)
    c = int(count)
    if p.perturb_max_cell is None or c > p.perturb_max_cell:
        return c
    return max(0, c + int(rng.integers(-1, 2)))


# =========================================================================== cell grid suppression
_STATE_COLS = ("suppressed", "marker", "suppression_reason")


def suppress_table(table: pd.DataFrame, *, value_cols: Sequence[str], n_col: str, row_keys: Sequence[str] | str,
                   col_key: str, total_published: bool | str | Iterable[str] = True,
                   profile: PrivacyProfile | str | None = None, numerator_col: str | None = None,
                   hide_n: bool = True) -> pd.DataFrame:
    """Primary and complementary suppression of a table of cells.

    ``table`` is long: one row per cell, the table row identified by
    ``row_keys`` and the table column by ``col_key``. A cell is primary
    suppressed when its ``n_col`` is below ``min_group_n`` (or, with
    ``numerator_col``, the numerator or its complement is below
    ``min_numerator``). Then, for every row and column whose total is
    published, as long as it holds **exactly one** suppressed cell, or only
    suppressed cells that are all 0 (Louisiana rule), the next-smallest
    unsuppressed cell of that line is hidden too (marker "‡"; New York's
    "next-smallest group"). This repeats until no line changes. A line with a
    single cell that is suppressed cannot be protected by another cell: its
    total must be withheld, and is listed in ``result.attrs["withheld_totals"]``.

    Parameters
    ----------
    table : DataFrame
        The cells; not modified.
    value_cols : sequence of str
        Statistics hidden (set to NaN) in suppressed cells.
    n_col : str
        The cell's count (group size). Hidden as well unless ``hide_n=False``.
    row_keys : str or sequence of str
        Columns identifying the table row.
    col_key : str
        Column identifying the table column.
    total_published : bool, "rows", "columns" or iterable of them, default True
        Which totals are shown next to the table (True: both).
    profile : PrivacyProfile or str, optional
    numerator_col : str, optional
        Numerator of a proportion in the cell, for the small-numerator rule.
    hide_n : bool, default True

    Returns
    -------
    DataFrame
        A copy with ``suppressed`` (bool), ``marker`` ("", "*", "‡") and
        ``suppression_reason``. Previously suppressed cells (a ``suppressed``
        column in the input) stay suppressed, so the function is idempotent.

    Raises
    ------
    InputDataError
        Missing columns, or duplicate (row, column) cells.

    Examples
    --------
    >>> t = pd.DataFrame({"school": "A", "group": list("wxyz"), "n": [3, 8, 20, 31]})
    >>> suppress_table(t, value_cols=[], n_col="n", row_keys="school", col_key="group",
    ...                profile="new_york")["marker"].tolist()
    ['*', '‡', '', '']
    """
    p = _profile(profile)
    row_keys = [row_keys] if isinstance(row_keys, str) else list(row_keys)
    value_cols = list(value_cols)
    needed = [*row_keys, col_key, n_col, *value_cols] + ([numerator_col] if numerator_col else [])
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputDataError(f"the table has no column(s) {missing}", column=missing[0],
                             fix=f"Pass column names among {list(table.columns)}")
    directions = _directions(total_published)
    if table.duplicated([*row_keys, col_key]).any():
        dup = table.loc[table.duplicated([*row_keys, col_key]), [*row_keys, col_key]].iloc[0].tolist()
        raise InputDataError(f"cell {dup} appears more than once", column=col_key, value=dup,
                             fix="Aggregate to one row per (row, column) cell first")
    out = table.copy()
    n = pd.to_numeric(out[n_col], errors="coerce").to_numpy(float)
    x = pd.to_numeric(out[numerator_col], errors="coerce").to_numpy(float) if numerator_col else None
    prior = (out["suppressed"].fillna(False).astype(bool).to_numpy() if "suppressed" in out.columns
             else np.zeros(len(out), bool))
    prior_marker = out["marker"].astype(object).to_numpy() if "marker" in out.columns else np.array([""] * len(out))
    prior_reason = (out["suppression_reason"].astype(object).to_numpy() if "suppression_reason" in out.columns
                    else np.array([""] * len(out), dtype=object))

    primary = (~prior) & np.asarray(primary_suppressed(n, x, p), bool)
    marker = np.where(prior, prior_marker, np.where(primary, p.primary_marker, "")).astype(object)
    reason = np.where(prior, prior_reason, "").astype(object)
    reason[primary] = [_primary_reason(ni, None if x is None else xi, p)
                       for ni, xi in zip(n[primary], (x[primary] if x is not None else [None] * primary.sum()))]
    hidden = prior | primary

    lines: list[tuple[str, np.ndarray]] = []
    if "rows" in directions:
        lines += [("row", idx) for idx in _groups(out, row_keys)]
    if "columns" in directions:
        lines += [("column", idx) for idx in _groups(out, [col_key])]
    membership: dict[int, list[int]] = {}
    for li, (_, idx) in enumerate(lines):
        for i in idx:
            membership.setdefault(int(i), []).append(li)

    # ties are broken by the cell's keys, not its position, so row order never changes the result
    key_rank = np.empty(len(out), dtype=int)
    key_rank[out.reset_index(drop=True).sort_values([*row_keys, col_key], kind="mergesort").index.to_numpy()] = \
        np.arange(len(out))
    withheld: list[tuple[str, Any]] = []
    changed = True
    while changed:
        changed = False
        for li, (kind, idx) in enumerate(lines):
            if _line_ok(idx, hidden, n):
                continue
            candidates = [int(i) for i in idx if not hidden[i]]
            if not candidates:
                key = _line_label(out, int(idx[0]), row_keys if kind == "row" else [col_key])
                if (kind, key) not in withheld:
                    withheld.append((kind, key))
                continue

            def rank(i: int) -> tuple:
                other = [lj for lj in membership[i] if lj != li]
                helps = any(hidden[lines[lj][1]].sum() == 1 for lj in other)
                return (np.inf if np.isnan(n[i]) else n[i], 0 if helps else 1, key_rank[i])

            pick = min(candidates, key=rank)
            hidden[pick] = True
            marker[pick] = p.complementary_marker
            reason[pick] = f"hidden to protect another cell in its {kind}"
            changed = True

    if hidden.any():
        cols = value_cols + ([n_col] if hide_n else [])
        for col in cols:
            if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].astype(float)
            out.loc[hidden, col] = np.nan if pd.api.types.is_numeric_dtype(out[col]) else None
    out["suppressed"] = hidden
    out["marker"] = [str(m) for m in marker.tolist()]
    out["suppression_reason"] = [str(r) for r in reason.tolist()]
    out.attrs["withheld_totals"] = withheld
    return out


def _directions(total_published: Any) -> set[str]:
    if total_published is True:
        return {"rows", "columns"}
    if total_published is False or total_published is None:
        return set()
    values = {total_published} if isinstance(total_published, str) else set(total_published)
    bad = values - {"rows", "columns"}
    if bad:
        raise ConfigError(f"`total_published` must be True, False, 'rows', 'columns' or both, but "
                          f"{sorted(bad)} was passed", key="total_published", value=total_published)
    return values


def _groups(frame: pd.DataFrame, keys: list[str]) -> list[np.ndarray]:
    codes = frame.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    return [np.flatnonzero(codes == g) for g in range(codes.max() + 1)] if len(codes) else []


def _line_ok(idx: np.ndarray, hidden: np.ndarray, n: np.ndarray) -> bool:
    h = idx[hidden[idx]]
    if h.size == 0:
        return True
    if h.size == 1:
        return False
    values = n[h]
    # Louisiana: hidden cells that are all zero sum to zero, so each is known.
    if not np.isnan(values).any() and values.sum() == 0:
        return idx.size == h.size
    return True


def _line_label(frame: pd.DataFrame, i: int, keys: list[str]) -> Any:
    values = tuple(frame.iloc[i][k] for k in keys)
    return values[0] if len(values) == 1 else values


def _primary_reason(n: float, x: float | None, p: PrivacyProfile) -> str:
    if np.isnan(n):
        return "group size unknown"
    if n < p.min_group_n:
        return f"fewer than {p.min_group_n} students"
    return f"fewer than {p.min_numerator} students with (or without) the outcome"


# =========================================================================== KPI comparison table
_GROUP_COLS = {
    "t": ("n_t", "mean_t", "sd_t", "ci_low_t", "ci_high_t", "prev_term_mean_t", "change_prev_term",
          "last_year_mean_t", "change_last_year", "prev_term_n_t", "last_year_n_t"),
    "c": ("n_c", "mean_c", "sd_c", "ci_low_c", "ci_high_c"),
    "all": ("n_all", "mean_all"),
}
_CONTRAST_COLS = ("difference", "effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj",
                  "baseline_es")
_INFERENCE_COLS = ("effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj", "baseline_es")
_GROUP_LABEL = {"t": "participants", "c": "comparison group", "all": "all students"}
_ALL = "all"


def suppress_comparisons(table: pd.DataFrame, profile: PrivacyProfile | str | None = None) -> pd.DataFrame:
    """Apply primary and complementary suppression to the KPI comparison table.

    Parameters
    ----------
    table : DataFrame
        The table of ``kpi.compare.compare_partners`` (CONTRACTS.md "KPI
        comparison table"). Needs ``n_t`` and ``n_c``; every other column is
        used when present. Not modified.
    profile : PrivacyProfile or str, optional
        Default ``public``.

    Returns
    -------
    DataFrame
        A copy in which hidden statistics are NaN and ``suppressed``,
        ``marker`` and ``suppression_reason`` are set, and ``sample_status``
        is ``"suppressed"`` / ``"descriptive_only"`` / ``"tested"``.

    Notes
    -----
    Three groups per row: participants (t), comparison (c) and all students
    (= t + c). Steps, repeated until nothing changes:

    1. **Primary.** A group with ``n < min_group_n``, or (binary KPIs) fewer
       than ``min_numerator`` students with or without the outcome, is hidden:
       its mean, SD, CI (and the participants' trend columns), and its n when
       the group is small (n >= k stays visible when only the numerator is
       small; a group hidden to protect a small group loses its n too). When t or c
       is hidden the contrast (difference, effect size and CI, improvement
       index, p, adjusted p, baseline ES) is hidden.
    2. **Triplet.** If exactly one of the three groups is hidden, the other two
       would reveal it by subtraction, so one more is hidden: the all-students
       figure, unless the same all-students figure (KPI, term, subgroup, n and
       mean) is also published in another row, in which case the other side of
       the contrast is hidden instead.
    3. **Remainders.** Subgroup rows add up to the row with
       ``subgroup == "all"`` (for t, c and all); programme rows add up to the
       ``program_id == "all"`` row (for participants). When exactly one member
       of such a line is hidden and the total is shown, another member is
       hidden too: one whose row already hides a group if any (fewer figures
       lost), else the next-smallest.
    4. **Trends.** ``prev_term_*`` / ``last_year_*`` figures of an earlier
       participant group below ``min_group_n`` are hidden; a change needs
       ``change_min_n`` in both terms.
    5. **Inference floor.** Rows whose smaller group is below
       ``inference_min_n`` are ``"descriptive_only"``: means stay, the effect
       size, its CI, the improvement index, p-values and the test are removed.

    Markers: "*" where a group failed a primary rule, "‡" where only
    complementary suppression applied.

    Examples
    --------
    >>> t = pd.DataFrame({"n_t": [25], "n_c": [8], "n_all": [33], "mean_t": [0.5], "mean_c": [0.4],
    ...                   "mean_all": [0.48], "difference": [0.1]})
    >>> out = suppress_comparisons(t)
    >>> [float(out.at[0, c]) for c in ("mean_t", "mean_c", "mean_all", "difference")]
    [0.5, nan, nan, nan]
    >>> out.at[0, "marker"], out.at[0, "sample_status"]
    ('*', 'suppressed')
    """
    p = _profile(profile)
    for col in ("n_t", "n_c"):
        if col not in table.columns:
            raise InputDataError(f"the comparison table has no column '{col}'", column=col,
                                 fix="Pass the table of kpi.compare.compare_partners")
    out = table.copy().reset_index(drop=True)
    size = len(out)
    groups = [g for g in ("t", "c", "all") if _GROUP_COLS[g][0] in out.columns]
    n = {g: pd.to_numeric(out[_GROUP_COLS[g][0]], errors="coerce").to_numpy(float) for g in groups}
    binary = (out["kind"].astype(str).to_numpy() == "binary") if "kind" in out.columns else np.zeros(size, bool)
    scale = np.where(out["unit"].astype(str).isin(["%", "percent", "pct"]).to_numpy(), 100.0, 1.0) \
        if "unit" in out.columns else np.ones(size)

    hidden = {g: np.zeros(size, bool) for g in groups}
    primary = {g: np.zeros(size, bool) for g in groups}
    # n is withheld only where a group is hidden because it is small (or to protect such a group): when only
    # the numerator is small, n >= k is safe to show and readers keep the size of the group.
    hide_n = {g: np.zeros(size, bool) for g in groups}
    # A rerun on our own output keeps what was hidden, and why (idempotence): a NaN mean (or n) in a row
    # already marked suppressed means "hidden before", not "unknown".
    prior = (out["suppressed"].fillna(False).astype(bool).to_numpy() if "suppressed" in out.columns
             else np.zeros(size, bool))
    prior_reason = (out["suppression_reason"].fillna("").astype(str).to_numpy()
                    if "suppression_reason" in out.columns else np.array([""] * size, dtype=object))
    reasons: list[list[str]] = [[r for r in str(prior_reason[i]).split("; ") if r] if prior[i] else []
                                for i in range(size)]
    for g in groups:
        mean_col = {"t": "mean_t", "c": "mean_c", "all": "mean_all"}[g]
        probe = (pd.to_numeric(out[mean_col], errors="coerce").to_numpy(float) if mean_col in out.columns
                 else n[g])
        was_hidden = prior & np.isnan(probe)
        was_primary = was_hidden & np.array([f"{_GROUP_LABEL[g]}: fewer than" in r for r in prior_reason])
        x = None
        if mean_col in out.columns and binary.any():
            mean = pd.to_numeric(out[mean_col], errors="coerce").to_numpy(float)
            x = np.where(binary, np.round(mean / scale * n[g]), np.nan)
        with np.errstate(invalid="ignore"):
            small_n = (np.isnan(n[g]) | (n[g] < p.min_group_n)) & ~was_hidden
            small_x = np.zeros(size, bool)
            if x is not None and p.min_numerator > 0 and p.small_numerator_action == "suppress":
                small_x = ~np.isnan(x) & ((x < p.min_numerator) | (n[g] - x < p.min_numerator)) & ~small_n
        for i in np.flatnonzero(small_n):
            reasons[i].append(f"{_GROUP_LABEL[g]}: fewer than {p.min_group_n} students")
        for i in np.flatnonzero(small_x):
            reasons[i].append(f"{_GROUP_LABEL[g]}: fewer than {p.min_numerator} students with "
                              "(or without) the outcome")
        primary[g] = small_n | small_x | was_primary
        hidden[g] = primary[g] | was_hidden
        hide_n[g] = small_n | (was_hidden & np.isnan(n[g]))

    all_shared = _shared_all_figures(out) if "all" in groups else np.zeros(size, bool)
    lines = _remainder_lines(out)
    # ties are broken by the row's identifying keys, not its position, so row order never changes the result
    id_cols = [c for c in ("partner_id", "program_id", "term", "kpi_id", "subgroup", "subgroup_value")
               if c in out.columns]
    key_rank = np.arange(size)
    if id_cols:
        key_rank = np.empty(size, dtype=int)
        key_rank[out[id_cols].astype(str).sort_values(id_cols, kind="mergesort").index.to_numpy()] = \
            np.arange(size)
    changed = True
    while changed:
        changed = False
        # Two layers: the statistics of a group, and its n. Either, hidden alone in a triplet or a line with a
        # shown total, is recovered by subtraction. Hiding an n hides the group's statistics too.
        for layer in ("stats", "n"):
            state = hidden if layer == "stats" else hide_n
            if len(groups) == 3:
                count = state["t"].astype(int) + state["c"].astype(int) + state["all"].astype(int)
                for i in np.flatnonzero(count == 1):
                    trigger = next(g for g in groups if state[g][i])
                    if trigger == "all":
                        order = ["c", "t"]
                    elif all_shared[i]:
                        order = [{"t": "c", "c": "t"}[trigger], "all"]
                    else:
                        order = ["all", {"t": "c", "c": "t"}[trigger]]
                    # for n, a group whose statistics are already hidden loses least
                    extra = min(order, key=lambda g: (0 if layer == "n" and hidden[g][i] else 1, order.index(g)))
                    state[extra][i] = True
                    if layer == "n":
                        hidden[extra][i] = True
                    what = "size" if layer == "n" else "figure"
                    reasons[i].append(f"{_GROUP_LABEL[extra]} {what} hidden so that the other groups cannot "
                                      f"reveal the hidden {_GROUP_LABEL[trigger]} {what} (participants + "
                                      "comparison = all students)")
                    changed = True
            for line_groups, total, members in lines:
                for g in line_groups:
                    if g not in state or state[g][total]:
                        continue
                    h = [i for i in members if state[g][i]]
                    if len(h) != 1:
                        continue
                    candidates = [i for i in members if not state[g][i]]
                    if not candidates:
                        continue

                    # Prefer a member whose row already hides something (hiding one more there does not
                    # cascade through the triplet rule, so fewer figures are lost), then the next-smallest.
                    def rank(i: int) -> tuple:
                        already = hidden[g][i] if layer == "n" else any(hidden[o][i] for o in hidden if o != g)
                        return (0 if already else 1, n[g][i] if not np.isnan(n[g][i]) else np.inf, key_rank[i])

                    pick = min(candidates, key=rank)
                    state[g][pick] = True
                    if layer == "n":
                        hidden[g][pick] = True
                    what = "size" if layer == "n" else "figure"
                    reasons[pick].append(f"{_GROUP_LABEL[g]} {what} hidden so that the total cannot reveal "
                                         "another subgroup or programme")
                    changed = True

    contrast = np.zeros(size, bool)
    for g in ("t", "c"):
        if g in hidden:
            contrast |= hidden[g]
    for g in groups:
        _blank(out, [c for c in _GROUP_COLS[g][1:] if c in out.columns], hidden[g])
        _blank(out, [_GROUP_COLS[g][0]], hide_n[g])
    _blank(out, [c for c in _CONTRAST_COLS if c in out.columns], contrast)
    # Trend columns: an earlier term's participant group below k is hidden like any group, and a change
    # needs change_min_n in both terms (California: 20).
    for prefix, change in (("prev_term", "change_prev_term"), ("last_year", "change_last_year")):
        ncol = f"{prefix}_n_t"
        if ncol not in out.columns:
            continue
        n_then = pd.to_numeric(out[ncol], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            small_then = ~np.isnan(n_then) & (n_then < p.min_group_n)
            no_change = small_then | (~np.isnan(n_then) & ((n_then < p.change_min_n) | (n["t"] < p.change_min_n)))
        _blank(out, [c for c in (ncol, f"{prefix}_mean_t") if c in out.columns], small_then)
        if change in out.columns:
            _blank(out, [change], no_change)
    if "test" in out.columns:
        out.loc[contrast, "test"] = ""
    if "baseline_verdict" in out.columns:
        out.loc[contrast, "baseline_verdict"] = "unknown"

    smaller = np.fmin(n["t"], n["c"])
    with np.errstate(invalid="ignore"):
        descriptive = ~contrast & (smaller < p.inference_min_n)
    _blank(out, [c for c in _INFERENCE_COLS if c in out.columns], descriptive)
    if "test" in out.columns:
        out.loc[descriptive, "test"] = ""
    if "baseline_verdict" in out.columns:
        out.loc[descriptive, "baseline_verdict"] = "unknown"
    if "wording" in out.columns:
        out.loc[contrast | descriptive, "wording"] = "association"
    previous_status = out["sample_status"].astype(object).to_numpy() if "sample_status" in out.columns else None
    status = np.where(contrast, "suppressed", np.where(descriptive, "descriptive_only", "tested")).astype(object)
    if previous_status is not None:
        # keep a stricter status the KPI engine set (e.g. no test possible), never a looser one
        keep = (status == "tested") & np.isin(previous_status, ["descriptive_only", "suppressed"])
        status[keep] = previous_status[keep]
    out["sample_status"] = status

    any_hidden = np.zeros(size, bool)
    any_primary = np.zeros(size, bool)
    for g in groups:
        any_hidden |= hidden[g]
        any_primary |= primary[g]
    marker = np.where(any_primary, p.primary_marker, np.where(any_hidden, p.complementary_marker, ""))
    out["suppressed"] = any_hidden
    out["marker"] = marker.tolist()
    out["suppression_reason"] = ["; ".join(r) for r in reasons]
    out.index = table.index
    return out


def _shared_all_figures(out: pd.DataFrame) -> np.ndarray:
    keys = [c for c in ("kpi_id", "term", "subgroup", "subgroup_value", "n_all", "mean_all") if c in out.columns]
    if not keys or "n_all" not in keys:
        return np.zeros(len(out), bool)
    frame = out[keys].copy()
    if "mean_all" in frame.columns:
        frame["mean_all"] = pd.to_numeric(frame["mean_all"], errors="coerce").round(9)
    return frame.duplicated(keep=False).to_numpy() & pd.to_numeric(out["n_all"], errors="coerce").notna().to_numpy()


def _remainder_lines(out: pd.DataFrame) -> list[tuple[tuple[str, ...], int, list[int]]]:
    lines: list[tuple[tuple[str, ...], int, list[int]]] = []
    base = [c for c in ("partner_id", "program_id", "term", "kpi_id") if c in out.columns]
    if "subgroup" in out.columns and base:
        sub = out["subgroup"].astype(object)
        for _, idx in out.astype({c: str for c in base}).groupby(base, sort=True, dropna=False).groups.items():
            idx = list(idx)
            totals = [i for i in idx if sub[i] == _ALL]
            if len(totals) != 1:
                continue
            for name in sorted({str(sub[i]) for i in idx} - {_ALL}):
                members = [i for i in idx if str(sub[i]) == name]
                if len(members) >= 1:
                    lines.append((("t", "c", "all"), totals[0], members))
    keys = [c for c in ("partner_id", "term", "kpi_id", "subgroup", "subgroup_value") if c in out.columns]
    if "program_id" in out.columns and "partner_id" in keys:
        prog = out["program_id"].astype(object)
        for _, idx in out.astype({c: str for c in keys}).groupby(keys, sort=True, dropna=False).groups.items():
            idx = list(idx)
            totals = [i for i in idx if prog[i] == _ALL]
            members = [i for i in idx if prog[i] != _ALL]
            if len(totals) == 1 and len(members) >= 2:
                # only participants add up across programmes; comparison groups differ per programme
                lines.append((("t",), totals[0], members))
    return lines


def _blank(out: pd.DataFrame, cols: list[str], mask: np.ndarray) -> None:
    if not mask.any():
        return
    for col in cols:
        if pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            if not pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].astype(float)
            out.loc[mask, col] = np.nan
        else:
            out[col] = out[col].astype(object)
            out.loc[mask, col] = None


# =========================================================================== leak scan
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
    ids = {str(s).strip() for s in student_ids if not _is_missing(s)}
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


# =========================================================================== release ledger
class ReleaseLedger:
    """Append-only record of released tables (JSON lines).

    FERPA judges identifiability over single *and multiple* releases
    (34 CFR §99.31(b)(1)), so every table that leaves the district is logged
    with its hash; linked-table and differencing checks read the log.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file; created on first append. Lines are only ever
        appended, one ``os.write`` per entry (atomic for lines of this size on
        local file systems), never rewritten.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ledger = ReleaseLedger(pathlib.Path(tempfile.mkdtemp()) / "ledger.jsonl")
    >>> _ = ledger.append(term="2025-26-Q1", partner_id="P01", table="kpi",
    ...                   data=pd.DataFrame({"a": [1]}), profile="public")
    >>> row = ledger.frame().iloc[0]
    >>> row["term"], row["partner_id"], int(row["rows"])
    ('2025-26-Q1', 'P01', 1)
    """

    COLUMNS = ("term", "partner_id", "table", "sha256", "profile", "rows", "released_at")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, *, term: str, partner_id: str, table: str, sha256: str | None = None, data: Any = None,
               profile: PrivacyProfile | str = "public", rows: int | None = None,
               released_at: str | dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
        """Record one released table and return the entry.

        Give either ``sha256`` (hex digest of the released bytes) or ``data``
        (a DataFrame, hashed as UTF-8 CSV without index; bytes; str; or a path
        to the released file). ``rows`` defaults to ``len(data)`` for frames.
        Extra keyword fields are stored too.
        """
        for name, value in (("term", term), ("partner_id", partner_id), ("table", table)):
            if not isinstance(value, str) or not value:
                raise InputDataError(f"`{name}` must be a non-empty string, found {value!r}", column=name,
                                     value=value, fix="IDs are strings (keep leading zeros)")
        if sha256 is None:
            if data is None:
                raise InputDataError("give sha256= or data= to record a release", column="sha256")
            sha256, n_rows = _digest(data)
            rows = n_rows if rows is None else rows
        if not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
            raise InputDataError(f"sha256 must be 64 lower-case hex digits, found {sha256!r}", column="sha256",
                                 value=sha256)
        if isinstance(released_at, dt.datetime):
            released_at = released_at.isoformat(timespec="seconds")
        entry = {"term": term, "partner_id": partner_id, "table": table, "sha256": str(sha256),
                 "profile": profile.name if isinstance(profile, PrivacyProfile) else str(profile),
                 "rows": None if rows is None else int(rows),
                 "released_at": released_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        for key, value in extra.items():
            if key not in entry:
                entry[key] = value
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    record = append

    def entries(self) -> list[dict[str, Any]]:
        """All entries, oldest first."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InputDataError(f"not a JSON line: {err.msg}", path=self.path, row=number,
                                     fix="The ledger is append-only; restore it from backup") from err
        return out

    def frame(self) -> pd.DataFrame:
        """The ledger as a DataFrame: term, partner_id, table, sha256, profile, rows, released_at (+ extras)."""
        entries = self.entries()
        extra = [k for e in entries for k in e if k not in self.COLUMNS]
        cols = list(self.COLUMNS) + list(dict.fromkeys(extra))
        frame = pd.DataFrame(entries, columns=cols)
        for col in cols:
            frame[col] = frame[col].astype("Int64") if col == "rows" else frame[col].astype(object)
        return frame

    read = frame

    def released(self, *, term: str | None = None, partner_id: str | None = None) -> pd.DataFrame:
        """Entries filtered by term and/or partner."""
        frame = self.frame()
        if term is not None:
            frame = frame[frame["term"] == term]
        if partner_id is not None:
            frame = frame[frame["partner_id"] == partner_id]
        return frame.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.entries())


def _digest(data: Any) -> tuple[str, int | None]:
    if isinstance(data, pd.DataFrame):
        return hashlib.sha256(data.to_csv(index=False).encode("utf-8")).hexdigest(), len(data)
    if isinstance(data, (bytes, bytearray)):
        return hashlib.sha256(bytes(data)).hexdigest(), None
    if isinstance(data, Path):
        return hashlib.sha256(data.read_bytes()).hexdigest(), None
    if isinstance(data, str):
        return hashlib.sha256(data.encode("utf-8")).hexdigest(), None
    raise InputDataError(f"cannot hash {type(data).__name__}", column="data",
                         fix="Pass a DataFrame, bytes, str or Path")
