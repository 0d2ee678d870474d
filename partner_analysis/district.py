"""The analyst's front door: ``pa.open_district(path)`` returns a :class:`District`.

A :class:`District` is one validated DATA_DIR seen from a notebook: its configuration, its tables, the KPI panel,
participant-vs-comparison tables, the records store, fit-survey results and the quarterly reports. Everything is
read on first use and kept, so opening a district is instant and asking twice costs nothing.

Where the data is found (:func:`find_data_dir`), in order:

1. the path given (a notebook parameter, an argument);
2. the environment variable ``PA_DATA_DIR``;
3. the demo district of the source checkout the package lives in (``<checkout>/demo_district``, what
   ``make demo`` builds) — found from the package, never from the working directory, so a notebook opened in
   ``notebooks/`` finds it as well as one opened at the top of the checkout.

Examples
--------
>>> import partner_analysis as pa                                   # doctest: +SKIP
>>> district = pa.open_district()            # the demo district after `make demo`
>>> district.terms()[-1]
'2026-27-Q4'
>>> table = district.compare(term="2025-26-Q2", partners="P01")   # suppressed, publishable
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from .config import DistrictConfig
from .exceptions import ConfigError

__all__ = ["District", "open_district", "open_store", "find_data_dir", "app_data_dir", "DEMO_DIR_NAME"]

#: Folder name ``make demo`` gives the demo district, at the top of the checkout.
DEMO_DIR_NAME = "demo_district"

_CHECKOUT = Path(__file__).resolve().parent.parent


def _is_data_dir(path: Path) -> bool:
    return (path / "district.yml").is_file()


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The DATA_DIR to use: ``data_dir``, else ``$PA_DATA_DIR``, else the checkout's demo district.

    Parameters
    ----------
    data_dir : path, optional
        A DATA_DIR (holding ``district.yml``). ``""`` and ``None`` mean "not given". A relative path is tried
        against the working directory first, then against the top of the checkout, so
        ``"demo_district"`` works from ``notebooks/`` as well.

    Returns
    -------
    Path
        An absolute path to a folder holding ``district.yml``.

    Raises
    ------
    ConfigError
        When the folder given holds no ``district.yml``, or nothing is given and no demo district exists; the
        message says how to make one.
    """
    given = str(data_dir).strip() if data_dir is not None else ""
    source = "the path given"
    if not given and os.environ.get("PA_DATA_DIR", "").strip():
        given, source = os.environ["PA_DATA_DIR"].strip(), "PA_DATA_DIR"
    if given:
        path = Path(given).expanduser()
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, _CHECKOUT / path]
        for candidate in candidates:
            if _is_data_dir(candidate):
                return candidate.resolve()
        raise ConfigError(f"{given!r} ({source}) is not a DATA_DIR: it holds no district.yml",
                          fix="Give the folder written by `partner-analysis import` or `make demo` "
                              f"(looked in {', '.join(str(c) for c in candidates)})")
    demo = _CHECKOUT / DEMO_DIR_NAME
    if _is_data_dir(demo):
        return demo.resolve()
    raise ConfigError("no DATA_DIR given, PA_DATA_DIR is not set and there is no demo district",
                      fix="Run `make demo` at the top of the checkout (or `partner-analysis demo-data --out DIR`), "
                          "or set PA_DATA_DIR to your imported data")


class District:
    """One district's validated data, opened lazily.

    Parameters
    ----------
    path : path, optional
        The DATA_DIR (see :func:`find_data_dir` for what happens when it is not given).
    db : str, optional
        Records store URL or path (default: the DATA_DIR's own store, or ``$PA_DB_URL``).

    Notes
    -----
    Nothing is read until it is asked for. Tables are cached; :meth:`compare` results are not (they depend on
    their arguments) but the KPI arrays under them are, so a second comparison is fast.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, db: str | None = None) -> None:
        self.path: Path = find_data_dir(path)
        self.db: str | None = db or None

    def __repr__(self) -> str:
        return f"District({str(self.path)!r})"

    # -- configuration and tables -------------------------------------------------------------------

    @functools.cached_property
    def config(self) -> DistrictConfig:
        """The district's ``district.yml``, validated."""
        from .config import load_config
        return load_config(self.path / "district.yml")

    @functools.cached_property
    def dataset(self):
        """Every table of the DATA_DIR (:class:`partner_analysis.data.dataset.Dataset`)."""
        from .data.dataset import read_dataset
        return read_dataset(self.path)

    @property
    def name(self) -> str:
        """The district's name from ``district.yml``."""
        return self.config.name

    def terms(self) -> list[str]:
        """Term ids in calendar order."""
        return [t.id for t in sorted(self.config.terms, key=lambda t: t.start)]

    def table(self, name: str) -> pd.DataFrame:
        """One imported table (``"students"``, ``"partners"``, ``"participation"``, ...), as a copy."""
        if name not in self.dataset:
            present = ", ".join(sorted(self.dataset.tables))
            raise ConfigError(f"this district has no table {name!r}", fix=f"Use one of: {present}")
        return self.dataset[name].copy()

    def partners(self) -> pd.DataFrame:
        """The partner list: partner_id, name, sector, start_date, status."""
        return self.table("partners")

    # -- KPIs ---------------------------------------------------------------------------------------

    @functools.cached_property
    def _arrays(self):
        from .kpi.panel import compute_kpis
        return compute_kpis(self.dataset)

    def kpis(self, *, terms: Iterable[str] | str | None = None, kpis: Iterable[str] | None = None,
             context: bool = False) -> pd.DataFrame:
        """The student × term × KPI panel (student-level: stays inside the district).

        See :func:`partner_analysis.kpi.panel.build_panel` for the columns.
        """
        from .kpi.panel import build_panel
        return build_panel(self.dataset, terms=terms, kpis=kpis, context=context)

    def compare(self, *, term: str, partners: Sequence[str] | str | None = None, **kwargs: Any) -> pd.DataFrame:
        """Participants vs comparison students for one term, suppressed for publication by default.

        Keyword arguments pass through to :func:`partner_analysis.kpi.compare.compare_partners`
        (``by_program``, ``subgroup``, ``suppress``, ``kpis``, ...).
        """
        from .kpi.compare import compare_partners
        kwargs.setdefault("arrays", self._arrays)
        return compare_partners(self.dataset, term=term, partners=partners, **kwargs)

    # -- what people typed in ----------------------------------------------------------------------

    def records(self, *, term: str = "", as_of: str | None = None):
        """The investment ledger, check-ins and goals (:class:`partner_analysis.records.session.RecordsSession`)."""
        from .records.session import open_records
        return open_records(self.db or "", str(self.path), term=term, as_of=as_of)

    @functools.cached_property
    def store(self):
        """The records store; never created by reading (a mistyped path fails instead of making an empty one)."""
        return open_store(self.db or "", self.path)

    def fit(self, partner_id: str, *, wave: str | None = None) -> dict[str, pd.DataFrame]:
        """Fit-survey results of one partner (dimension scores, overall band, discussion prompts)."""
        from .fit import summary_for_bundle
        return summary_for_bundle(self.store, str(partner_id), wave=wave)

    # -- reports ------------------------------------------------------------------------------------

    def run_reports(self, *, term: str, out: str | os.PathLike = "reports", **kwargs: Any):
        """The quarterly batch for this district (:func:`partner_analysis.report.batch.run_reports`)."""
        from .report.batch import run_reports
        if self.db and "db" not in kwargs:
            kwargs["db"] = self.db
        return run_reports(self.path, term=term, out=out, **kwargs)


def open_district(path: str | os.PathLike | None = None, *, db: str | None = None) -> District:
    """Open a district's validated data for analysis.

    Parameters
    ----------
    path : path, optional
        The DATA_DIR; default ``$PA_DATA_DIR``, then the checkout's demo district (:func:`find_data_dir`).
    db : str, optional
        Records store URL or path (default: the DATA_DIR's own store, or ``$PA_DB_URL``).

    Returns
    -------
    District

    Raises
    ------
    ConfigError
        When no DATA_DIR can be found; the message says how to make one.
    """
    return District(path, db=db)


def app_data_dir(data_dir: str | os.PathLike | None = "", db: str | os.PathLike | None = "") -> str:
    """The DATA_DIR an app notebook (fit survey, records forms) hands to its app; never raises.

    The one given, else ``$PA_DATA_DIR``, else — only when no store is named either (``db`` and ``$PA_DB_URL``
    empty), so a real store is never paired with the demo's configuration — the checkout's demo district when it
    exists (as :func:`find_data_dir`), else ``""``. A folder given but not found is passed on as given: the app
    then says what is wrong on its page, as it does for a missing invitation, instead of the notebook stopping
    with a traceback (under Voila a raised error leaves a blank page).
    """
    given = (str(data_dir).strip() if data_dir is not None else "") or os.environ.get("PA_DATA_DIR", "").strip()
    store_named = bool(str(db or "").strip() or os.environ.get("PA_DB_URL", "").strip())
    if not given and store_named:
        return ""
    try:
        return str(find_data_dir(given))
    except ConfigError:
        return given


def open_store(db: str | os.PathLike = "", data_dir: str | os.PathLike | None = "", *, create: bool = False):
    """The records store a notebook should use.

    Parameters
    ----------
    db : str or path
        Store URL or SQLite path. ``""`` means: ``$PA_DB_URL`` when set, else the store of the DATA_DIR found by
        :func:`find_data_dir` from ``data_dir``.
    data_dir : path, optional
        Passed to :func:`find_data_dir` when neither ``db`` nor ``$PA_DB_URL`` names the store.
    create : bool
        Create the store when it does not exist (default ``False``: reading never creates a store).

    Returns
    -------
    partner_analysis.store.Store
    """
    from .store import Store
    if str(db).strip() or os.environ.get("PA_DB_URL", "").strip():
        return Store(db or None, create=create)
    return Store(None, data_dir=find_data_dir(data_dir), create=create)
