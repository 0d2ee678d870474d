"""Streaming import: a large CSV export validated chunk by chunk and written to partitioned parquet.

:func:`~partner_analysis.data.load.import_source` hands a table to :func:`stream_table` when one of
its CSV files is at least ``stream_above`` bytes (:data:`STREAM_ABOVE` by default) and no other
table refers to it (daily attendance, course grades, participation, ...: the tables that grow with
students x days). The file is never held in memory: each block of records is mapped through the
column map, cast and checked with the same code as the whole-file import
(:func:`~partner_analysis.data.readers.map_source_frame`,
:func:`~partner_analysis.data.validate.check_table`, references against the tables already read),
and written as row groups of a parquet *dataset*: ``DATA_DIR/<table>.parquet/part-NNNNN.parquet``,
one file per hash bucket of the table's first key column (the student). ``pandas.read_parquet``,
``pyarrow.dataset`` and DuckDB (``read_parquet('<table>.parquet/*.parquet')``) read the folder as
one table.

Reader: pyarrow's streaming CSV reader (``pyarrow.csv.open_csv``), not ``pandas.read_csv(chunksize=)``.
Both keep the row numbers of a whole-file read (blank records are kept as empty rows, so a record's
position is its spreadsheet row minus 2, and a quoted value spanning lines is one record); pyarrow
parses in C++ into Arrow buffers, three to five times faster than pandas' chunked reader (measured,
parse and conversion to pandas, on the attendance file of ``benchmarks/scale_import.py``), so parsing
stays a small part of the import's time. When pyarrow refuses a line that pandas accepts (pyarrow is
stricter about stray quotes), the rest of the file is read with pandas in chunks; when pandas refuses
it too, its error is translated as the whole-file import translates it
(:func:`~partner_analysis.data.readers.diagnose_csv`), so the message names the same row.

Each distinct value once (:func:`per_value_chunk`): the parser hands every column of a block as a
dictionary (its distinct texts once, an integer code per row). A daily attendance file has a few
hundred dates, a handful of status codes and a few thousand students per block, so the whole-file
import's code maps, casts and checks those few thousand texts instead of a million rows, and the
typed values are gathered to the rows through the codes, in Arrow. A block whose values hold a
problem, a blank record or a key repeated inside it goes through the row-wise code instead, so
every message (row numbers included) and every part written is the row-wise import's. The parser
runs one block ahead in a background thread (it releases the GIL while the block before is checked).

Keys across chunks: rows of one student land in one bucket, so after the pass each bucket (a
fraction of the file) is checked for repeated keys. Exact repeats are dropped, as the whole-file
import drops them; a key repeated with different values is an error naming both rows (found by a
second pass over the file, only then).

Atomicity: everything is written into a staging folder that
:func:`~partner_analysis.data.dataset.write_dataset` moves into place only when every check passed.
"""
from __future__ import annotations

import io
import math
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..config import DistrictConfig
from ..exceptions import ConfigError, InputDataError
from .colmap import ColumnMap, SourceSpec
from .dataset import coerce_table
from .readers import check_source_file, clean_cells, diagnose_csv, map_source_frame, source_path
from .schema import TABLES
from .validate import (CROSS_COLUMN_RULES, ImportValidationError, ProblemList, TableFrame, check_references_of,
                       check_table, check_values)

__all__ = ["STREAM_ABOVE", "BLOCK_BYTES", "BUCKET_BYTES", "StreamOptions", "StreamedTable", "streamed_tables", "stream_table",
           "per_value_chunk", "storage_frame"]

#: A CSV source at least this large (bytes) is imported in chunks.
STREAM_ABOVE = 64 * 2**20
#: Bytes of CSV parsed per chunk.
BLOCK_BYTES = 16 * 2**20
#: About this many bytes of CSV go into one output part (one hash bucket).
BUCKET_BYTES = 64 * 2**20
#: Most parts one table is written to.
MAX_BUCKETS = 512  # open parquet writers at most (one file descriptor each)


@dataclass(frozen=True)
class StreamOptions:
    """When and how the import reads a table in chunks.

    Parameters
    ----------
    above : int
        Stream a table when one of its CSV files has at least this many bytes (0: every table that
        qualifies, see :func:`streamed_tables`).
    block_bytes : int
        Bytes of CSV parsed, checked and written per chunk (peak memory grows with it).
    bucket_bytes : int
        About this many bytes of CSV per output part; each part is checked for repeated keys on its
        own, so peak memory of that check grows with it.
    per_value : bool
        Check each distinct value of a chunk once and gather the results to its rows (see
        :func:`stream_table`); False sends every row through the whole-file import's code. Both
        write the same parts and report the same problems.
    """

    above: int = STREAM_ABOVE
    block_bytes: int = BLOCK_BYTES
    bucket_bytes: int = BUCKET_BYTES
    per_value: bool = True

    def __post_init__(self):
        if self.above < 0 or self.block_bytes < 1 or self.bucket_bytes < 1:
            raise ConfigError("stream options must be positive sizes in bytes", key="stream",
                              value=(self.above, self.block_bytes, self.bucket_bytes))


def _referenced_tables() -> set[str]:
    return {ref for spec in TABLES.values() for ref, _ in spec.references.values()}


def streamed_tables(map_: ColumnMap, source: Path, options: StreamOptions | None) -> set[str]:
    """Tables of ``map_`` to import in chunks.

    A table qualifies when one of its sources is a CSV file of at least ``options.above`` bytes, no
    other table refers to it, it has no identity columns (possible-duplicate detection needs the
    whole table) and every one of its sources is a CSV file with a one-character delimiter and no
    generated ``row_id``. ``options=None`` streams nothing.
    """
    if options is None:
        return set()
    stream_above = options.above
    by_table: dict[str, list[SourceSpec]] = {}
    for src in map_.sources:
        by_table.setdefault(src.table, []).append(src)
    referenced = _referenced_tables()
    out = set()
    for name, sources in by_table.items():
        if name in referenced or TABLES[name].identity or any(s.identity for s in sources):
            continue
        if not all(s.format == "csv" and s.rows is None and s.file and len(s.delimiter or "") == 1
                   and not any("row_id" in rule for rule in s.derive.values()) for s in sources):
            continue
        sizes = [source_path(s, source).stat().st_size for s in sources if source_path(s, source).is_file()]
        if any(size >= stream_above for size in sizes):
            out.add(name)
    return out


def storage_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A validated frame as stored: locating columns dropped, extras as text, schema storage types."""
    frame = frame.drop(columns=[c for c in ("_src", "_row") if c in frame.columns])
    extras = [c for c in frame.columns if c not in TABLES[name].column_names]
    for c in extras:
        frame[c] = frame[c].astype("string")
    return coerce_table(name, frame)


@dataclass
class StreamedTable:
    """A table imported in chunks: its staged parquet folder and counts."""

    name: str
    path: Path
    rows: int
    columns: list[str]
    dropped: int = 0
    files: list[str] = field(default_factory=list)


def _arrow_encoding(encoding: str) -> str:
    low = encoding.lower().replace("_", "-")
    return "utf8" if low in ("utf-8", "utf8", "utf-8-sig") else encoding


def _header(fpath: Path, src: SourceSpec) -> list[str]:
    opts = pacsv.ReadOptions(block_size=1 << 16, encoding=_arrow_encoding(src.encoding))
    with pacsv.open_csv(fpath, read_options=opts,
                        parse_options=pacsv.ParseOptions(delimiter=src.delimiter, newlines_in_values=True,
                                                         ignore_empty_lines=False)) as reader:
        return list(reader.schema.names)


def _blocks(src: SourceSpec, fpath: Path, shown: str, block_bytes: int) -> Iterator[pd.DataFrame]:
    """The file's records as frames of text cells, in order, blank records kept."""
    for block in _batches(src, fpath, shown, block_bytes):
        yield _text_frame(block)


def _text_frame(block: pa.RecordBatch | pd.DataFrame) -> pd.DataFrame:
    """A block of :func:`_batches` as a frame of text cells (dictionary columns decoded)."""
    if isinstance(block, pd.DataFrame):
        return block
    frame = pa.table([pc.cast(c, pa.string()) for c in block.columns], names=block.schema.names).to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    return frame  # empty cells become missing in map_source_frame, as in a whole-file read


def _batches(src: SourceSpec, fpath: Path, shown: str, block_bytes: int) -> Iterator[pa.RecordBatch | pd.DataFrame]:
    """The file's records in order, blank records kept: Arrow batches of dictionary-encoded text.

    pyarrow parses, every column as a dictionary of the block's distinct texts (each value once,
    row positions as integer codes); if it refuses a line that pandas' parser accepts (pyarrow is
    stricter about quotes), the rest of the file is read with pandas in chunks (frames of text),
    so the result (or the error) is the whole-file import's.
    """
    check_source_file(src, fpath, shown)
    done = 0
    names: list[str] = []
    try:
        names = _header(fpath, src)
        text = pa.dictionary(pa.int32(), pa.string())
        # one thread parses, one block ahead (_prefetched), reading a few blocks ahead (_PacedFile)
        with _PacedFile(fpath, block_bytes) as paced:
            reader = pacsv.open_csv(
                paced, read_options=pacsv.ReadOptions(block_size=block_bytes,
                                                      encoding=_arrow_encoding(src.encoding), use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=src.delimiter, newlines_in_values=True,
                                                 ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={n: text for n in names},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
            with reader:
                for batch in _prefetched(reader, on_item=paced.advance, on_stop=paced.release):
                    done += batch.num_rows
                    yield batch
    except (pa.ArrowException, UnicodeDecodeError):
        yield from _pandas_blocks(src, fpath, shown, skip=done, rows=max(block_bytes // 64, 1000))
        return
    if not done:
        yield pd.DataFrame({n: pd.Series([], dtype="object") for n in names})


class _PacedFile(io.RawIOBase):
    """A file that lets its reader get at most ``ahead`` blocks beyond the blocks it parsed.

    pyarrow's streaming CSV reader reads its input on an I/O thread up to 32 blocks ahead of the
    parser, so without this the memory of an import would grow with the file up to 32 blocks
    (measured: the whole 0.33 GB attendance file of ``benchmarks/scale_import.py`` at 80,000
    students held at once). A read beyond the limit waits until :meth:`advance` (a block parsed)
    or :meth:`release`; after ``patience`` seconds without either it reads on (memory, never a
    hang, is the price of a block the pacing misjudged).
    """

    def __init__(self, path: Path, block_bytes: int, ahead: int = 3, patience: float = 30.0):
        super().__init__()
        self._file = open(path, "rb")
        self._block, self._ahead, self._patience = block_bytes, ahead, patience
        self._parsed = 0
        self._read = 0
        self._free = False
        self._turn = threading.Condition()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        with self._turn:
            self._turn.wait_for(lambda: self._free or self._read < (self._parsed + self._ahead) * self._block,
                                timeout=self._patience)
        n = self._file.readinto(buffer)
        self._read += n or 0
        return n

    def advance(self, *_) -> None:
        """One more block parsed: the reader may read one block further."""
        with self._turn:
            self._parsed += 1
            self._turn.notify_all()

    def release(self) -> None:
        """No more pacing (the caller stops reading: nothing may wait on it)."""
        with self._turn:
            self._free = True
            self._turn.notify_all()

    def close(self) -> None:
        self.release()
        self._file.close()
        super().close()


def _prefetched(items: Iterator, depth: int = 1, *, on_item=None, on_stop=None) -> Iterator:
    """The items of ``items``, produced by a background thread up to ``depth`` ahead of the caller.

    pyarrow parses the next block (releasing the GIL) while the caller checks and writes this one.
    An exception of ``items`` is raised here, in the caller's thread, in its place in the order.
    ``on_item(item)`` runs in the background thread as each item arrives, ``on_stop()`` when the
    caller stops (before the thread is joined).
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if on_item is not None:
                    on_item(item)
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as err:  # handed to the caller's thread
            put((None, err))

    worker = threading.Thread(target=produce, name="csv-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, err = q.get()
            if err is not None:
                raise err
            if item is end:
                return
            yield item
    finally:
        stop.set()
        if on_stop is not None:
            on_stop()
        worker.join()


def _pandas_blocks(src: SourceSpec, fpath: Path, shown: str, *, skip: int, rows: int) -> Iterator[pd.DataFrame]:
    """The records after the first ``skip``, read by pandas in chunks (errors translated as a whole-file read)."""
    diagnose_csv(src, fpath, shown)  # raises the whole-file reader's message if pandas refuses the file too
    seen = 0
    with pd.read_csv(fpath, sep=src.delimiter, encoding="utf-8-sig" if _arrow_encoding(src.encoding) == "utf8"
                     else src.encoding, dtype=str, keep_default_na=False, na_values=[""],
                     skip_blank_lines=False, engine="c", chunksize=rows) as reader:
        for frame in reader:
            start = seen
            seen += len(frame)
            if seen <= skip:
                continue
            yield frame.iloc[max(skip - start, 0):]


def _bucket_of(keys: pd.Series, n: int) -> np.ndarray:
    """The hash bucket (of ``n``) of each key value."""
    return (pd.util.hash_array(keys.astype("object").to_numpy()) % np.uint64(n)).astype(np.uint16)


class _Buckets:
    """Parquet writers, one per hash bucket of the first key column.

    The rows of a chunk are gathered and written by one background thread (Arrow and parquet
    release the GIL), in the order the chunks came, while the caller checks the next chunk; at
    most ``depth`` chunks wait. A write error is raised by the next call here.
    """

    def __init__(self, folder: Path, n: int, key: str, depth: int = 2):
        self.folder, self.n, self.key = folder, n, key
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.schema: pa.Schema | None = None
        self.rows = 0
        #: per chunk written, its distinct values of the key column (None: not text, not tracked)
        self.firsts: list[pa.Array] | None = []
        #: per part, the last key written, and the parts whose rows are not in key order (see _sort_parts)
        self._last_key: dict[int, object] = {}
        self._out_of_order: set[int] = set()
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    def path(self, b: int) -> Path:
        return self.folder / f"part-{b:05d}.parquet"

    def write(self, frame: pd.DataFrame) -> None:
        self.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                         _bucket_of(frame[self.key], self.n) if len(frame) else np.zeros(0, np.uint16))

    def write_table(self, table: pa.Table, bucket: np.ndarray, gather: list[np.ndarray | None] | None = None) -> None:
        """Append a chunk as stored, each row to the part of its ``bucket``.

        ``gather`` None: ``table`` is the chunk. Otherwise ``table`` holds the chunk's distinct
        values (:func:`per_value_chunk`) and ``gather[i]`` the row of ``table`` holding each chunk
        row's value of column ``i`` (None: row 0); each part's rows are gathered once, in Arrow.
        """
        self._raise()
        if self.schema is None:
            self.schema = table.schema
        else:
            table = table.cast(self.schema)
        n = len(bucket) if gather is not None else len(table)
        self.rows += n
        if not n:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="parquet-writer", daemon=True)
            self._worker.start()
        self._jobs.put((table, bucket, gather))

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is None:
                try:
                    self._write_now(*job)
                except BaseException as err:  # raised in the caller's thread by its next call
                    self._error = err

    def _write_now(self, table: pa.Table, bucket: np.ndarray, gather: list[np.ndarray | None] | None) -> None:
        if self.firsts is not None:
            column = table.column(self.key)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                self.firsts.append(pc.unique(column))
            else:
                self.firsts = None
        order = np.argsort(bucket, kind="stable")  # a radix sort of the small bucket numbers
        sorted_b = bucket[order]
        starts = np.flatnonzero(np.r_[True, sorted_b[1:] != sorted_b[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for s, e in zip(starts, ends):
            b = int(sorted_b[s])
            w = self.writers.get(b)
            if w is None:
                w = self.writers[b] = pq.ParquetWriter(self.path(b), self.schema)
            rows = order[s:e]
            if gather is None:
                part = table.take(pa.array(rows))
            else:
                part = pa.Table.from_arrays(
                    [col.take(pa.array(np.zeros(len(rows), np.int32) if at is None else at[rows]))
                     for col, at in zip(table.columns, gather)], schema=table.schema)
            w.write_table(part)
            if b not in self._out_of_order:
                self._track_order(b, part.column(self.key))

    def _track_order(self, b: int, keys: pa.ChunkedArray) -> None:
        """Note whether part ``b`` is still in key order after these rows (checked here, in the writer thread)."""
        keys = keys.combine_chunks()
        if pa.types.is_dictionary(keys.type):
            keys = keys.cast(keys.type.value_type)
        if not len(keys):
            return
        last = self._last_key.get(b)
        behind = (last is not None and pc.less(keys[0], last).as_py()) or (
            len(keys) > 1 and pc.any(pc.less(keys.slice(1), keys.slice(0, len(keys) - 1))).as_py())
        if behind:
            self._out_of_order.add(b)
        self._last_key[b] = keys[len(keys) - 1]

    def out_of_order(self) -> list[Path]:
        """The parts whose rows were not written in key order (after :meth:`close`)."""
        return [self.path(b) for b in sorted(self._out_of_order)]

    def abandon(self) -> None:
        """Stop writing (the caller raises): the writer thread ends, the files are closed, errors dropped."""
        try:
            self.finish()
        except Exception:
            pass
        for w in self.writers.values():
            w.close()
        self.writers = {}

    def finish(self) -> None:
        """Wait until every chunk is written (the writer thread ends); raise its error, if any."""
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
            self._worker = None
        self._raise()

    def shared(self) -> pa.Array | None:
        """Key values written by more than one chunk (None: not known, any may be); after :meth:`close`.

        Inside a chunk no key repeats (the row-wise check drops or reports it, the per-value path
        takes no chunk with one), so only the rows of these values can repeat a key.
        """
        if self.firsts is None:
            return None
        if not self.firsts:
            return pa.array([], self.schema.field(self.key).type if self.schema is not None else pa.string())
        counts = pc.value_counts(pa.concat_arrays(self.firsts))
        return counts.field("values").filter(pc.greater(counts.field("counts"), 1))

    def close(self, empty: pd.DataFrame) -> list[Path]:
        try:
            self.finish()
        finally:
            for w in self.writers.values():
                w.close()
        if not self.writers:  # no rows at all: one empty part keeps the columns
            table = pa.Table.from_pandas(empty, preserve_index=False)
            if self.schema is not None:
                table = table.cast(self.schema)
            pq.write_table(table, self.path(0))
            return [self.path(0)]
        return [self.path(b) for b in sorted(self.writers)]


def stream_table(name: str, sources: list[SourceSpec], source: Path, config: DistrictConfig,
                 tables: Mapping[str, TableFrame], errors: ProblemList, staging: Path, *,
                 mapped=(), options: StreamOptions = StreamOptions()) -> StreamedTable | None:
    """Validate the sources of one table chunk by chunk and write them to ``staging/<name>.parquet/``.

    Parameters
    ----------
    name : str
        Table (see :func:`streamed_tables`).
    sources : list of SourceSpec
        The map's entries for the table (CSV files), in map order.
    source : path
        SOURCE folder of the import.
    config : DistrictConfig
    tables : mapping
        Tables already read and checked (the references' targets).
    errors : ProblemList
        Problems are added here (the caller raises them). Nothing is written once it holds one.
    staging : path
        Folder to write into (on the DATA_DIR's file system; the caller moves or deletes it).
    mapped : collection of str
        Every table the map names (a reference to one of them that failed is not reported again).
    options : StreamOptions
        Chunk and part sizes.

    Returns
    -------
    StreamedTable or None
        None when no source of the table could be read (the errors say why).
    """
    spec = TABLES[name]
    folder = staging / f"{name}.parquet"
    folder.mkdir(parents=True, exist_ok=False)
    total = sum(source_path(s, source).stat().st_size for s in sources if source_path(s, source).is_file())
    buckets = _Buckets(folder, max(1, min(MAX_BUCKETS, math.ceil(total / options.bucket_bytes))), spec.key[0])
    files: list[str] = []
    sheets: list = []
    headers: list[dict] = []
    date_formats: list = []
    dropped = 0
    read_any = False
    refs_checked_missing = False
    empty: pd.DataFrame | None = None
    broken = False
    try:
        for src in sources:
            if broken:
                break
            if [c for c in spec.required_columns if c not in src.canonical_columns] and not src.auto_columns:
                continue  # reported by the map check
            fpath = source_path(src, source)
            shown = str(fpath)
            code = len(files)
            first_row = 2
            registered = False
            registry = (files, sheets, headers, date_formats)
            entry = (shown, None, {**src.columns, **src.extra}, src.date_format)  # this file's line in each
            per_value = options.per_value and name not in CROSS_COLUMN_RULES and not src.derive and not src.where
            targets = {k: v for k, v in tables.items() if k != name}
            try:
                for block in _batches(src, fpath, shown, options.block_bytes):
                    if per_value and isinstance(block, pa.RecordBatch):
                        located = tuple(kept if registered else kept + [item] for kept, item in zip(registry, entry))
                        fast = per_value_chunk(name, block, src, code, shown, fpath, config, located, targets, mapped,
                                               buckets.n)
                        if fast is not None:
                            first_row += block.num_rows
                            if not registered:
                                for kept, item in zip(registry, entry):
                                    kept.append(item)
                                registered = True
                            read_any = True
                            small, gather, bucket, stored = fast
                            if empty is None:
                                empty = stored.iloc[:0]
                            if not errors.total:
                                buckets.write_table(small, bucket, gather)
                            continue
                    raw = _text_frame(block)
                    frame = map_source_frame(raw, src, code, shown, config.grade_scale, first_row=first_row,
                                             fpath=fpath)
                    first_row += len(raw)
                    if not registered:
                        for kept, item in zip(registry, entry):
                            kept.append(item)
                        registered = True
                    read_any = True
                    t = TableFrame(name, frame, files, sheets, headers, date_formats=date_formats)
                    check_table(t, config, errors, drop_exact=True)
                    if t.frame is None:  # a required column is missing: said once, for the whole table
                        broken = True
                        break
                    missing_target = any(ref not in targets for ref, _ in spec.references.values())
                    if not (missing_target and refs_checked_missing):
                        check_references_of(t, targets, errors, mapped=mapped)
                    refs_checked_missing = refs_checked_missing or missing_target
                    dropped += t.dropped
                    clean = storage_frame(name, t.frame)
                    if empty is None:
                        empty = clean.iloc[:0]
                    if not errors.total:
                        buckets.write(clean)
            except ImportValidationError as err:
                for e in err.errors:
                    errors.add(e)
            except InputDataError as err:
                errors.add(err)
    except BaseException:  # not a problem of the input: stop the writer thread, then raise
        buckets.abandon()
        raise
    if not read_any:
        try:
            buckets.finish()
        finally:
            for w in buckets.writers.values():
                w.close()
        shutil.rmtree(folder, ignore_errors=True)
        return None
    parts = buckets.close(empty if empty is not None else pd.DataFrame())
    rows = buckets.rows
    if not errors.total:
        extra_dropped, conflicts = _repeated_keys(parts, spec.key, buckets.shared())
        if conflicts is not None:
            _report_conflicts(name, sources, source, config, conflicts, errors, options.block_bytes)
        dropped += extra_dropped
        rows -= extra_dropped
        _sort_parts(buckets.out_of_order(), spec.key[0])
    return StreamedTable(name=name, path=folder, rows=rows, columns=list(buckets.schema.names if buckets.schema
                                                                        else (empty.columns if empty is not None
                                                                              else [])),
                         dropped=dropped, files=files)


def per_value_chunk(name: str, batch: pa.RecordBatch, src: SourceSpec, code: int, shown: str, fpath: Path,
                    config: DistrictConfig, located: tuple[list, list, list, list],
                    targets: Mapping[str, TableFrame], mapped, n_buckets: int
                    ) -> tuple[pa.Table, list[np.ndarray | None], np.ndarray, pd.DataFrame] | None:
    """One chunk mapped, checked and cast a distinct value at a time; None when it needs the row-wise path.

    Each column of ``batch`` holds its block's distinct texts once (a dictionary) and a code per
    row. The distinct texts of all columns, side by side (a shorter list repeated), form a small
    frame that goes through the whole-file import's code (:func:`map_source_frame`,
    :func:`check_values`, :func:`check_references_of`): every value of the chunk is in it, so
    when it passes, every cell of the chunk passes, and each typed value is gathered to its rows
    through the codes. Whatever depends on a whole row is decided here only when it cannot occur:
    a blank record (every cell empty), a key repeated inside the chunk, a rule comparing two
    columns (tables in :data:`CROSS_COLUMN_RULES` never come here). Otherwise, and whenever the
    small frame holds a problem, the chunk goes through the row-wise path, which names every
    problem with its row.

    Parameters
    ----------
    name : str
        Table.
    batch : pyarrow.RecordBatch
        One block of the file as :func:`_batches` reads it (every column a dictionary of text).
    src, code, shown, fpath :
        The source entry, its number among the table's sources, its file as messages name it, its path.
    config : DistrictConfig
    located : tuple of lists
        Files, sheets, headers and date formats of the table's sources so far, this one included.
    targets : mapping
        Tables the references point to.
    mapped : collection of str
        Every table the map names.
    n_buckets : int
        Hash buckets of the output.

    Returns
    -------
    (table, gather, bucket, stored) or None
        The small frame's values as :func:`storage_frame` + ``pyarrow.Table.from_pandas`` store
        them; per column of it, the row holding each chunk row's value (None: a constant, row 0);
        the hash bucket of each chunk row; the small frame as stored (its empty slice keeps the
        columns). Gathered (``_Buckets.write_table``), they are the chunk as the row-wise path
        stores it.
    """
    n = batch.num_rows
    if n == 0:
        return None
    heads = [str(h) for h in batch.schema.names]
    dicts = [c.dictionary for c in batch.columns]
    codes = [c.indices.to_numpy(zero_copy_only=False) for c in batch.columns]
    sizes = [len(d) for d in dicts]
    # the small frame holds the columns the entry maps; the others (a comment, say) only decide blank records
    used = set(src.columns.values()) | set(src.extra.values())
    if src.auto_columns:
        used |= set(TABLES[name].column_names)
    read = [i for i, h in enumerate(heads) if h in used]
    if not read:
        return None
    width = max(sizes[i] for i in read)
    cycle = np.arange(width)
    synth = pd.DataFrame({heads[i]: dicts[i].take(pa.array(cycle % sizes[i])).to_pandas() for i in read})
    synth.columns = [heads[i] for i in read]
    try:
        synth = clean_cells(synth, src)
        empty_values = [synth[h].isna().to_numpy()[:k] if i in read else
                        clean_cells(pd.DataFrame({h: dicts[i].to_pandas()}), src)[h].isna().to_numpy()
                        for i, (h, k) in enumerate(zip(heads, sizes))]
        if all(e.any() for e in empty_values):  # a record may be blank: the row-wise path drops it
            blank = np.ones(n, bool)
            for e, c in zip(empty_values, codes):
                blank &= e[c]
            if blank.any():
                return None
        frame = map_source_frame(synth, src, code, shown, config.grade_scale, fpath=fpath)
    except InputDataError:
        return None
    if len(frame) != width:
        return None
    files, sheets, headers, date_formats = located
    probe = ProblemList()
    t = TableFrame(name, frame, files, sheets, headers, date_formats=date_formats)
    check_values(t, config, probe)
    if t.frame is None or probe.total:
        return None
    check_references_of(t, targets, probe, mapped=mapped)
    if probe.total:
        return None
    stored = storage_frame(name, t.frame)
    # the row -> small-frame position of each stored column: the code of its header, or 0 (a constant)
    names = TABLES[name].column_names
    header = {**src.columns, **src.extra}
    if src.auto_columns:
        header = {c: c for c in heads if c in names and c not in src.constants and c not in src.derive}
    column_of = {h: i for i, h in enumerate(heads)}
    position: dict[str, np.ndarray | None] = {}
    for c in stored.columns:
        if c in src.constants:
            position[c] = None
        elif c in header and header[c] in column_of:
            position[c] = codes[column_of[header[c]]]
        else:
            return None
    key = TABLES[name].key
    combined = np.zeros(n, dtype=np.int64)
    room = 1
    for k in key:  # a key repeated inside the chunk: the row-wise path drops or reports it
        pos = position[k]
        if pos is None:
            continue
        values = stored[k].iloc[:sizes[column_of[header[k]]]]
        kcodes, uniques = pd.factorize(values)
        room *= len(uniques) + 1
        if room > 2**62:
            return None
        combined = combined * (len(uniques) + 1) + (kcodes[pos] + 1)
    if room <= max(4 * n, 1 << 20):
        if np.bincount(combined, minlength=0).max() > 1:
            return None
    else:
        ordered = np.sort(combined)
        if (ordered[1:] == ordered[:-1]).any():
            return None
    first = key[0]
    hashed = _bucket_of(stored[first], n_buckets)
    bucket = np.full(n, hashed[0]) if position[first] is None else hashed[position[first]]
    return (pa.Table.from_pandas(stored, preserve_index=False), [position[c] for c in stored.columns], bucket,
            stored)


_DAY_NS = 86_400 * 10**9


def _key_codes(col: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """An integer per value of one key column (equal values, equal codes; 0 = missing) and the count of codes.

    Dictionary columns (text read as parquet dictionaries) use their unified dictionary, dates
    at midnight their day number; anything else is dictionary-encoded.
    """
    if pa.types.is_dictionary(col.type):
        col = col.unify_dictionaries()
        card = len(col.chunk(0).dictionary) if col.num_chunks else 0
        codes = [pc.fill_null(pc.add(c.indices.cast(pa.int64()), 1), 0).to_numpy() for c in col.chunks]
        return (np.concatenate(codes) if codes else np.zeros(0, np.int64)), card + 1
    if pa.types.is_timestamp(col.type) and col.null_count == 0 and len(col):
        ns = col.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy() if col.num_chunks else np.zeros(0, np.int64)
        if not (ns % _DAY_NS).any():
            day = ns // _DAY_NS
            low = int(day.min())
            return day - low + 1, int(day.max()) - low + 2
    enc = pc.dictionary_encode(col.combine_chunks())
    return pc.fill_null(pc.add(enc.indices.cast(pa.int64()), 1), 0).to_numpy(), len(enc.dictionary) + 1


def _has_repeats(keys: pa.Table) -> bool:
    """Whether a row of ``keys`` repeats: each column's codes (:func:`_key_codes`) combined into one integer."""
    if len(keys) < 2:
        return False
    combined = np.zeros(len(keys), dtype=np.int64)
    room = 1
    for col in keys.columns:
        codes, card = _key_codes(col)
        room *= card
        if room > 2**62:  # too many combinations for one integer: let pandas hash the rows
            return bool(keys.to_pandas().duplicated().any())
        combined = combined * card + codes
    if room <= max(4 * len(keys), 1 << 20):
        return bool(np.bincount(combined, minlength=0).max() > 1)
    combined.sort()
    return bool((combined[1:] == combined[:-1]).any())


def _sort_parts(parts: list[Path], column: str) -> None:
    """Rewrite each of these parts sorted by ``column`` (stable: a student's rows keep their file order).

    A part holds the students of one hash bucket from the whole id range; written in the file's order
    (often by date), each of its row groups would span every id, and the KPI engines' partitions of
    consecutive student ids (:mod:`partner_analysis.kpi.engines`), which skip the row groups outside
    their range by the stored minimum and maximum, would each read every row group of the table.
    Sorted, each row group covers a narrow range of ids.
    """
    from .dataset import ROW_GROUP_ROWS

    for part in parts:  # those written out of order (:meth:`_Buckets.out_of_order`)
        table = pq.read_table(part)
        order = pc.sort_indices(table, sort_keys=[(column, "ascending")])
        tmp = part.with_name(part.name + ".sorting")
        pq.write_table(table.take(order), tmp, row_group_size=ROW_GROUP_ROWS)
        tmp.replace(part)


def _repeated_keys(parts: list[Path], key: tuple[str, ...],
                   shared: pa.Array | None = None) -> tuple[int, pd.DataFrame | None]:
    """Drop exact repeats of a key across chunks (rewriting the part); return conflicting keys.

    Each part holds every row of its students, so a part at a time is enough. ``shared``: the
    values of the first key column written by more than one chunk (:meth:`_Buckets.shared`), the
    only rows that can repeat a key; None looks at every row.
    """
    dropped = 0
    conflicts = []
    if shared is not None and not len(shared):
        return 0, None
    for part in parts:
        keys = pq.read_table(part, columns=list(key), read_dictionary=list(key))
        if shared is not None:
            keys = keys.filter(pc.is_in(keys.column(key[0]), value_set=shared))
        if not _has_repeats(keys):
            continue
        frame = pq.read_table(part).to_pandas()
        exact = frame.duplicated(keep="first").to_numpy()
        if exact.any():
            kept = frame.loc[~exact]
            schema = pq.read_schema(part)
            pq.write_table(pa.Table.from_pandas(kept, preserve_index=False).cast(schema), part)
            dropped += int(exact.sum())
            frame = kept
        clash = frame.duplicated(subset=list(key), keep=False).to_numpy()
        if clash.any():
            conflicts.append(frame.loc[clash, list(key)].drop_duplicates())
    return dropped, (pd.concat(conflicts, ignore_index=True) if conflicts else None)


def _report_conflicts(name: str, sources: list[SourceSpec], source: Path, config: DistrictConfig,
                      conflicts: pd.DataFrame, errors: ProblemList, block_bytes: int) -> None:
    """Second pass: the rows holding conflicting keys, checked together as the whole-file import checks them."""
    key = list(TABLES[name].key)
    wanted = pd.MultiIndex.from_frame(conflicts[key].astype("object"))
    picked: list[pd.DataFrame] = []
    files: list[str] = []
    headers: list[dict] = []
    date_formats: list = []
    for src in sources:
        fpath = source_path(src, source)
        code = len(files)
        files.append(str(fpath))
        headers.append({**src.columns, **src.extra})
        date_formats.append(src.date_format)
        first_row = 2
        for raw in _blocks(src, fpath, str(fpath), block_bytes):
            frame = map_source_frame(raw, src, code, str(fpath), config.grade_scale, first_row=first_row, fpath=fpath)
            first_row += len(raw)
            t = TableFrame(name, frame, files, [None] * len(files), headers, date_formats=date_formats)
            check_table(t, config, ProblemList(), drop_exact=False)
            typed = pd.MultiIndex.from_frame(t.frame[key].astype("object"))
            hit = typed.isin(wanted)
            if hit.any():
                picked.append(t.raw.loc[hit])
    if not picked:
        return
    t = TableFrame(name, pd.concat(picked, ignore_index=True), files, [None] * len(files), headers,
                   date_formats=date_formats)
    found = ProblemList()
    check_table(t, config, found, drop_exact=True)
    seen = {(e.path, e.row, e.column, e.problem) for e in errors.items}
    for e in found.items:
        if "also appears in" in e.problem and (e.path, e.row, e.column, e.problem) not in seen:
            errors.add(e)
