"""Goal attainment for KPI targets kept in a YAML file (before, or beside, the records store).

The rule lives in one place, :func:`partner_analysis.records.goals.goal_attainment`
(met / on_track / at_risk / off_track / no_data, against a linear path from
baseline to target); this module only reads targets from YAML and feeds that
function the KPI comparison table.

YAML layout::

    goals:
      - goal_id: G1
        partner_id: P02
        kpi_id: chronic_absence
        population: participants      # participants | comparison | all
        baseline: 0.25
        target: 0.15                  # below the baseline: a fall is progress
        start_term: 2025-26-Q1
        due_term: 2025-26-Q4
        description: Cut chronic absence among dual-enrolment students
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..safeyaml import read_yaml
from ..exceptions import ConfigError

__all__ = ["read_goals_yaml", "goal_attainment"]

_COLUMNS = ("goal_id", "partner_id", "description", "kpi_id", "population", "baseline", "target", "start_term",
            "due_term", "entered_by", "entered_at")
_REQUIRED = ("goal_id", "partner_id", "kpi_id", "baseline", "target", "due_term")


def read_goals_yaml(path: str | Path, *, config=None) -> pd.DataFrame:
    """Read KPI targets from YAML into the frame :func:`goal_attainment` takes.

    Raises
    ------
    ConfigError
        Missing file, bad YAML, a missing key, a non-numeric baseline/target
        or (with ``config``) an unknown term.
    """
    path = Path(path)
    raw = read_yaml(path, missing="goals file not found")
    if not isinstance(raw, dict) or not isinstance(raw.get("goals"), list):
        raise ConfigError("a goals file is a mapping with a `goals:` list", path=path, key="goals")
    rows = []
    for i, g in enumerate(raw["goals"]):
        missing = [k for k in _REQUIRED if not isinstance(g, dict) or g.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"missing {missing}", path=path, key=f"goals[{i}]")
        row = {c: g.get(c) for c in _COLUMNS}
        for c in ("baseline", "target"):
            try:
                row[c] = float(g[c])
            except (TypeError, ValueError):
                raise ConfigError(f"{c} must be a number, found {g[c]!r}", path=path, key=f"goals[{i}].{c}") from None
        if row["population"] in (None, ""):
            row["population"] = "participants"
        if config is not None:
            for c in ("start_term", "due_term"):
                if row[c] not in (None, ""):
                    try:
                        config.term(str(row[c]))
                    except ConfigError:
                        raise ConfigError(f"unknown term {row[c]!r}", path=path, key=f"goals[{i}].{c}",
                                          fix=f"Use one of {list(config.term_ids)}") from None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    for c in ("goal_id", "partner_id", "kpi_id", "population", "start_term", "due_term"):
        frame[c] = frame[c].astype("string")
    return frame


def goal_attainment(table: pd.DataFrame, goals: pd.DataFrame, *, config, term: str) -> pd.DataFrame:
    """Attainment of each goal as of ``term`` from KPI comparison tables (one or more terms stacked).

    See :func:`partner_analysis.records.goals.goal_attainment` for the rule and
    the returned columns. Suppressed values (NaN) count as no data.
    """
    from ..records.goals import goal_attainment as _attainment
    return _attainment(goals, config, term=term, kpi_table=table)
