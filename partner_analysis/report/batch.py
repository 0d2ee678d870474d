"""The report batch: bundles once, then one fresh kernel per partner in a pool.

:func:`run_reports` owns paths, parameters and kernels; it computes nothing.
Steps: build the bundles in one pass (:func:`~partner_analysis.report.bundle.open_bundles`), submitting
each partner's report as soon as its bundle is written; validate each parameter set against the contract, execute the template with
papermill's Python API in a ``concurrent.futures`` executor (default a
``ProcessPoolExecutor`` with one worker per core; a dask cluster's executor
works unchanged), render HTML in the worker, write every output atomically
(temporary file + rename), then write the manifest (JSON and CSV), the
community brief and the district index. A failing partner never stops the batch.

Layout (privacy.md §7: executed notebooks are internal artefacts)::

    reports/release_ledger.jsonl           every release: files + hashes, recipients, cells (private)
    reports/<term>/release/                what readers get, and nothing else
        <partner>.html, <partner>.pdf, index.html, community_brief.html, manifest.json (public)
    reports/<term>/work/                   private: exact values (README.md and a .private marker)
        bundles/<partner>/, notebooks/<partner>.ipynb, failed/, audit/<release_id>/,
        manifest.json, manifest.csv (full, with errors)
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import io
import json
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

from .._io import write_atomic
from ..exceptions import ConfigError, NotebookRunError, check_argument
from .contract import check_template, validate_parameters
from .text import report_title
from .jobs import ManifestRow, ReportJob

__all__ = ["run_reports", "BatchManifest", "default_template", "dask_executor", "MANIFEST_COLUMNS", "FORMATS"]

FORMATS = ("html", "pdf", "pptx")
MANIFEST_COLUMNS = ("partner_id", "status", "seconds", "attempts", "stage", "error", "failing_cell",
                    "failing_source", "html", "ipynb", "pdf")
_VERSIONED = ("partner_analysis", "papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "pandas",
              "numpy", "matplotlib", "seaborn")


def default_template() -> Path:
    """``notebooks/quarterly_report.ipynb`` of the source tree (or ``PA_REPORT_TEMPLATE``)."""
    env = os.environ.get("PA_REPORT_TEMPLATE")
    if env:
        return Path(env)
    from ..resources import project_file
    return project_file("notebooks/quarterly_report.ipynb")


@dataclass
class BatchManifest:
    """Result of a batch: one row per partner (see :data:`MANIFEST_COLUMNS`)."""

    term: str
    out_dir: Path
    rows: list[dict] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    index_path: Path | None = None
    brief_path: Path | None = None
    json_path: Path | None = None
    csv_path: Path | None = None

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r["status"] == "ok" for r in self.rows)

    @property
    def failed(self) -> list[str]:
        return [r["partner_id"] for r in self.rows if r["status"] != "ok"]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


# -- one report (runs in a worker) -----------------------------------------------------------------

_IPC_FOLDER: Path | None = None


def _ipc_folder() -> Path:
    """This process's folder for its kernels' sockets (private, removed when the process ends)."""
    global _IPC_FOLDER
    if _IPC_FOLDER is None or not _IPC_FOLDER.is_dir():
        import multiprocessing.util
        import shutil
        import tempfile
        _IPC_FOLDER = Path(tempfile.mkdtemp(prefix="pa-k-"))
        # a multiprocessing finalizer, not atexit: a pool's worker process ends with os._exit, which runs
        # these (after the spare kernels, exitpriority 10) but never atexit handlers
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(_IPC_FOLDER, True), exitpriority=1)
    return _IPC_FOLDER


def _kernel_manager_class(log_path: Path):
    """An nbclient kernel manager whose kernel writes its stdout/stderr to ``log_path``, not the terminal.

    The kernel's own log lines ("Kernel is running over TCP without
    encryption", "KeyboardInterrupt caught in kernel" at shutdown) would
    otherwise land under the batch's progress bar. papermill cannot pass
    ``start_kernel`` arguments, but it hands engine keyword arguments to
    nbclient's ``NotebookClient``, whose ``kernel_manager_class`` is a trait:
    a subclass per report carries the log path. The kernel reads only its
    bundle (aggregates that passed the guard), so the log holds nothing
    student-level; it is kept only for a failed report, under ``failed/``.

    On POSIX the kernel listens on Unix sockets (ZeroMQ ``ipc``), not TCP ports. jupyter_client finds
    free TCP ports by binding, closing and handing the numbers to the kernel, so two kernels starting at
    once in two workers can be given the same port ("Address already in use", seen in a 40-report
    batch); a socket path of its own per kernel cannot collide. The paths are short (under the
    temporary folder, well within the 107-byte socket path limit) and jupyter_client removes them when
    the kernel stops.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class _LoggedKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _default_ip(self):
            if self.transport != "ipc":
                return super()._ip_default()
            return str(_ipc_folder() / os.urandom(6).hex())

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as fh:  # the child keeps its own copy of the descriptor
                kw.setdefault("stdout", fh)
                kw.setdefault("stderr", fh)
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return _LoggedKernelManager


def _execute(job: ReportJob, work: Path, kernel_log: Path | None = None, km=None):
    """papermill on the template; in the kernel ``km`` when given (started ahead, see :mod:`.kernels`)."""
    import papermill

    extra = {} if kernel_log is None or km is not None else {"kernel_manager_class": _kernel_manager_class(kernel_log)}
    if km is not None:
        extra["km"] = km
    return papermill.execute_notebook(
        job.template, str(work), parameters=dict(job.parameters), kernel_name="python3", progress_bar=False,
        request_save_on_cell_execute=False, execution_timeout=job.timeout, start_timeout=120,
        cwd=job.cwd, log_output=False, **extra)


def _execute_ahead(job: ReportJob, work: Path, kernel_log: Path):
    """:func:`_execute` in a kernel started while the previous report ran; the next one starts now
    (unless ``job.start_next`` is False: no report follows in this worker).

    The kernel is new (no other report used it) and is shut down here; its log becomes ``kernel_log``.
    """
    from .kernels import take_kernel

    kernel = take_kernel(kernel_name="python3", template=job.template, log_dir=kernel_log.parent,
                         manager_class=_kernel_manager_class, ahead=job.start_next)
    try:
        kernel.chdir(job.cwd, timeout=120)
        return _execute(job, work, kernel_log, km=kernel.km)
    finally:
        kernel.shutdown()
        if kernel.log.exists():
            os.replace(kernel.log, kernel_log)


def _run_one(job: ReportJob) -> ManifestRow:
    """Execute, render and write one partner's report; never raises (errors become the row).

    Readers' files go to ``job.release_dir``; the executed notebook, logs and
    failed notebooks to ``job.out_dir`` (the term's private ``work/``).
    """
    return ManifestRow.from_dict(_run_one_row(job))


def _trace_faults() -> None:
    """Make this worker process print every thread's Python stack to its stderr if it dies of a fault.

    A dask worker segfaulted in the 2,000-partner run (docs/scale.md); the next one can then be traced.
    """
    import faulthandler
    if not faulthandler.is_enabled():
        with contextlib.suppress(Exception):  # noqa: BLE001 - stderr without a file descriptor: nothing to do
            faulthandler.enable(all_threads=True)


def _run_one_row(job: ReportJob) -> dict:
    _trace_faults()
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    pid = job.partner_id
    out_dir = Path(job.out_dir)
    release_dir = Path(job.release_dir)
    work = out_dir / "tmp" / f"{pid}.ipynb"
    kernel_log = out_dir / "tmp" / f"{pid}.kernel.log"
    work.parent.mkdir(parents=True, exist_ok=True)
    kernel_log.unlink(missing_ok=True)
    row = {"partner_id": pid, "status": "failed", "seconds": 0.0, "attempts": 0, "stage": "execute", "error": "",
           "failing_cell": None, "failing_source": "", "html": "", "ipynb": "", "pdf": ""}
    t0 = time.perf_counter()
    nb = None
    for attempt in (1, 2):
        row["attempts"] = attempt
        try:
            # the first attempt in a kernel started ahead (when the job allows it); a retry in a new one
            nb = _execute_ahead(job, work, kernel_log) if job.ahead and attempt == 1 else \
                _execute(job, work, kernel_log)
            break
        except DeadKernelError as err:  # out of memory, or killed: one retry with a fresh kernel
            row["error"] = f"DeadKernelError: {err}"
            continue
        except PapermillExecutionError as err:
            row["error"] = f"{err.ename}: {err.evalue}".strip()[:2000]
            # Index in the failed notebook saved under failed/ (it holds papermill's injected cell).
            row["failing_cell"] = int(err.cell_index) if err.cell_index is not None else None
            row["failing_source"] = (err.source or "").strip().splitlines()[0][:200] if err.source else ""
            break
        except CellTimeoutError as err:
            row["stage"], row["error"] = "timeout", f"timed out after {job.timeout} s per cell: {err}"[:2000]
            break
        except Exception as err:  # noqa: BLE001 - continue-on-error: the batch reports it
            row["error"] = f"{type(err).__name__}: {err}"[:2000]
            # A kernel that dies or never answers at start-up (memory pressure, an overloaded host) gets the
            # same single retry as a DeadKernelError during execution.
            text = str(err).lower()
            if "kernel died" in text or "didn't respond" in text or "kernel_info" in text:
                continue
            break
    if nb is None:
        # Keep the failed notebook (with papermill's error banner) for the analyst; it is internal only.
        if work.exists():
            failed = out_dir / "failed" / f"{pid}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work, failed)
            row["ipynb"] = str(failed.relative_to(out_dir))
        if kernel_log.exists() and kernel_log.stat().st_size:
            # The kernel's own messages (a crash, an import error at start-up) for the analyst, internal only.
            kept = out_dir / "failed" / kernel_log.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(kernel_log, kept)
        kernel_log.unlink(missing_ok=True)
        row["seconds"] = round(time.perf_counter() - t0, 3)
        return row
    try:
        from .html import notebook_to_html, strip_parameters

        row["stage"] = "html"
        clean = strip_parameters(nb)
        clean.metadata["partner_analysis"] = {"partner_id": pid, "term": job.term}
        nbformat.validate(clean)
        html = notebook_to_html(clean, title=job.title, lang=job.lang, site=job.site)
        html_path = release_dir / f"{pid}.html"
        ipynb_path = out_dir / "notebooks" / f"{pid}.ipynb"
        write_atomic(ipynb_path, nbformat.writes(clean))
        write_atomic(html_path, html)
        row["html"], row["ipynb"] = html_path.name, str(ipynb_path.relative_to(out_dir))
        if "pdf" in job.formats:
            row["stage"] = "pdf"
            from .pdf import html_to_pdf
            pdf_path = release_dir / f"{pid}.pdf"
            html_to_pdf(html_path, pdf_path)
            row["pdf"] = pdf_path.name
        row["status"], row["stage"], row["error"] = "ok", "done", ""
        for stale in (out_dir / "failed" / f"{pid}.ipynb", out_dir / "failed" / kernel_log.name):
            stale.unlink(missing_ok=True)
    except Exception as err:  # noqa: BLE001
        row["error"] = f"{type(err).__name__}: {err}"[:2000]
    finally:
        work.unlink(missing_ok=True)
        kernel_log.unlink(missing_ok=True)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


# -- executors ------------------------------------------------------------------------------------

@contextlib.contextmanager
def dask_executor(scheduler: str | Any):
    """A ``concurrent.futures`` executor on a dask.distributed cluster (address or ``Client``/cluster).

    The same code runs on a :class:`distributed.LocalCluster` (``scheduler=None``: a local cluster
    with one worker process per core) and on a real cluster (``--scheduler tcp://host:8786``): the
    workers need this package, the template and the DATA_DIR/--out paths on shared storage. On exit
    the kernels the workers started ahead for a next report are shut down (``Client.run``).
    """
    try:
        from distributed import Client
    except ImportError as err:
        raise ConfigError("--executor dask needs dask.distributed", fix="pip install 'partner_analysis[dask]'") \
            from err
    from .kernels import close_spares

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        yield client.get_executor(pure=False)
    finally:
        with contextlib.suppress(Exception):  # the kernels each worker started for a next report
            client.run(close_spares)
        if client is not scheduler:
            client.close()


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="reports", unit="report", disable=not enabled)


# -- manifest -------------------------------------------------------------------------------------

def _read_manifest(out_dir: Path) -> dict | None:
    path = out_dir / "manifest.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _write_manifest(manifest: BatchManifest) -> None:
    out_dir = manifest.out_dir
    manifest.json_path = out_dir / "manifest.json"
    manifest.csv_path = out_dir / "manifest.csv"
    payload = {"term": manifest.term, "versions": manifest.versions, "ok": manifest.ok, "rows": manifest.rows}
    write_atomic(manifest.json_path, json.dumps(payload, indent=2, default=str))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*MANIFEST_COLUMNS, "versions"], lineterminator="\n")
    w.writeheader()
    versions = json.dumps(manifest.versions, sort_keys=True)
    for r in manifest.rows:
        w.writerow({**{c: "" if r.get(c) is None else r.get(c) for c in MANIFEST_COLUMNS}, "versions": versions})
    write_atomic(manifest.csv_path, buf.getvalue())


# -- public ------------------------------------------------------------------------------------------

def run_reports(data_dir: str | Path, *, term: str, out: str | Path = "reports",
                partners: Sequence[str] | None = None, workers: int | None = None,
                formats: Iterable[str] = ("html",), only_failed: bool = False,
                executor: cf.Executor | None = None, db: str | Path | None = None, timeout: float = 300,
                template: str | Path | None = None, lang: str | None = None, progress: bool = True,
                recipients: Sequence[str] = ("public",), kernels_ahead: bool = True) -> BatchManifest:
    """Build bundles once, run one report per partner, and write the manifest and the district index.

    Parameters
    ----------
    data_dir : path
        Validated ``DATA_DIR``.
    term : str
        Term to report on.
    out : path
        Output root: readers' files go to ``<out>/<term>/release/``, private working files to
        ``<out>/<term>/work/``, the release ledger to ``<out>/release_ledger.jsonl`` (module docstring).
    partners : list of str, optional
        Partner ids (default: all).
    workers : int, optional
        Processes of the default pool (default: one per core). Ignored with ``executor``.
    formats : iterable of {"html", "pdf", "pptx"}
        Outputs besides the executed notebook; PDF needs Chromium (:mod:`.pdf`).
    only_failed : bool
        Re-run only the partners whose row in the existing manifest is not ``ok``.
    executor : concurrent.futures.Executor, optional
        Run reports here instead (e.g. :func:`dask_executor`); the caller owns it.
    db : str or path, optional
        Records store (default ``DATA_DIR/records/records.sqlite`` when present).
    timeout : float
        Seconds allowed per notebook cell (nbclient's limit), so a hung report ends.
    template : path, optional
        Report notebook (default :func:`default_template`).
    recipients : sequence of str
        Who receives the release (recorded in the ledger); default ``("public",)``.
    kernels_ahead : bool
        Each worker starts the kernel of its next report (with the template's imports done) while the
        current one runs (:mod:`.kernels`); every report still gets a new kernel of its own.

    Returns
    -------
    BatchManifest
        ``.ok`` is True only when every report succeeded; ``.index_path`` is the district index,
        ``.brief_path`` the community brief (:mod:`.brief`).

    Raises
    ------
    ConfigError
        For bad arguments, a template that breaks the parameter contract, or
        ``only_failed`` without a previous manifest.
    """
    from .bundle import bundle_meta, open_bundles, read_cells
    from .brief import load_term_bundles, write_brief
    from .index import write_index

    formats = tuple(dict.fromkeys(f.strip() for f in formats if f.strip()))
    for f in formats:
        check_argument("formats", f, FORMATS)
    if "html" not in formats:
        raise ConfigError("formats must include 'html' (the PDF is printed from it)", key="formats")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}", key="workers")
    template = Path(template) if template is not None else default_template()
    check_template(template)
    # the term, resolved once before any folder is made: an unknown term stops here with the terms to use
    from ..config import load_config
    config = load_config(Path(data_dir) / "district.yml")
    term = config.term(str(term)).id
    lang = lang or config.report.language  # --lang, else report.language in district.yml
    from .. import privacy
    from .release import PUBLIC_MANIFEST, data_hashes, prepare_layout, record_release, retire_failed

    layout = prepare_layout(out, term)
    out_dir = layout.work
    versions = _versions()
    recipients = tuple(recipients) or ("public",)

    # Partial reruns (--partner, --only-failed) replace only their partners' rows: the district pages are always
    # built from the whole term's manifest.
    previous = _read_manifest(out_dir)
    previous_rows = [] if previous is None else list(previous["rows"])
    if only_failed:
        if previous is None:
            raise ConfigError(f"--only-failed: no previous manifest in {out_dir}", key="only_failed",
                              fix="Run the batch once without --only-failed")
        redo = [r["partner_id"] for r in previous_rows if r["status"] != "ok"]
        if partners is not None:
            redo = [p for p in redo if p in set(map(str, partners))]
        partners = redo
    manifest = BatchManifest(term=term, out_dir=out_dir, versions=versions)
    rows: list[dict] = []
    bundle_meta_of: dict[str, dict] = {}
    if not (only_failed and not partners):
        # The bundles are built one at a time and each partner's report is submitted as soon as its bundle
        # exists: only the shared work (dataset, KPI comparisons, store reads) and the first bundle come
        # before the first report, and the workers start their first kernels meanwhile.
        failed: list[dict] = []

        def jobs():
            for i, info in enumerate(stream):
                if not info.ok:
                    failed.append({"partner_id": info.partner_id, "status": "failed", "seconds": 0.0,
                                   "attempts": 0, "stage": "bundle", "error": info.error, "failing_cell": None,
                                   "html": "", "ipynb": "", "pdf": ""})
                    yield None
                    continue
                params = validate_parameters({"partner_id": info.partner_id, "term": term,
                                              "bundle_path": str(info.path.resolve()), "lang": lang})
                meta = bundle_meta(info.path)
                bundle_meta_of[info.partner_id] = meta
                yield ReportJob(parameters=params.as_papermill(), template=str(template.resolve()),
                                out_dir=str(out_dir.resolve()), release_dir=str(layout.release.resolve()),
                                formats=formats, timeout=timeout, cwd=str(info.path.resolve()), lang=lang,
                                site=meta.get("district", ""), ahead=kernels_ahead,
                                # the pool's last reports (one per worker) start no kernel for a next one
                                start_next=i < len(stream) - last,
                                title=report_title(meta.get('partner_name', info.partner_id), term, lang))

        warm = ({"kernel_name": "python3", "template": str(template.resolve()),
                 "log_dir": str(out_dir.resolve() / "tmp")} if kernels_ahead else None)
        size = _planned_partners(data_dir, partners)
        with _report_pool(executor, workers=workers, size=size, warm=warm) as (pool, n_workers):
            # an executor of the caller has an unknown number of workers: each report starts the next kernel
            last = n_workers or 0
            stream = open_bundles(data_dir, term=term, partners=partners, out=layout.bundles, db=db,
                                  ledger=layout.ledger)
            rows += _run_jobs(jobs(), total=len(stream), executor=pool, progress=progress)
        rows += failed
    done = {r["partner_id"] for r in rows}
    manifest.rows = sorted([*(r for r in previous_rows if r["partner_id"] not in done), *rows],
                           key=lambda r: r["partner_id"])
    for r in rows:
        if r["status"] != "ok":
            retire_failed(layout, r["partner_id"])  # the release folder never shows a stale report
    with contextlib.suppress(OSError):
        (out_dir / "tmp").rmdir()  # only when empty
    _write_manifest(manifest)
    # the term's bundles, read once for the brief, the index and the proposed actions
    term_bundles = load_term_bundles(out_dir, [r["partner_id"] for r in manifest.rows])
    manifest.brief_path = write_brief(layout.release, rows=manifest.rows, term=term, lang=lang, work_dir=out_dir,
                                      bundles=term_bundles)
    manifest.index_path = write_index(layout.release, rows=manifest.rows, term=term, lang=lang, work_dir=out_dir,
                                      bundles=term_bundles)
    deck = None
    if "pptx" in formats:
        from .deck import write_deck
        ok = {r["partner_id"] for r in manifest.rows if r["status"] == "ok"}
        bundles = [b for b in term_bundles if b.partner_id in ok]   # read once above, in the manifest's order
        district_name = next((str(b.meta.get("district")) for b in bundles if b.meta.get("district")), "")
        deck = write_deck(layout.release, bundles, term=term, district=district_name, lang=lang)
    _write_public_manifest(layout.release / PUBLIC_MANIFEST, manifest)
    _scan_release(layout, data_dir)
    if deck is not None:
        _scan_deck(layout, data_dir, deck)
    # concerns become proposed check-in actions in the records store, before the data is fingerprinted
    _propose_actions(data_dir, db, layout, [r["partner_id"] for r in rows if r["status"] == "ok"],
                     {b.partner_id: b for b in term_bundles})
    # the ledger: one release per partner report written now, and one for the district pages
    data = data_hashes(data_dir)
    params = {"data_dir": str(Path(data_dir).resolve()), "term": term, "formats": list(formats), "lang": lang,
              "template": str(template), "recipients": list(recipients)}
    for r in rows:
        if r["status"] != "ok":
            continue
        meta = bundle_meta_of.get(r["partner_id"], {})
        cells = read_cells(layout.bundles / r["partner_id"])
        record_release(layout, partner_id=r["partner_id"], files=[f for f in (r["html"], r["pdf"]) if f],
                       cells=cells, profile=meta.get("profile", {}).get("name", "public"), recipients=recipients,
                       parameters=dict(params, partner_id=r["partner_id"]), data=data, versions=versions,
                       notebook=out_dir / r["ipynb"] if r.get("ipynb") else None)
    ok_cells = [read_cells(layout.bundles / r["partner_id"]) for r in manifest.rows
                if r["status"] == "ok" and (layout.bundles / r["partner_id"]).exists()]
    district_cells = None
    if ok_cells:
        import pandas as pd
        district_cells = pd.concat(ok_cells, ignore_index=True)
        district_cells = district_cells[district_cells["statistic"].isin(["change", "difference", "count"])]
    district_files = [manifest.index_path.name, manifest.brief_path.name] + ([deck.name] if deck is not None else [])
    record_release(layout, partner_id="district", files=district_files,
                   cells=district_cells, profile=privacy.PrivacyProfile.from_config(
                       _district_privacy(data_dir)).name, recipients=recipients,
                   parameters=dict(params, partner_id="district"), data=data, versions=versions)
    return manifest


def _propose_actions(data_dir, db, layout, partner_ids: Sequence[str], loaded: dict | None = None) -> None:
    """Concerns on the boards become proposed actions for each partner's next check-in (records store).

    Only when a records store exists (never created here); deduplicated across runs by
    :func:`partner_analysis.records.proposals.propose_actions`. ``loaded``: bundles already read, by partner.
    """
    from .bundle import load_bundle, open_records_store
    from .status import proposed_actions
    store = open_records_store(data_dir, db)
    if store is None or not partner_ids:
        return
    from ..records.proposals import propose_actions
    try:
        props = []
        for pid in partner_ids:
            folder = layout.bundles / pid
            if pid in (loaded or {}):
                props += proposed_actions(loaded[pid])
            elif (folder / "bundle.json").exists():
                props += proposed_actions(load_bundle(folder))
        propose_actions(store, props)
    finally:
        store.close()  # no -wal/-shm file left beside the data


def _exit_with_parent(parent_pid: int) -> None:
    """Pool worker initializer: the worker ends when the batch process that started it dies.

    Without it a ``kill -9`` of the batch leaves its workers writing reports that no manifest will
    ever list. On Linux the kernel sends the worker SIGKILL when its parent dies (``prctl
    PR_SET_PDEATHSIG``); everywhere a daemon thread checks once a second that the parent is still
    the same process and ends the worker otherwise. A worker's kernels end too: jupyter_client
    starts them with ``JPY_PARENT_PID``, and ipykernel exits when that parent goes away.
    """
    import signal
    import sys
    import threading
    if sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:      # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _scan_release(layout, data_dir) -> None:
    """Last check before anything is recorded as released: no student ID in any file of ``release/``."""
    import pandas as pd

    from .. import privacy
    from .bundle import DisclosureError

    students = Path(data_dir) / "students.parquet"
    if not students.exists():
        return
    ids = pd.read_parquet(students, columns=["student_id"])["student_id"].astype(str)
    leaks = privacy.scan_release(layout.release, ids)
    if leaks:
        files = sorted({Path(leak.file).name for leak in leaks})
        for name in files:  # out of the release folder, kept for the analyst under work/failed/leaked/
            dest = layout.work / "failed" / "leaked" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(layout.release / name, dest)
        raise DisclosureError(f"student identifiers found in {files}; moved to work/failed/leaked/ and nothing "
                              "was recorded as released", table=files[0])


def _scan_deck(layout, data_dir, deck: Path) -> None:
    """The deck is a zip the release scan cannot read: its XML parts and pictures are scanned here."""
    import pandas as pd

    from .bundle import DisclosureError
    from .deck import scan_deck

    students = Path(data_dir) / "students.parquet"
    if not students.exists():
        return
    ids = pd.read_parquet(students, columns=["student_id"])["student_id"].astype(str)
    if scan_deck(deck, ids):
        dest = layout.work / "failed" / "leaked" / deck.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(deck, dest)
        raise DisclosureError(f"student identifiers found in {deck.name}; moved to work/failed/leaked/ and nothing "
                              "was recorded as released", table=deck.name)


def _district_privacy(data_dir) -> dict:
    from ..config import load_config
    return dict(load_config(Path(data_dir) / "district.yml").privacy)


def _write_public_manifest(path: Path, manifest: BatchManifest) -> None:
    """What readers may see about the batch: which reports exist (no errors, no versions, no work paths)."""
    rows = [{"partner_id": r["partner_id"], "status": "ready" if r["status"] == "ok" else "not available",
             "html": r.get("html") or "", "pdf": r.get("pdf") or ""} for r in manifest.rows]
    write_atomic(path, json.dumps({"term": manifest.term, "reports": rows, "pages": ["index.html",
                                                                                     "community_brief.html"]},
                                   indent=2))


def _planned_partners(data_dir, partners) -> int | None:
    """How many reports the batch will run at most (None when the partners table cannot be read yet)."""
    if partners is not None:
        return len(list(partners))
    import pandas as pd
    try:
        return len(pd.read_parquet(Path(data_dir) / "partners.parquet", columns=["partner_id"]))
    except Exception:  # noqa: BLE001 - the bundles say what is wrong with the table
        return None


@contextlib.contextmanager
def _report_pool(executor, *, workers: int | None, size: int | None, warm: dict | None):
    """``(executor, None)`` when given (the caller owns it), else ``(pool, workers)``: a process pool started now.

    The pool's workers are forked before the bundles are built, and each starts the kernel of its first
    report (``warm``: :func:`.kernels.start_spare` arguments) while the batch process builds them.
    """
    if executor is not None:
        yield executor, None
        return
    n = workers or os.cpu_count() or 1
    if size is not None:
        n = max(1, min(n, size))
    pool = cf.ProcessPoolExecutor(max_workers=n, initializer=_start_worker, initargs=(os.getpid(), warm))
    try:
        if size != 0:
            pool.submit(int)  # forks the workers now (a pool forks them all at its first submit)
        yield pool, n
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_jobs(jobs: Iterable[ReportJob | None], *, total: int, executor, progress) -> list[dict]:
    """Submit each job as ``jobs`` yields it (``None``: a partner without a report) and collect the rows."""
    if not total:
        return []
    rows = []
    bar = _progress(total, progress)
    try:
        futures = {}
        for job in jobs:
            if job is None:
                bar.update(1)
                continue
            fut = executor.submit(_run_one, job)
            futures[fut] = job
            fut.add_done_callback(lambda _f: bar.update(1))
        for fut in cf.as_completed(futures):
            # let go of each future once read: a dask future keeps its result on its worker while referenced, and
            # a worker lost later (a restart) would have every result it still held computed again
            job = futures.pop(fut)
            try:
                rows.append(fut.result().as_dict())
            except Exception as err:  # noqa: BLE001 - a broken worker process fails its partner only
                rows.append(ManifestRow(partner_id=job.partner_id, attempts=1, stage="worker",
                                        error=f"{type(err).__name__}: {err}").as_dict())
    finally:
        bar.close()
    return rows


def _start_worker(parent_pid: int, warm: dict | None) -> None:
    """Pool worker initializer: end with the parent (:func:`_exit_with_parent`); start the first report's kernel.

    The kernel is started as :func:`.kernels.take_kernel` starts the next report's (``warm`` holds its
    arguments), so the worker's first report finds it booted. Starting it is only a head start: when
    it fails the report starts its own kernel and reports any error itself.
    """
    _exit_with_parent(parent_pid)
    if warm:
        from .kernels import start_spare
        with contextlib.suppress(Exception):  # noqa: BLE001 - the report starts its own kernel then
            start_spare(manager_class=_kernel_manager_class, **warm)


def raise_for_failures(manifest: BatchManifest) -> None:
    """Raise :class:`NotebookRunError` for the first failed partner (for callers that want an exception)."""
    for r in manifest.rows:
        if r["status"] != "ok":
            raise NotebookRunError(f"report for partner {r['partner_id']} failed: {r['error']}",
                                   notebook=default_template(), partner=r["partner_id"],
                                   output=manifest.out_dir / (r.get("ipynb") or ""),
                                   cell_index=r.get("failing_cell"))
