"""The release ledger and the differencing guard (docs/privacy.md#release-ledger, FERPA §99.31(b)(1)).

FERPA judges identifiability over single **and multiple** releases. The ledger
is an append-only JSON-lines file kept by the district (never published; it
sits beside ``reports/<term>/`` and holds exact group sizes). One entry per
release records every published file with its hash, the partner, term,
profile, recipient(s) and the published cells (keys and displayed values).

Before a release, :func:`differencing_conflicts` compares each cell about to
be published with every earlier release of the same partner, term, KPI and
group: when the group changed by fewer than ``min_group_n`` students (or kept
its size but changed its value, so members were swapped), subtracting the two
releases would describe fewer than ``min_group_n`` students, and the new
value must be suppressed (PTAC FAQ: differencing; California's "n >= 20 in
both years" rule for change measures is the same idea for one pair).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputDataError
from .profile import PrivacyProfile

__all__ = ["ReleaseLedger", "CELL_KEYS", "cell_fingerprint", "differencing_conflicts", "file_sha256"]

#: Columns that identify one published cell across releases.
CELL_KEYS = ("partner_id", "term", "kpi_id", "program_id", "subgroup", "subgroup_value", "group", "statistic")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cell_fingerprint(n: Any, value: Any) -> str:
    """A short hash of a cell's exact group size and value (the ledger keeps no exact value)."""
    text = f"{n}|{'' if value is None or (isinstance(value, float) and np.isnan(value)) else repr(round(float(value), 12))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differencing_conflicts(cells: pd.DataFrame, earlier: pd.DataFrame, *, min_group_n: int) -> pd.DataFrame:
    """Cells whose group differs from an earlier release's by 1 .. ``min_group_n - 1`` students.

    Parameters
    ----------
    cells : DataFrame
        Cells about to be published: :data:`CELL_KEYS`, ``displayed``,
        ``shown`` (bool: a value is printed, coded or plain), ``n`` (exact
        group size) and ``fingerprint`` (:func:`cell_fingerprint`).
    earlier : DataFrame
        Cells of earlier releases, same columns plus ``release_id``.
    min_group_n : int

    Returns
    -------
    DataFrame
        One row per conflicting new cell: its keys, ``n``, ``earlier_n``,
        ``release_id`` (the earlier release) and ``displayed``.

    Notes
    -----
    A conflict needs both cells shown. The group changed by ``d = |n - n'|``
    students; with ``0 < d < min_group_n`` the two releases together describe
    ``d`` students, and with ``d = 0`` but a different fingerprint members were
    swapped (at least two changed) or a value was corrected, which is treated
    the same way: the guard cannot tell how many changed, so it protects.
    """
    cols = [*CELL_KEYS, "n", "earlier_n", "release_id", "displayed"]
    if cells is None or not len(cells) or earlier is None or not len(earlier):
        return pd.DataFrame(columns=cols)
    now = cells[cells["shown"].astype(bool)]
    then = earlier[earlier["shown"].astype(bool)]
    keys = list(CELL_KEYS)
    m = now.astype({k: str for k in keys}).merge(
        then.astype({k: str for k in keys})[[*keys, "n", "fingerprint", "release_id"]]
        .rename(columns={"n": "earlier_n", "fingerprint": "earlier_fp"}), on=keys, how="inner")
    if not len(m):
        return pd.DataFrame(columns=cols)
    n_new = pd.to_numeric(m["n"], errors="coerce").to_numpy(float)
    n_old = pd.to_numeric(m["earlier_n"], errors="coerce").to_numpy(float)
    d = np.abs(n_new - n_old)
    bad = ((d > 0) & (d < min_group_n)) | ((d == 0) & (m["fingerprint"].astype(str) != m["earlier_fp"].astype(str)))
    return m.loc[bad, cols].drop_duplicates(keys).reset_index(drop=True)


class ReleaseLedger:
    """Append-only record of released tables (JSON lines).

    FERPA judges identifiability over single *and multiple* releases
    (34 CFR §99.31(b)(1)), so every table that leaves the district is logged
    with its hash; linked-table and differencing checks read the log.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file; created on first append. Lines are only ever
        appended, one ``os.write`` per entry (atomic for lines of this size on
        local file systems), never rewritten.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ledger = ReleaseLedger(pathlib.Path(tempfile.mkdtemp()) / "ledger.jsonl")
    >>> _ = ledger.append(term="2025-26-Q1", partner_id="P01", table="kpi",
    ...                   data=pd.DataFrame({"a": [1]}), profile="public")
    >>> row = ledger.frame().iloc[0]
    >>> row["term"], row["partner_id"], int(row["rows"])
    ('2025-26-Q1', 'P01', 1)
    """

    COLUMNS = ("term", "partner_id", "table", "sha256", "profile", "rows", "released_at")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, *, term: str, partner_id: str, table: str, sha256: str | None = None, data: Any = None,
               profile: PrivacyProfile | str = "public", rows: int | None = None,
               released_at: str | dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
        """Record one released table and return the entry.

        Give either ``sha256`` (hex digest of the released bytes) or ``data``
        (a DataFrame, hashed as UTF-8 CSV without index; bytes; str; or a path
        to the released file). ``rows`` defaults to ``len(data)`` for frames.
        Extra keyword fields are stored too.
        """
        for name, value in (("term", term), ("partner_id", partner_id), ("table", table)):
            if not isinstance(value, str) or not value:
                raise InputDataError(f"`{name}` must be a non-empty string, found {value!r}", column=name,
                                     value=value, fix="IDs are strings (keep leading zeros)")
        if sha256 is None:
            if data is None:
                raise InputDataError("give sha256= or data= to record a release", column="sha256")
            sha256, n_rows = _digest(data)
            rows = n_rows if rows is None else rows
        if not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
            raise InputDataError(f"sha256 must be 64 lower-case hex digits, found {sha256!r}", column="sha256",
                                 value=sha256)
        if isinstance(released_at, dt.datetime):
            released_at = released_at.isoformat(timespec="seconds")
        entry = {"term": term, "partner_id": partner_id, "table": table, "sha256": str(sha256),
                 "profile": profile.name if isinstance(profile, PrivacyProfile) else str(profile),
                 "rows": None if rows is None else int(rows),
                 "released_at": released_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        for key, value in extra.items():
            if key not in entry:
                entry[key] = value
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    record = append

    def record_release(self, *, release_id: str, term: str, partner_id: str, files: Sequence[tuple[str, str]],
                       cells: pd.DataFrame | None, profile: PrivacyProfile | str = "public",
                       recipients: Sequence[str] = ("public",), released_at: str | None = None,
                       **extra: Any) -> dict[str, Any]:
        """Record one release: its files ``[(relative path, sha256), ...]``, recipients and published cells.

        ``partner_id`` is ``"district"`` for the district pages (index, brief).
        Cells keep :data:`CELL_KEYS`, ``displayed``, ``shown``, ``n`` and
        ``fingerprint``.
        """
        recipients = [str(r) for r in recipients] or ["public"]
        files = [{"path": str(p), "sha256": str(h)} for p, h in files]
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        cell_rows = [] if cells is None or not len(cells) else json.loads(
            cells[[c for c in (*CELL_KEYS, "displayed", "shown", "n", "fingerprint") if c in cells.columns]]
            .to_json(orient="records"))
        return self.append(term=term, partner_id=partner_id, table="release", sha256=digest, profile=profile,
                           rows=len(cell_rows), released_at=released_at, release_id=release_id,
                           recipients=recipients, files=files, cells=cell_rows, **extra)

    def releases(self, *, term: str | None = None, partner_id: str | None = None) -> list[dict[str, Any]]:
        """Release entries (:meth:`record_release`), oldest first, optionally filtered."""
        out = [e for e in self.entries() if e.get("table") == "release"]
        if term is not None:
            out = [e for e in out if e.get("term") == term]
        if partner_id is not None:
            out = [e for e in out if e.get("partner_id") == partner_id]
        return out

    def release(self, release_id: str) -> dict[str, Any]:
        """The entry of one release; :class:`InputDataError` naming the known ids when absent."""
        for e in self.releases():
            if e.get("release_id") == release_id:
                return e
        known = [e.get("release_id") for e in self.releases()]
        raise InputDataError(f"no release '{release_id}' in the ledger", path=self.path, value=release_id,
                             fix=f"Use one of {known[-10:]} (`partner-analysis releases` lists them)")

    def published_cells(self, *, partner_id: str) -> pd.DataFrame:
        """Every cell published for a partner in earlier releases, with its ``release_id``."""
        rows = []
        for e in self.releases(partner_id=partner_id):
            for c in e.get("cells") or []:
                rows.append(dict(c, release_id=e.get("release_id")))
        return pd.DataFrame(rows, columns=[*CELL_KEYS, "displayed", "shown", "n", "fingerprint", "release_id"])

    def entries(self) -> list[dict[str, Any]]:
        """All entries, oldest first."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InputDataError(f"not a JSON line: {err.msg}", path=self.path, row=number,
                                     fix="The ledger is append-only; restore it from backup") from err
        return out

    def frame(self) -> pd.DataFrame:
        """The ledger as a DataFrame: term, partner_id, table, sha256, profile, rows, released_at (+ extras)."""
        entries = self.entries()
        extra = [k for e in entries for k in e if k not in self.COLUMNS]
        cols = list(self.COLUMNS) + list(dict.fromkeys(extra))
        frame = pd.DataFrame(entries, columns=cols)
        for col in cols:
            frame[col] = frame[col].astype("Int64") if col == "rows" else frame[col].astype(object)
        return frame

    read = frame

    def released(self, *, term: str | None = None, partner_id: str | None = None) -> pd.DataFrame:
        """Entries filtered by term and/or partner."""
        frame = self.frame()
        if term is not None:
            frame = frame[frame["term"] == term]
        if partner_id is not None:
            frame = frame[frame["partner_id"] == partner_id]
        return frame.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.entries())


def _digest(data: Any) -> tuple[str, int | None]:
    if isinstance(data, pd.DataFrame):
        return hashlib.sha256(data.to_csv(index=False).encode("utf-8")).hexdigest(), len(data)
    if isinstance(data, (bytes, bytearray)):
        return hashlib.sha256(bytes(data)).hexdigest(), None
    if isinstance(data, Path):
        return hashlib.sha256(data.read_bytes()).hexdigest(), None
    if isinstance(data, str):
        return hashlib.sha256(data.encode("utf-8")).hexdigest(), None
    raise InputDataError(f"cannot hash {type(data).__name__}", column="data",
                         fix="Pass a DataFrame, bytes, str or Path")

