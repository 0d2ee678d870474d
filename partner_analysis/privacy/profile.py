"""Disclosure-avoidance profiles: the rule parameters of docs/privacy.md#public-profile, built from ``district.yml``.

Sources: PTAC FAQ (minimum cell size 3, commonly 5-10), NCES SLDS Technical Brief 3 (NCES 2011-603),
and the state rules cited in ``docs/privacy.md#state-rules`` (as published at the dates cited).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..exceptions import ConfigError, check_argument

__all__ = ["PrivacyProfile", "PROFILES", "get_profile", "resolve_profile"]

_SMALL_NUMERATOR_ACTIONS = ("suppress", "code")
_COUNT_ROUNDING = ("nearest", "drb", "none")

@dataclass(frozen=True)
class PrivacyProfile:
    """A disclosure-avoidance profile (docs/privacy.md#public-profile).

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
        effect size (docs/methods.md#inference-floors).
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
        only; the toolkit never perturbs by default, docs/privacy.md#perturbation).

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
        """``{"primary": "*", "complementary": "‡"}`` (docs/privacy.md#markers)."""
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
        docs/privacy.md#public-profile (``top_bottom_code``, ``rounding``, ``complementary``,
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
#: dates cited in docs/privacy.md#state-rules; current state practice may differ (to confirm before claiming conformance).
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


def resolve_profile(profile: PrivacyProfile | str | Mapping | None) -> PrivacyProfile:
    """A profile from a profile, a name (``None``: public) or a ``privacy`` mapping of ``district.yml``."""
    if isinstance(profile, Mapping):
        return PrivacyProfile.from_config(profile)
    return get_profile(profile)
