"""The data-quality profile of a district dataset: what an analyst should know before trusting the KPIs.

Written by every import (``quality.html`` and ``quality.csv`` in DATA_DIR) and by
``partner-analysis quality DATA_DIR [--out FOLDER]``. It holds aggregates only (counts, shares, quantiles),
never a student-level row or a student ID.

Sections
--------
findings
    Plain sentences: the problems below worth a look first.
completeness
    Per table and column: rows, values present, share present.
coverage
    Per school and term: instructional days (from ``school_days`` or ``school_sessions``; else unknown),
    students with attendance, days with attendance records (daily rows or exception events), and their
    share of the instructional days (else of the school days seen anywhere in the district that term).
enrolment
    Students, students without an enrolment span (or, without ``enrollment``, without any attendance),
    attendance events that did not count (outside enrolment, outside every term, on a non-instructional day).
distributions
    Marks (grade points, numeric marks), credits, hours, scores and attendance day counts: n, mean, SD, min,
    5th/50th/95th percentiles, max, and the number of far outliers (beyond Tukey's fences at 3 × IQR).
duplicates
    Per table: rows repeating the key, exact duplicate rows, and the possible-duplicate groups the import
    flagged (counts only).
kpis
    Per KPI of the catalog: computable or not, why not, and the terms with data.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..config import DistrictConfig
from ..exceptions import InputDataError
from . import attendance as att
from .schema import IMPORT_ORDER, TABLES

__all__ = ["QualityProfile", "profile_tables", "profile_dataset", "write_quality", "render_html", "quality_files",
           "QUALITY_FILES", "OUTLIER_FENCE"]

#: Files the profile writes (an import lists them in its manifest).
QUALITY_FILES = ("quality.html", "quality.csv")
#: Tukey's far-out fence: a value beyond Q1 - k·IQR or Q3 + k·IQR is an outlier.
OUTLIER_FENCE = 3.0
_SECTIONS = ("completeness", "coverage", "enrolment", "distributions", "duplicates", "kpis")


@dataclass(frozen=True)
class QualityProfile:
    """The profile's sections as tidy frames (module docstring), plus the findings."""

    district: str
    findings: tuple[str, ...]
    sections: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def to_long(self) -> pd.DataFrame:
        """One row per figure: section, table, column, school_id, term_id, kpi_id, metric, value."""
        keys = ["table", "column", "school_id", "term_id", "kpi_id", "measure"]
        parts = []
        for name in _SECTIONS:
            frame = self.sections.get(name)
            if frame is None or not len(frame):
                continue
            ids = [k for k in keys if k in frame.columns]
            long = frame.melt(id_vars=ids, var_name="metric", value_name="value")
            long.insert(0, "section", name)
            parts.append(long)
        findings = pd.DataFrame({"section": "findings", "metric": "finding", "value": list(self.findings)})
        out = pd.concat([findings, *parts], ignore_index=True)
        for k in keys:
            if k not in out.columns:
                out[k] = None
        return out[["section", *keys, "metric", "value"]]


# -- sections ---------------------------------------------------------------------------------------------

def _completeness(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for name in IMPORT_ORDER:
        frame = tables.get(name)
        if frame is None:
            continue
        for col in TABLES[name].column_names:
            present = int(frame[col].notna().sum()) if col in frame.columns else 0
            rows.append({"table": name, "column": col, "rows": len(frame), "present": present,
                         "share_present": present / len(frame) if len(frame) else np.nan,
                         "in_data": col in frame.columns})
    return pd.DataFrame(rows)


def _uniq(values) -> set:
    """The distinct non-missing values as strings (fast on Arrow-backed columns)."""
    return set(map(str, pd.Series(values).dropna().unique().tolist()))


def _school_of(students: pd.DataFrame | None) -> pd.Series:
    if students is None:
        return pd.Series(dtype="object")
    return students.set_index(students["student_id"].astype(str))["school_id"].astype(str)


def _record_days(tables, config) -> tuple[pd.DataFrame, str]:
    """(school, student, term, date) of each attendance record, and the kind of records."""
    for name, kind in (("attendance_daily", "daily rows"), ("attendance_events", "exception events")):
        frame = tables.get(name)
        if frame is not None and len(frame):
            home = frame["student_id"].astype(str).map(_school_of(tables.get("students")))
            school = home.astype("string")
            if "school_id" in frame.columns:
                school = frame["school_id"].astype("string").fillna(school)
            out = pd.DataFrame({"school_id": school.to_numpy(), "student_id": frame["student_id"].astype(str).to_numpy(),
                                "date": pd.to_datetime(frame["date"]).to_numpy()})
            out["term_id"] = att.term_of(out["date"], config).to_numpy()
            return out.dropna(subset=["term_id", "school_id"]), kind
    return pd.DataFrame(columns=["school_id", "student_id", "date", "term_id"]), "none"


def _instructional(tables, config) -> pd.DataFrame:
    """Instructional days per school and term, and which calendar gave them."""
    days = att.instructional_days(tables.get("school_days"), config)
    out = days.groupby(["school_id", "term_id"]).size().rename("instructional_days").reset_index()
    out["calendar"] = "school_days"
    ses = tables.get("school_sessions")
    if ses is not None and len(ses):
        s = ses[["school_id", "term_id", "instructional_days"]].astype({"school_id": str, "term_id": str})
        s = s[~s.set_index(["school_id", "term_id"]).index.isin(out.set_index(["school_id", "term_id"]).index)]
        out = pd.concat([out, s.assign(calendar="school_sessions")], ignore_index=True)
    return out


def _coverage(tables, config) -> tuple[pd.DataFrame, str]:
    rec, kind = _record_days(tables, config)
    cal = _instructional(tables, config)
    rows = (rec.groupby(["school_id", "term_id"]).agg(students=("student_id", "nunique"),
                                                     days_with_records=("date", "nunique")).reset_index())
    seen = rec.groupby("term_id")["date"].nunique().rename("district_days_seen")
    summaries = tables.get("attendance_terms")
    if summaries is not None and len(summaries):
        home = summaries["student_id"].astype(str).map(_school_of(tables.get("students")))
        s = (summaries.assign(school_id=home.to_numpy()).groupby(["school_id", "term_id"])
             .agg(students_with_summaries=("student_id", "nunique"), mean_days_enrolled=("days_enrolled", "mean"))
             .reset_index())
        rows = rows.merge(s, how="outer", on=["school_id", "term_id"])
    out = rows.merge(cal, how="outer", on=["school_id", "term_id"])
    if not len(out):
        return out, kind
    out = out.merge(seen, how="left", left_on="term_id", right_index=True)
    order = {t.id: i for i, t in enumerate(config.ordered_terms)}
    out = out.sort_values(["school_id", "term_id"], key=lambda c: c.map(order) if c.name == "term_id" else c)
    base = out["instructional_days"].where(out["instructional_days"].notna(), out["district_days_seen"])
    out["coverage_basis"] = np.where(out["instructional_days"].notna(), "instructional days",
                                     np.where(out["district_days_seen"].notna(), "district days seen", "none"))
    out["coverage"] = out["days_with_records"] / base
    out["records"] = kind
    return out.reset_index(drop=True), kind


def _enrolment(tables, config) -> pd.DataFrame:
    students = tables.get("students")
    rows = []
    n = 0 if students is None else len(students)
    rows.append({"measure": "students", "count": n})
    ids = set() if students is None else _uniq(students["student_id"])
    en = tables.get("enrollment")
    if en is not None and len(en):
        rows.append({"measure": "students without an enrolment span",
                     "count": len(ids - _uniq(en["student_id"]))})
        rows.append({"measure": "enrolment spans", "count": len(en)})
    with_att = set()
    for name in ("attendance_daily", "attendance_events", "attendance_terms"):
        frame = tables.get(name)
        if frame is not None:
            with_att |= _uniq(frame["student_id"])
    rows.append({"measure": "students without any attendance record", "count": len(ids - with_att)})
    events = tables.get("attendance_events")
    if events is not None and len(events) and en is not None and len(en):
        days = att.daily_exceptions(events)
        counted = att.counted_events(events, en, config, school_days=tables.get("school_days"),
                                     school_sessions=tables.get("school_sessions"))
        rows.append({"measure": "attendance events", "count": len(events)})
        rows.append({"measure": "student-days with two or more events", "count": int((days["n_events"] > 1).sum())})
        rows.append({"measure": "student-days with events that do not count (outside enrolment, outside every "
                                "term or on a non-instructional day)",
                     "count": len(days) - len(counted.drop_duplicates(["student_id", "date"]))})
    return pd.DataFrame(rows)


_MEASURES = (("course_grades", "grade_points"), ("course_grades", "mark"), ("course_grades", "credits_attempted"),
             ("course_grades", "credits_earned"), ("participation", "hours"), ("wbl_hours", "hours"),
             ("engagement", "score"), ("attendance_terms", "days_enrolled"), ("attendance_terms", "days_absent"))


def _distributions(tables) -> pd.DataFrame:
    rows = []
    for table, col in _MEASURES:
        frame = tables.get(table)
        if frame is None or col not in frame.columns:
            continue
        x = pd.to_numeric(frame[col], errors="coerce").dropna().to_numpy(dtype=float)
        if col == "mark":
            col = "mark (numeric marks)"
        if not len(x):
            rows.append({"table": table, "column": col, "n": 0})
            continue
        q1, q3 = np.percentile(x, [25, 75])
        iqr = q3 - q1
        # with no spread between the quartiles (a column of mostly one value) Tukey's fences flag every other
        # value: no outlier count then
        lo_out = int((x < q1 - OUTLIER_FENCE * iqr).sum()) if iqr > 0 else np.nan
        hi_out = int((x > q3 + OUTLIER_FENCE * iqr).sum()) if iqr > 0 else np.nan
        rows.append({"table": table, "column": col, "n": len(x), "mean": x.mean(),
                     "sd": x.std(ddof=1) if len(x) > 1 else np.nan, "min": x.min(),
                     "p05": np.percentile(x, 5), "median": np.median(x), "p95": np.percentile(x, 95), "max": x.max(),
                     "outliers_low": lo_out, "outliers_high": hi_out})
    return pd.DataFrame(rows)


def _duplicates(tables, possible: pd.DataFrame | None) -> pd.DataFrame:
    rows = []
    for name in IMPORT_ORDER:
        frame = tables.get(name)
        if frame is None:
            continue
        key = [k for k in TABLES[name].key if k in frame.columns]
        groups = 0
        if possible is not None and len(possible) and "table" in possible.columns:
            mine = possible[possible["table"] == name]
            groups = int(mine["group"].nunique()) if "group" in mine.columns else 0
        rows.append({"table": name, "rows": len(frame),
                     "key_repeats": int(frame.duplicated(subset=key).sum()) if key else 0,
                     "exact_duplicates": int(frame.duplicated().sum()),
                     "possible_duplicate_groups": groups})
    return pd.DataFrame(rows)


def _kpis(tables, config, catalog, mode_problems: list[str]) -> pd.DataFrame:
    from ..kpi.catalog import source_columns  # the KPI layer sits above data; imported only here
    rows = []
    source_tables = {"attendance": ("attendance_daily", "attendance_terms"), "course_grades": ("course_grades",),
                     "engagement": ("engagement",), "wbl_hours": ("wbl_hours",)}
    for kpi in catalog:
        frames = [tables.get(t) for t in source_tables[kpi.source]]
        frames = [f for f in frames if f is not None and len(f)]
        reason = ""
        if not frames:
            reason = f"no {kpi.source.replace('_', ' ')} data was imported"
            if kpi.source == "attendance" and tables.get("attendance_events") is not None:
                reason = "attendance events without enrolment or calendar: no days enrolled"
        else:
            extra = [c for f in frames for c in f.columns]
            missing = [c for c in kpi.columns if c not in source_columns(kpi.source, extra)]
            if missing:
                reason = f"column {missing[0]!r} is not in the {kpi.source} data"
            elif kpi.source == "attendance" and mode_problems:
                reason = mode_problems[0]
        terms = set()
        for f in frames:
            if "term_id" in f.columns:
                terms |= _uniq(f["term_id"])
            elif "date" in f.columns:
                terms |= _uniq(att.term_of(pd.Series(pd.to_datetime(f["date"]).unique()), config))
        order = [t.id for t in config.ordered_terms]
        rows.append({"kpi_id": kpi.id, "label": kpi.label, "source": kpi.source,
                     "computable": "no" if reason else "yes", "reason": reason or "",
                     "terms_with_data": len(terms & set(order)), "of_terms": len(order)})
    return pd.DataFrame(rows)


def _findings(sections: Mapping[str, pd.DataFrame], kind: str) -> list[str]:
    out = []
    comp = sections["completeness"]
    if len(comp):
        sparse = comp[comp["in_data"] & (comp["share_present"] < 0.5) & (comp["rows"] > 0)]
        for r in sparse.itertuples():
            out.append(f"{r.table}.{r.column} is empty in {1 - r.share_present:.0%} of {r.rows:,} rows.")
    cov = sections["coverage"]
    if len(cov) and "coverage" in cov.columns:
        if (cov["coverage_basis"] != "instructional days").any():
            out.append("No school calendar for some schools and terms: attendance coverage is measured against the "
                       "school days seen anywhere in the district, not against instructional days.")
        low = cov[(cov["coverage"] < 0.9) & cov["days_with_records"].notna()]
        if kind == "daily rows":
            for r in low.itertuples():
                out.append(f"School {r.school_id}, term {r.term_id}: daily attendance on {r.days_with_records:.0f} of "
                           f"{r.instructional_days if pd.notna(r.instructional_days) else r.district_days_seen:.0f} "
                           f"days ({r.coverage:.0%}).")
        missing = cov[cov["days_with_records"].isna() & cov["instructional_days"].notna()
                      & cov.get("students_with_summaries", pd.Series(np.nan, index=cov.index)).isna()]
        for r in missing.itertuples():
            out.append(f"School {r.school_id}, term {r.term_id}: a calendar of {r.instructional_days:.0f} "
                       "instructional days but no attendance record.")
    en = sections["enrolment"].set_index("measure")["count"] if len(sections["enrolment"]) else pd.Series()
    for measure in ("students without an enrolment span", "students without any attendance record",
                    "student-days with events that do not count (outside enrolment, outside every term or on a "
                    "non-instructional day)"):
        if measure in en.index and en[measure]:
            out.append(f"{int(en[measure]):,} {measure}.")
    dist = sections["distributions"]
    if len(dist) and "outliers_high" in dist.columns:
        for r in dist[(dist["outliers_low"].fillna(0) + dist["outliers_high"].fillna(0)) > 0].itertuples():  # noqa: E501
            out.append(f"{r.table}.{r.column}: {int(np.nansum([r.outliers_low, r.outliers_high])):,} far outlier(s) "
                       f"(beyond {OUTLIER_FENCE:g} × IQR; range {r.min:g} to {r.max:g}).")
    dup = sections["duplicates"]
    if len(dup):
        for r in dup[(dup["key_repeats"] > 0) | (dup["possible_duplicate_groups"] > 0)].itertuples():
            out.append(f"{r.table}: {r.key_repeats:,} row(s) repeat the key; {r.possible_duplicate_groups:,} "
                       "possible-duplicate group(s).")
    k = sections["kpis"]
    for r in k[k["computable"] == "no"].itertuples() if len(k) else []:
        out.append(f"KPI {r.kpi_id} cannot be computed: {r.reason}.")
    return out


# -- entry points -----------------------------------------------------------------------------------------

def profile_tables(tables: Mapping[str, pd.DataFrame], config: DistrictConfig, *, catalog=None,
                   possible_duplicates: pd.DataFrame | None = None, mode: str | None = None) -> QualityProfile:
    """Profile typed district tables (as an import holds them, or as a DATA_DIR stores them).

    Parameters
    ----------
    tables : mapping of table name to DataFrame
    config : DistrictConfig
    catalog : Catalog, optional
        KPIs to judge (default: the shipped catalog).
    possible_duplicates : DataFrame, optional
        The import's possible-duplicate records (only group counts are used).
    mode : str, optional
        The attendance mode (default: exceptions_only when events are present, else daily_positive).

    Returns
    -------
    QualityProfile
    """
    from ..kpi.catalog import load_catalog
    catalog = catalog if catalog is not None else load_catalog()
    mode = mode or ("exceptions_only" if tables.get("attendance_events") is not None else "daily_positive")
    problems = [p.problem for p in att.check_coverage(tables, config, mode=mode,
                                                      default_enrolment_rule="whole_session"
                                                      if tables.get("enrollment") is not None else "none")]
    coverage, kind = _coverage(tables, config)
    sections = {"completeness": _completeness(tables), "coverage": coverage,
                "enrolment": _enrolment(tables, config), "distributions": _distributions(tables),
                "duplicates": _duplicates(tables, possible_duplicates),
                "kpis": _kpis(tables, config, catalog, problems)}
    return QualityProfile(district=config.name, findings=tuple(_findings(sections, kind)), sections=sections)


def profile_dataset(path: str | Path) -> QualityProfile:
    """Profile a DATA_DIR (its tables, district.yml, kpis.yml and possible_duplicates.csv)."""
    from ..kpi.catalog import catalog_for
    from .dataset import read_dataset
    ds = read_dataset(path)
    dup_file = Path(path) / "possible_duplicates.csv"
    possible = pd.read_csv(dup_file, dtype=str) if dup_file.exists() else None
    if possible is not None and "group" in possible.columns:
        possible["group"] = pd.to_numeric(possible["group"], errors="coerce")
    return profile_tables(ds.tables, ds.config, catalog=catalog_for(ds), possible_duplicates=possible)


# -- output -----------------------------------------------------------------------------------------------

_TITLES = {"completeness": ("Completeness", "Values present per table and column."),
           "coverage": ("Attendance coverage", "Days with attendance records per school and term, against the "
                                               "instructional days of the school calendar."),
           "enrolment": ("Enrolment", "Students, enrolment spans and attendance events that do not count."),
           "distributions": ("Distributions and outliers",
                             f"Marks, credits, hours, scores and attendance days; far outliers lie beyond "
                             f"{OUTLIER_FENCE:g} × IQR from the quartiles."),
           "duplicates": ("Duplicates", "Rows repeating a key, exact duplicates, and possible-duplicate groups "
                                        "(counts only)."),
           "kpis": ("KPIs", "Which KPIs can be computed from these data, and why not.")}
_PERCENT = {"share_present", "coverage"}
_CSS = """body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1a1a1a;
line-height:1.45}table{border-collapse:collapse;margin:0 0 2rem;font-size:.9rem}caption{text-align:left;
font-weight:600;padding:.3rem 0}th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}.wrap{overflow-x:auto}
a{color:#0b57d0}a:focus,.wrap:focus{outline:3px solid #0b57d0}"""


def _cell(col: str, value) -> tuple[str, bool]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        if col in _PERCENT:
            return f"{value:.0%}", True
        return (f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"), True
    return str(value), False


def _table_html(name: str, frame: pd.DataFrame) -> str:
    title, caption = _TITLES[name]
    parts = [f'<section aria-labelledby="h-{name}"><h2 id="h-{name}">{html.escape(title)}</h2>']
    if not len(frame):
        parts.append("<p>Nothing to show: the data hold no table this section reads.</p></section>")
        return "".join(parts)
    cols = list(frame.columns)
    parts.append(f'<div class="wrap" tabindex="0" role="region" aria-labelledby="c-{name}"><table>'
                 f'<caption id="c-{name}">{html.escape(caption)}</caption><thead><tr>')
    parts += [f'<th scope="col">{html.escape(c.replace("_", " "))}</th>' for c in cols]
    parts.append("</tr></thead><tbody>")
    for rec in frame.itertuples(index=False):
        parts.append("<tr>")
        for c, v in zip(cols, rec):
            text, num = _cell(c, v)
            parts.append(f'<td class="num">{html.escape(text)}</td>' if num else f"<td>{html.escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div></section>")
    return "".join(parts)


def render_html(profile: QualityProfile) -> str:
    """The profile as one accessible HTML page (no script, nothing loaded from elsewhere)."""
    title = f"Data quality: {profile.district}"
    nav = "".join(f'<li><a href="#h-{n}">{html.escape(_TITLES[n][0])}</a></li>' for n in _SECTIONS)
    findings = ("".join(f"<li>{html.escape(f)}</li>" for f in profile.findings)
                or "<li>No problem found.</li>")
    body = "".join(_table_html(n, profile.sections.get(n, pd.DataFrame())) for n in _SECTIONS)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><header><h1>{html.escape(title)}</h1>"
            "<p>Aggregates only: no student-level row and no student ID. Read it before trusting the KPIs.</p>"
            f'<nav aria-label="Sections"><ul>{nav}</ul></nav></header><main>'
            f'<section aria-labelledby="h-findings"><h2 id="h-findings">Findings</h2><ul>{findings}</ul></section>'
            f"{body}</main></body></html>")


def quality_files(profile: QualityProfile) -> dict[str, bytes]:
    """``quality.html`` and ``quality.csv`` as bytes (for an import's atomic write)."""
    return {"quality.html": render_html(profile).encode("utf-8"),
            "quality.csv": profile.to_long().to_csv(index=False).encode("utf-8")}


def write_quality(profile: QualityProfile, out: str | Path) -> dict[str, Path]:
    """Write ``quality.html`` and ``quality.csv`` into the folder ``out`` (created if missing).

    Raises
    ------
    InputDataError
        ``out`` exists and is not a folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputDataError("--out must be a folder", path=out, fix="Give a folder; quality.html and quality.csv "
                                                                     "are written into it")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, data in quality_files(profile).items():
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out / name)
        written[name] = out / name
    return written
