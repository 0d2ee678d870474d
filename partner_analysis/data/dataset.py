"""A validated district dataset on disk: ``DATA_DIR/district.yml`` plus one parquet file per table.

:func:`read_dataset` opens one; :func:`write_dataset` writes one atomically
(into a temporary sibling directory, then a rename), so a failed import never
leaves a half-written ``DATA_DIR``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
import pyarrow.parquet as pq

from ..config import DistrictConfig, load_config
from ..exceptions import InputDataError
from .schema import IMPORT_ORDER, TABLES

__all__ = ["Dataset", "read_dataset", "write_dataset", "staging_dir", "coerce_table", "check_replaceable",
           "RECORDS_ENTRIES", "ROW_GROUP_ROWS"]

MANIFEST = "dataset.json"
#: Entries of a DATA_DIR that belong to the records store: an import never moves, replaces or deletes them.
RECORDS_ENTRIES = ("records", "records.sqlite", "records.sqlite-wal", "records.sqlite-shm",
                   "records.sqlite-journal")
#: Rows per parquet row group. Parquet stores each row group's min/max ``student_id``: with files sorted by
#: student, a partition of students (``partner_analysis.kpi.engines``) reads only the row groups of its range,
#: and smaller groups waste less at the partition's edges (pyarrow's default is 2**20).
ROW_GROUP_ROWS = 1 << 18
#: Prefix of the staging folder inside an existing DATA_DIR (left behind only by a crash; removed next time).
_STAGING = ".import-staging-"


def _written_by_import(out: Path) -> set[str]:
    """Names the previous import/demo-data run wrote into ``out`` (from its manifest)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(manifest, dict):
        return set()
    files = manifest.get("files")
    if isinstance(files, list):
        # the data-quality profile may be rewritten in place by `partner-analysis quality`
        return {str(f) for f in files} | {MANIFEST, "quality.html", "quality.csv"}
    # manifests written before the file list: the tables, the config and the duplicates report
    tables = manifest.get("tables") if isinstance(manifest.get("tables"), dict) else {}
    return {MANIFEST, "district.yml", "possible_duplicates.csv", *(f"{t}.parquet" for t in tables)}


def check_replaceable(out: str | Path) -> set[str]:
    """Check that an import may write into ``out``; return the names it wrote there before.

    Raises
    ------
    InputDataError
        ``out`` is a file, or holds entries that neither an import wrote (its manifest lists them)
        nor belong to the records store (:data:`RECORDS_ENTRIES`). Nothing is changed.
    """
    out = Path(out)
    if not out.exists():
        return set()
    if not out.is_dir():
        raise InputDataError("the output exists and is not a folder", path=out,
                             fix="Choose a folder for --out (a new one, or a DATA_DIR an import wrote)")
    ours = _written_by_import(out)
    foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir()
                     if p.name not in ours and p.name not in RECORDS_ENTRIES and not p.name.startswith(_STAGING))
    if foreign:
        shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise InputDataError(f"the output folder holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} "
                             f"an import did not write ({shown}); an import replaces its own files only",
                             path=out, value=foreign[0],
                             fix="Move them elsewhere, or choose a new --out (the records store, records/, "
                                 "is always kept)")
    return ours


@dataclass
class Dataset:
    """Validated district data: a config and a dict of tidy DataFrames (missing tables are absent)."""

    config: DistrictConfig
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    path: Path | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def get(self, name: str, default=None):
        return self.tables.get(name, default)

    def summary(self) -> pd.DataFrame:
        """One row per table: rows and columns."""
        return pd.DataFrame([{"table": k, "rows": len(v), "columns": v.shape[1]} for k, v in self.tables.items()])


def coerce_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame's known columns to the schema's storage types (ids stay strings).

    This is a storage cast for already-validated data; validation with
    messages lives in :mod:`partner_analysis.data.load`.
    """
    spec = TABLES[name]
    out = frame.copy()
    for col in spec.columns:
        if col.name not in out.columns:
            continue
        s = out[col.name]
        if col.kind in ("id", "str"):
            out[col.name] = s.astype("string")
        elif col.kind == "category":
            out[col.name] = s.astype("string").astype("category")
        elif col.kind == "int":
            out[col.name] = pd.to_numeric(s).astype("Int64")
        elif col.kind == "float":
            out[col.name] = pd.to_numeric(s).astype("float64")
        elif col.kind == "bool":
            out[col.name] = s.astype("boolean")
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
    return out


def staging_dir(out: str | Path) -> Path:
    """A new empty folder on the file system of ``out`` for files that :func:`write_dataset` moves in.

    Inside ``out`` when it exists (named like the import's own staging folder, so a crash leaves
    nothing the next import refuses), else beside it. The caller removes it when done.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_dir():
        return Path(tempfile.mkdtemp(prefix=_STAGING, dir=out))
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))


def _parquet_shape(path: Path) -> tuple[int, list[str]]:
    import pyarrow.parquet as pq
    parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    rows = sum(pq.read_metadata(p).num_rows for p in parts)
    names = list(pq.read_schema(parts[0]).names) if parts else []
    return rows, [n for n in names if not n.startswith("__index_level_")]


def _replace(src: Path, dst: Path, trash: Path) -> None:
    """Rename ``src`` over ``dst``; a folder (a partitioned table), or a file replacing one, goes via ``trash``."""
    if dst.exists() and (dst.is_dir() or src.is_dir()):
        os.replace(dst, trash / dst.name)
    os.replace(src, dst)


def write_dataset(tables: Mapping[str, pd.DataFrame], config: DistrictConfig, out: str | Path, *,
                  extra_files: Mapping[str, bytes] | None = None, overwrite: bool = True,
                  staged: Mapping[str, Path] | None = None,
                  parquet_files: Mapping[str, str | Path] | None = None) -> Path:
    """Write a dataset atomically to ``out``, keeping the records store that lives there.

    ``staged`` maps table names to parquet folders already written on the same file system (see
    :func:`staging_dir`; the streaming import writes large tables so); they are moved in as
    ``<table>.parquet/``, a folder of parts that ``pandas.read_parquet`` reads as one table.

    A new ``out`` is written as a temporary sibling folder and renamed into place. An existing one
    is first checked (:func:`check_replaceable`: it may hold only what an import wrote and the
    records store); the new files are then written into a staging folder inside it, and only when
    all are written does each replace its old version by a rename, the manifest last. Files of the
    previous import that this one does not write are removed; the records store (``records/``,
    ``records.sqlite*``) is never moved, replaced or deleted.

    ``parquet_files`` maps table names to parquet files already written elsewhere on the same file
    system (tables too large to hold in memory, written chunk by chunk): they are moved into place
    with the rest.

    Raises
    ------
    InputDataError
        ``out`` holds files an import did not write, or exists while ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputDataError("output directory exists", path=out, fix="Choose a new --out or remove it")
    previous = check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = out.exists()
    tmp = Path(tempfile.mkdtemp(prefix=_STAGING if existing else f".{out.name}.tmp-",
                                dir=out if existing else out.parent))
    try:
        config.dump(tmp / "district.yml")
        manifest = {"tables": {}, "files": ["district.yml"]}
        for name in IMPORT_ORDER:
            if name in (staged or {}):
                os.replace(staged[name], tmp / f"{name}.parquet")
                rows, columns = _parquet_shape(tmp / f"{name}.parquet")
                manifest["tables"][name] = {"rows": int(rows), "columns": columns, "partitioned": True}
                manifest["files"].append(f"{name}.parquet")
                continue
            if name not in tables:
                continue
            frame = tables[name]
            frame.to_parquet(tmp / f"{name}.parquet", index=False, row_group_size=ROW_GROUP_ROWS)
            manifest["tables"][name] = {"rows": int(len(frame)), "columns": list(map(str, frame.columns))}
            manifest["files"].append(f"{name}.parquet")
        for name, src in (parquet_files or {}).items():
            if name not in TABLES or name in tables:
                raise ValueError(f"write_dataset: bad parquet_files entry {name!r}")  # a programming error
            meta = pq.ParquetFile(src).metadata
            manifest["tables"][name] = {"rows": int(meta.num_rows), "columns": list(meta.schema.to_arrow_schema().names)}
            os.replace(src, tmp / f"{name}.parquet")
            manifest["files"].append(f"{name}.parquet")
        for fname, data in (extra_files or {}).items():
            if fname in RECORDS_ENTRIES or fname == MANIFEST or Path(fname).name != fname:
                raise ValueError(f"write_dataset cannot write {fname!r}")  # a programming error
            (tmp / fname).write_bytes(data)
            manifest["files"].append(fname)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if not existing:
            os.replace(tmp, out)
            return out
        trash = Path(tempfile.mkdtemp(prefix=_STAGING + "old-", dir=out))
        for fname in manifest["files"]:
            _replace(tmp / fname, out / fname, trash)
        os.replace(tmp / MANIFEST, out / MANIFEST)  # the commit: the manifest names what is there now
        for fname in sorted(previous - set(manifest["files"]) - {MANIFEST}):
            stale = out / fname
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        for leftover in out.glob(f"{_STAGING}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_dataset(path: str | Path, *, tables: Iterable[str] | None = None,
                 columns: Mapping[str, list[str]] | None = None) -> Dataset:
    """Open a dataset written by ``import`` or ``demo-data``.

    Parameters
    ----------
    path : directory holding ``district.yml`` and ``<table>.parquet`` files.
    tables : only these tables (default: all present).
    columns : per table, only these columns (saves memory on large districts).
    """
    path = Path(path)
    if not (path / "district.yml").exists():
        raise InputDataError("not a partner_analysis dataset (no district.yml)", path=path,
                             fix="Create one with `partner-analysis import` or `partner-analysis demo-data`")
    config = load_config(path / "district.yml")
    wanted = list(tables) if tables is not None else list(IMPORT_ORDER)
    out = {}
    for name in wanted:
        f = path / f"{name}.parquet"
        if f.exists():
            cols = (columns or {}).get(name)
            out[name] = pd.read_parquet(f, columns=cols)
    return Dataset(config=config, tables=out, path=path)
