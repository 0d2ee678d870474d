"""Fresh kernels, started one report ahead: what the batch reuses across reports without sharing a kernel.

Every report still runs in its own new kernel that no other report touched. What is saved is waiting:
a worker of the batch (a process of the local pool or of a dask cluster) keeps one *spare* kernel
booting while it runs the current report, so the next report finds its kernel started and its
imports done. The spare is started with the template's own top-level imports as IPython
``exec_lines`` (``import pandas``, ``from partner_analysis.report import view``, ...), which the
kernel runs before it answers, exactly as the template's first cell would; nothing else is run in
it before the report, except a silent ``os.chdir`` to the report's working folder (the ``cwd``
papermill would have started it in). Its stdout/stderr go to a log file that becomes the report's
kernel log.

A worker holds at most one spare per thread; it is shut down when the worker process ends
(``multiprocessing.util.Finalize``), and it ends by itself if the worker dies (ipykernel exits
when its parent process goes away).
"""
from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import itertools
import json
import multiprocessing.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["template_imports", "Kernel", "take_kernel", "start_spare", "close_spares"]

_local = threading.local()
_counter = itertools.count()
_all_spares: list["Kernel"] = []
_lock = threading.Lock()


def template_imports(template: str | Path) -> tuple[str, ...]:
    """The top-level ``import`` / ``from ... import`` statements of a notebook's code cells, in order."""
    nb = json.loads(Path(template).read_text(encoding="utf-8"))
    lines: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: leave the cell to the report
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not (
                    isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                lines.append(ast.unparse(node))
    return tuple(dict.fromkeys(lines))


@dataclass
class Kernel:
    """A started kernel (its manager) and the file its output goes to."""

    km: Any
    log: Path
    key: tuple

    def shutdown(self) -> None:
        try:
            _run(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - already gone
            pass

    def chdir(self, cwd: str, timeout: float) -> None:
        """Wait until the kernel answers, then move it to ``cwd`` (silently: no output, no history)."""
        from jupyter_client import BlockingKernelClient
        kc = BlockingKernelClient()
        kc.load_connection_info(self.km.get_connection_info())
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=timeout)
            reply = kc.execute_interactive(f"import os as _pa_os; _pa_os.chdir({cwd!r}); del _pa_os", silent=True,
                                           store_history=False, timeout=timeout)
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"the kernel could not change to {cwd}: {reply['content']}")
        finally:
            kc.stop_channels()


def _run(coro):
    """Run a kernel-manager coroutine to its end, also from a thread whose event loop is running (a dask worker's)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _start(key: tuple, log_dir: Path, manager_class) -> Kernel:
    kernel_name, imports, _ = key
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"spare-{os.getpid()}-{threading.get_ident()}-{next(_counter)}.kernel.log"
    km = manager_class(log)(kernel_name=kernel_name)
    extra = [f"--IPKernelApp.exec_lines={json.dumps(list(imports))}"] if imports else []
    _run(km.start_kernel(extra_arguments=extra, cwd=str(log_dir)))
    kernel = Kernel(km=km, log=log, key=key)
    with _lock:
        if not _all_spares:
            multiprocessing.util.Finalize(None, close_spares, exitpriority=10)
        _all_spares.append(kernel)
    return kernel


def take_kernel(*, kernel_name: str, template: str, log_dir: Path, manager_class, ahead: bool = True) -> Kernel:
    """A started kernel for the next report; with ``ahead`` another one starts booting for the report after.

    ``manager_class(log_path)`` makes the kernel manager class (see ``batch._kernel_manager_class``).
    The caller owns the returned kernel and shuts it down after the report.
    """
    key = (kernel_name, template_imports(template), str(log_dir))
    spare: Kernel | None = getattr(_local, "spare", None)
    _local.spare = None
    if spare is not None and (spare.key != key or not _run(spare.km.is_alive())):
        _forget(spare)
        spare.shutdown()
        spare.log.unlink(missing_ok=True)
        spare = None
    kernel = spare if spare is not None else _start(key, log_dir, manager_class)
    _forget(kernel)
    if ahead:
        _local.spare = _start(key, log_dir, manager_class)
    return kernel


def start_spare(*, kernel_name: str, template: str, log_dir: str | Path, manager_class) -> None:
    """Start this thread's spare kernel now, as :func:`take_kernel` would for a next report.

    A batch worker calls it when it starts, so its first report also finds its kernel booted (the
    batch builds bundles meanwhile). Nothing happens when the thread already has a spare.
    """
    if getattr(_local, "spare", None) is None:
        key = (kernel_name, template_imports(template), str(log_dir))
        _local.spare = _start(key, Path(log_dir), manager_class)


def _forget(kernel: Kernel) -> None:
    with _lock:
        if kernel in _all_spares:
            _all_spares.remove(kernel)


def close_spares() -> None:
    """Shut down every spare kernel of this process (at worker exit, or after a batch in this process)."""
    with _lock:
        spares = list(_all_spares)
        _all_spares.clear()
    _local.spare = None
    for k in spares:
        k.shutdown()
        k.log.unlink(missing_ok=True)
