"""The report batch at scale: a dask cluster and the local pool write the same release; kernels started ahead.

The local batch runs without kernels started ahead, the dask batch (a LocalCluster of two worker
processes, the code path of ``--executor dask --scheduler ADDR``) with them, so equal hashes show
both that the executor does not change a byte and that a kernel started one report ahead (with
the template's imports done) gives the same report as a kernel started for it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from partner_analysis.report.kernels import template_imports

TERM = "2025-26-Q2"
PARTNERS = ["P01", "P02", "P03"]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report_batch")]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_dask_and_local_batches_write_the_same_release_files(demo_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    from partner_analysis.report.batch import dask_executor, run_reports

    local = run_reports(demo_dir, term=TERM, out=tmp_path / "local", partners=PARTNERS, workers=2,
                        progress=False, kernels_ahead=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        with dask_executor(cl.scheduler_address) as ex:
            remote = run_reports(demo_dir, term=TERM, out=tmp_path / "dask", partners=PARTNERS, executor=ex,
                                 progress=False, kernels_ahead=True)
    assert local.ok and remote.ok
    a, b = _hashes(tmp_path / "local" / TERM / "release"), _hashes(tmp_path / "dask" / TERM / "release")
    assert {f"{p}.html" for p in PARTNERS} <= set(a)
    assert a == b
    # the kernels the workers started for a next report were shut down, their logs removed
    assert not list((tmp_path / "dask" / TERM / "work").rglob("*.kernel.log"))


def test_template_imports_are_the_top_level_imports_of_code_cells(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell('partner_id: str = "P01"'), new_markdown_cell("import nothing"),
                             new_code_cell("from __future__ import annotations\nimport os\nfrom a.b import c as d\n"
                                           "def f():\n    import sys\nimport os"),
                             new_code_cell("%matplotlib inline\nimport magic_cell_is_skipped")])
    nbformat.write(nb, tmp_path / "t.ipynb")
    assert template_imports(tmp_path / "t.ipynb") == ("import os", "from a.b import c as d")


@pytest.mark.skipif(__import__("os").name != "posix", reason="Unix sockets: the kernels use TCP elsewhere")
def test_report_kernels_listen_on_sockets_of_their_own_not_tcp_ports(tmp_path):
    """Six kernels started at once (six threads, one kernel manager each) never share an address: each has
    its own Unix socket path, and the sockets are gone when it stops.

    With TCP, jupyter_client picks "free" ports that another kernel starting at the same moment can take
    first ("Address already in use", seen in a 40-report batch).
    """
    import asyncio
    import concurrent.futures as cf
    import glob

    from jupyter_client import BlockingKernelClient

    from partner_analysis.report.batch import _kernel_manager_class

    def start(i: int):
        km = _kernel_manager_class(tmp_path / f"k{i}.log")(kernel_name="python3")
        asyncio.run(km.start_kernel(cwd=str(tmp_path)))
        kc = BlockingKernelClient()
        kc.load_connection_info(km.get_connection_info())
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            reply = kc.execute_interactive(f"answer = {i} * 7", timeout=120)
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
        return km

    with cf.ThreadPoolExecutor(6) as pool:
        managers = list(pool.map(start, range(6)))
    try:
        info = [km.get_connection_info() for km in managers]
        assert {i["transport"] for i in info} == {"ipc"}
        assert len({i["ip"] for i in info}) == 6 and all(len(i["ip"]) + 8 < 107 for i in info)
        assert all(len(glob.glob(i["ip"] + "-*")) == 5 for i in info)   # shell, iopub, stdin, control, hb
    finally:
        for km in managers:
            asyncio.run(km.shutdown_kernel(now=True))
    assert not any(glob.glob(i["ip"] + "-*") for i in info)
    assert not any("Address already in use" in p.read_text() for p in tmp_path.glob("k*.log"))


def test_a_report_worker_that_dies_of_a_fault_prints_its_threads_stacks():
    # what a report task does first in its worker (a dask worker segfaulted in the 2,000-partner run)
    import subprocess
    import sys
    code = ("import threading, faulthandler, time\n"
            "from partner_analysis.report.batch import _trace_faults\n"
            "_trace_faults()\n"
            "threading.Thread(target=time.sleep, args=(30,), daemon=True, name='busy').start()\n"
            "faulthandler._sigsegv()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Segmentation fault" in run.stderr and "Current thread" in run.stderr
    assert run.stderr.count("Thread 0x") >= 1          # the other thread's stack too
