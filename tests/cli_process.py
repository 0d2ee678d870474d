"""Run ``python -m partner_analysis ...`` in a child process, as a user at a shell does (exit code, stdout, stderr)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["run_cli"]


def run_cli(*args, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path = ROOT):
    """The finished :class:`subprocess.CompletedProcess` (text output); ``env`` is added to this environment."""
    return subprocess.run([sys.executable, "-m", "partner_analysis", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})
