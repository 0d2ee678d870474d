"""Where the KPI panel is computed: in memory, by partitions streamed on one machine, or on a Dask cluster.

Every KPI value of a student × term depends on that student's records only
(:func:`partner_analysis.kpi.panel.compute_kpis`), and every sum behind it is
exact whatever the order of the rows (days absent are counted in micro-days, a
student's course rows keep their file order). So the panel of any set of
students equals the rows of the whole district's panel, bit for bit, and the
three engines below give identical panels and, from them, identical comparison
tables (``tests/test_kpi_engines.py``):

``memory``
    The whole district in one process: every table except daily attendance in
    memory, daily attendance streamed by row group (the default; small and
    mid-size districts).
``stream``
    Partitions of students, one at a time, on this machine. A partition reads
    only its students' rows of each parquet table (a predicate on
    ``student_id``; where the files are sorted by ``student_id``, as the
    generator and import write them, Arrow skips the other row groups by their
    statistics, so the partitions together read the data about once), computes
    its panel and keeps the terms asked for. Peak memory is one partition plus
    the result.
``dask``
    The same partitions as tasks on a ``dask.distributed`` cluster: workers
    read the parquet files themselves from a path or URL they can all reach
    (shared storage, or object storage such as ``s3://...`` through Arrow's
    file systems) and send back the partition's values.

The comparisons (:func:`partner_analysis.kpi.compare.run_comparison`) then run
once on the combined panel: participants and comparison students are pooled
across schools for the whole-district estimates, BH families span partners,
and cluster-robust standard errors pool schools, so they need the one-term
student rows (a few numbers per student) rather than per-partition sums; see
``docs/scale.md`` for why partitions are blocks of students and not schools by
default, and what is combined how.
"""
from __future__ import annotations

import math
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, InputDataError, check_argument
from .catalog import Catalog, catalog_for
from .panel import PanelArrays, compute_kpis, count_daily_early, read_dataset_for_kpis, terms_needed

__all__ = ["Engine", "EXECUTORS", "PARTITION_BY", "RowGroupCache", "compute_panel", "open_for_comparisons",
           "panel_partition", "plan_partitions"]

EXECUTORS = ("memory", "stream", "dask")
PARTITION_BY = ("students", "school")
#: The tables a partition reads (those the KPI catalog can draw on), each filtered to the partition's students.
SOURCE_TABLES = ("attendance_daily", "attendance_terms", "course_grades", "engagement", "wbl_hours")
#: What the comparisons read besides the panel: small tables, read whole.
COMPARISON_TABLES = ("schools", "students", "partners", "programs", "participation")


@dataclass(frozen=True)
class Engine:
    """How the KPI panel is computed (see the module docstring).

    Parameters
    ----------
    executor : {"memory", "stream", "dask"}
        Where: one process, partitions one at a time on this machine, or a Dask cluster.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``); without one, ``dask`` starts a
        ``LocalCluster`` of ``workers`` processes on this machine.
    workers : int
        Processes of that local cluster.
    partition_by : {"students", "school"}
        Blocks of consecutive student ids (each reads only its own row groups of
        id-sorted files), or whole schools packed into partitions (each scans
        every row group).
    partitions : int, optional
        Number of partitions; default one per ``rows_per_partition`` daily
        attendance rows (at least two per Dask worker).
    rows_per_partition : int
        Daily attendance rows a partition aims at (memory per partition: about
        100 bytes a row).
    """

    executor: str = "memory"
    scheduler: str | None = None
    workers: int = 2
    partition_by: str = "students"
    partitions: int | None = None
    rows_per_partition: int = 8_000_000

    def __post_init__(self):
        check_argument("executor", self.executor, EXECUTORS, key="--executor")
        check_argument("partition_by", self.partition_by, PARTITION_BY, key="--partition-by")
        if self.scheduler is not None and self.executor != "dask":
            raise ConfigError(f"--scheduler {self.scheduler} needs --executor dask", key="--scheduler",
                              fix="Add --executor dask, or leave out --scheduler")
        if self.partitions is not None and self.partitions < 1:
            raise ConfigError(f"partitions must be at least 1, but {self.partitions!r} was passed",
                              key="--partitions", value=self.partitions)
        if self.rows_per_partition < 1 or self.workers < 1:
            raise ConfigError("rows_per_partition and workers must be at least 1", key="engine")


# -- reading ----------------------------------------------------------------------------------------

def _filesystem(source: str | Path):
    """(Arrow file system, root path) of a local folder or a URL Arrow can open (s3://, gs://, hdfs://...)."""
    from pyarrow import fs

    text = str(source)
    if "://" in text and not text.startswith("file://"):
        return fs.FileSystem.from_uri(text)
    return fs.LocalFileSystem(), str(Path(text.removeprefix("file://")).resolve())


def _is_local(filesystem) -> bool:
    from pyarrow import fs
    return isinstance(filesystem, fs.LocalFileSystem)


def _parts(filesystem, path: str) -> list[str]:
    """The parquet files of a table: the file itself, or the parts of a partitioned table's folder
    (``<table>.parquet/part-*.parquet``, as the streaming import writes it), in name order; [] if absent."""
    from pyarrow import fs
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.File:
        return [path]
    if info.type == fs.FileType.Directory:
        found = filesystem.get_file_info(fs.FileSelector(path))
        return sorted(i.path for i in found if i.type == fs.FileType.File and i.path.endswith(".parquet"))
    return []


def _exists(filesystem, path: str) -> bool:
    return bool(_parts(filesystem, path))


def _row_count(filesystem, path: str) -> int:
    import pyarrow.parquet as pq
    total = 0
    for part in _parts(filesystem, path):
        with filesystem.open_input_file(part) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def _read(filesystem, path: str, *, ids: Sequence[str] | None = None, contiguous: bool = False,
          columns=None, arrow: bool = False, term_ids: Sequence[str] | None = None, coder: "_IdCodes | None" = None,
          cache: "RowGroupCache | None" = None):
    """A parquet table as :func:`partner_analysis.data.dataset.read_dataset` reads it, or the rows of some students.

    With sorted ``ids``, only the row groups whose ``student_id`` statistics
    overlap ``[ids[0], ids[-1]]`` are read (every row group of a file that is
    not sorted by student), and a row group is filtered to the partition's
    students unless ``contiguous`` (``ids`` are all the district's students in
    that range) and the row group lies inside the range. Text columns come as
    dictionaries (categoricals); with ``coder`` (the partition's
    :class:`_IdCodes`), ``student_id`` is a categorical over the partition's
    ids. ``arrow``: return the Arrow table, not a frame. ``cache``: row
    groups read by an earlier partition in this process are taken from it.
    ``term_ids``: keep only the rows of these terms (tables with a
    ``term_id``).
    """
    import pyarrow as pa

    if ids is None and not arrow:
        return pd.read_parquet(path, filesystem=filesystem, columns=columns)
    tables = [_read_part(filesystem, part, ids=ids, contiguous=contiguous, columns=columns, term_ids=term_ids,
                         cache=cache) for part in _parts(filesystem, path)]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if arrow:
        return table
    if coder is None or "student_id" not in table.column_names:
        return table.to_pandas()
    return coder.frame(table)


class _IdCodes:
    """A partition's student ids as one categorical type, and Arrow tables' ``student_id`` coded against it.

    pandas builds a categorical from each Arrow dictionary and checks its
    categories are unique, per table: at a million students that was a tenth
    of the run. Here the codes come from one Arrow lookup per dictionary, and
    every table shares the type (checked once).
    """

    def __init__(self, ids: Sequence[str]):
        import pyarrow as pa
        self.arrow = pa.array(list(ids), type=pa.string())
        self.dtype = pd.CategoricalDtype(pd.Index(list(ids), dtype=object))

    def frame(self, table) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.compute as pc
        column = table.column("student_id")
        codes = []
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                at = pc.fill_null(pc.index_in(chunk.dictionary, value_set=self.arrow), -1).to_numpy(
                    zero_copy_only=False)
                idx = chunk.indices.to_numpy(zero_copy_only=False)
                c = at[np.clip(idx, 0, None)] if len(at) else np.full(len(chunk), -1)
                if chunk.null_count:
                    c = np.where(chunk.is_valid().to_numpy(zero_copy_only=False), c, -1)
            else:
                c = pc.fill_null(pc.index_in(chunk, value_set=self.arrow), -1).to_numpy(zero_copy_only=False)
            codes.append(np.asarray(c, dtype=np.int64))
        codes = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
        i = table.column_names.index("student_id")
        frame = table.remove_column(i).to_pandas()
        frame.insert(i, "student_id", pd.Categorical.from_codes(codes, dtype=self.dtype))
        return frame


def _read_part(filesystem, path: str, *, ids: Sequence[str] | None, contiguous: bool, columns,
               term_ids: Sequence[str] | None = None, cache: "RowGroupCache | None" = None):
    """One parquet file of a table as an Arrow table (see :func:`_read`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with filesystem.open_input_file(path) as f:
        schema = pq.read_schema(f)
        # text columns as dictionaries: the panel maps each distinct id, term or mark once
        text = [n for n in schema.names if pa.types.is_string(schema.field(n).type)
                or pa.types.is_large_string(schema.field(n).type) or pa.types.is_dictionary(schema.field(n).type)]
        pf = pq.ParquetFile(f, read_dictionary=text)
        if ids is None:
            return pf.read(columns=columns)
        lo, hi = ids[0], ids[-1]
        wanted = pa.array(list(ids), type=pa.string())
        terms = (pa.array(list(term_ids), type=pa.string())
                 if term_ids is not None and "term_id" in pf.schema_arrow.names else None)
        col = pf.schema_arrow.get_field_index("student_id")
        parts = []
        for g in range(pf.metadata.num_row_groups):
            stats = pf.metadata.row_group(g).column(col).statistics if col >= 0 else None
            known = stats is not None and stats.has_min_max
            if known and (str(stats.max) < lo or str(stats.min) > hi):
                continue
            table = (pf.read_row_group(g, columns=columns) if cache is None
                     else cache.read(pf, path, g, columns))
            if not (contiguous and known and str(stats.min) >= lo and str(stats.max) <= hi):
                table = table.filter(_member(table.column("student_id"), wanted))
            if terms is not None:
                table = table.filter(_member(table.column("term_id"), terms))
            parts.append(table)
        table = pa.concat_tables(parts) if parts else pf.schema_arrow.empty_table()
        if columns is not None:
            table = table.select(columns)
    return table


class RowGroupCache:
    """Decoded row groups kept for the next partitions run in this process (the ``stream`` engine).

    Partitions are blocks of sorted student ids, run in order: a row group
    whose ids straddle two or more blocks (a large row group, small blocks)
    would be decoded once per block, and a table not sorted by student
    (every row group overlaps every block) once per block in full, so the
    work would grow with the square of the district. Kept here, each row
    group is decoded once while it is among the ``max_bytes`` most recently
    used.
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        from collections import OrderedDict
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0

    def read(self, parquet_file, path: str, group: int, columns):
        key = (path, group, None if columns is None else tuple(columns))
        table = self._items.get(key)
        if table is not None:
            self._items.move_to_end(key)
            return table
        table = parquet_file.read_row_group(group, columns=columns)
        self._items[key] = table
        self._bytes += table.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
        return table


def _member(column, wanted):
    """Boolean mask: the rows of ``column`` (dictionary or text) whose value is in ``wanted``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):  # one test per distinct id, then a gather per row
            keep = pc.fill_null(pc.is_in(chunk.dictionary, value_set=wanted), False).to_numpy(zero_copy_only=False)
            idx = chunk.indices.to_numpy(zero_copy_only=False)
            mask = keep[np.clip(idx, 0, None)] if len(keep) else np.zeros(len(chunk), dtype=bool)
            if chunk.null_count:
                mask &= chunk.is_valid().to_numpy(zero_copy_only=False)
            chunks.append(pa.array(mask))
        else:
            chunks.append(pc.fill_null(pc.is_in(chunk, value_set=wanted), False))
    return pa.chunked_array(chunks, type=pa.bool_())


def open_for_comparisons(source: str | Path):
    """The small tables the comparisons read (students, programmes, participation ...), with the config.

    With a partitioned panel (:func:`compute_panel`), this is all of the district
    that is held in memory besides the panel itself.
    """
    from ..data.dataset import Dataset, read_dataset

    filesystem, root = _filesystem(source)
    if _is_local(filesystem):
        return read_dataset(root, tables=list(COMPARISON_TABLES))
    config = _config(filesystem, root)
    tables = {n: _read(filesystem, f"{root}/{n}.parquet") for n in COMPARISON_TABLES
              if _exists(filesystem, f"{root}/{n}.parquet")}
    return Dataset(config=config, tables=tables, path=None)


def _config(filesystem, root: str):
    import tempfile

    from ..config import load_config
    path = f"{root}/district.yml"
    if not _exists(filesystem, path):
        raise InputDataError("not a partner_analysis dataset (no district.yml)", path=root,
                             fix="Point at a DATA_DIR written by `partner-analysis import` or `demo-data`")
    with filesystem.open_input_file(path) as f, tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "district.yml"
        local.write_bytes(f.read())
        return load_config(local)


# -- partitions -------------------------------------------------------------------------------------

def plan_partitions(students: pd.DataFrame, *, n: int, by: str = "students") -> list[list[str]]:
    """Split the students into ``n`` partitions, each a sorted list of student ids.

    ``by="students"``: consecutive blocks of the sorted ids, of equal size.
    ``by="school"``: whole schools, largest first into the smallest partition
    (a school is never split, so each partition holds whole school × grade
    strata).
    """
    check_argument("partition_by", by, PARTITION_BY, key="--partition-by")
    ids = students["student_id"].astype(str)
    n = max(1, min(int(n), len(ids)))
    if by == "students":
        ordered = np.sort(ids.to_numpy(dtype=object))
        return [list(block) for block in np.array_split(ordered, n) if len(block)]
    school = students["school_id"].astype("string").fillna("?") if "school_id" in students else \
        pd.Series("?", index=students.index)
    sizes = ids.groupby(school.to_numpy(), sort=True).size().sort_values(ascending=False, kind="stable")
    bins: list[list[str]] = [[] for _ in range(min(n, len(sizes)))]
    load = np.zeros(len(bins))
    for name in sizes.index:
        k = int(np.argmin(load))
        bins[k].append(name)
        load[k] += sizes[name]
    by_school = ids.groupby(school.to_numpy(), sort=False)
    return [sorted(np.concatenate([by_school.get_group(s).to_numpy(dtype=object) for s in b]).tolist())
            for b in bins if b]


def panel_partition(source: str, ids: Sequence[str], *, config, catalog: Catalog, kpis: Sequence[str] | None,
                    tables: Sequence[str], keep_terms: Sequence[int] | None, details: bool,
                    contiguous: bool = False, cache: RowGroupCache | None = None) -> dict[str, Any]:
    """The panel of one partition of students, as plain arrays (what a Dask worker sends back).

    Parameters
    ----------
    source : str
        The DATA_DIR, a local path or a URL the worker can read.
    ids : sorted list of str
        The partition's student ids.
    tables : list of str
        The source tables the district has rows in: present (possibly empty)
        in every partition, so every partition has the district's KPIs.
    keep_terms : list of int, optional
        Term positions to send back (default all).
    details : bool
        Also send the year-to-date values and record counts.
    contiguous : bool
        ``ids`` are every student of students.parquet between the first and the
        last (a block of :func:`plan_partitions`): row groups inside that range
        are then read without a row filter.
    cache : RowGroupCache, optional
        Row groups shared with the partitions run before and after this one in
        the same process.

    Returns
    -------
    dict
        ``ids`` (the partition's students in the order of students.parquet),
        ``kpis`` (ids), ``values``/``ytd``/``n_records``/``enrolled`` (array
        of shape (students, kept terms); the first three per KPI).
    """
    from ..data.dataset import Dataset

    filesystem, root = _filesystem(source)
    ids = list(ids)
    order = [t.id for t in config.ordered_terms]
    kept = None if keep_terms is None else [order[i] for i in keep_terms]
    need = terms_needed(config, kept)  # the records the kept terms depend on
    coder = _IdCodes(ids)
    students = _read(filesystem, f"{root}/students.parquet", ids=ids, contiguous=contiguous, columns=["student_id"],
                     coder=coder, cache=cache)
    frames = {"students": students}
    for name in tables:
        frames[name] = _read(filesystem, f"{root}/{name}.parquet", ids=ids, contiguous=contiguous, term_ids=need,
                             coder=coder, cache=cache,
                             arrow=name == "attendance_daily")  # the panel aggregates it from Arrow
    # with kept terms, compute_kpis returns just their columns (compact), in keep_terms' (ascending) order
    arr = compute_kpis(Dataset(config=config, tables=frames, path=None), catalog=catalog, kpis=kpis, keep_empty=True,
                       ytd=details, terms=kept, compact=True)
    del frames
    out = {"ids": np.asarray(arr.student_ids, dtype=object), "kpis": list(arr.values),
           "values": dict(arr.values), "enrolled": arr.enrolled}
    if details:
        out["ytd"] = dict(arr.ytd)
        out["n_records"] = dict(arr.n_records)
    return out


class _InProcess(Executor):
    """Runs each partition when its result is asked for: one partition in memory at a time."""

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return (fn(*args) for args in zip(*iterables))


@contextmanager
def _executor(engine: Engine, client=None):
    if engine.executor != "dask":
        yield _InProcess(), 1
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ConfigError("--executor dask needs dask.distributed", key="--executor",
                          fix="pip install 'partner_analysis[dask]'") from err

    if client is not None:
        yield client.get_executor(pure=False), max(1, len(client.nthreads()))
        return
    if engine.scheduler is not None:
        with Client(engine.scheduler) as c:
            yield c.get_executor(pure=False), max(1, len(c.nthreads()))
        return
    with LocalCluster(n_workers=engine.workers, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, Client(cluster) as c:
        yield c.get_executor(pure=False), engine.workers


def compute_panel(source: str | Path, *, engine: Engine | None = None, catalog: Catalog | None = None,
                  kpis: Iterable[str] | None = None, terms: Iterable[str] | None = None, details: bool = True,
                  client=None) -> tuple[Any, PanelArrays]:
    """The district's dataset (for the comparisons) and its KPI panel, computed by ``engine``.

    Parameters
    ----------
    source : path or URL
        The DATA_DIR. With ``dask`` on a real cluster, a location every worker
        reads (shared storage or an object-storage URL).
    engine : Engine, optional
        Default: in memory.
    catalog, kpis
        As in :func:`partner_analysis.kpi.panel.compute_kpis`.
    terms : list of str, optional
        Terms whose values are kept (the others are missing in the result):
        the partitioned engines then hold and send only those columns. Default
        all; the comparisons of a term need the term, the previous term and
        the same term last year.
    details : bool
        Keep year-to-date values and record counts (needed by
        :func:`partner_analysis.kpi.panel.build_panel`, not by the comparisons);
        without them the result's ``ytd`` and ``n_records`` are empty.
    client : distributed.Client, optional
        An existing client (``dask`` only), used instead of ``engine.scheduler``.

    Returns
    -------
    (Dataset, PanelArrays)
        The panel's students are those of ``students.parquet``, in its order,
        whatever the engine.
    """
    engine = engine or Engine()
    if engine.executor == "memory" and "://" in str(source):
        raise ConfigError(f"the memory engine reads a local DATA_DIR, not {source}", key="--executor",
                          fix="Use --executor stream or --executor dask for a URL, or copy the folder here")
    if engine.executor == "memory":
        terms = None if terms is None else list(terms)
        with ThreadPoolExecutor(max_workers=1) as pool:  # daily attendance counted while the tables are read
            daily = count_daily_early(pool, source, terms=terms)
            dataset = read_dataset_for_kpis(source, terms=terms)
            arrays = compute_kpis(dataset, catalog=catalog, kpis=kpis, ytd=details, terms=terms, daily=daily)
        if not details:  # as the partitioned engines send them (compute_kpis kept ``terms`` alone already)
            arrays = replace(arrays, ytd={}, n_records={})
        return dataset, arrays
    dataset = open_for_comparisons(source)
    config = dataset.config
    if "students" not in dataset:
        raise InputDataError("the dataset has no students table", path=source, fix="Import students.parquet first")
    index = pd.Index(dataset["students"]["student_id"].astype(str), name="student_id")
    if index.has_duplicates:
        raise InputDataError("students.parquet repeats a student_id", column="student_id",
                             value=index[index.duplicated()][0], fix="Re-run validate/import")
    if catalog is None:
        catalog = catalog_for(dataset)
    kpis = list(kpis) if kpis is not None else None
    order = [t.id for t in config.ordered_terms]
    keep = None if terms is None else sorted({order.index(config.term(t).id) for t in terms})
    filesystem, root = _filesystem(source)
    present = [n for n in SOURCE_TABLES if _exists(filesystem, f"{root}/{n}.parquet")
               and _row_count(filesystem, f"{root}/{n}.parquet") > 0]
    daily_rows = _row_count(filesystem, f"{root}/attendance_daily.parquet") if "attendance_daily" in present else 0
    with _executor(engine, client) as (pool, n_workers):
        n = engine.partitions or max(math.ceil(daily_rows / engine.rows_per_partition),
                                     2 * n_workers if engine.executor == "dask" else 1)
        parts = plan_partitions(dataset["students"], n=n, by=engine.partition_by)
        task = _Task(root if _is_local(filesystem) else str(source), config, catalog,
                     kpis, tuple(present), None if keep is None else tuple(keep), details,
                     contiguous=engine.partition_by == "students",
                     cache=RowGroupCache() if engine.executor == "stream" else None)
        arrays = _combine(pool.map(task, parts), index, order, config, catalog, keep, details)
    return dataset, arrays


@dataclass(frozen=True)
class _Task:
    """One partition's work, picklable for Dask workers."""

    source: str
    config: Any
    catalog: Catalog
    kpis: Sequence[str] | None
    tables: tuple[str, ...]
    keep_terms: tuple[int, ...] | None
    details: bool

    contiguous: bool
    #: row groups kept between partitions: the stream engine's one process only (not sent to Dask workers)
    cache: RowGroupCache | None = None

    def __call__(self, ids):
        return panel_partition(self.source, ids, config=self.config, catalog=self.catalog, kpis=self.kpis,
                               tables=self.tables, keep_terms=self.keep_terms, details=self.details,
                               contiguous=self.contiguous, cache=self.cache)


def _combine(results, index: pd.Index, order, config, catalog: Catalog, keep, details: bool) -> PanelArrays:
    """Scatter each partition's rows into the district's arrays (no arithmetic: every value is copied)."""
    S, T = len(index), len(order)
    cols = list(range(T)) if keep is None else list(keep)
    values: dict[str, np.ndarray] = {}
    ytd: dict[str, np.ndarray] = {}
    nrec: dict[str, np.ndarray] = {}
    enrolled = np.zeros((S, T), dtype=bool)
    kpi_ids = None
    for part in results:
        rows = index.get_indexer(pd.Index(part["ids"]))
        if kpi_ids is None:
            kpi_ids = part["kpis"]
            for k in kpi_ids:
                values[k] = np.full((S, T), np.nan)
                if details:
                    ytd[k] = np.full((S, T), np.nan)
                    nrec[k] = np.zeros((S, T))
        enrolled[np.ix_(rows, cols)] = part["enrolled"]
        for k in kpi_ids:
            values[k][np.ix_(rows, cols)] = part["values"][k]
            if details:
                ytd[k][np.ix_(rows, cols)] = part["ytd"][k]
                nrec[k][np.ix_(rows, cols)] = part["n_records"][k]
        del part
    kpi_ids = kpi_ids or []
    ordered = config.ordered_terms
    prior = [order.index(last.id) if (last := config.same_term_last_year(t.id)) is not None else -1 for t in ordered]
    return PanelArrays(student_ids=index, term_ids=tuple(order), catalog=catalog.select(kpi_ids), values=values,
                       ytd=ytd, n_records=nrec, enrolled=enrolled, prior_term=tuple(prior),
                       prev_term=tuple(i - 1 for i in range(T)))


def comparison_terms(config, term: str) -> list[str]:
    """The terms the comparisons of ``term`` read: itself, the previous term, the same term last year."""
    out = [config.term(term).id]
    for t in (config.previous_term(term), config.same_term_last_year(term)):
        if t is not None:
            out.append(t.id)
    return out
