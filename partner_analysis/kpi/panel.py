"""The KPI panel: one value per student × term × KPI, computed from validated district data.

Every KPI of the catalog is computed for every term of ``district.yml`` at
once. Records are mapped to integer (student, term) cells and aggregated with
``numpy.bincount``, so a district of 100,000 students with ~18 million daily
attendance rows builds in seconds without Python loops over students.

Definitions (docs/kpi-catalog.md#definitions)
------------------------------
* Daily attendance is summarised per student × term: ``days_enrolled`` = daily
  rows inside the term, ``days_absent`` = Σ ``fraction_absent`` (when missing:
  1 for excused/unexcused/partial/suspended, 0 for present/tardy),
  ``days_present = days_enrolled - days_absent``; fractions are added in
  millionths of a day, so the sum is exact in any order. Per-term summaries
  (``attendance_terms``) fill student × terms that have no daily rows.
* Course marks become grade points through the district grade scale when
  ``grade_points`` is missing (``mark_value`` keeps a numeric mark as is): letters through ``grade_scale.letters``; numeric
  marks on ``[min, max]`` through 10-point bands above the pass mark
  (≥ 90 % → A, ≥ 80 % → B, ≥ 70 % → C, ≥ pass → D, else F). ``failed`` is a
  failing letter or a numeric mark below ``pass_mark``. ``is_core`` missing →
  the subject is English/ELA, math, science or social studies.
* "Year to date" sums the components (numerators, denominators, counts) over
  the terms of the same school year up to the term, so a year-to-date GPA is the
  credit-weighted GPA over the year's courses, not a mean of term GPAs.
* The prior-year value of a KPI is its value in the term at the same position
  of the previous school year (``DistrictConfig.same_term_last_year``).

Large districts
---------------
Open the DATA_DIR with :func:`read_dataset_for_kpis`: daily attendance then
stays on disk and is streamed from ``attendance_daily.parquet`` by row group
(decoded by parallel threads), so peak memory stays near the size of the
other tables. ``benchmarks/kpi_panel.py`` measures this against DuckDB.
Beyond a few hundred thousand students, :mod:`partner_analysis.kpi.engines`
computes the panel by partitions of students, on this machine or on a Dask
cluster, with identical results (docs/scale.md).
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..data.schema import ABSENT_STATUSES
from ..exceptions import ConfigError, InputDataError
from .catalog import KPI, Catalog, Condition, catalog_for, check_columns, resolve_value

__all__ = ["build_panel", "compute_kpis", "PanelArrays", "enrolled_students", "read_dataset_for_kpis", "read_coded"]

CORE_SUBJECTS = ("english", "ela", "english language arts", "reading", "writing", "math", "mathematics",
                 "algebra", "geometry", "science", "biology", "chemistry", "physics", "social studies",
                 "social science", "history", "government", "civics")


@dataclass(frozen=True)
class PanelArrays:
    """Wide KPI values: for each KPI, arrays of shape (students, terms).

    ``values[kpi_id]`` holds the KPI per term (its own scope), ``ytd[kpi_id]``
    the year-to-date value, ``n_records[kpi_id]`` the records behind each value.
    ``enrolled`` marks student × terms with any enrolment evidence.
    """

    student_ids: pd.Index
    term_ids: tuple[str, ...]
    catalog: Catalog
    values: Mapping[str, np.ndarray]
    ytd: Mapping[str, np.ndarray]
    n_records: Mapping[str, np.ndarray]
    enrolled: np.ndarray
    prior_term: tuple[int, ...] = field(default=())  # index of the same term last year, -1 when none
    prev_term: tuple[int, ...] = field(default=())  # index of the previous term, -1 when none

    def term_index(self, term: str) -> int:
        try:
            return self.term_ids.index(term)
        except ValueError:
            raise ConfigError(f"unknown term {term!r}", key="terms", fix=f"Use one of {list(self.term_ids)}") from None


def read_dataset_for_kpis(path, *, terms: Iterable[str] | None = None):
    """Open a DATA_DIR for KPI work: every table except daily attendance, which the panel streams from parquet.

    Daily attendance is by far the largest table (tens of millions of rows for
    a large district); reading it in record batches keeps memory to a small
    multiple of the other tables. The record tables are read with their text
    columns as categoricals (:func:`read_coded`). ``terms``: the tables with
    a ``term_id`` are read only for the terms the values of these terms
    depend on (:func:`terms_needed`; for :func:`compute_kpis` with the same
    ``terms``).
    """
    from ..data.dataset import read_dataset
    from ..data.schema import IMPORT_ORDER
    dataset = read_dataset(path, tables=[t for t in IMPORT_ORDER if t != "attendance_daily" and t not in RECORD_TABLES])
    need = terms_needed(dataset.config, terms)
    for name in RECORD_TABLES:
        source = Path(path) / f"{name}.parquet"
        if source.exists():
            dataset.tables[name] = read_coded(source, term_ids=need)
    return dataset


#: The record tables besides daily attendance that the KPI sources read (``course_grades`` repeats ids, terms,
#: subjects and marks millions of times).
RECORD_TABLES = ("attendance_terms", "course_grades", "engagement", "wbl_hours")


def read_coded(source, *, term_ids: Iterable[str] | None = None, **kwargs) -> pd.DataFrame:
    """A parquet table (a file, or a folder of parts) with its text columns as categoricals (Arrow dictionaries).

    Ids, terms, subjects and marks repeat millions of times in ``course_grades``:
    as categoricals, the panel maps each distinct value once and the frame is a
    fraction of the size. ``term_ids``: only the rows of these terms (a table
    with a ``term_id``). ``kwargs`` go to :func:`pandas.read_parquet`.
    """
    import pyarrow as pa
    import pyarrow.dataset as pads

    fs = kwargs.get("filesystem")
    schema = pads.dataset(str(source), format="parquet", filesystem=fs).schema
    text = [n for n in schema.names if pa.types.is_string(schema.field(n).type)
            or pa.types.is_large_string(schema.field(n).type)]
    if term_ids is not None and "term_id" in schema.names:
        kwargs["filters"] = [("term_id", "in", list(term_ids))]
    return pd.read_parquet(source, read_dictionary=text, **kwargs)


# -- record sources -------------------------------------------------------------------------------

@dataclass
class _Source:
    """Records of one source table mapped to cells: key = student_code * T + term_code."""

    key: np.ndarray
    columns: dict[str, np.ndarray]
    weight_n: np.ndarray | None = None  # underlying records per row (attendance summaries: days)
    # the source table and the kept rows, for text columns a KPI filters on (`subject: math`)
    frame: pd.DataFrame | None = None
    rows: np.ndarray | None = None


def _student_codes(ids: pd.Series, index: pd.Index) -> np.ndarray:
    if isinstance(ids.dtype, pd.CategoricalDtype):
        # one hash per category instead of per row: the daily attendance column is large
        cat_codes = index.get_indexer(ids.cat.categories.astype(str))
        codes = ids.cat.codes.to_numpy()
        return np.where(codes >= 0, cat_codes[codes], -1)
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    mapped = index.get_indexer(pd.Index(uniques).astype(str))
    return np.where(codes >= 0, mapped[codes], -1)


class _DayLookup:
    """Day number (days since 1970-01-01) -> term code, by a table lookup instead of a search per row."""

    def __init__(self, config, order: list[str]):
        terms = config.ordered_terms
        self.first = int(np.datetime64(terms[0].start, "D").astype(np.int64))
        last = int(np.datetime64(terms[-1].end, "D").astype(np.int64))
        self.table = np.full(last - self.first + 1, -1, dtype=np.int16)
        for t in terms:
            a = int(np.datetime64(t.start, "D").astype(np.int64)) - self.first
            b = int(np.datetime64(t.end, "D").astype(np.int64)) - self.first
            if t.id in order:  # a term not computed (not in ``order``): its days are dropped
                self.table[a:b + 1] = order.index(t.id)
        # padded with -1 at both ends, so days outside every term clip onto a -1
        self._padded = np.concatenate([[-1], self.table, [-1]]).astype(np.int16)

    def __call__(self, days: np.ndarray) -> np.ndarray:
        padded = self._padded
        off = days - np.int64(self.first - 1)  # int64 whatever the input's width: no overflow at the clip
        np.clip(off, 0, len(padded) - 1, out=off)
        return padded[off]


def _day_numbers(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(pd.Series(arr)).to_numpy()
    return arr.astype("datetime64[D]").astype(np.int64)


def _term_codes_from_dates(dates: pd.Series, config, order: list[str]) -> np.ndarray:
    return _DayLookup(config, order)(_day_numbers(dates.to_numpy()))


def _term_codes_from_ids(ids: pd.Series, order: list[str]) -> np.ndarray:
    """Positions in ``order`` of term ids (-1: not a term of the district, or a term not computed)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):  # one lookup per category, not per row
        return _student_codes(ids, pd.Index(order))
    codes, uniques = pd.factorize(ids.astype(str))
    mapped = pd.Index(order).get_indexer(pd.Index(uniques))
    return np.where(codes >= 0, mapped[codes], -1)


def _float_array(s: pd.Series) -> np.ndarray:
    if s.dtype.kind in "fiu":
        return s.to_numpy(dtype=float)
    return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _bool_array(s: pd.Series) -> np.ndarray:
    return s.astype("boolean").fillna(False).to_numpy(dtype=bool)


#: Fractions of a day absent are summed in millionths of a day (integers, exact in float64 up to 2**53), so a
#: student x term's days absent are the same whatever the order of the rows: threads, partitions and Dask
#: workers give identical panels. ``_daily_cells`` adds micro-days; ``_attendance_source`` divides once.
MICRO_DAYS = 1_000_000


def _daily_cells(sc: np.ndarray, tc: np.ndarray, absent: np.ndarray, K: int, T: int,
                 enrolled: np.ndarray, absent_sum: np.ndarray) -> None:
    """Add one chunk of daily rows to the per-cell day counts (rows of no known student × term are left out).

    ``absent_sum`` receives micro-days (:data:`MICRO_DAYS`), exact integers.
    """
    if len(sc) and (sc.min() < 0 or tc.min() < 0):  # unknown students, days outside every term: dropped
        ok = (sc >= 0) & (tc >= 0)
        sc, tc, absent = sc[ok], tc[ok], absent[ok]
    if not len(sc):
        return
    key = np.multiply(sc, T, dtype=np.int64)
    key += tc
    # rows come student by student: count into the range of cells this chunk touches, not all K of them
    lo, hi = int(key.min()), int(key.max())
    if lo:
        key -= lo
    n = hi - lo + 1
    enrolled[lo:hi + 1] += np.bincount(key, minlength=n)
    units = absent * MICRO_DAYS
    np.rint(units, out=units)
    absent_sum[lo:hi + 1] += np.bincount(key, weights=units, minlength=n)


def _absent_from_status(status_codes: np.ndarray, categories, frac: np.ndarray | None) -> np.ndarray:
    lut = np.isin(np.asarray(categories, dtype=object), ABSENT_STATUSES).astype(float)
    absent = np.where(status_codes >= 0, lut[np.clip(status_codes, 0, None)], 0.0)
    if frac is not None:
        absent = np.where(np.isnan(frac), absent, frac)
    return absent


def _daily_from_frame(daily: pd.DataFrame, index, config, order, K, T, enrolled, absent_sum) -> None:
    sc = _student_codes(daily["student_id"], index)
    tc = _term_codes_from_dates(daily["date"], config, order)
    status = daily["status"]
    if not isinstance(status.dtype, pd.CategoricalDtype):
        status = status.astype("category")
    frac = (daily["fraction_absent"].to_numpy(dtype=float, na_value=np.nan)
            if "fraction_absent" in daily.columns else None)
    absent = _absent_from_status(status.cat.codes.to_numpy(), status.cat.categories, frac)
    _daily_cells(sc, tc, absent, K, T, enrolled, absent_sum)


class _DictionaryCodes:
    """Map Arrow dictionary values to codes once per distinct dictionary, shared by worker threads."""

    def __init__(self, lookup):
        self.lookup = lookup
        self._cache: list[tuple] = []  # (dictionary, codes); kept alive, so `is` cannot be fooled
        self._lock = threading.Lock()

    def __call__(self, arr) -> np.ndarray:
        import pyarrow as pa
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not pa.types.is_dictionary(arr.type):
            return self.lookup(arr)
        d = arr.dictionary
        with self._lock:
            mapped = next((m for dd, m in self._cache if dd is d or dd.equals(d)), None)
            if mapped is None:
                mapped = self.lookup(d)
                self._cache.append((d, mapped))
        idx = arr.indices.to_numpy(zero_copy_only=False)
        if arr.null_count:
            return np.where(arr.is_valid().to_numpy(zero_copy_only=False), mapped[np.clip(idx, 0, None)], -1)
        return mapped[idx]


def _daily_batch_fn(names, index, config, order, K, T):
    """``one_batch(batch, enrolled, absent_sum)``: add one Arrow record batch of daily rows to the cell counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [c for c in ("student_id", "date", "status", "fraction_absent") if c in names]
    days = _DayLookup(config, order)
    id_set = pa.array(np.asarray(index, dtype=object), type=pa.string())
    absent_set = pa.array(list(ABSENT_STATUSES))

    def student_lookup(values):
        return pc.fill_null(pc.index_in(pc.cast(values, pa.string()), value_set=id_set), -1).to_numpy(
            zero_copy_only=False).astype(np.int64)

    def status_lookup(values):
        return pc.fill_null(pc.is_in(pc.cast(values, pa.string()), value_set=absent_set), False).to_numpy(
            zero_copy_only=False).astype(float)

    student_codes = _DictionaryCodes(student_lookup)
    status_absent = _DictionaryCodes(status_lookup)

    def one_batch(batch, en, ab):
        sc = student_codes(batch.column("student_id"))
        date = batch.column("date")
        if not pa.types.is_date32(date.type):
            date = pc.cast(date, pa.date32())
        day = pc.fill_null(pc.cast(date, pa.int32()), np.iinfo(np.int32).min).to_numpy(zero_copy_only=False)
        tc = days(day)
        frac = batch.column("fraction_absent") if "fraction_absent" in cols else None
        if frac is not None and frac.null_count == 0:
            absent = frac.to_numpy(zero_copy_only=False).astype(float, copy=False)  # the status adds nothing
        else:
            absent = status_absent(batch.column("status"))
            if absent.dtype.kind != "f":
                absent = absent.astype(float)
            absent = np.where(np.isnan(absent), 0.0, absent) if np.isnan(absent).any() else absent
            if frac is not None:
                f = frac.to_numpy(zero_copy_only=False).astype(float)
                ok = ~np.isnan(f)
                absent = np.where(ok, f, absent)
        _daily_cells(sc, tc, absent, K, T, en, ab)

    return cols, one_batch


def _check_daily_columns(names, path) -> None:
    for col in ("student_id", "date", "status"):
        if col not in names:
            raise InputDataError("required column missing", path=path, column=col,
                                 fix="Re-import the daily attendance export")


def _in_threads(run, chunks, enrolled, absent_sum) -> None:
    """``run(chunk) -> (en, ab)`` per chunk, in threads (Arrow releases the GIL), added up (exact integers)."""
    if len(chunks) == 1:
        results = [run(chunks[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            results = list(pool.map(run, chunks))
    for en, ab in results:
        enrolled += en
        absent_sum += ab


def _daily_from_parquet(path, index, config, order, K, T, enrolled, absent_sum, *, batch_size: int = 1 << 20,
                        workers: int | None = None) -> None:
    """Stream ``attendance_daily.parquet`` by row group: the daily table is never held in memory whole.

    Row groups are decoded by up to ``workers`` threads (Arrow releases the
    GIL while decoding), each adding into its own cell counts.
    """
    import pyarrow.parquet as pq

    dict_cols = ["student_id", "status"]
    path = Path(path)
    # a large import stores the table as a folder of parts (partner_analysis.data.stream)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        return
    pf = pq.ParquetFile(files[0], read_dictionary=dict_cols)
    names = pf.schema_arrow.names
    _check_daily_columns(names, path)
    cols, one_batch = _daily_batch_fn(names, index, config, order, K, T)
    work = [(f, g) for f in files for g in range(pq.ParquetFile(f).metadata.num_row_groups)]

    def run(items):
        en, ab = np.zeros(K + 1), np.zeros(K + 1)
        opened = {}
        for f, g in items:
            if f not in opened:
                opened[f] = pq.ParquetFile(f, read_dictionary=dict_cols)
            for batch in opened[f].iter_batches(batch_size=batch_size, row_groups=[g], columns=cols,
                                                use_threads=False):
                one_batch(batch, en, ab)
        return en, ab

    workers = max(1, min(workers or os.cpu_count() or 1, 4, len(work) or 1))
    _in_threads(run, [work[i::workers] for i in range(workers)], enrolled, absent_sum)


def _daily_from_arrow(table, index, config, order, K, T, enrolled, absent_sum, *, batch_size: int = 1 << 20,
                      workers: int | None = None) -> None:
    """The same as :func:`_daily_from_parquet` for daily rows already read into an Arrow table.

    A partition of students (:mod:`partner_analysis.kpi.engines`) reads its
    row groups as Arrow and skips the conversion to pandas.
    """
    _check_daily_columns(table.column_names, None)
    cols, one_batch = _daily_batch_fn(table.column_names, index, config, order, K, T)
    batches = table.select(cols).to_batches(max_chunksize=batch_size)
    workers = max(1, min(workers or os.cpu_count() or 1, 4, len(batches) or 1))

    def run(part):
        en, ab = np.zeros(K + 1), np.zeros(K + 1)
        for batch in part:
            one_batch(batch, en, ab)
        return en, ab

    _in_threads(run, [batches[i::workers] for i in range(workers)], enrolled, absent_sum)


def _attendance_source(dataset, index, order, keep_empty: bool = False,
                       early: "Future[DailyCells] | None" = None) -> _Source | None:
    T = len(order)
    S = len(index)
    K = S * T
    parts = []
    daily = dataset.get("attendance_daily")
    have = np.zeros(K, dtype=bool)
    data_path = getattr(dataset, "path", None)
    daily_file = None if data_path is None else Path(data_path) / "attendance_daily.parquet"
    if (daily is not None and (len(daily) or keep_empty)) or (daily is None and daily_file is not None
                                                              and daily_file.exists()):
        enrolled = np.zeros(K + 1)
        absent_sum = np.zeros(K + 1)
        counted = early.result() if early is not None and daily is None else None
        if isinstance(daily, pd.DataFrame):
            _daily_from_frame(daily, index, dataset.config, order, K, T, enrolled, absent_sum)
        elif daily is not None:  # an Arrow table (a partition's row groups)
            _daily_from_arrow(daily, index, dataset.config, order, K, T, enrolled, absent_sum)
        elif counted is not None and counted.order == tuple(order) and counted.index.equals(index):
            enrolled, absent_sum = counted.enrolled, counted.absent_sum  # counted while the tables were read
        else:
            _daily_from_parquet(daily_file, index, dataset.config, order, K, T, enrolled, absent_sum)
        enrolled, absent_sum = enrolled[:K], absent_sum[:K]
        have = enrolled > 0
        cells = np.flatnonzero(have)
        parts.append((cells, enrolled[cells], absent_sum[cells] / MICRO_DAYS))
    terms_tab = dataset.get("attendance_terms")
    if terms_tab is not None and (len(terms_tab) or keep_empty):
        sc = _student_codes(terms_tab["student_id"], index)
        tc = _term_codes_from_ids(terms_tab["term_id"], order)
        ok = (sc >= 0) & (tc >= 0)
        key = (sc.astype(np.int64) * T + tc)[ok]
        en = terms_tab["days_enrolled"].to_numpy(dtype=float)[ok]
        ab = terms_tab["days_absent"].to_numpy(dtype=float)[ok]
        new = ~have[key]  # daily data wins where both exist
        parts.append((key[new], en[new], ab[new]))
    if not parts:
        return None
    key = np.concatenate([p[0] for p in parts]).astype(np.int64)
    en = np.concatenate([p[1] for p in parts])
    ab = np.concatenate([p[2] for p in parts])
    return _Source(key=key, columns={"days_enrolled": en, "days_absent": ab, "days_present": en - ab},
                   weight_n=en)


def _by_unique(values: pd.Series, fn) -> np.ndarray:
    """Apply ``fn`` (array of unique strings -> array) once per distinct value: marks and subjects repeat a lot."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.asarray(fn(pd.Series(np.asarray(uniques, dtype=object), dtype="string")))
    out = mapped[np.clip(codes, 0, None)] if len(mapped) else np.zeros(len(codes), dtype=mapped.dtype)
    if mapped.dtype.kind == "f":
        out = np.where(codes < 0, np.nan, out)
    elif mapped.dtype.kind == "b":
        out = np.where(codes < 0, False, out)
    return out


def _grade_points(cg: pd.DataFrame, scale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    letters = {str(k).upper(): float(v) for k, v in scale.letters.items()}
    failing = {str(x).upper() for x in scale.failing_letters}
    span = scale.numeric_max - scale.numeric_min
    pass_pct = (scale.pass_mark - scale.numeric_min) / span * 100.0
    top = scale.max_points

    def per_mark(marks: pd.Series) -> np.ndarray:
        upper = marks.str.strip().str.upper()
        letter_pts = upper.map(letters).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        num = pd.to_numeric(marks.str.strip(), errors="coerce").astype("Float64").to_numpy(dtype=float,
                                                                                          na_value=np.nan)
        pct = (num - scale.numeric_min) / span * 100.0
        num_pts = np.select([pct >= 90, pct >= 80, pct >= 70, pct >= pass_pct], [top, top - 1, top - 2, top - 3],
                            0.0)
        num_pts = np.where(np.isnan(num), np.nan, np.clip(num_pts, 0, None))
        points = np.where(np.isnan(letter_pts), num_pts, letter_pts)
        failed = upper.isin(failing).fillna(False).to_numpy(dtype=bool) | (~np.isnan(num) & (num < scale.pass_mark))
        return np.column_stack([points, failed.astype(float), num]) if len(marks) else np.zeros((0, 3))

    codes, uniques = pd.factorize(cg["mark"], use_na_sentinel=True)
    table = per_mark(pd.Series(np.asarray(uniques, dtype=object), dtype="string"))
    rows = table[np.clip(codes, 0, None)] if len(table) else np.full((len(codes), 3), np.nan)
    rows[codes < 0] = np.nan
    derived, failed, mark_value = rows[:, 0], np.nan_to_num(rows[:, 1]), rows[:, 2]
    if "grade_points" in cg.columns:
        given = cg["grade_points"].to_numpy(dtype=float, na_value=np.nan)
        points = np.where(np.isnan(given), derived, given)
    else:
        points = derived
    return points, failed, mark_value


def _course_source(dataset, index, order, keep_empty: bool = False) -> _Source | None:
    cg = dataset.get("course_grades")
    if cg is None or not (len(cg) or keep_empty):
        return None
    T = len(order)
    sc = _student_codes(cg["student_id"], index)
    tc = _term_codes_from_ids(cg["term_id"], order)
    ok = (sc >= 0) & (tc >= 0)
    points, failed, mark_value = _grade_points(cg, dataset.config.grade_scale)
    if "is_core" in cg.columns:
        core = cg["is_core"].astype("boolean")
    else:
        core = pd.Series(pd.NA, index=cg.index, dtype="boolean")
    if "subject" in cg.columns and core.isna().any():
        by_subject = _by_unique(cg["subject"], lambda u: u.str.strip().str.lower().isin(CORE_SUBJECTS)
                                .fillna(False).to_numpy(dtype=bool))
        core = core.fillna(pd.Series(by_subject, index=cg.index, dtype="boolean"))
    cols = {"grade_points": points, "failed": failed, "mark_value": mark_value, "is_core": _bool_array(core).astype(float),
            "college_credit": (_bool_array(cg["college_credit"]) if "college_credit" in cg.columns
                               else np.zeros(len(cg), dtype=bool)).astype(float)}
    for c in ("credits_attempted", "credits_earned"):
        cols[c] = cg[c].to_numpy(dtype=float, na_value=np.nan)
    for c in cg.columns:  # other numeric/bool columns a district's KPI may name
        if c not in cols and c not in ("student_id", "term_id", "course_id", "mark", "subject"):
            if pd.api.types.is_bool_dtype(cg[c]) or pd.api.types.is_numeric_dtype(cg[c]):
                cols[c] = _float_array(cg[c])
    key = sc.astype(np.int64) * T + tc
    if ok.all():  # validated data: skip copying every column
        return _Source(key=key, columns=cols, frame=cg)
    return _Source(key=key[ok], columns={k: v[ok] for k, v in cols.items()}, frame=cg, rows=ok)


def _simple_source(dataset, name, index, order, *, by_date: bool, keep_empty: bool = False) -> _Source | None:
    tab = dataset.get(name)
    if tab is None or not (len(tab) or keep_empty):
        return None
    T = len(order)
    sc = _student_codes(tab["student_id"], index)
    tc = (_term_codes_from_dates(tab["date"], dataset.config, order) if by_date
          else _term_codes_from_ids(tab["term_id"], order))
    ok = (sc >= 0) & (tc >= 0)
    cols = {}
    for c in tab.columns:
        if pd.api.types.is_bool_dtype(tab[c]) or pd.api.types.is_numeric_dtype(tab[c]):
            cols[c] = _float_array(tab[c])[ok]
    key = (sc.astype(np.int64) * T + tc)[ok]
    return _Source(key=key, columns=cols, frame=tab, rows=ok)


def _load_sources(dataset, index, order, needed: set[str], keep_empty: bool = False,
                  early: "Future[DailyCells] | None" = None) -> dict[str, _Source | None]:
    """The record sources the catalog draws on, their rows coded by position in ``order`` (other terms left out).

    Daily attendance, the largest, is aggregated in a thread while the other sources are mapped here (Arrow's
    decoding and numpy's sums release the GIL), so the two cores work at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    out: dict[str, _Source | None] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        attendance = (pool.submit(_attendance_source, dataset, index, order, keep_empty, early)
                      if "attendance" in needed else None)
        others = _other_sources(dataset, index, order, needed, keep_empty)
        if attendance is not None:
            out["attendance"] = attendance.result()
    return out | others


def _other_sources(dataset, index, order, needed: set[str], keep_empty: bool) -> dict[str, _Source | None]:
    out: dict[str, _Source | None] = {}
    if "course_grades" in needed:
        out["course_grades"] = _course_source(dataset, index, order, keep_empty)
    if "engagement" in needed:
        out["engagement"] = _simple_source(dataset, "engagement", index, order, by_date=False, keep_empty=keep_empty)
    if "wbl_hours" in needed:
        out["wbl_hours"] = _simple_source(dataset, "wbl_hours", index, order, by_date=True, keep_empty=keep_empty)
    return out


def terms_needed(config, terms: Iterable[str] | None) -> list[str] | None:
    """The terms whose records the values of ``terms`` depend on: each term and the terms before it in its
    school year (year-to-date values and school-year prorating); ``None`` (all) for ``None``.

    Every other value of the panel depends on its own term's records only
    (:func:`compute_kpis`), so computing these terms alone gives the same
    values for ``terms`` as computing all of them.
    """
    if terms is None:
        return None
    ordered = config.ordered_terms
    wanted = {config.term(t).id for t in terms}
    need: set[str] = set()
    for i, t in enumerate(ordered):
        if t.id in wanted:
            need.add(t.id)
            need.update(u.id for u in ordered[:i] if (u.school_year or "") == (t.school_year or ""))
    return [t.id for t in ordered if t.id in need]


# -- aggregation ------------------------------------------------------------------------------------

_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less, "==": np.equal}


def _mask(src: _Source, cond: Condition, kpi: KPI) -> np.ndarray:
    m = np.ones(len(src.key), dtype=bool)
    for col, want in cond.filter.items():
        x = _column(src, col, kpi)
        wants = want if isinstance(want, (list, tuple)) else [want]
        wants = [float(w) if isinstance(w, (bool, int, float)) else w for w in wants]
        m &= np.isin(x, wants)
    return m


def _column(src: _Source, col: str, kpi: KPI) -> np.ndarray:
    if col not in src.columns and src.frame is not None and col in src.frame.columns:
        values = src.frame[col].astype("object").to_numpy()  # a text column: matched as it is
        return values if src.rows is None else values[src.rows]
    try:
        return src.columns[col]
    except KeyError:
        raise InputDataError(f"KPI {kpi.id!r} needs column '{col}', which the {kpi.source} data does not have",
                             column=col, fix=f"Use one of {sorted(src.columns)} in kpis.yml") from None


def _components(src: _Source, cond: Condition, kpi: KPI, K: int) -> dict[str, np.ndarray]:
    """Additive pieces per cell, so that year-to-date is a cumulative sum of them."""
    m = _mask(src, cond, kpi)
    nrec = np.bincount(src.key, weights=(src.weight_n * m if src.weight_n is not None else m.astype(float)),
                       minlength=K)
    agg = cond.aggregate
    if agg == "ratio":
        num = _column(src, cond.numerator, kpi)
        den = _column(src, cond.denominator, kpi)
        ok = m & ~np.isnan(num) & ~np.isnan(den)
        return {"a": np.bincount(src.key, weights=np.where(ok, num, 0.0), minlength=K),
                "b": np.bincount(src.key, weights=np.where(ok, den, 0.0), minlength=K), "n": nrec}
    if agg == "weighted_mean":
        x = _column(src, cond.column, kpi)
        w = _column(src, cond.weight, kpi)
        ok = m & ~np.isnan(x) & ~np.isnan(w) & (w > 0)
        return {"a": np.bincount(src.key, weights=np.where(ok, x * w, 0.0), minlength=K),
                "b": np.bincount(src.key, weights=np.where(ok, w, 0.0), minlength=K), "n": nrec}
    if agg == "count":
        ok = m if cond.column is None else m & (np.nan_to_num(_column(src, cond.column, kpi)) != 0)
        return {"a": np.bincount(src.key, weights=ok.astype(float), minlength=K), "n": nrec}
    x = _column(src, cond.column, kpi)
    ok = m & ~np.isnan(x)
    if agg in ("sum", "mean"):
        return {"a": np.bincount(src.key, weights=np.where(ok, x, 0.0), minlength=K),
                "b": np.bincount(src.key, weights=ok.astype(float), minlength=K), "n": nrec}
    if agg == "any":
        return {"a": np.bincount(src.key, weights=(ok & (x != 0)).astype(float), minlength=K), "n": nrec}
    # max / min: not additive, accumulated with fmax/fmin for year to date
    out = np.full(K, np.nan)
    fn = np.fmax if agg == "max" else np.fmin
    fn.at(out, src.key[ok], x[ok])
    return {"a": out, "n": nrec}


def _finalise(comp: dict[str, np.ndarray], cond: Condition, thresholds) -> np.ndarray:
    agg = cond.aggregate
    a = comp["a"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if agg == "ratio":
            b = comp["b"]
            v = a / b
            min_den = resolve_value(cond.min_denominator, thresholds)
            bad = (b <= 0) if min_den is None else (b < float(min_den)) | (b <= 0)
            return np.where(bad, np.nan, v)
        if agg in ("weighted_mean", "mean"):
            return np.where(comp["b"] > 0, a / comp["b"], np.nan)
        if agg == "any":
            return (a > 0).astype(float)
        return a.astype(float)  # sum, count, max, min


def _ytd(arr: np.ndarray, S: int, years: list[list[int]], *, how: str = "sum") -> np.ndarray:
    """Cumulate (S*T,) cell arrays over the terms of each school year (term columns in date order)."""
    T = arr.size // S
    x = arr.reshape(S, T)
    out = np.empty_like(x)
    for cols in years:
        block = x[:, cols]
        if how == "sum":
            out[:, cols] = np.cumsum(block, axis=1)
        else:
            out[:, cols] = (np.fmax if how == "max" else np.fmin).accumulate(block, axis=1)
    return out.reshape(-1)


def _compare(values: np.ndarray, op: str, target) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        res = _OPS[op](values, target).astype(float)
    return np.where(np.isnan(values), np.nan, res)


def enrolled_students(dataset, index: pd.Index, order: list[str], sources: Mapping[str, _Source | None]) -> np.ndarray:
    """(S*T,) bool: enrolment evidence per student × term (attendance, else any record, else everyone)."""
    S, T = len(index), len(order)
    att = sources.get("attendance")
    if att is not None:
        return np.bincount(att.key, minlength=S * T) > 0
    seen = np.zeros(S * T, dtype=bool)
    for src in sources.values():
        if src is not None:
            seen |= np.bincount(src.key, minlength=S * T) > 0
    return seen if seen.any() else np.ones(S * T, dtype=bool)


def _computed_terms(config, terms):
    """The terms :func:`compute_kpis` computes: all, or those ``terms`` need (each school year's first terms, so
    positions in the year and year-to-date sums are those of the whole panel)."""
    need = terms_needed(config, terms)
    return list(config.ordered_terms) if need is None else [t for t in config.ordered_terms if t.id in need]


@dataclass(frozen=True)
class DailyCells:
    """Daily attendance counted per student × computed term (:func:`count_daily_early`)."""

    index: pd.Index
    order: tuple[str, ...]
    enrolled: np.ndarray
    absent_sum: np.ndarray  # micro-days (MICRO_DAYS)


def count_daily_early(pool, path, *, terms: Iterable[str] | None = None) -> "Future[DailyCells] | None":
    """Start counting ``path``'s daily attendance in ``pool`` (for :func:`compute_kpis` with the same ``terms``).

    The daily table is the largest and is read from its file in any case; counted while the other tables are
    read (:func:`read_dataset_for_kpis`), the two cores work at once. None when there is no daily table.
    """
    from ..config import load_config

    path = Path(path)
    daily_file = path / "attendance_daily.parquet"
    if not daily_file.exists() or not (path / "students.parquet").exists():
        return None
    config = load_config(path / "district.yml")
    terms = None if terms is None else list(terms)

    def count() -> DailyCells:
        students = pd.read_parquet(path / "students.parquet", columns=["student_id"])
        index = pd.Index(students["student_id"].astype(str), name="student_id")
        order = [t.id for t in _computed_terms(config, terms)]
        T = len(order)
        K = len(index) * T
        enrolled, absent_sum = np.zeros(K + 1), np.zeros(K + 1)
        _daily_from_parquet(daily_file, index, config, order, K, T, enrolled, absent_sum)
        return DailyCells(index, tuple(order), enrolled, absent_sum)

    return pool.submit(count)


def compute_kpis(dataset, *, catalog: Catalog | None = None, kpis: Iterable[str] | None = None,
                 keep_empty: bool = False, ytd: bool = True, terms: Iterable[str] | None = None,
                 daily: "Future[DailyCells] | None" = None, compact: bool = False) -> PanelArrays:
    """Compute every KPI for every student × term of the dataset, as wide arrays.

    This is the engine behind :func:`build_panel` and
    :func:`partner_analysis.kpi.compare.compare_partners`; use those for tidy
    frames. Every value depends on one student's records only, so the panel of
    any subset of students equals the rows of the whole district's panel
    (:mod:`partner_analysis.kpi.engines` computes it by partitions).

    ``keep_empty``: a source table that is present but empty (a partition
    without such records) still gives its KPIs, all missing, so that every
    partition has the KPIs of the whole district. ``ytd=False`` skips the
    year-to-date values (``ytd`` is then empty; a KPI whose own scope is year
    to date still has its values): the comparisons do not read them.
    ``terms``: compute only the values of these terms (records of the terms
    :func:`terms_needed` names are read, the others left out); every other
    term is missing, with no records and no enrolment. The values of
    ``terms`` are those of the whole panel. ``daily``: the daily attendance
    already being counted (:func:`count_daily_early`, same ``terms``), used
    when it counted these students and terms. ``compact`` (with ``terms``): the arrays hold only the
    columns of ``terms``, in the district's term order (``term_ids`` are those terms; ``prior_term`` and
    ``prev_term`` point within them, -1 when outside), instead of every term with the others missing;
    :mod:`.engines` combines partitions from them without widening and narrowing each one.
    """
    config = dataset.config
    catalog = (catalog or catalog_for(dataset)).select(kpis)
    if "students" not in dataset:
        raise InputDataError("the dataset has no students table", path=getattr(dataset, "path", None),
                             fix="Import students.parquet first")
    index = pd.Index(dataset["students"]["student_id"].astype(str), name="student_id")
    if index.has_duplicates:
        raise InputDataError("students.parquet repeats a student_id", column="student_id",
                             value=index[index.duplicated()][0], fix="Re-run validate/import")
    all_terms = config.ordered_terms
    terms = None if terms is None else list(terms)  # read more than once below
    need = terms_needed(config, terms)
    ordered = _computed_terms(config, terms)
    order = [t.id for t in ordered]
    S, T = len(index), len(order)
    K = S * T
    years: dict[str, list[int]] = {}
    for i, t in enumerate(ordered):
        years.setdefault(t.school_year or "", []).append(i)
    year_blocks = list(years.values())
    terms_in_year = Counter(t.school_year or "" for t in all_terms)
    pos_in_year = np.empty(T)
    n_in_year = np.empty(T)
    for cols in year_blocks:
        for j, c in enumerate(cols):
            pos_in_year[c] = j + 1
            n_in_year[c] = terms_in_year[ordered[c].school_year or ""]
    thresholds = config.thresholds
    check_columns(catalog, dataset)
    sources = _load_sources(dataset, index, order, {k.source for k in catalog}, keep_empty, daily)
    enrolled = enrolled_students(dataset, index, order, sources)
    values, ytd_values, nrecs = {}, {}, {}
    for kpi in catalog:
        src = sources.get(kpi.source)
        if src is None:
            continue  # the district has no such data: the KPI is absent from the panel
        exists = np.bincount(src.key, minlength=K) > 0
        conds = (kpi.measure,) if kpi.measure is not None else kpi.all_of
        per_scope = {}
        n_scope = {}
        term_comps = [_components(src, cond, kpi, K) for cond in conds]  # record-level work done once
        main = "year_to_date" if kpi.scope == "year_to_date" else "term"
        for scope in (("term", "year_to_date") if ytd else (main,)):
            parts = []
            n_total = np.zeros(K)
            present = exists if scope == "term" else _ytd(exists.astype(float), S, year_blocks) > 0
            for cond, comp in zip(conds, term_comps):
                if scope == "year_to_date":
                    how = cond.aggregate if cond.aggregate in ("max", "min") else "sum"
                    comp = {k: _ytd(v, S, year_blocks, how=how if k == "a" else "sum") for k, v in comp.items()}
                n_total = np.maximum(n_total, comp["n"])
                v = _finalise(comp, cond, thresholds)
                if cond.op is not None:
                    target = float(resolve_value(cond.value, thresholds))
                    if cond.prorate == "school_year":
                        target = np.tile(target * pos_in_year / n_in_year, S)
                    v = _compare(v, cond.op, target)
                parts.append(v)
            v = parts[0] if len(parts) == 1 else np.where(np.isnan(np.vstack(parts)).any(axis=0), np.nan,
                                                          np.vstack(parts).min(axis=0))
            if kpi.threshold is not None:
                v = _compare(v, kpi.threshold["op"], float(resolve_value(kpi.threshold["value"], thresholds)))
            v = np.where(present, v, np.nan)
            if kpi.population == "enrolled":
                v = np.where(~present & enrolled_scope(enrolled, scope, S, year_blocks), kpi.fill_value, v)
            per_scope[scope] = v.reshape(S, T)
            n_scope[scope] = n_total.reshape(S, T)
        values[kpi.id] = per_scope[main]
        if ytd:
            ytd_values[kpi.id] = per_scope["year_to_date"]
        nrecs[kpi.id] = n_scope[main]
    enrolled = enrolled.reshape(S, T)
    full_order = [t.id for t in all_terms]
    if need is not None and compact:  # only the columns of ``terms``
        kept = {config.term(t).id for t in terms}
        at = [i for i, t in enumerate(order) if t in kept]
        ids = [order[i] for i in at]
        values, ytd_values, nrecs = ({k: np.ascontiguousarray(a[:, at]) for k, a in arrays.items()}
                                     for arrays in (values, ytd_values, nrecs))
        enrolled = np.ascontiguousarray(enrolled[:, at])
        last_year = [config.same_term_last_year(t) for t in ids]
        return PanelArrays(student_ids=index, term_ids=tuple(ids), catalog=catalog.select(list(values)),
                           values=values, ytd=ytd_values, n_records=nrecs, enrolled=enrolled,
                           prior_term=tuple(ids.index(y.id) if y is not None and y.id in ids else -1
                                            for y in last_year),
                           prev_term=tuple(ids.index(order[i - 1]) if i > 0 and order[i - 1] in ids else -1
                                           for i in at))
    if need is not None:  # widen to every term: only ``terms`` kept, the others missing, no records, no enrolment
        kept = {config.term(t).id for t in terms}
        at = [i for i, t in enumerate(order) if t in kept]
        cols = [full_order.index(order[i]) for i in at]
        width = len(full_order)
        values, ytd_values, nrecs = (_widen(values, at, cols, width, np.nan),
                                     _widen(ytd_values, at, cols, width, np.nan), _widen(nrecs, at, cols, width, 0.0))
        enrolled = _widen({"enrolled": enrolled}, at, cols, width, False)["enrolled"]
    prior = []
    prev = []
    for i, t in enumerate(all_terms):
        last = config.same_term_last_year(t.id)
        prior.append(full_order.index(last.id) if last is not None else -1)
        prev.append(i - 1)
    return PanelArrays(student_ids=index, term_ids=tuple(full_order), catalog=catalog.select(list(values)),
                       values=values, ytd=ytd_values, n_records=nrecs, enrolled=enrolled,
                       prior_term=tuple(prior), prev_term=tuple(prev))


def _widen(arrays: Mapping[str, np.ndarray], at: list[int], cols: list[int], width: int,
           fill) -> dict[str, np.ndarray]:
    """(S, computed terms) arrays as (S, ``width`` terms): computed columns ``at`` put at ``cols``, ``fill``
    elsewhere."""
    out = {}
    for k, a in arrays.items():
        wide = np.full((a.shape[0], width), fill, dtype=a.dtype)
        wide[:, cols] = a[:, at]
        out[k] = wide
    return out


def enrolled_scope(enrolled: np.ndarray, scope: str, S: int, year_blocks) -> np.ndarray:
    if scope == "term":
        return enrolled
    return _ytd(enrolled.astype(float), S, year_blocks) > 0


def build_panel(dataset, *, terms: Iterable[str] | str | None = None, kpis: Iterable[str] | None = None,
                catalog: Catalog | None = None, context: bool = False) -> pd.DataFrame:
    """One tidy row per student × term × KPI.

    Parameters
    ----------
    dataset : Dataset
        Validated district data (:func:`partner_analysis.data.dataset.read_dataset`).
    terms : str or list of str, optional
        Term ids to return (default: every term of ``district.yml``). Values
        are always computed over all terms, so year-to-date and prior-year
        values are right whatever is selected.
    kpis : list of str, optional
        KPI ids (default: the whole catalog).
    catalog : Catalog, optional
        Default: ``DATA_DIR/kpis.yml`` when present, else the shipped catalog.
    context : bool
        Add ``value_ytd`` (year to date) and ``value_prior_year`` (same term
        position, previous school year; NaN when none).

    Returns
    -------
    DataFrame
        ``student_id`` (categorical of the string ids, leading zeros kept),
        ``term`` (categorical), ``kpi_id`` (categorical), ``value`` (float; 0/1
        for binary KPIs), ``n_records`` (underlying records: attendance days,
        course rows, WBL log rows ...), plus the context columns. Student × term
        × KPI cells without a value (no records) are omitted.

    Examples
    --------
    >>> from partner_analysis.kpi.panel import build_panel, read_dataset_for_kpis
    >>> panel = build_panel(read_dataset_for_kpis("demo_district"), terms="2025-26-Q2",
    ...                     kpis=["attendance_rate", "gpa"], context=True)  # doctest: +SKIP
    >>> panel.groupby("kpi_id", observed=True)["value"].mean()  # doctest: +SKIP
    """
    arr = compute_kpis(dataset, catalog=catalog, kpis=kpis)
    wanted = list(arr.term_ids) if terms is None else ([terms] if isinstance(terms, str) else list(terms))
    cols = [arr.term_index(t) for t in wanted]
    students = pd.Categorical.from_codes(np.arange(len(arr.student_ids)), categories=arr.student_ids.astype(str))
    frames = []
    kpi_ids = list(arr.values)
    for k_i, kid in enumerate(kpi_ids):
        block = arr.values[kid][:, cols]
        s_idx, t_pos = np.nonzero(~np.isnan(block))
        t_idx = np.asarray(cols)[t_pos]
        part = {"s": s_idx, "t": t_idx, "k": np.full(len(s_idx), k_i), "value": block[s_idx, t_pos],
                "n_records": arr.n_records[kid][s_idx, t_idx]}
        if context:
            part["value_ytd"] = arr.ytd[kid][s_idx, t_idx]
            prior = np.asarray(arr.prior_term)[t_idx]
            part["value_prior_year"] = np.where(prior >= 0, arr.values[kid][s_idx, np.clip(prior, 0, None)], np.nan)
        frames.append(part)
    cat = {key: np.concatenate([f[key] for f in frames]) if frames else np.array([]) for key in
           (frames[0] if frames else {"s": 0, "t": 0, "k": 0, "value": 0, "n_records": 0})}
    out = pd.DataFrame({
        "student_id": pd.Categorical.from_codes(cat["s"].astype(int), dtype=students.dtype),
        "term": pd.Categorical.from_codes(cat["t"].astype(int), categories=list(arr.term_ids)),
        "kpi_id": pd.Categorical.from_codes(cat["k"].astype(int), categories=kpi_ids),
        "value": cat["value"].astype(float),
        "n_records": cat["n_records"].astype(float),
    })
    if context:
        out["value_ytd"] = cat["value_ytd"]
        out["value_prior_year"] = cat["value_prior_year"]
    return out
