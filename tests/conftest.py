"""Shared fixtures: seeded randomness, Agg backend, figure clean-up, the shared data folder, a small demo district."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from pg_fixture import pg_fresh_url, pg_server, pg_url  # noqa: E402,F401 - throw-away PostgreSQL fixtures
from smtp_server import smtp  # noqa: E402,F401 - a local SMTP server (aiosmtpd)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
UCI_DIR = SHARED / "data" / "uci_student_performance"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def rng():
    return np.random.default_rng(20251124)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.fixture
def uci_dir() -> Path:
    """The real UCI Student Performance files; skip (clearly) where ../shared is absent."""
    if not (UCI_DIR / "student-mat.csv").exists():
        pytest.skip(f"UCI Student Performance data not found at {UCI_DIR} (../shared is absent in a user's clone; "
                    "CI has it)")
    return UCI_DIR


def require_chromium():
    """Skip with a reason where Chromium is missing; fail instead when CI demands the browser tests."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    msg = f"Chromium not found at {CHROMIUM} (install Debian's `chromium` package to run browser tests)"
    if os.environ.get("PA_REQUIRE_BROWSER"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo district (built once per test session / xdist worker)."""
    from partner_analysis.data.synth import make_demo_district
    out = tmp_path_factory.mktemp("demo") / "district"
    make_demo_district(out, students=600, partners=8, seed=7)
    return out


@pytest.fixture(scope="module")
def config():
    """The embedded default district configuration."""
    from partner_analysis import load_config
    return load_config()


@pytest.fixture
def store(tmp_path):
    """An empty SQLite records store in ``tmp_path``, closed afterwards (test files may override it)."""
    from partner_analysis.store import Store
    s = Store(tmp_path / "records.sqlite")
    yield s
    s.close()
