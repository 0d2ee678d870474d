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

from ..config import DistrictConfig, config_from_dict, load_config
from ..exceptions import InputDataError
from .schema import IMPORT_ORDER, TABLES

__all__ = ["Dataset", "read_dataset", "write_dataset", "coerce_table"]

MANIFEST = "dataset.json"


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


def write_dataset(tables: Mapping[str, pd.DataFrame], config: DistrictConfig, out: str | Path, *,
                  extra_files: Mapping[str, bytes] | None = None, overwrite: bool = True) -> Path:
    """Write a dataset atomically to ``out``.

    Everything goes to a temporary directory beside ``out``; only when all
    files are written is the old directory (if any) replaced by a rename.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not overwrite:
        raise InputDataError("output directory exists", path=out, fix="Choose a new --out or remove it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        config.dump(tmp / "district.yml")
        manifest = {"tables": {}}
        for name in IMPORT_ORDER:
            if name not in tables:
                continue
            frame = tables[name]
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
            manifest["tables"][name] = {"rows": int(len(frame)), "columns": list(map(str, frame.columns))}
        for fname, data in (extra_files or {}).items():
            (tmp / fname).write_bytes(data)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
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
