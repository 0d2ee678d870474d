r"""A synthetic, reproducible demo district ("Riverbend").

:func:`make_demo_district` writes a complete ``DATA_DIR`` (every table of
:data:`partner_analysis.data.schema.TABLES`) for all terms of the district
configuration (by default the embedded ``district.yml``: school years 2024-25,
the prior year, and 2025-26, the current one, four quarters each), then,
optionally, demo fit-survey answers and partnership records in the records
store. :func:`generate_demo_tables` returns the same tables in memory.

How the data hang together
--------------------------
Every student has a latent engagement factor :math:`z` (standard-normal-ish,
lower for students with free/reduced-price lunch or a disability, shifted by
school). It drifts from year to year (:math:`z_{sy} = z_s + 0.45\,e_{sy}`) and
from quarter to quarter, and a partner programme adds a small boost to the
quarters a student takes part in. :math:`z` drives

* daily attendance: the absence probability of student *s* in term *t* is
  :math:`\operatorname{logit}^{-1}(-3.4 - 0.85 z_{st})`, scaled by weekday and
  month (Mondays, Fridays, winter and June are worse), plus about one illness
  a year (a run of 2-5 excused days); absences are excused,
  unexcused, partial (``fraction_absent`` 0.1-0.9) or suspensions (more likely
  at low :math:`z`); present days are sometimes tardy;
* course marks: a 0-100 score from prior achievement (correlated 0.38 with
  :math:`z`), the quarter's deviation of :math:`z` from the year's, the course's
  difficulty, a persistent student x course effect, noise and the quarter's
  realised absence rate (-2.5 points per 10 % of days missed), cut into the
  configured letters (passing letters evenly spaced from ``pass_mark`` to
  ``numeric_max``: A >= 90, B >= 80, C >= 70, D >= 60 with the default scale);
* engagement survey scores (0.25 steps on ``thresholds.engagement_scale``, 92 %
  response per term);
* who is picked for a programme: each programme selects on prior-year
  engagement with its own strength, positive (internships, dual enrolment),
  none (whole-class museum or plant visits) or negative (tutoring and mentoring
  aimed at struggling students), so baseline equivalence holds for some
  partners and fails for others.

Realism targets (checked in ``tests/test_synth.py`` at a few hundred students)
--------------------------------------------------------------------------------
* chronic absence (absent >= 10 % of enrolled days, >= 10 days enrolled),
  per school year: **15-30 %** of students (19-24 % over seeds at 2,400 students);
* student-level correlation of the yearly attendance rate with the yearly GPA:
  **0.3-0.6** (0.40-0.49 over seeds);
* share of current-year students in at least one programme: **20-75 %**;
* at least one programme (and one partner) with fewer than 10 participants,
  whatever the district size, so suppression always has work to do.

Conventions
-----------
* Instructional days are the weekdays inside the configured terms minus US
  school holidays computed by rule (Labor Day, Veterans Day, Thanksgiving
  Wednesday-Friday, 22 December-2 January, Martin Luther King Jr. Day,
  Presidents' Day, the spring-break week starting the third Monday of March,
  Memorial Day): about 185 days a year. ``attendance_daily`` has one row per
  enrolled student and instructional day; ``attendance_terms`` holds the exact
  per-term sums of the same rows (days enrolled; days absent = sum of
  ``fraction_absent``), for code that prefers summaries.
* About 5 % of students enter after the first day of the current year and
  another 4 % are new to the district from its first day (neither group has
  prior-year rows); 4 % leave the current year early and 4 % enter the prior
  year late, so days enrolled vary. Current grade-6 students were in
  elementary schools last year, which the demo does not cover: they have no
  prior-year rows.
* Each course is a full-year course graded every quarter: 0.25 credits
  attempted per course-quarter (1.0 per year), earned unless the mark is
  failing. 4-6 courses (4 core, the rest electives); dual-enrolment courses
  (``college_credit=True``, course ids ``DE-...``) replace electives for the
  community college's dual-enrolment participants.
* Work-based-learning programme types (internship, apprenticeship,
  job_shadow, career_academy) have dated ``wbl_hours`` rows and their
  ``participation.hours`` is the sum of those rows; other programmes report
  hours from their schedule. Apprenticeships still running have no end date.
* ``attendance_daily.student_id`` and ``status`` are categorical (parquet
  dictionaries) so that 100,000 students (about 32 million rows) stay well
  under 4 GB (measured: 2.4 GB peak, 10 s); every other id column is a string column.
* Same ``seed`` and size: identical tables. Each part of the district draws
  from its own child of ``numpy.random.SeedSequence(seed)``.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import DistrictConfig, load_config
from ..exceptions import ConfigError
from .dataset import ROW_GROUP_ROWS, Dataset, coerce_table, write_dataset
from .schema import ATTENDANCE_STATUSES

__all__ = ["make_demo_district", "generate_demo_tables", "DEMO_PARTNERS", "WBL_TYPES"]

MIN_STUDENTS = 50
MAX_STUDENTS = 2_000_000
#: students per attendance chunk: bounds the temporary arrays, and fixes the random streams
_CHUNK = 16_384
#: graded student x terms per course-marks chunk (bounds the temporary arrays; the draws are sequential,
#: so the chunking does not change a value)
_GRADE_CHUNK = 1 << 20
#: :func:`make_demo_district` streams daily attendance and course marks to parquet above this many students
STREAM_ABOVE = 200_000
#: rows per parquet row group of the streamed tables: those of every table of a DATA_DIR
_ROW_GROUP = ROW_GROUP_ROWS

# -- partner catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProgramTemplate:
    suffix: str
    name: str
    type: str
    grades: tuple[int, ...]
    schedule: str           # "year" | "semester" | "term" | "day" | "multi_year"
    share: float = 0.0      # share of eligible students (scaled programmes)
    fixed: tuple[int, int] | None = None   # (low, high) participant count, whatever the size
    selection: float = 0.0  # weight on prior engagement in who is picked
    effect: float = 0.0     # boost to the latent factor while taking part
    prior_year: bool = True


@dataclass(frozen=True)
class _PartnerTemplate:
    name: str
    sector: str
    start: str
    programs: tuple[_ProgramTemplate, ...]
    status: str = "active"


P = _ProgramTemplate
#: The partner catalogue; the first ``partners`` entries are used. The tiny programmes (fixed counts
#: below 10) sit in P01, P03 and P06 so that every demo, however small, exercises suppression.
DEMO_PARTNERS: tuple[_PartnerTemplate, ...] = (
    _PartnerTemplate("Riverbend Regional Medical Center", "healthcare", "2016-08-01", (
        P("A", "Health Careers Internship", "internship", (11, 12), "semester", share=0.12, selection=0.8,
          effect=0.15),
        P("B", "Hospital Job Shadow Day", "job_shadow", (10, 11), "day", share=0.25, selection=0.3, effect=0.02),
        P("C", "Nursing Pathway Mentors", "mentoring", (10, 11, 12), "year", fixed=(6, 9), selection=0.5,
          effect=0.10),
    )),
    _PartnerTemplate("Riverbend Community College", "higher_education", "2012-07-01", (
        P("A", "Dual Enrollment", "dual_enrollment", (11, 12), "year", share=0.20, selection=1.0, effect=0.10),
        P("B", "College & Career Mentoring", "mentoring", (9, 10, 11, 12), "year", share=0.06, selection=-0.5,
          effect=0.20),
    )),
    _PartnerTemplate("Harbor Precision Manufacturing", "employer", "2019-01-15", (
        P("A", "Youth Machinist Apprenticeship", "apprenticeship", (11, 12), "multi_year", fixed=(5, 8),
          selection=0.4, effect=0.20),
        P("B", "Advanced Manufacturing Plant Tours", "lab_visit", (8, 9), "day", share=0.30, selection=0.0,
          effect=0.0),
    )),
    _PartnerTemplate("Riverbend Science Museum", "community", "2014-09-01", (
        P("A", "STEM Lab Days", "lab_visit", (6, 7, 8), "day", share=0.45, selection=0.0, effect=0.0),
        P("B", "Junior Docent Internship", "internship", (9, 10, 11, 12), "semester", share=0.02, fixed=(10, 14),
          selection=0.6, effect=0.10),
    )),
    _PartnerTemplate("First River Bank", "employer", "2020-08-01", (
        P("A", "Financial Literacy Mentors", "mentoring", (7, 8, 9), "semester", share=0.08, selection=-0.2,
          effect=0.10),
        P("B", "Branch Operations Internship", "internship", (12,), "semester", share=0.04, selection=0.7,
          effect=0.10),
    )),
    _PartnerTemplate("City of Riverbend", "government", "2022-08-15", (
        P("A", "Civic Leadership Internship", "internship", (11, 12), "term", fixed=(6, 8), selection=0.7,
          effect=0.10),
    )),
    _PartnerTemplate("Boys & Girls Club of Riverbend", "community", "2025-08-01", (
        P("A", "After-School Tutoring", "tutoring", (6, 7, 8, 9), "year", share=0.12, selection=-0.8,
          effect=0.20, prior_year=False),
    )),
    _PartnerTemplate("Valley Tech Solutions", "employer", "2021-08-01", (
        P("A", "Software Career Academy", "career_academy", (10, 11, 12), "year", share=0.06, selection=0.5,
          effect=0.12),
        P("B", "IT Job Shadow", "job_shadow", (9, 10), "day", share=0.10, selection=0.2, effect=0.0),
    )),
    _PartnerTemplate("Riverbend Public Library", "community", "2018-09-01", (
        P("A", "Teen Homework Help", "tutoring", (9, 10), "year", share=0.05, selection=-0.6, effect=0.15),
    )),
    _PartnerTemplate("State University College of Engineering", "higher_education", "2017-09-01", (
        P("A", "Engineering Lab Visits", "lab_visit", (10, 11), "day", share=0.12, selection=0.4, effect=0.0),
        P("B", "Summer Engineering Bridge Mentors", "mentoring", (12,), "semester", share=0.03, selection=0.6,
          effect=0.10),
    )),
    _PartnerTemplate("County Public Health Department", "government", "2023-01-09", (
        P("A", "Public Health Job Shadow", "job_shadow", (11, 12), "day", share=0.05, selection=0.3, effect=0.0),
    )),
    _PartnerTemplate("Riverbend Chamber of Commerce", "other", "2015-03-01", (
        P("A", "Career Mentors Network", "mentoring", (11, 12), "year", share=0.05, selection=0.1, effect=0.10),
        P("B", "Main Street Internship", "internship", (12,), "term", share=0.03, selection=0.5, effect=0.05),
    )),
)
del P

WBL_TYPES = ("internship", "apprenticeship", "job_shadow", "career_academy")
#: per programme type: probability of a work/session day, hours per session (low, high), for WBL rows
_WBL_INTENSITY = {"internship": (0.35, 2.0, 4.0), "apprenticeship": (0.45, 3.0, 5.0),
                  "job_shadow": (1.0, 4.0, 6.5), "career_academy": (0.12, 1.5, 3.0)}
#: non-WBL programmes: hours per instructional week (low, high); day programmes: hours per visit
_WEEKLY_HOURS = {"mentoring": (0.6, 1.2), "tutoring": (1.5, 3.0), "dual_enrollment": (2.5, 3.5),
                 "lab_visit": (3.0, 5.5), "other": (0.5, 1.5)}

# NCES Digest 2023 table 203.50, fall 2021 public-school enrolment shares.
RACE_SHARES = {"White": 0.450, "Hispanic/Latino": 0.284, "Black/African American": 0.150, "Asian": 0.054,
               "Two or more races": 0.048, "American Indian/Alaska Native": 0.009,
               "Native Hawaiian/Pacific Islander": 0.004}
_RACE_FRL_SHIFT = np.array([-0.45, 0.6, 0.75, -0.3, 0.1, 0.6, 0.4])
_RACE_ELL_BASE = np.array([0.01, 0.22, 0.04, 0.18, 0.02, 0.05, 0.10])

# (code, subject, is_core, difficulty in score points)
_CORE = (("ENG", "English", True, 0.0), ("MTH", "Mathematics", True, -4.0), ("SCI", "Science", True, -2.0),
         ("SOC", "Social Studies", True, 1.0))
_ELECTIVES = (("PE", "Physical Education", False, 6.0), ("ART", "Visual Arts", False, 4.0),
              ("MUS", "Music", False, 4.0), ("WLG", "World Languages", False, -1.0),
              ("CSC", "Computer Science", False, 0.0), ("CTE", "Career and Technical Education", False, 2.0))
_DUAL = (("DE-ENG101", "English", True, -3.0), ("DE-MTH120", "Mathematics", True, -6.0),
         ("DE-BIO105", "Science", True, -4.0), ("DE-PSY101", "Social Studies", False, -2.0),
         ("DE-HLT110", "Health Sciences", False, -1.0))
_MAX_SLOTS = 6          # 4 core + 2 electives; college courses replace electives

_SCHOOL_LEVEL_GRADES = {"middle": range(6, 9), "high": range(9, 13), "k8": range(6, 9), "k12": range(6, 13),
                        "other": range(6, 13), "elementary": range(0)}


# -- public API ----------------------------------------------------------------------------------

def make_demo_district(out: str | Path, *, students: int = 2400, partners: int = 8, seed: int = 20251,
                       config: DistrictConfig | str | Path | None = None, with_records: bool = True,
                       db: str | Path | None = None, stream: bool | None = None) -> Path:
    """Write a synthetic, reproducible demo district to ``out``.

    Parameters
    ----------
    out : path
        The ``DATA_DIR`` to write (replaced atomically if it exists).
    students : int
        Number of students (50-2,000,000). 100,000 gives about 32 million daily attendance rows,
        1,000,000 about 320 million.
    partners : int
        Number of partners, taken in order from :data:`DEMO_PARTNERS` (1-12; 6-10 is realistic).
    seed : int
        Seed of every random draw: the same seed and sizes give identical tables.
    config : DistrictConfig, path or None
        District configuration (terms, schools, grade scale, thresholds); default the embedded
        ``district.yml``. Students are placed in the schools whose level serves grades 6-12.
    with_records : bool
        Also fill the records store with demo fit-survey answers and partnership records, through
        ``partner_analysis.fit.demo.write_demo_fit`` and ``partner_analysis.records.demo.write_demo_records``
        (each skipped when its module is not installed).
    db : str, path or None
        Records store URL or path; default ``out/records/records.sqlite``.
    stream : bool or None
        Write daily attendance and course marks chunk by chunk (16,384 students at a time, row groups
        of :data:`~partner_analysis.data.dataset.ROW_GROUP_ROWS` rows) instead of building them in
        memory first; the tables are the same. Default: above
        :data:`STREAM_ABOVE` students. A million students then stay within about 3 GB of memory.

    Returns
    -------
    Path
        ``out``, holding ``district.yml``, one ``<table>.parquet`` per table and ``dataset.json``.

    Raises
    ------
    ConfigError
        When a size is out of range or the configuration has no school for grades 6-12.

    See Also
    --------
    generate_demo_tables : the same tables, in memory.

    Examples
    --------
    >>> from partner_analysis.data.synth import make_demo_district
    >>> path = make_demo_district("demo_district", students=600, seed=7)  # doctest: +SKIP
    """
    cfg = _resolve_config(config)
    _check_sizes(students, partners, seed)
    if stream is None:
        stream = students > STREAM_ABOVE
    if not stream:
        tables = generate_demo_tables(cfg, students=students, partners=partners, seed=seed)
        path = write_dataset(tables, cfg, out)
    else:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        spool = Path(tempfile.mkdtemp(prefix=f".{out.name}.spool-", dir=out.parent))
        try:
            sinks = {name: _ParquetSink(spool / f"{name}.parquet") for name in _STREAMED}
            try:
                tables = _Generator(cfg, students=int(students), partners=int(partners), seed=int(seed)).run(sinks)
            finally:
                for sink in sinks.values():
                    sink.close()
            path = write_dataset(tables, cfg, out, parquet_files={n: k.path for n, k in sinks.items()})
        finally:
            shutil.rmtree(spool, ignore_errors=True)
    if with_records:
        _write_records(Dataset(config=cfg, tables=tables, path=path), seed=seed, db=db)
    return path


def generate_demo_tables(config: DistrictConfig | str | Path | None = None, *, students: int = 2400,
                         partners: int = 8, seed: int = 20251) -> dict[str, pd.DataFrame]:
    """The demo district's tables, in memory (see :func:`make_demo_district`).

    Returns
    -------
    dict of str to DataFrame
        One frame per table of :data:`~partner_analysis.data.schema.TABLES`, with the schema's columns:
        ``schools``, ``students``, ``partners``, ``programs``, ``participation``, ``attendance_daily``,
        ``attendance_terms``, ``course_grades``, ``engagement``, ``wbl_hours``.
    """
    cfg = _resolve_config(config)
    _check_sizes(students, partners, seed)
    return _Generator(cfg, students=int(students), partners=int(partners), seed=int(seed)).run()


# -- argument checks -----------------------------------------------------------------------------

def _resolve_config(config) -> DistrictConfig:
    if isinstance(config, DistrictConfig):
        return config
    return load_config(config)


def _check_sizes(students, partners, seed) -> None:
    if isinstance(students, bool) or not isinstance(students, (int, np.integer)) \
            or not MIN_STUDENTS <= students <= MAX_STUDENTS:
        raise ConfigError(f"the demo district needs between {MIN_STUDENTS} and {MAX_STUDENTS:,} students, "
                          f"but {students!r} was passed", key="students", value=students,
                          fix="Pass --students 2400 (default) or another whole number in range")
    if isinstance(partners, bool) or not isinstance(partners, (int, np.integer)) \
            or not 1 <= partners <= len(DEMO_PARTNERS):
        raise ConfigError(f"the demo district has 1 to {len(DEMO_PARTNERS)} partners, but {partners!r} was passed",
                          key="partners", value=partners, fix="Pass --partners 8 (default); 6-10 is realistic")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"the seed must be a non-negative whole number, but {seed!r} was passed", key="seed",
                          value=seed)


# -- calendar ------------------------------------------------------------------------------------

def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th ``weekday`` (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _holidays(years: range) -> set[dt.date]:
    out: set[dt.date] = set()
    for y in years:
        out.add(_nth_weekday(y, 9, 0, 1))                       # Labor Day
        out.add(dt.date(y, 11, 11))                             # Veterans Day
        thanks = _nth_weekday(y, 11, 3, 4)
        out.update(thanks + dt.timedelta(days=k) for k in (-1, 0, 1))
        out.update(dt.date(y, 12, d) for d in range(22, 32))    # winter break
        out.update(dt.date(y, 1, d) for d in (1, 2))
        out.add(_nth_weekday(y, 1, 0, 3))                       # Martin Luther King Jr. Day
        out.add(_nth_weekday(y, 2, 0, 3))                       # Presidents' Day
        spring = _nth_weekday(y, 3, 0, 3)
        out.update(spring + dt.timedelta(days=k) for k in range(5))
        out.add(_nth_weekday(y, 5, 0, -1))                      # Memorial Day
    return out


def _year_label(term) -> str:
    if term.school_year:
        return term.school_year
    y = term.start.year if term.start.month >= 7 else term.start.year - 1
    return f"{y}-{(y + 1) % 100:02d}"


@dataclass
class _Calendar:
    terms: tuple
    days: np.ndarray          # datetime64[D], instructional days of all terms, ascending
    term_of_day: np.ndarray   # (D,) term index
    year_of_day: np.ndarray   # (D,) year index
    term_year: np.ndarray     # (T,) year index
    years: tuple[str, ...]
    term_first: np.ndarray    # (T,) first day index
    term_last: np.ndarray     # (T,) last day index
    year_first: np.ndarray    # (Y,)
    year_last: np.ndarray     # (Y,)
    year_start_calendar: tuple[int, ...]   # calendar year in which each school year starts

    @classmethod
    def build(cls, config: DistrictConfig) -> "_Calendar":
        terms = config.ordered_terms
        years = tuple(sorted({_year_label(t) for t in terms}))
        hol = _holidays(range(terms[0].start.year, terms[-1].end.year + 1))
        days, tod = [], []
        for i, t in enumerate(terms):
            d = np.arange(np.datetime64(t.start, "D"), np.datetime64(t.end, "D") + 1)
            weekday = (d.astype("int64") + 3) % 7          # 1970-01-01 was a Thursday
            keep = weekday < 5
            if hol:
                keep &= ~np.isin(d, np.array(sorted(hol), dtype="datetime64[D]"))
            d = d[keep]
            if len(d) == 0:
                raise ConfigError(f"term {t.id!r} ({t.start} to {t.end}) has no instructional weekday",
                                  path=config.source, key="terms", fix="Correct the term dates")
            days.append(d)
            tod.append(np.full(len(d), i, dtype=np.int16))
        days = np.concatenate(days)
        term_of_day = np.concatenate(tod)
        term_year = np.array([years.index(_year_label(t)) for t in terms], dtype=np.int16)
        year_of_day = term_year[term_of_day]
        tf = np.searchsorted(term_of_day, np.arange(len(terms)), side="left")
        tl = np.searchsorted(term_of_day, np.arange(len(terms)), side="right") - 1
        yf = np.array([tf[term_year == y].min() for y in range(len(years))])
        yl = np.array([tl[term_year == y].max() for y in range(len(years))])
        ystart = tuple(int(str(days[yf[y]])[:4]) - (int(str(days[yf[y]])[5:7]) < 7) for y in range(len(years)))
        return cls(terms, days, term_of_day, year_of_day, term_year, years, tf, tl, yf, yl, ystart)

    @property
    def n_days(self) -> int:
        return len(self.days)


# -- the generator -------------------------------------------------------------------------------

_STREAMS = ("students", "enrolment", "latent", "programs", "attendance", "grades", "engagement", "wbl")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ids(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    """A pyarrow-backed string column ``labels[codes]`` without building Python strings per row."""
    arr = pa.array(labels, type=pa.string()).take(pa.array(codes))
    return pd.Series(pd.arrays.ArrowStringArray(arr), dtype="string")


class _Generator:
    def __init__(self, config: DistrictConfig, *, students: int, partners: int, seed: int):
        self.cfg = config
        self.n = students
        self.n_partners = partners
        self.seed = seed
        children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
        self.ss = dict(zip(_STREAMS, children))
        self.rng = {k: np.random.default_rng(v) for k, v in self.ss.items()}
        self.cal = _Calendar.build(config)
        self.Y = len(self.cal.years)
        self.T = len(self.cal.terms)
        self.current = self.Y - 1

    def run(self, sinks: dict | None = None) -> dict[str, pd.DataFrame]:
        """Every table; those named in ``sinks`` (see :data:`_STREAMED`) go to their sink chunk by chunk instead."""
        sinks = sinks or {}
        self._schools()
        self._students()
        self._enrolment()
        self._latent()
        self._programs()
        self._participation()
        self._attendance(sinks.get("attendance_daily"))
        self._grades(sinks.get("course_grades"))
        self._engagement()
        self._wbl_and_hours()
        return self._frames(skip=set(sinks))

    # -- schools and students ------------------------------------------------------------------
    def _schools(self):
        schools = self.cfg.schools
        if not schools:
            raise ConfigError("the configuration lists no schools", path=self.cfg.source, key="schools",
                              fix="Add schools (the demo needs middle and/or high schools)")
        self.school_ids = np.array([s.school_id for s in schools], dtype=object)
        serves = np.zeros((len(schools), 13), dtype=bool)
        for i, s in enumerate(schools):
            serves[i, list(_SCHOOL_LEVEL_GRADES.get(s.level, range(6, 13)))] = True
        if not serves[:, 6:13].any():
            raise ConfigError("no school serves grades 6-12 (levels middle, high, k8, k12 or other)",
                              path=self.cfg.source, key="schools",
                              fix="Add a middle or high school to the configuration")
        self.serves = serves
        self.early_college = np.array(["early college" in s.name.lower() for s in schools])
        size = np.where(self.early_college, 0.35, 1.0)
        rng = self.rng["students"]
        self.school_size = size * rng.uniform(0.8, 1.2, len(schools))
        self.school_effect = rng.normal(0.0, 0.18, len(schools)) + 0.3 * self.early_college

    def _pick_school(self, rng, grade: np.ndarray) -> np.ndarray:
        """A school serving each student's grade, by school size."""
        school = np.full(len(grade), -1, dtype=np.int32)
        for g in np.unique(grade):
            cand = np.flatnonzero(self.serves[:, g])
            idx = np.flatnonzero(grade == g)
            if len(cand) == 0:
                continue
            w = self.school_size[cand] / self.school_size[cand].sum()
            school[idx] = cand[rng.choice(len(cand), size=len(idx), p=w)]
        return school

    def _students(self):
        rng = self.rng["students"]
        n = self.n
        # six-digit ids up to 500,000 students (the draw of every earlier demo), seven digits above
        top, width = (1_000_000, 6) if n <= 500_000 else (10_000_000, 7)
        self.student_ids = np.array([f"{i:0{width}d}" for i in np.sort(rng.choice(np.arange(1, top), n,
                                                                                  replace=False))], dtype=object)
        served = np.flatnonzero(self.serves[:, 6:13].any(axis=0)) + 6
        # fewer students in the upper grades (drop-outs, transfers to other districts)
        gw = np.array([1.0, 1.0, 1.0, 1.05, 1.0, 0.96, 0.92])[served - 6]
        self.grade = served[rng.choice(len(served), size=n, p=gw / gw.sum())].astype(np.int16)
        self.school = self._pick_school(rng, self.grade)
        race_names = np.array(list(RACE_SHARES), dtype=object)
        shares = np.array(list(RACE_SHARES.values()))
        race = np.empty(n, dtype=np.int16)
        for k in range(len(self.school_ids)):   # schools differ in composition
            idx = np.flatnonzero(self.school == k)
            p = rng.dirichlet(shares / shares.sum() * 80)
            race[idx] = rng.choice(len(shares), size=len(idx), p=p)
        self.race = race
        self.race_names = race_names
        self.gender = rng.choice(np.array(["F", "M", "X"], dtype=object), size=n, p=[0.488, 0.497, 0.015])
        frl_logit = -0.2 + _RACE_FRL_SHIFT[race] - 2.0 * self.school_effect[self.school]
        self.frl = rng.random(n) < _sigmoid(frl_logit)
        ell_p = _RACE_ELL_BASE[race] * np.where(self.grade <= 8, 1.25, 0.85)
        self.ell = rng.random(n) < ell_p
        self.swd = rng.random(n) < np.where(self.gender == "M", 0.18, 0.11)
        # birth dates: age on 1 September = grade + 5, some retained a year, a few young for the grade
        y0 = self.cal.year_start_calendar[self.current]
        age = self.grade.astype(np.int64) + 5 + rng.choice([0, 1, -1], size=n, p=[0.95, 0.04, 0.01])
        first = (np.array([f"{y0 - a - 1}-09-02" for a in range(0, 25)], dtype="datetime64[D]"))
        self.birth = first[age] + rng.integers(0, 365, size=n).astype("timedelta64[D]")

    # -- enrolment spells ------------------------------------------------------------------------
    def _enrolment(self):
        rng = self.rng["enrolment"]
        cal, n, Y, cur = self.cal, self.n, self.Y, self.current
        entry = np.full((n, Y), -1, dtype=np.int32)
        exit_ = np.full((n, Y), -1, dtype=np.int32)
        late_cur = rng.random(n) < 0.05
        early_exit = rng.random(n) < 0.04
        late_prev = rng.random(n) < 0.04
        new_to_district = late_cur | (rng.random(n) < 0.04)
        self.grade_in_year = np.empty((n, Y), dtype=np.int16)
        for y in range(Y):
            back = cur - y
            g = self.grade - back
            self.grade_in_year[:, y] = g
            present = (g >= 6) & self.serves[:, np.clip(g, 0, 12)].any(axis=0)
            if back > 0:
                present &= ~new_to_district
            first, last = int(cal.year_first[y]), int(cal.year_last[y])
            length = last - first + 1
            e = np.full(n, first)
            x = np.full(n, last)
            late = late_cur if back == 0 else late_prev
            e = np.where(late, first + rng.integers(5, max(6, length - 30), n), e)
            if back == 0:
                x = np.where(early_exit & ~late, first + rng.integers(20, max(21, length - 5), n), x)
            entry[present, y] = e[present]
            exit_[present, y] = x[present]
        self.entry, self.exit = entry, exit_
        self.enrolled_year = entry >= 0
        # the school each student attended in each year (only the current one is recorded)
        self.school_in_year = np.empty((n, Y), dtype=np.int32)
        for y in range(Y):
            g = np.clip(self.grade_in_year[:, y], 0, 12)
            same = self.serves[self.school, g]
            s = self.school.copy()
            if (~same).any():
                s[~same] = self._pick_school(rng, g[~same])
            self.school_in_year[:, y] = s

    # -- latent engagement ---------------------------------------------------------------------
    def _latent(self):
        rng = self.rng["latent"]
        n, Y, T = self.n, self.Y, self.T
        base = rng.normal(0, 0.9, n) + self.school_effect[self.school] - 0.35 * self.frl - 0.3 * self.swd \
            - 0.1 * self.ell
        self.z_year = base[:, None] + 0.45 * rng.normal(0, 1, (n, Y)) \
            - 0.04 * (self.grade_in_year - 6)
        self.z_term_noise = 0.25 * rng.normal(0, 1, (n, T))
        self.boost = np.zeros((n, T))

    # -- programmes and participation ---------------------------------------------------------
    def _programs(self):
        rows_p, rows_g = [], []
        self.prog = []
        hs = [s.school_id for s, ok in zip(self.cfg.schools, self.serves[:, 6:13].any(axis=1)) if ok]
        for k, tpl in enumerate(DEMO_PARTNERS[: self.n_partners]):
            pid = f"P{k + 1:02d}"
            rows_p.append({"partner_id": pid, "name": tpl.name, "sector": tpl.sector,
                           "start_date": pd.Timestamp(tpl.start), "status": tpl.status})
            for pt in tpl.programs:
                schools = [i for i in range(len(self.school_ids)) if self.serves[i, list(pt.grades)].any()]
                if not schools:
                    schools = [i for i in range(len(self.school_ids)) if self.school_ids[i] in hs]
                prog_id = f"{pid}-{pt.suffix}"
                rows_g.append({"program_id": prog_id, "partner_id": pid, "name": pt.name, "type": pt.type,
                               "school_ids": ";".join(self.school_ids[schools])})
                self.prog.append((prog_id, tpl, pt, np.array(schools)))
        self.partners_frame = pd.DataFrame(rows_p)
        self.programs_frame = pd.DataFrame(rows_g)

    def _participation(self):
        rng = self.rng["programs"]
        cal, cur = self.cal, self.current
        cur_start = cal.days[cal.year_first[cur]]
        stud, prog, start, end, open_end = [], [], [], [], []
        for j, (_, tpl, pt, schools) in enumerate(self.prog):
            new_partner = np.datetime64(tpl.start, "D") >= cur_start
            years = [cur] if (new_partner or not pt.prior_year or pt.schedule == "multi_year") else range(self.Y)
            if pt.schedule == "multi_year" and not new_partner and self.Y > 1:
                years = [cur - 1, cur]
            busy = np.zeros(self.n, dtype=bool)     # still in this programme from an earlier year
            for y in years:
                g = self.grade_in_year[:, y]
                elig = self.enrolled_year[:, y] & np.isin(g, pt.grades) & np.isin(self.school_in_year[:, y], schools)
                ec = self.early_college[self.school_in_year[:, y]]
                if pt.type == "dual_enrollment":     # early-college students start dual enrolment in grade 10
                    elig |= self.enrolled_year[:, y] & ec & (g >= 10) & (g <= 12)
                cand = np.flatnonzero(elig & ~busy)
                if len(cand) == 0:
                    continue
                if pt.fixed is not None and pt.share == 0:
                    k = int(rng.integers(pt.fixed[0], pt.fixed[1] + 1))
                elif pt.fixed is not None:
                    k = max(int(rng.integers(pt.fixed[0], pt.fixed[1] + 1)), int(round(pt.share * len(cand))))
                else:
                    k = max(3, int(round(pt.share * len(cand))))
                k = min(k, len(cand))
                z_sel = self.z_year[cand, y - 1] if y > 0 else self.z_year[cand, y]
                if y > 0:
                    z_sel = np.where(self.enrolled_year[cand, y - 1], z_sel, self.z_year[cand, y])
                key = pt.selection * z_sel + rng.gumbel(size=len(cand))
                if pt.type == "dual_enrollment":
                    key = key + 3.0 * ec[cand]
                chosen = np.sort(cand[np.argsort(-key, kind="stable")[:k]])
                s0, s1, op = self._schedule(rng, pt, y, chosen)
                ok = s1 >= s0
                stud.append(chosen[ok])
                prog.append(np.full(ok.sum(), j, dtype=np.int32))
                start.append(s0[ok])
                end.append(s1[ok])
                open_end.append(op[ok])
                if y + 1 < self.Y:
                    busy[chosen[ok][s1[ok] >= cal.year_first[y + 1]]] = True
        self.part_student = np.concatenate(stud)
        self.part_program = np.concatenate(prog)
        self.part_start = np.concatenate(start)
        self.part_end = np.concatenate(end)
        self.part_open = np.concatenate(open_end)
        # effects on the terms a participation overlaps, via a difference array over terms
        eff = np.array([pt.effect for _, _, pt, _ in self.prog])[self.part_program]
        t0 = self.cal.term_of_day[self.part_start]
        t1 = self.cal.term_of_day[self.part_end]
        diff = np.zeros((self.n, self.T + 1))
        np.add.at(diff, (self.part_student, t0), eff)
        np.add.at(diff, (self.part_student, t1 + 1), -eff)
        self.boost = np.cumsum(diff, axis=1)[:, : self.T]

    def _schedule(self, rng, pt, y, chosen):
        """Start and end day indices (and open-ended flags) of one programme-year's participants."""
        cal = self.cal
        m = len(chosen)
        terms = np.flatnonzero(cal.term_year == y)
        yf, yl = int(cal.year_first[y]), int(cal.year_last[y])
        open_end = np.zeros(m, dtype=bool)
        if pt.schedule == "year":
            s0 = yf + rng.integers(0, 11, m)
            s1 = yl - rng.integers(0, 6, m)
        elif pt.schedule == "semester":
            half = rng.integers(0, 2, m)
            nt = len(terms)
            a = terms[np.minimum(half * (nt // 2), nt - 1)]
            b = terms[np.where(half == 0, max(nt // 2 - 1, 0), nt - 1)]
            s0 = cal.term_first[a] + rng.integers(0, 8, m)
            s1 = cal.term_last[b] - rng.integers(0, 5, m)
        elif pt.schedule == "term":
            t = terms[rng.integers(0, len(terms), m)]
            s0 = cal.term_first[t] + rng.integers(0, 6, m)
            s1 = cal.term_last[t] - rng.integers(0, 4, m)
        elif pt.schedule == "day":
            # a few event days per year (a class visit, a shadow day); each participant goes on one
            events = np.sort(rng.choice(np.arange(yf + 5, yl - 5), size=min(6, max(1, yl - yf - 10)),
                                        replace=False))
            s0 = events[rng.integers(0, len(events), m)]
            s1 = s0.copy()
        elif pt.schedule == "multi_year":
            t = terms[rng.integers(0, min(2, len(terms)), m)]
            s0 = cal.term_first[t] + rng.integers(0, 10, m)
            finished = rng.random(m) < (0.3 if y < self.current else 0.1)
            s1 = np.where(finished, yl - rng.integers(0, 10, m), cal.n_days - 1)
            open_end = ~finished
        else:  # pragma: no cover - templates are fixed above
            raise ValueError(pt.schedule)
        # inside the student's enrolment: a student who leaves the district leaves the programme
        e, x = self.entry[chosen, y], self.exit[chosen, y]
        if pt.schedule == "day":
            s0 = np.clip(s0, e, x)
            s1 = s0.copy()
        else:
            s0 = np.maximum(s0, e)
            last_enrolled = np.where(open_end & (y < self.current) & self.enrolled_year[chosen, self.current],
                                     self.exit[chosen, self.current], x)
            ended = open_end & (s1 > last_enrolled)
            s1 = np.minimum(s1, last_enrolled)
            open_end = open_end & ~ended & (s1 == cal.n_days - 1)
        return s0.astype(np.int64), s1.astype(np.int64), open_end

    # -- daily attendance ------------------------------------------------------------------------
    def _day_multiplier(self) -> np.ndarray:
        d = self.cal.days
        weekday = (d.astype("int64") + 3) % 7
        month = d.astype("datetime64[M]").astype(int) % 12 + 1
        wk = np.array([1.12, 0.92, 0.90, 0.94, 1.15])[weekday]
        mo = np.ones(13)
        mo[[8, 9, 10]] = [0.80, 0.88, 0.95]
        mo[[12, 1, 2]] = [1.15, 1.12, 1.10]
        mo[[5, 6]] = [1.05, 1.30]
        mult = wk * mo[month]
        return (mult / mult.mean()).astype(np.float32)

    def _attendance(self, sink=None):
        cal, n, T = self.cal, self.n, self.T
        z_st = self.z_year[:, cal.term_year] + self.z_term_noise + self.boost
        self.z_st = z_st
        p_st = _sigmoid(-3.4 - 0.85 * z_st).astype(np.float32)
        susp_st = (0.004 + 0.06 * _sigmoid(-2.0 * z_st - 3.0)).astype(np.float32)
        exc_st = (0.52 + 0.12 * np.tanh(z_st)).astype(np.float32)
        tardy_st = (0.015 + 0.07 * _sigmoid(-1.2 * z_st - 1.0)).astype(np.float32)
        mult = self._day_multiplier()
        status_codes = {s: i for i, s in enumerate(ATTENDANCE_STATUSES)}
        PRESENT, EXC, UNEX, TARDY, PART, SUSP = (status_codes[s] for s in
                                                 ("present", "excused", "unexcused", "tardy", "partial",
                                                  "suspended"))
        partial_share = np.float32(0.12)
        chunk_seeds = self.ss["attendance"].spawn((n + _CHUNK - 1) // _CHUNK)
        out_s, out_d, out_status, out_frac = [], [], [], []
        enrolled_days = np.zeros(n * T)
        absent_days = np.zeros(n * T)
        for c, c0 in enumerate(range(0, n, _CHUNK)):
            rng = np.random.default_rng(chunk_seeds[c])
            c1 = min(n, c0 + _CHUNK)
            ent, ext = self.entry[c0:c1], self.exit[c0:c1]
            valid = ent >= 0                               # (m, Y), student-major flattening below
            sp_student = np.repeat(np.arange(c0, c1, dtype=np.int32), valid.sum(axis=1))
            sp_first = ent[valid]
            sp_len = (ext[valid] - sp_first + 1)
            total = int(sp_len.sum())
            s = np.repeat(sp_student, sp_len)
            offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(sp_len) - sp_len, sp_len)
            d = (np.repeat(sp_first, sp_len) + offs).astype(np.int32)
            del offs
            t = cal.term_of_day[d]
            st = s.astype(np.int64) * T + t
            p = np.minimum(p_st.ravel()[st] * mult[d], np.float32(0.95))
            u = rng.random(total, dtype=np.float32)
            absent = u < p
            status = np.full(total, PRESENT, dtype=np.int8)
            frac = np.zeros(total, dtype=np.float32)
            # one uniform per day: below p the day is an absence and u/p is again uniform on [0, 1)
            # and picks the kind; above p, (u-p)/(1-p) decides tardiness
            v = np.where(absent, u / p, (u - p) / (1 - p))
            susp = susp_st.ravel()[st]
            kind_susp = absent & (v < susp)
            kind_part = absent & ~kind_susp & (v < susp + partial_share)
            rest = (v - susp - partial_share) / (1 - susp - partial_share)
            kind_exc = absent & ~kind_susp & ~kind_part & (rest < exc_st.ravel()[st])
            status[absent] = UNEX
            status[kind_exc] = EXC
            status[kind_part] = PART
            status[kind_susp] = SUSP
            status[~absent & (v < tardy_st.ravel()[st])] = TARDY
            frac[absent] = 1.0
            w = (v[kind_part] - susp[kind_part]) / partial_share
            frac[kind_part] = np.round(np.clip(0.1 + 0.8 * w, 0.1, 0.9) * 20) / 20
            del u, v, p, rest, w, susp, absent
            # illnesses: runs of 2-5 excused days, so absences cluster as they do in real registers
            row = self._illness_rows(rng, sp_student, np.nonzero(valid)[1], sp_len)
            status[row] = EXC
            frac[row] = 1.0
            enrolled_days += np.bincount(st, minlength=n * T)
            absent_days += np.bincount(st, weights=frac, minlength=n * T)
            del st, t
            if sink is not None:
                sink(self._attendance_chunk(s, d, status, frac, c0, c1))
                continue
            out_s.append(s)
            out_d.append(d.astype(np.int16) if cal.n_days < 32_000 else d)
            out_status.append(status)
            out_frac.append(frac)
        if sink is None:
            self.att_student = np.concatenate(out_s)
            self.att_day = np.concatenate(out_d)
            self.att_status = np.concatenate(out_status)
            self.att_frac = np.concatenate(out_frac)
        del out_s, out_d, out_status, out_frac
        self.enrolled_st = enrolled_days.reshape(n, T)
        self.absent_st = absent_days.reshape(n, T)

    def _attendance_chunk(self, s, d, status, frac, c0: int, c1: int) -> pa.Table:
        """One chunk of ``attendance_daily`` as Arrow, with the columns and types of the in-memory frame."""
        day_ns = self.cal.days.astype("datetime64[ns]")
        return pa.table({
            "student_id": pa.DictionaryArray.from_arrays(pa.array(s - c0, type=pa.int32()),
                                                         pa.array(self.student_ids[c0:c1], type=pa.string())),
            "date": pa.array(day_ns[d], type=pa.timestamp("ns")),
            "status": pa.DictionaryArray.from_arrays(pa.array(status, type=pa.int8()),
                                                     pa.array(list(ATTENDANCE_STATUSES), type=pa.string())),
            "fraction_absent": pa.array(frac.astype(np.float64), type=pa.float64())})

    def _illness_rows(self, rng, sp_student, sp_year, sp_len) -> np.ndarray:
        """Row positions (within one chunk's student-major rows) of illness episodes.

        About 1.1 episodes per student and school year (more at low engagement), each 2-5
        instructional days from a uniformly drawn first day, cut at the end of the enrolment spell.
        """
        lam = 1.1 * sp_len / 185.0 * np.exp(-0.25 * self.z_year[sp_student, sp_year])
        spell = np.repeat(np.arange(len(sp_len)), rng.poisson(lam))
        first = (rng.random(len(spell)) * sp_len[spell]).astype(np.int64)
        length = rng.choice(np.array([2, 3, 4, 5]), size=len(spell), p=[0.45, 0.30, 0.17, 0.08])
        ep = np.repeat(np.arange(len(spell)), length)
        pos = first[ep] + (np.arange(len(ep)) - np.repeat(np.cumsum(length) - length, length))
        inside = pos < sp_len[spell[ep]]
        spell_offset = np.cumsum(sp_len) - sp_len
        return (spell_offset[spell[ep]] + pos)[inside]

    # -- course marks ----------------------------------------------------------------------------
    def _course_catalog(self):
        ids, subj, core, diff, college = [], [], [], [], []
        index = {}
        for g in range(6, 13):
            for code, s, c, df in _CORE + _ELECTIVES:
                if code == "CTE" and g < 9:
                    continue
                index[(code, g)] = len(ids)
                ids.append(f"{code}{g:02d}")
                subj.append(s)
                core.append(c)
                diff.append(df)
                college.append(False)
        for code, s, c, df in _DUAL:
            index[(code, 0)] = len(ids)
            ids.append(code)
            subj.append(s)
            core.append(c)
            diff.append(df)
            college.append(True)
        self.course_index = index
        self.course_ids = np.array(ids, dtype=object)
        self.course_subject = np.array(subj, dtype=object)
        self.course_core = np.array(core)
        self.course_diff = np.array(diff)
        self.course_college = np.array(college)

    def _grades(self, sink=None):
        self._course_catalog()
        rng = self.rng["grades"]
        cal, n, Y = self.cal, self.n, self.Y
        # course slots per student and year: 4 core + electives (load 4-6), DE courses replace electives
        slots = np.full((n, Y, _MAX_SLOTS), -1, dtype=np.int32)
        de_prog = [j for j, (_, _, pt, _) in enumerate(self.prog) if pt.type == "dual_enrollment"]
        n_el = len(_ELECTIVES)
        for y in range(Y):
            g = np.clip(self.grade_in_year[:, y], 6, 12)
            hs = g >= 9
            for i, (code, *_) in enumerate(_CORE):
                slots[:, y, i] = np.array([self.course_index[(code, gg)] for gg in range(6, 13)])[g - 6]
            load = np.where(hs, rng.choice([4, 5, 6], size=n, p=[0.1, 0.2, 0.7]),
                            rng.choice([5, 6], size=n, p=[0.4, 0.6]))
            keys = rng.random((n, n_el))
            keys[~hs, n_el - 1] = np.inf           # no CTE below grade 9 (CTE is the last elective)
            order = np.argsort(keys, axis=1)[:, :2]
            el_ids = np.array([[self.course_index.get((_ELECTIVES[k][0], gg), -1) for gg in range(6, 13)]
                               for k in range(n_el)])
            for e in range(2):
                slots[:, y, 4 + e] = np.where(load >= 5 + e, el_ids[order[:, e], g - 6], -1)
            # dual enrolment participants this year take one or two college courses
            if de_prog:
                yr = cal.year_of_day[self.part_start] == y
                de_students = np.unique(self.part_student[np.isin(self.part_program, de_prog) & yr])
                n_de = rng.choice([1, 2], size=len(de_students), p=[0.55, 0.45])
                first = rng.integers(0, len(_DUAL), size=len(de_students))
                dual_ids = np.array([self.course_index[(c[0], 0)] for c in _DUAL])
                slots[de_students, y, 4] = dual_ids[first]
                two = n_de == 2
                slots[de_students[two], y, 5] = dual_ids[(first[two] + 1 + rng.integers(0, len(_DUAL) - 1,
                                                                                          two.sum())) % len(_DUAL)]
        # graded terms: at least 10 enrolled days (or half the term, if shorter)
        term_len = (cal.term_last - cal.term_first + 1)
        graded = self.enrolled_st >= np.minimum(10, np.ceil(term_len / 2))[None, :]
        s_all, t_all = np.nonzero(graded)
        del graded
        # a persistent student x course-slot effect (the student's standing in that class) plus noise
        stu_course = rng.normal(0, 6.0, (n, Y, _MAX_SLOTS)).astype(np.float32)
        # prior achievement: only partly the same thing as engagement, which keeps the
        # attendance-GPA correlation moderate, as in real districts
        zy = self.z_year
        ability = 0.38 * (zy - zy.mean()) / zy.std() + 0.925 * rng.normal(0, 1, (n, Y))
        gs = self.cfg.grade_scale
        letters = sorted(gs.letters.items(), key=lambda kv: -kv[1])
        passing = [(k, v) for k, v in letters if k not in gs.failing_letters]
        failing = sorted([(k, v) for k, v in letters if k in gs.failing_letters], key=lambda kv: kv[1])
        step = (gs.numeric_max - gs.pass_mark) / max(len(passing), 1)
        cut = gs.numeric_max - step * np.arange(1, len(passing) + 1)   # lower bound of each passing letter
        labels = np.array([k for k, _ in passing] + [failing[0][0] if failing else passing[-1][0]], dtype=object)
        points = np.array([v for _, v in passing] + [failing[0][1] if failing else passing[-1][1]])
        parts = []
        # in chunks of graded student x terms: the noise is drawn in the same order as in one piece
        for a in range(0, len(s_all), _GRADE_CHUNK):
            s_idx, t_idx = s_all[a:a + _GRADE_CHUNK], t_all[a:a + _GRADE_CHUNK]
            y_idx = cal.term_year[t_idx]
            sl = slots[s_idx, y_idx]                                   # (R, slots)
            r_idx, k_idx = np.nonzero(sl >= 0)
            s, t, y, course = s_idx[r_idx], t_idx[r_idx], y_idx[r_idx], sl[r_idx, k_idx]
            m = len(s)
            absence_rate = self.absent_st[s, t] / np.maximum(self.enrolled_st[s, t], 1)
            # a programme's boost counts 3 + 5 points per unit: enough to move a participant's GPA by
            # about 0.05-0.1, the size of effects seen in evaluations of such programmes
            score = (84.0 + 8.0 * ability[s, y] + 3.0 * (self.z_st[s, t] - self.z_year[s, y])
                     + 5.0 * self.boost[s, t] + self.course_diff[course] + stu_course[s, y, k_idx]
                     + rng.normal(0, 6.0, m) - 25.0 * (absence_rate - 0.06))
            score = np.clip(score, gs.numeric_min, gs.numeric_max)
            which = np.searchsorted(-cut, -score, side="right")             # 0 = top letter ... len = failing
            part = dict(s=s, t=t, course=course, letter=which, fail=which == len(passing), labels=labels,
                        points=points)
            if sink is not None:
                sink(self._course_frame(part))
            else:
                parts.append(part)
        if sink is None:
            self.cg = {k: (np.concatenate([p[k] for p in parts]) if k not in ("labels", "points") else v)
                       for k, v in (parts[0] if parts else dict(
                           s=np.zeros(0, np.int64), t=np.zeros(0, np.int64), course=np.zeros(0, np.int32),
                           letter=np.zeros(0, np.int64), fail=np.zeros(0, bool), labels=labels,
                           points=points)).items()}

    def _course_frame(self, cg: dict) -> pd.DataFrame:
        term_ids = np.array([t.id for t in self.cal.terms], dtype=object)
        frame = pd.DataFrame({
            "student_id": _ids(self.student_ids, cg["s"]), "term_id": _ids(term_ids, cg["t"]),
            "course_id": _ids(self.course_ids, cg["course"]),
            "subject": _ids(self.course_subject, cg["course"]), "mark": _ids(cg["labels"], cg["letter"]),
            "grade_points": cg["points"][cg["letter"]].astype(float),
            "credits_attempted": np.full(len(cg["s"]), 0.25),
            "credits_earned": np.where(cg["fail"], 0.0, 0.25),
            "college_credit": self.course_college[cg["course"]], "is_core": self.course_core[cg["course"]]})
        return _coerce_light("course_grades", frame)

    # -- engagement ------------------------------------------------------------------------------
    def _engagement(self):
        rng = self.rng["engagement"]
        scale = self.cfg.threshold("engagement_scale", {"min": 1, "max": 5}) or {"min": 1, "max": 5}
        lo, hi = float(scale.get("min", 1)), float(scale.get("max", 5))
        s, t = np.nonzero(self.enrolled_st >= 5)
        keep = rng.random(len(s)) < 0.92
        s, t = s[keep], t[keep]
        span = hi - lo
        raw = lo + span * (0.58 + 0.17 * (self.z_st[s, t] + rng.normal(0, 0.6, len(s))))
        # a mean of four items: quarter steps of one scale point
        self.eng = dict(s=s, t=t, score=np.clip(np.round(raw * 4) / 4, lo, hi))

    # -- work-based learning and hours -----------------------------------------------------------
    def _wbl_and_hours(self):
        rng = self.rng["wbl"]
        types = np.array([pt.type for _, _, pt, _ in self.prog], dtype=object)[self.part_program]
        is_wbl = np.isin(types, WBL_TYPES)
        rows = np.flatnonzero(is_wbl)
        hours = np.zeros(len(self.part_student))
        p_sess = np.array([_WBL_INTENSITY.get(x, (0, 0, 0))[0] for x in types])
        lo = np.array([_WBL_INTENSITY.get(x, (0, 1, 1))[1] for x in types])
        hi = np.array([_WBL_INTENSITY.get(x, (0, 1, 1))[2] for x in types])
        length = self.part_end[rows] - self.part_start[rows] + 1
        rep = np.repeat(rows, length)
        day = np.repeat(self.part_start[rows], length) + (np.arange(length.sum())
                                                          - np.repeat(np.cumsum(length) - length, length))
        keep = rng.random(len(rep)) < p_sess[rep]
        # every WBL participation logs at least its first day
        firsts = np.cumsum(length) - length
        keep[firsts] = True
        rep, day = rep[keep], day[keep]
        h = np.round(rng.uniform(lo[rep], hi[rep]) * 2) / 2
        self.wbl = dict(row=rep, day=day, hours=h)
        hours += np.bincount(rep, weights=h, minlength=len(hours))
        other = np.flatnonzero(~is_wbl)
        wk = np.array([_WEEKLY_HOURS.get(x, _WEEKLY_HOURS["other"]) for x in types[other]]).reshape(-1, 2)
        span_days = self.part_end[other] - self.part_start[other] + 1
        single = span_days == 1
        per = rng.uniform(wk[:, 0], wk[:, 1])
        hours[other] = np.where(single, per, per * span_days / 5.0)
        self.part_hours = np.round(hours * 2) / 2

    # -- frames ----------------------------------------------------------------------------------
    def _frames(self, skip: set[str] = frozenset()) -> dict[str, pd.DataFrame]:
        cal = self.cal
        sid = self.student_ids
        term_ids = np.array([t.id for t in cal.terms], dtype=object)
        day_ns = cal.days.astype("datetime64[ns]")
        out: dict[str, pd.DataFrame] = {}
        out["schools"] = pd.DataFrame({"school_id": [s.school_id for s in self.cfg.schools],
                                       "name": [s.name for s in self.cfg.schools],
                                       "level": [s.level for s in self.cfg.schools]})
        out["students"] = pd.DataFrame({
            "student_id": sid, "school_id": self.school_ids[self.school], "grade_level": self.grade.astype(int),
            "birth_date": self.birth.astype("datetime64[ns]"), "gender": self.gender,
            "race_ethnicity": self.race_names[self.race], "frl": self.frl, "ell": self.ell, "swd": self.swd})
        out["partners"] = self.partners_frame
        out["programs"] = self.programs_frame
        prog_ids = np.array([p[0] for p in self.prog], dtype=object)
        order = np.lexsort((self.part_start, self.part_student, self.part_program))
        out["participation"] = pd.DataFrame({
            "student_id": sid[self.part_student[order]], "program_id": prog_ids[self.part_program[order]],
            "start_date": day_ns[self.part_start[order]],
            "end_date": np.where(self.part_open[order], np.datetime64("NaT", "ns"), day_ns[self.part_end[order]]),
            "hours": self.part_hours[order]})
        # attendance summaries: exactly the daily rows, summed
        es, et = np.nonzero(self.enrolled_st > 0)
        out["attendance_terms"] = pd.DataFrame({"student_id": sid[es], "term_id": term_ids[et],
                                                "days_enrolled": self.enrolled_st[es, et],
                                                "days_absent": np.round(self.absent_st[es, et], 4)})
        eng = self.eng
        out["engagement"] = pd.DataFrame({"student_id": sid[eng["s"]], "term_id": term_ids[eng["t"]],
                                          "score": eng["score"]})
        w = self.wbl
        wbl = pd.DataFrame({"student_id": sid[self.part_student[w["row"]]],
                            "program_id": prog_ids[self.part_program[w["row"]]],
                            "date": day_ns[w["day"]], "hours": w["hours"]})
        out["wbl_hours"] = wbl.sort_values(["program_id", "student_id", "date"], kind="stable",
                                           ignore_index=True)
        for name in list(out):
            out[name] = coerce_table(name, out[name])
        if "course_grades" not in skip:
            out["course_grades"] = self._course_frame(self.cg)
            del self.cg
        if "attendance_daily" not in skip:
            out["attendance_daily"] = pd.DataFrame({
                "student_id": pd.Categorical.from_codes(self.att_student, categories=pd.Index(sid, dtype="str")),
                "date": day_ns[self.att_day],
                "status": pd.Categorical.from_codes(self.att_status,
                                                    categories=pd.Index(ATTENDANCE_STATUSES, dtype="str")),
                "fraction_absent": self.att_frac.astype(np.float64)}, copy=False)   # fresh arrays: no block copy
            del self.att_student, self.att_day, self.att_status, self.att_frac
        return {k: out[k] for k in ("schools", "students", "partners", "programs", "participation",
                                    "attendance_daily", "attendance_terms", "course_grades", "engagement",
                                    "wbl_hours") if k in out}


#: The tables :func:`make_demo_district` can stream to parquet chunk by chunk.
_STREAMED = ("attendance_daily", "course_grades")


class _ParquetSink:
    """Append chunks (Arrow tables or frames) of one table to a parquet file, in row groups of ``_ROW_GROUP``."""

    def __init__(self, path: Path):
        self.path = path
        self._writer = None

    def __call__(self, chunk) -> None:
        table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_pandas(chunk, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        elif not table.schema.equals(self._writer.schema, check_metadata=False):
            table = table.cast(self._writer.schema)
        self._writer.write_table(table, row_group_size=_ROW_GROUP)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _coerce_light(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """coerce_table for a frame whose string columns are already pyarrow strings (skips the copies)."""
    strings = [c for c in frame.columns if frame[c].dtype == "string"]
    rest = coerce_table(name, frame.drop(columns=strings))
    for c in strings:
        rest[c] = frame[c]
    return rest[list(frame.columns)]


# -- records store -------------------------------------------------------------------------------

def _write_records(dataset: Dataset, *, seed: int, db) -> None:
    """Demo fit-survey answers and partnership records, through the areas' own demo writers."""
    from ..fit.demo import write_demo_fit
    from ..records.demo import write_demo_records
    from ..store import Store, default_store_path, resolve_db_url
    # An explicit path, never PA_DB_URL: demo answers must not land in a district's real store.
    url = resolve_db_url(db if db is not None else default_store_path(dataset.path))
    store = Store(url)
    try:
        if len(store.partnerships_frame()):
            # demo-data run again over an existing demo: the import keeps the records store (issue 10),
            # and its demo records are already there
            return
        for write in (write_demo_fit, write_demo_records):
            write(store, dataset, seed=seed)
    finally:
        store.close()
