"""One way for the browser tests to run an app (``survey-app``, ``records-app``) as a user starts it: its own
process and process group, on a free port, waited for until it listens, stopped with SIGTERM (the CLI stops
Voilà and its kernels) and the group killed only if it has not ended 30 s later."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest

__all__ = ["free_port", "wait_for_port", "running_app"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"Voilà did not listen on port {port} within {timeout} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_app(args: Sequence[str], *, cwd: Path, drop_env: Sequence[str] = ()) -> Iterator[tuple[int, Path]]:
    """``python -m partner_analysis ARGS --port P`` running and listening; yields ``(port, log)``.

    ``drop_env`` names environment variables the app must not inherit from the test run (e.g. ``PA_DB_URL``).
    """
    port = free_port()
    log = Path(cwd) / "voila.log"
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "partner_analysis", *map(str, args), "--port", str(port)],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        yield port, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
