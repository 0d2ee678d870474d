"""Disclosure avoidance for everything that leaves the district (re-exports only).

One module per concept (rules and sources in ``docs/privacy.md``):
:mod:`.profile` (profiles from ``district.yml``), :mod:`.display` (the only
number-to-text path), :mod:`.suppress` (primary and complementary
suppression), :mod:`.linked` (earlier terms shown in a release), :mod:`.scan`
(leak scan) and :mod:`.ledger` (release ledger and differencing guard).
"""
from __future__ import annotations

from .display import (NOT_SHOWN, PERCENT_UNITS, drb_round, format_change, format_count, format_effect,
                      format_level, format_mean, format_money, format_p, format_participants, format_percent,
                      format_points, format_score, format_share, format_whole, is_missing, localize, numerator,
                      shown_plainly)
from .ledger import CELL_KEYS, ReleaseLedger, cell_fingerprint, differencing_conflicts, file_sha256
from .linked import link_earlier_terms
from .profile import PROFILES, PrivacyProfile, get_profile, resolve_profile
from .scan import PRIVATE_MARKER, Leak, PrivateFolderError, check_publishable, scan_outputs, scan_release
from .suppress import change_allowed, edfacts_perturb, primary_suppressed, suppress_comparisons, suppress_table

__all__ = [
    "PrivacyProfile", "PROFILES", "get_profile", "resolve_profile",
    "primary_suppressed", "suppress_table", "suppress_comparisons", "change_allowed", "edfacts_perturb",
    "link_earlier_terms",
    "format_percent", "format_count", "format_mean", "format_effect", "drb_round", "format_level",
    "format_change", "format_p", "format_score", "format_money", "format_whole", "format_share", "format_points",
    "format_participants", "shown_plainly", "numerator", "is_missing", "NOT_SHOWN", "PERCENT_UNITS", "localize",
    "Leak", "scan_outputs", "scan_release", "check_publishable", "PrivateFolderError", "PRIVATE_MARKER",
    "ReleaseLedger", "CELL_KEYS", "cell_fingerprint", "differencing_conflicts", "file_sha256",
]
