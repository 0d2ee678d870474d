"""Typed hand-offs of the report batch: one :class:`ReportJob` per partner in, one :class:`ManifestRow` out.

Both are frozen dataclasses that pickle across worker processes (a process pool or a dask cluster). The
term is resolved once at the entry of :func:`~partner_analysis.report.batch.run_reports`, before any
folder is made, and every job carries the resolved id.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

__all__ = ["ReportJob", "ManifestRow"]


@dataclass(frozen=True)
class ReportJob:
    """Everything a worker needs to run one partner's report (paths as strings; no open handles)."""

    parameters: Mapping[str, Any]
    template: str
    out_dir: str
    release_dir: str
    cwd: str
    formats: tuple[str, ...] = ("html",)
    timeout: float = 300
    lang: str = "en"
    site: str = ""
    title: str = ""
    #: run in a kernel started while the worker's previous report ran (:mod:`.kernels`)
    ahead: bool = False
    #: with ``ahead``: also start the kernel of the worker's next report (False for the batch's last
    #: reports, after which a worker gets no other one)
    start_next: bool = True

    @property
    def partner_id(self) -> str:
        return str(self.parameters["partner_id"])

    @property
    def term(self) -> str:
        return str(self.parameters["term"])


@dataclass(frozen=True)
class ManifestRow:
    """One partner's outcome in the manifest (``MANIFEST_COLUMNS``); :meth:`as_dict` is what is written."""

    partner_id: str
    status: str = "failed"
    seconds: float = 0.0
    attempts: int = 0
    stage: str = "execute"
    error: str = ""
    failing_cell: int | None = None
    failing_source: str = ""
    html: str = ""
    ipynb: str = ""
    pdf: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in ("ok", "failed"):
            raise ValueError(f"ManifestRow.status must be 'ok' or 'failed', not {self.status!r}")

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "ManifestRow":
        names = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in row.items() if k in names},
                   extra={k: v for k, v in row.items() if k not in names})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        extra = out.pop("extra")
        return {**out, **extra}
