"""The KPI catalog: what each KPI is, read from YAML.

The built-in catalog ships as ``partner_analysis/kpi/kpis.yml``. A district
overrides it with its own ``kpis.yml`` (passed as ``path``, or found in the
DATA_DIR): a file with ``extends: default`` adds KPIs to the built-ins and
replaces built-ins with the same ``id``; without it the file is the whole
catalog. Adding a KPI is a YAML edit, never a code change (see the comment at
the top of ``kpis.yml`` for every field).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..safeyaml import read_yaml
from ..config import require_unique
from ..data.schema import TABLES
from ..exceptions import ConfigError, InputDataError, did_you_mean

__all__ = ["KPI", "Condition", "Catalog", "load_catalog", "catalog_for", "default_catalog_path", "check_columns",
           "source_columns", "SOURCES", "KINDS", "AGGREGATES", "OPERATORS", "SOURCE_TABLES", "DERIVED_COLUMNS"]

SOURCES = ("attendance", "course_grades", "engagement", "wbl_hours")
KINDS = ("continuous", "binary")
AGGREGATES = ("sum", "mean", "weighted_mean", "ratio", "count", "any", "max", "min")
OPERATORS = (">=", ">", "<=", "<", "==")
SCOPES = ("term", "year_to_date")
#: Which term the prior of a KPI comes from (issue #11): the same term of the prior school year (default),
#: the previous term, or the same term (a different KPI measured earlier in it, e.g. a first-period grade).
PRIOR_TERMS = ("same_term_last_year", "previous_term", "same_term")
POPULATIONS = ("records", "enrolled")
#: The tables behind each source. Attendance records are per-student-term day counts, so their columns are
#: the derived ones only.
SOURCE_TABLES = {"attendance": (), "course_grades": ("course_grades",), "engagement": ("engagement",),
                 "wbl_hours": ("wbl_hours",)}
#: Columns the panel derives for each source (kpis.yml's header lists them).
DERIVED_COLUMNS = {"attendance": ("days_enrolled", "days_absent", "days_present"),
                   "course_grades": ("grade_points", "failed", "mark_value", "is_core", "college_credit"),
                   "engagement": (), "wbl_hours": ()}


def default_catalog_path() -> Path:
    """Path of the shipped ``kpis.yml``."""
    return Path(str(resources.files("partner_analysis.kpi") / "kpis.yml"))


def resolve_value(value: Any, thresholds: Mapping[str, Any] | None = None) -> Any:
    """Resolve ``{config: key, default: x}`` against ``district.yml`` thresholds; plain values pass through."""
    if isinstance(value, Mapping) and "config" in value:
        thresholds = thresholds or {}
        key = str(value["config"])
        if key in thresholds and thresholds[key] is not None:
            return thresholds[key]
        if "default" in value:
            return value["default"]
        raise ConfigError(f"threshold '{key}' is not set in district.yml and the KPI gives no default",
                          key=f"thresholds.{key}", fix=f"Add thresholds: {{{key}: ...}} to district.yml")
    return value


@dataclass(frozen=True)
class Condition:
    """One aggregate compared with a value: the building block of ``all_of`` KPIs and thresholds."""

    aggregate: str
    column: str | None = None
    weight: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    filter: Mapping[str, Any] = field(default_factory=dict)
    op: str | None = None
    value: Any = None
    min_denominator: Any = None
    prorate: str | None = None

    def __post_init__(self):
        _check("aggregate", self.aggregate, AGGREGATES)
        if self.op is not None:
            _check("op", self.op, OPERATORS)
        if self.aggregate == "ratio" and not (self.numerator and self.denominator):
            raise ConfigError("a ratio needs `numerator` and `denominator` columns", key="aggregate")
        if self.aggregate == "weighted_mean" and not (self.column and self.weight):
            raise ConfigError("a weighted_mean needs `column` and `weight`", key="aggregate")
        if self.aggregate in ("sum", "mean", "max", "min", "any") and not self.column:
            raise ConfigError(f"aggregate {self.aggregate!r} needs a `column`", key="column")
        if self.prorate not in (None, "school_year"):
            raise ConfigError(f"prorate must be 'school_year', found {self.prorate!r}", key="prorate")

    @property
    def columns(self) -> tuple[str, ...]:
        """Record columns this condition reads."""
        cols = [self.column, self.weight, self.numerator, self.denominator, *self.filter]
        return tuple(dict.fromkeys(c for c in cols if c))


@dataclass(frozen=True)
class KPI:
    """One KPI definition (a row of ``kpis.yml``)."""

    id: str
    label: str
    source: str
    kind: str
    unit: str = ""
    higher_is_better: bool = True
    measure: Condition | None = None
    threshold: Mapping[str, Any] | None = None
    all_of: tuple[Condition, ...] = ()
    population: str = "records"
    fill_value: float | None = None
    scope: str = "term"
    description: str = ""
    #: The baseline of the adjusted and matched designs: ``{kpi: id, term: same_term_last_year |
    #: previous_term | same_term}``; None = the same KPI in the same term of the prior school year.
    prior: Mapping[str, str] | None = None

    @property
    def prior_kpi(self) -> str:
        """Id of the KPI whose value is this KPI's prior."""
        return str((self.prior or {}).get("kpi") or self.id)

    @property
    def prior_term(self) -> str:
        """Which term the prior comes from (one of ``PRIOR_TERMS``)."""
        return str((self.prior or {}).get("term") or "same_term_last_year")

    def __post_init__(self):
        if self.prior is not None:
            if not isinstance(self.prior, Mapping) or set(self.prior) - {"kpi", "term"}:
                raise ConfigError(f"KPI {self.id!r}: prior must be a KPI id or {{kpi: id, term: ...}}",
                                  key=f"kpis.{self.id}.prior")
            _check("prior.term", self.prior_term, PRIOR_TERMS, kpi=self.id)
        _check("source", self.source, SOURCES, kpi=self.id)
        _check("kind", self.kind, KINDS, kpi=self.id)
        _check("scope", self.scope, SCOPES, kpi=self.id)
        _check("population", self.population, POPULATIONS, kpi=self.id)
        if (self.measure is None) == (not self.all_of):
            raise ConfigError(f"KPI {self.id!r} needs either an `aggregate` or an `all_of` list, not both",
                              key=f"kpis.{self.id}")
        if self.all_of and self.kind != "binary":
            raise ConfigError(f"KPI {self.id!r}: `all_of` KPIs are binary", key=f"kpis.{self.id}.kind")
        if self.threshold is not None:
            if not isinstance(self.threshold, Mapping) or "op" not in self.threshold or "value" not in self.threshold:
                raise ConfigError(f"KPI {self.id!r}: threshold needs `op` and `value`", key=f"kpis.{self.id}.threshold")
            _check("threshold.op", self.threshold["op"], OPERATORS, kpi=self.id)
            if self.kind != "binary":
                raise ConfigError(f"KPI {self.id!r} has a threshold, so its kind must be binary",
                                  key=f"kpis.{self.id}.kind", fix="Set kind: binary")
        if self.population == "enrolled" and self.fill_value is None:
            raise ConfigError(f"KPI {self.id!r}: population 'enrolled' needs a fill_value", key=f"kpis.{self.id}")

    @property
    def columns(self) -> tuple[str, ...]:
        conds = (self.measure,) if self.measure is not None else self.all_of
        return tuple(dict.fromkeys(c for cond in conds for c in cond.columns))


@dataclass(frozen=True)
class Catalog:
    """An ordered, immutable set of KPIs."""

    kpis: tuple[KPI, ...]
    source: str | None = None

    def __post_init__(self):
        require_unique([k.id for k in self.kpis], what="KPI", path=self.source, key="kpis")


    def __iter__(self) -> Iterator[KPI]:
        return iter(self.kpis)

    def __len__(self) -> int:
        return len(self.kpis)

    def __contains__(self, kpi_id: str) -> bool:
        return kpi_id in self.ids

    def __getitem__(self, kpi_id: str) -> KPI:
        for k in self.kpis:
            if k.id == kpi_id:
                return k
        raise ConfigError(f"unknown KPI {kpi_id!r}", path=self.source, fix=f"Use one of {list(self.ids)}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self.kpis)

    def select(self, kpis=None) -> "Catalog":
        """The sub-catalog of the given ids (all when None), in catalog order."""
        if kpis is None:
            return self
        wanted = [kpis] if isinstance(kpis, str) else list(kpis)
        for k in wanted:
            self[k]  # raises on unknown ids
        return Catalog(tuple(k for k in self.kpis if k.id in wanted), source=self.source)

    def to_frame(self):
        """One row per KPI: id, label, source, kind, unit, higher_is_better, scope."""
        import pandas as pd
        return pd.DataFrame([{"kpi_id": k.id, "kpi_label": k.label, "source": k.source, "kind": k.kind,
                              "unit": k.unit, "higher_is_better": k.higher_is_better, "scope": k.scope}
                             for k in self.kpis])


def _check(name, value, allowed, *, kpi=None):
    if value not in allowed:
        where = f"KPI {kpi!r}: " if kpi else ""
        raise ConfigError(f"{where}the value for `{name}` must be one of {list(allowed)}, but {value!r} was passed",
                          key=name)


_CONDITION_KEYS = {"aggregate", "column", "weight", "numerator", "denominator", "filter", "op", "value",
                   "min_denominator", "prorate"}
_KPI_KEYS = {"id", "label", "source", "kind", "unit", "higher_is_better", "threshold", "all_of", "population",
             "fill_value", "scope", "description", "prior"} | (_CONDITION_KEYS - {"op", "value", "prorate"})


def _condition(raw: Mapping, *, path, key) -> Condition:
    unknown = set(raw) - _CONDITION_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", path=path, key=key,
                          fix=f"Use only {sorted(_CONDITION_KEYS)}")
    try:
        return Condition(aggregate=str(raw.get("aggregate", "")), column=raw.get("column"), weight=raw.get("weight"),
                         numerator=raw.get("numerator"), denominator=raw.get("denominator"),
                         filter=dict(raw.get("filter") or {}), op=raw.get("op"), value=raw.get("value"),
                         min_denominator=raw.get("min_denominator"), prorate=raw.get("prorate"))
    except ConfigError as err:
        raise ConfigError(err.problem, path=path, key=f"{key}.{err.key}" if err.key else key, fix=err.fix) from None


def _kpi(raw: Mapping, *, path, index: int) -> KPI:
    key = f"kpis[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError("each KPI must be a mapping (id: ..., label: ...)", path=path, key=key)
    for req in ("id", "source", "kind"):
        if not raw.get(req):
            raise ConfigError(f"missing required key '{req}'", path=path, key=f"{key}.{req}",
                              fix=f"See the shipped catalog: {default_catalog_path()}")
    kid = str(raw["id"])
    key = f"kpis[{index}] ({kid})"
    unknown = set(raw) - _KPI_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", path=path, key=key, fix=f"Use only {sorted(_KPI_KEYS)}")
    measure = None
    all_of: tuple[Condition, ...] = ()
    if raw.get("all_of"):
        if not isinstance(raw["all_of"], list):
            raise ConfigError("`all_of` must be a list of conditions", path=path, key=f"{key}.all_of")
        all_of = tuple(_condition(c, path=path, key=f"{key}.all_of[{j}]") for j, c in enumerate(raw["all_of"]))
        for j, c in enumerate(all_of):
            if c.op is None or c.value is None:
                raise ConfigError("every `all_of` condition needs `op` and `value`", path=path,
                                  key=f"{key}.all_of[{j}]")
    if "aggregate" in raw:
        measure = _condition({k: raw[k] for k in raw if k in _CONDITION_KEYS}, path=path, key=key)
    fill = raw.get("fill_value")
    prior = raw.get("prior")
    if isinstance(prior, str):
        prior = {"kpi": prior}
    try:
        return KPI(id=kid, label=str(raw.get("label", kid)), source=str(raw["source"]), kind=str(raw["kind"]),
                   unit=str(raw.get("unit", "")), higher_is_better=bool(raw.get("higher_is_better", True)),
                   measure=measure, threshold=raw.get("threshold"), all_of=all_of,
                   population=str(raw.get("population", "records")),
                   fill_value=None if fill is None else float(fill), scope=str(raw.get("scope", "term")),
                   description=str(raw.get("description", "")),
                   prior=None if prior is None else dict(prior))
    except ConfigError as err:
        raise ConfigError(err.problem, path=path, key=key, fix=err.fix) from None


def _read_yaml(path: Path) -> Mapping:
    raw = read_yaml(path, missing="KPI catalog not found", fix="Pass the path of a kpis.yml")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("kpis"), list):
        raise ConfigError("a KPI catalog is a mapping with a `kpis:` list", path=path, key="kpis")
    return raw


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read a KPI catalog.

    Parameters
    ----------
    path : str or Path, optional
        A ``kpis.yml`` (or a folder holding one). ``None`` reads the shipped
        catalog. A file with ``extends: default`` is merged into the shipped
        catalog by ``id`` (same id replaces, new ids are appended).

    Returns
    -------
    Catalog

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or a KPI is malformed (the key is named).
    """
    path = default_catalog_path() if path is None else Path(path)
    if path.is_dir():
        path = path / "kpis.yml"
    raw = _read_yaml(path)
    kpis = [_kpi(r, path=str(path), index=i) for i, r in enumerate(raw["kpis"])]
    extends = raw.get("extends")
    if extends not in (None, "default"):
        raise ConfigError(f"`extends` must be 'default', found {extends!r}", path=path, key="extends")
    if extends == "default":
        base = {k.id: k for k in load_catalog()}
        for k in kpis:
            base[k.id] = k
        kpis = list(base.values())
    ids = {k.id for k in kpis}
    for k in kpis:
        if k.prior_kpi not in ids:
            raise ConfigError(f"KPI {k.id!r}: its prior {k.prior_kpi!r} is not a KPI of the catalog", path=path,
                              key=f"kpis.{k.id}.prior", fix=f"Use one of {sorted(ids)}")
    return Catalog(tuple(kpis), source=str(path))


def source_columns(source: str, data_columns=()) -> tuple[str, ...]:
    """Columns a KPI of ``source`` may read or filter on: the schema's, the derived ones, and
    ``data_columns`` (the columns of the district's table, which may hold `extra:` columns)."""
    names = [c for t in SOURCE_TABLES[source] for c in TABLES[t].column_names]
    return tuple(dict.fromkeys([*names, *DERIVED_COLUMNS[source], *data_columns]))


def check_columns(catalog: Catalog, dataset=None) -> None:
    """Refuse a KPI that reads or filters on a column its source does not have.

    Any column of the source table's schema may be named (``subject: math``, ``is_core: true``,
    ``college_credit: true``), as may a derived column or a column the district's data carries (an
    ``extra:`` column of the map). Checked before anything is computed.

    Raises
    ------
    InputDataError
        Naming the KPI, the unknown column and the columns allowed (as the panel did for a column the
        data lacks).
    """
    for kpi in catalog:
        data_cols = []
        for t in SOURCE_TABLES[kpi.source]:
            frame = dataset.get(t) if dataset is not None else None
            if frame is not None:
                data_cols += [c for c in frame.columns if c not in TABLES[t].column_names]
        allowed = source_columns(kpi.source, data_cols)
        for col in kpi.columns:
            if col not in allowed:
                raise InputDataError(f"KPI {kpi.id!r} names the column {col!r}, which {kpi.source} records do not "
                                     "have", path=catalog.source, column=col, value=col,
                                     fix=f"{did_you_mean(col, allowed)}Use one of {list(allowed)} in the KPI "
                                         "catalog")


def catalog_for(dataset) -> Catalog:
    """The catalog for a dataset: ``DATA_DIR/kpis.yml`` when present, else the shipped one."""
    data_path = getattr(dataset, "path", None)
    if data_path is not None and (Path(data_path) / "kpis.yml").exists():
        return load_catalog(Path(data_path) / "kpis.yml")
    return load_catalog()
