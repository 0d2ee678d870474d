r"""Attendance modes: daily-positive rows, exceptions only, or per-term summaries.

A district's attendance export comes in one of three shapes; the column map (or the Ed-Fi map) declares
which with ``attendance:``:

``daily_positive`` (default)
    ``attendance_daily``: one row per student and *enrolled* day, present days included. Days enrolled =
    the rows found.
``exceptions_only``
    ``attendance_events``: only the exceptions (absences, tardies, partial days). A day without an event is a
    day present. Days enrolled come from the enrolment spans (``enrollment``) and the school calendar
    (``school_days``, or ``school_sessions`` when the calendar gives totals only); never from a count of
    rows. :func:`summarise_exceptions` turns them into per-student-term summaries (``attendance_terms``),
    which the KPI panel reads as it reads any summary.
``term_summaries``
    ``attendance_terms``: days enrolled and days absent per student and term, as exported.

Definitions (exceptions only)
-----------------------------
Instructional day
    A ``school_days`` row of the school with ``instructional`` true or missing. A school and term without
    ``school_days`` rows but with a ``school_sessions`` row use the session's total: a span covering the
    whole session has its ``instructional_days``; a partial span has them pro-rated by weekdays,
    :math:`D \cdot w(\text{span} \cap \text{session}) / w(\text{session})` with :math:`w` the number of
    Monday-to-Friday dates, and there every weekday of the session counts as a possible event date.
Days enrolled
    Per student and term: the instructional days of the school that fall inside one of the student's
    enrolment spans at that school (``entry_date`` to ``exit_date``, both inclusive; a missing exit = still
    enrolled), summed over the student's schools.
Day absent
    An event counts when its date is an instructional day inside an enrolment span of the student at the
    event's school (``school_id`` of the event, else any school the student is enrolled at that day).
    Each event contributes its ``fraction_absent``, or when missing 1 for excused, unexcused, partial and
    suspended, 0 for tardy and present (the KPI panel's rule for daily rows).
Two events on one day (precedence)
    They count once: the day's absence is the **largest** contribution among the day's events (never their
    sum, never more than 1). An excused absence (1) and a partial day (0.5) on the same date make one day
    absent; a tardy (0) never lowers an absence. The day's status, where one is reported, is the first
    present in :data:`STATUS_PRECEDENCE` (unexcused before suspended, excused, partial, tardy, present).
Events that do not count
    Events outside every term, outside enrolment or on a non-instructional day are left out of the rates
    and counted by the data-quality profile.

Default enrolment
-----------------
Sources without enrolment spans (the Ed-Fi "Grand Bend" sample has no StudentSchoolAssociation file) may
declare ``default_enrolment: whole_session``: every student with an event at a school in a term is enrolled
there for the whole session (the school's session dates, else its first to last calendar day in the term,
else the term's dates). :func:`default_enrolment` builds those spans.

Coverage checks
---------------
:func:`check_coverage` refuses attendance whose coverage is impossible, each with one message naming the fix:
exceptions only without a calendar (or without enrolment and no default), daily-positive rows with no
present day anywhere, and daily-positive rows covering fewer than :data:`MIN_DAILY_COVERAGE` of the enrolled
instructional days (both the signature of an exceptions-only export mapped as daily rows).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..config import DistrictConfig
from ..exceptions import InputDataError
from .schema import ABSENT_STATUSES

__all__ = ["ATTENDANCE_MODES", "DEFAULT_ENROLMENTS", "STATUS_PRECEDENCE", "MIN_DAILY_COVERAGE",
           "summarise_exceptions", "default_enrolment", "instructional_days", "check_coverage",
           "daily_exceptions", "enrolled_days", "term_of", "counted_events"]

ATTENDANCE_MODES = ("daily_positive", "exceptions_only", "term_summaries")
DEFAULT_ENROLMENTS = ("none", "whole_session")
#: Which status names a day with two events (first wins); see the module docstring.
STATUS_PRECEDENCE = ("unexcused", "suspended", "excused", "partial", "tardy", "present")
#: Daily-positive rows must cover at least this share of the enrolled instructional days.
MIN_DAILY_COVERAGE = 0.5


# -- calendar ----------------------------------------------------------------------------------------

def _terms_frame(config: DistrictConfig) -> pd.DataFrame:
    terms = config.ordered_terms
    return pd.DataFrame({"term_id": [t.id for t in terms],
                         "term_start": pd.to_datetime([t.start for t in terms]),
                         "term_end": pd.to_datetime([t.end for t in terms])})


def term_of(dates: pd.Series, config: DistrictConfig) -> pd.Series:
    """The term id of each date (NA outside every term)."""
    terms = _terms_frame(config)
    d = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    i = np.searchsorted(terms["term_start"].to_numpy(), d, side="right") - 1
    ok = (i >= 0) & ~np.isnat(d)
    ok &= d <= terms["term_end"].to_numpy()[np.clip(i, 0, None)] if len(terms) else False
    ids = np.asarray(terms["term_id"], dtype=object)
    return pd.Series(np.where(ok, ids[np.clip(i, 0, max(len(ids) - 1, 0))] if len(ids) else None, None),
                     index=dates.index, dtype="object")


def _weekdays(start, end) -> np.ndarray:
    """Monday-to-Friday dates from start to end, both inclusive (0 when end < start)."""
    s = np.asarray(start, dtype="datetime64[D]")
    e = np.asarray(end, dtype="datetime64[D]") + np.timedelta64(1, "D")
    e = np.maximum(e, s)
    return np.busday_count(s, e)


def instructional_days(school_days: pd.DataFrame | None, config: DistrictConfig) -> pd.DataFrame:
    """The instructional dates of each school, with their term.

    Returns
    -------
    DataFrame
        ``school_id`` (str), ``date`` (datetime64), ``term_id`` (str); dates outside every term dropped.
    """
    if school_days is None or not len(school_days):
        return pd.DataFrame({"school_id": pd.Series(dtype="object"), "date": pd.Series(dtype="datetime64[ns]"),
                             "term_id": pd.Series(dtype="object")})
    days = school_days
    if "instructional" in days.columns:
        days = days[days["instructional"].astype("boolean").fillna(True).to_numpy(dtype=bool)]
    out = pd.DataFrame({"school_id": days["school_id"].astype(str).to_numpy(),
                        "date": pd.to_datetime(days["date"]).to_numpy()})
    out["term_id"] = term_of(out["date"], config).to_numpy()
    return out.dropna(subset=["term_id"]).drop_duplicates(["school_id", "date"]).reset_index(drop=True)


def _sessions(school_sessions: pd.DataFrame | None) -> pd.DataFrame:
    if school_sessions is None or not len(school_sessions):
        return pd.DataFrame(columns=["school_id", "term_id", "begin_date", "end_date", "instructional_days"])
    s = school_sessions[["school_id", "term_id", "begin_date", "end_date", "instructional_days"]].copy()
    s["school_id"] = s["school_id"].astype(str)
    s["term_id"] = s["term_id"].astype(str)
    s["begin_date"] = pd.to_datetime(s["begin_date"])
    s["end_date"] = pd.to_datetime(s["end_date"])
    s["instructional_days"] = s["instructional_days"].astype(float)
    return s


# -- enrolment -----------------------------------------------------------------------------------------

def _spans(enrollment: pd.DataFrame) -> pd.DataFrame:
    sp = pd.DataFrame({"student_id": enrollment["student_id"].astype(str).to_numpy(),
                       "school_id": enrollment["school_id"].astype(str).to_numpy(),
                       "entry_date": pd.to_datetime(enrollment["entry_date"]).to_numpy()})
    exit_ = (pd.to_datetime(enrollment["exit_date"]) if "exit_date" in enrollment.columns
             else pd.Series(pd.NaT, index=enrollment.index))
    sp["exit_date"] = exit_.fillna(pd.Timestamp.max.normalize()).to_numpy()
    return sp


def default_enrolment(events: pd.DataFrame, students: pd.DataFrame | None, config: DistrictConfig, *,
                      school_days: pd.DataFrame | None = None,
                      school_sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Enrolment spans for sources without them: ``default_enrolment: whole_session``.

    Every student with an event at a school in a term is enrolled at that school for the whole session:
    the school's ``school_sessions`` dates for the term, else its first to last instructional day in the
    term, else the term's own dates. An event without ``school_id`` is placed at ``students.school_id``.

    Returns
    -------
    DataFrame
        ``student_id``, ``school_id``, ``entry_date``, ``exit_date`` (one row per student, school and term).
    """
    ev = pd.DataFrame({"student_id": events["student_id"].astype(str).to_numpy(),
                       "date": pd.to_datetime(events["date"]).to_numpy()})
    school = (events["school_id"].astype("string") if "school_id" in events.columns
              else pd.Series(pd.NA, index=events.index, dtype="string"))
    if students is not None and school.isna().any():
        home = students.set_index(students["student_id"].astype(str))["school_id"].astype("string")
        school = school.fillna(pd.Series(ev["student_id"].map(home).to_numpy(), index=events.index, dtype="string"))
    ev["school_id"] = school.to_numpy()
    ev["term_id"] = term_of(ev["date"], config).to_numpy()
    ev = ev.dropna(subset=["school_id", "term_id"])
    cells = ev[["student_id", "school_id", "term_id"]].drop_duplicates()
    terms = _terms_frame(config)
    bounds = terms.rename(columns={"term_start": "entry_date", "term_end": "exit_date"})
    days = instructional_days(school_days, config)
    if len(days):
        by_cal = days.groupby(["school_id", "term_id"], as_index=False)["date"].agg(entry_date="min",
                                                                                   exit_date="max")
    else:
        by_cal = pd.DataFrame(columns=["school_id", "term_id", "entry_date", "exit_date"])
    ses = _sessions(school_sessions).rename(columns={"begin_date": "entry_date", "end_date": "exit_date"})
    keys = ["school_id", "term_id"]
    out = cells.merge(ses[[*keys, "entry_date", "exit_date"]].drop_duplicates(keys), how="left", on=keys)
    from_cal = cells.merge(by_cal, how="left", on=keys)
    from_term = cells.merge(bounds[["term_id", "entry_date", "exit_date"]], how="left", on="term_id")
    for c in ("entry_date", "exit_date"):
        out[c] = (pd.to_datetime(out[c]).fillna(pd.to_datetime(from_cal[c]))
                  .fillna(pd.to_datetime(from_term[c])))
    out = out.sort_values(["student_id", "school_id", "entry_date"]).reset_index(drop=True)
    return out[["student_id", "school_id", "entry_date", "exit_date"]]


# -- the conversion ------------------------------------------------------------------------------------

def _span_terms(spans: pd.DataFrame, config: DistrictConfig) -> pd.DataFrame:
    """Each span cut to each term it overlaps: columns of spans + term_id, lo, hi."""
    terms = _terms_frame(config)
    x = spans.merge(terms, how="cross")
    x["lo"] = x[["entry_date", "term_start"]].max(axis=1)
    x["hi"] = x[["exit_date", "term_end"]].min(axis=1)
    return x[x["lo"] <= x["hi"]].reset_index(drop=True)


def enrolled_days(enrollment: pd.DataFrame, config: DistrictConfig, *, school_days: pd.DataFrame | None = None,
                  school_sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Instructional days inside each enrolment span, per student, school and term.

    Returns
    -------
    DataFrame
        ``student_id``, ``school_id``, ``term_id``, ``days_enrolled`` (float), ``calendar`` (``"days"``,
        ``"session"`` or ``"none"``: which calendar gave the count; ``"none"`` rows have 0 days).
    """
    x = _span_terms(_spans(enrollment), config)
    days = instructional_days(school_days, config)
    x["days_enrolled"] = 0.0
    x["calendar"] = "none"
    have_days = set(zip(days["school_id"], days["term_id"]))
    by_school = {k: np.sort(g["date"].to_numpy(dtype="datetime64[ns]")) for k, g in days.groupby("school_id")}
    key = list(zip(x["school_id"], x["term_id"]))
    use_days = np.array([k in have_days for k in key], dtype=bool)
    for school, idx in x[use_days].groupby("school_id").groups.items():
        arr = by_school[school]
        lo = x.loc[idx, "lo"].to_numpy(dtype="datetime64[ns]")
        hi = x.loc[idx, "hi"].to_numpy(dtype="datetime64[ns]")
        x.loc[idx, "days_enrolled"] = (np.searchsorted(arr, hi, side="right")
                                       - np.searchsorted(arr, lo, side="left")).astype(float)
        x.loc[idx, "calendar"] = "days"
    ses = _sessions(school_sessions)
    if len(ses) and (~use_days).any():
        rest = x[~use_days].reset_index().merge(ses, how="inner", on=["school_id", "term_id"])
        if len(rest):
            lo = rest[["lo", "begin_date"]].max(axis=1).to_numpy(dtype="datetime64[D]")
            hi = rest[["hi", "end_date"]].min(axis=1).to_numpy(dtype="datetime64[D]")
            total = _weekdays(rest["begin_date"].to_numpy(dtype="datetime64[D]"),
                              rest["end_date"].to_numpy(dtype="datetime64[D]"))
            part = _weekdays(lo, hi)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0, part / np.maximum(total, 1), 0.0)
            x.loc[rest["index"].to_numpy(), "days_enrolled"] = rest["instructional_days"].to_numpy() * share
            x.loc[rest["index"].to_numpy(), "calendar"] = "session"
    return x[["student_id", "school_id", "term_id", "lo", "hi", "days_enrolled", "calendar"]]


def daily_exceptions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per student, school and day: the day's absence and status after precedence.

    Returns
    -------
    DataFrame
        ``student_id``, ``school_id`` (may be NA), ``date``, ``status`` (by :data:`STATUS_PRECEDENCE`),
        ``absent`` (the largest contribution of the day's events, at most 1), ``n_events``.
    """
    ev = pd.DataFrame({"student_id": events["student_id"].astype(str).to_numpy(),
                       "date": pd.to_datetime(events["date"]).to_numpy(),
                       "status": events["status"].astype(str).to_numpy()})
    ev["school_id"] = (events["school_id"].astype("string").to_numpy() if "school_id" in events.columns
                       else pd.NA)
    default = ev["status"].isin(ABSENT_STATUSES).astype(float)
    frac = (pd.to_numeric(events["fraction_absent"], errors="coerce").to_numpy(dtype=float)
            if "fraction_absent" in events.columns else np.full(len(ev), np.nan))
    ev["absent"] = np.clip(np.where(np.isnan(frac), default, frac), 0.0, 1.0)
    rank = {s: i for i, s in enumerate(STATUS_PRECEDENCE)}
    ev["rank"] = ev["status"].map(rank).fillna(len(rank)).astype(int)
    ev["school_key"] = ev["school_id"].astype("string").fillna("")
    g = ev.sort_values("rank").groupby(["student_id", "school_key", "date"], sort=False)
    out = g.agg(status=("status", "first"), absent=("absent", "max"), n_events=("status", "size"),
                school_id=("school_id", "first")).reset_index()
    return out[["student_id", "school_id", "date", "status", "absent", "n_events"]]


def summarise_exceptions(events: pd.DataFrame, enrollment: pd.DataFrame, config: DistrictConfig, *,
                         school_days: pd.DataFrame | None = None,
                         school_sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Exceptions-only attendance as per-student-term summaries (the module docstring defines every step).

    Parameters
    ----------
    events : DataFrame
        ``attendance_events``: student_id, date, status, optional fraction_absent and school_id.
    enrollment : DataFrame
        ``enrollment`` spans (or :func:`default_enrolment`'s).
    config : DistrictConfig
        Its terms cut spans and events into terms.
    school_days, school_sessions : DataFrame, optional
        The calendar (at least one must cover every school and term with enrolment).

    Returns
    -------
    DataFrame
        ``student_id``, ``term_id``, ``days_enrolled``, ``days_absent`` (floats; one row per student and
        term with at least one instructional day enrolled), ready for ``attendance_terms``.
    """
    en = enrolled_days(enrollment, config, school_days=school_days, school_sessions=school_sessions)
    en = en[en["days_enrolled"] > 0]
    day = daily_exceptions(events)
    counted = _counted_days(day, en, school_days, school_sessions, config)
    absent = counted.groupby(["student_id", "term_id"], as_index=False)["absent"].sum()
    out = en.groupby(["student_id", "term_id"], as_index=False)["days_enrolled"].sum()
    out = out.merge(absent, how="left", on=["student_id", "term_id"])
    out["days_absent"] = out["absent"].fillna(0.0).clip(upper=out["days_enrolled"])
    return out[["student_id", "term_id", "days_enrolled", "days_absent"]].sort_values(
        ["student_id", "term_id"]).reset_index(drop=True)


def counted_events(events: pd.DataFrame, enrollment: pd.DataFrame, config: DistrictConfig, *,
                   school_days: pd.DataFrame | None = None,
                   school_sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The student-days with events that count (inside enrolment, on an instructional day).

    Returns
    -------
    DataFrame
        ``student_id``, ``school_id``, ``term_id``, ``date``, ``absent`` (one row per student and day).
    """
    en = enrolled_days(enrollment, config, school_days=school_days, school_sessions=school_sessions)
    return _counted_days(daily_exceptions(events), en[en["days_enrolled"] > 0], school_days, school_sessions,
                         config)


def _counted_days(day: pd.DataFrame, en: pd.DataFrame, school_days, school_sessions,
                  config: DistrictConfig) -> pd.DataFrame:
    """The event days that count: inside an enrolment span, on an instructional day of that school."""
    if not len(day) or not len(en):
        return pd.DataFrame(columns=["student_id", "school_id", "term_id", "date", "absent"])
    day = day.rename(columns={"school_id": "event_school"})
    x = day.merge(en[["student_id", "school_id", "term_id", "lo", "hi", "calendar"]], on="student_id")
    x = x[(x["date"] >= x["lo"]) & (x["date"] <= x["hi"])]
    x = x[x["event_school"].isna() | (x["event_school"].astype("string") == x["school_id"])]
    cal = instructional_days(school_days, config)
    on_day = x.merge(cal[["school_id", "date"]].assign(_cal=True), how="left", on=["school_id", "date"])
    ok_days = (on_day["calendar"] == "days") & on_day["_cal"].fillna(False).astype(bool)
    ses = _sessions(school_sessions)
    sx = on_day.merge(ses[["school_id", "term_id", "begin_date", "end_date"]], how="left",
                      on=["school_id", "term_id"])
    weekday = pd.to_datetime(sx["date"]).dt.day_of_week < 5
    ok_ses = ((sx["calendar"] == "session") & (sx["date"] >= sx["begin_date"]) & (sx["date"] <= sx["end_date"])
              & weekday)
    keep = on_day[ok_days.to_numpy() | ok_ses.to_numpy()]
    # a day counts once even if two spans (two schools) cover it
    return keep.drop_duplicates(["student_id", "date"])[["student_id", "school_id", "term_id", "date", "absent"]]


# -- coverage checks -----------------------------------------------------------------------------------

def _has(tables: Mapping[str, pd.DataFrame | None], name: str) -> bool:
    t = tables.get(name)
    return t is not None and len(t) > 0


def check_coverage(tables: Mapping[str, pd.DataFrame | None], config: DistrictConfig, *, mode: str,
                   default_enrolment_rule: str = "none", paths: Mapping[str, str] | None = None,
                   map_path: str | None = None) -> list[InputDataError]:
    """Problems that make the attendance impossible to count, each naming the fix (empty list = fine).

    ``tables`` are typed frames by table name; ``paths`` name their files in messages.
    """
    paths = paths or {}
    problems: list[InputDataError] = []
    calendar = _has(tables, "school_days") or _has(tables, "school_sessions")
    if mode == "exceptions_only":
        where = paths.get("attendance_events", map_path)
        if not calendar:
            problems.append(InputDataError(
                "attendance is exceptions-only (a day without an event is a day present), but no school calendar "
                "was imported, so the days enrolled cannot be known", path=where, column="attendance",
                value="exceptions_only",
                fix="Add a `school_days` entry (school_id, date) or a `school_sessions` entry (school_id, term_id, "
                    "begin_date, end_date, instructional_days) to the map"))
        if not _has(tables, "enrollment") and default_enrolment_rule == "none":
            problems.append(InputDataError(
                "attendance is exceptions-only, but no enrolment spans were imported, so the days enrolled "
                "cannot be known", path=where, column="enrollment",
                fix="Add an `enrollment` entry (student_id, school_id, entry_date, exit_date) to the map, or "
                    "declare `default_enrolment: whole_session` (every student with an event at a school is "
                    "enrolled there for the whole session)"))
        if _has(tables, "attendance_daily"):
            problems.append(InputDataError(
                "attendance is declared exceptions-only, but the map also supplies daily attendance rows",
                path=paths.get("attendance_daily", map_path), column="attendance", value="exceptions_only",
                fix="Map the exceptions to `attendance_events` only, or declare `attendance: daily_positive`"))
    elif mode == "daily_positive" and _has(tables, "attendance_daily"):
        daily = tables["attendance_daily"]
        where = paths.get("attendance_daily", map_path)
        fix = ("If the export lists only absences and tardies, declare `attendance: exceptions_only` in the map, "
               "map the rows to `attendance_events`, and add the school calendar (`school_days` or "
               "`school_sessions`) and enrolment (`enrollment`)")
        if not (daily["status"].astype(str) == "present").any():
            problems.append(InputDataError(
                f"daily attendance has no present day anywhere ({len(daily):,} rows, all absences or tardies): "
                "every student would have an attendance rate of 0", path=where, column="status",
                value="present", fix=fix))
        elif _has(tables, "enrollment") and calendar:
            en = enrolled_days(tables["enrollment"], config, school_days=tables.get("school_days"),
                               school_sessions=tables.get("school_sessions"))
            expected = float(en["days_enrolled"].sum())
            if expected > 0 and len(daily) < MIN_DAILY_COVERAGE * expected:
                problems.append(InputDataError(
                    f"daily attendance has {len(daily):,} rows but enrolment and the calendar give "
                    f"{expected:,.0f} enrolled instructional days ({len(daily) / expected:.0%} covered; "
                    f"daily-positive data needs one row per enrolled day)", path=where, column="date",
                    fix=fix))
    elif mode == "term_summaries" and (_has(tables, "attendance_daily") or _has(tables, "attendance_events")):
        problems.append(InputDataError(
            "attendance is declared as per-term summaries, but the map also supplies daily rows or events",
            path=map_path, column="attendance", value=mode,
            fix="Remove the daily entries, or declare `attendance: daily_positive` or `exceptions_only`"))
    return problems
