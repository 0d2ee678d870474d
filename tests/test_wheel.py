"""A wheel carries everything a district needs outside a source checkout.

`make` installs the project editable, so the rest of the suite never sees a
wheel. This builds a real one, installs it into a private prefix and asks the
installed package (not the checkout) where its shipped files are.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

# Both tests share the module's wheel: one group keeps them on one xdist worker, so the wheel is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

# What a build never reads and a checkout may hold: environments, earlier builds, outputs.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    ".hypothesis", "demo_district", "reports", "site", "tests", "benchmarks")

SHIPPED = ["notebooks/quarterly_report.ipynb", "notebooks/fit_survey.ipynb", "surveys/partner_fit_v1.xlsx"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # setuptools builds inside the source tree (build/, *.egg-info): a private copy keeps a concurrent
    # build (another worker, `make` in the checkout) from colliding with this one (CI, stop 19:
    # "File exists: build/bdist.linux-x86_64/wheel/partner_analysis-0.1.0.dist-info").
    source = tmp_path_factory.mktemp("source") / "partner_analysis"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(out), str(source)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{run.stderr[-2000:]}")
    (whl,) = out.glob("partner_analysis-*.whl")
    return whl


def test_wheel_holds_package_data_and_shipped_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for inside in ["partner_analysis/defaults/district.yml", "partner_analysis/kpi/kpis.yml",
                   "partner_analysis/report/templates/partner_report/index.html.j2",
                   # the store's Alembic environment and every revision (db upgrade needs them installed)
                   "partner_analysis/migrations/env.py", "partner_analysis/migrations/script.py.mako",
                   "partner_analysis/migrations/versions/r0001_baseline.py",
                   "partner_analysis/migrations/versions/r0002_goal_owner_column.py",
                   # the interface translations read at run time (partner_analysis/i18n.py)
                   "partner_analysis/locale/es/LC_MESSAGES/partner_analysis.mo",
                   "partner_analysis/locale/es/LC_MESSAGES/report.mo"]:
        assert inside in names, inside
    data = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    for rel in SHIPPED:
        assert f"share/partner_analysis/{rel}" in data, rel
    assert not any(n.startswith(("tests/", "reports/", "demo_district/")) for n in names)
    # the licence travels with the wheel (PEP 639: License-Expression plus the file itself)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: BSD-3-Clause" in zipfile.ZipFile(wheel).read(meta).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_installed_wheel_finds_its_files(wheel, tmp_path):
    # --ignore-installed: without it pip would first uninstall the editable checkout from the test's own venv
    prefix = tmp_path / "prefix"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                          "--prefix", str(prefix), str(wheel)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    (site,) = prefix.glob("lib/python*/site-packages")
    probe = (
        "import json, partner_analysis, partner_analysis.resources as r\n"
        "from partner_analysis.fit.instrument import default_instrument_path\n"
        "from partner_analysis.report.batch import default_template\n"
        "from partner_analysis.store_schema import head_revision, known_revisions\n"
        "from partner_analysis.i18n import Translator\n"
        f"print(json.dumps({{'pkg': partner_analysis.__file__, "
        f"'files': [str(r.project_file(p)) for p in {SHIPPED!r}], "
        "'instrument': str(default_instrument_path()), 'template': str(default_template()), "
        "'revisions': known_revisions(), 'head': head_revision(), 'es': Translator('es')('Submit')}))\n"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["pkg"].startswith(str(site)), "the probe imported the checkout, not the wheel"
    share = prefix / "share" / "partner_analysis"
    assert found["files"] == [str(share / p) for p in SHIPPED]
    assert found["instrument"] == str(share / "surveys/partner_fit_v1.xlsx")
    assert found["template"] == str(share / "notebooks/quarterly_report.ipynb")
    # the installed package finds its own migrations (the same revisions as the checkout)
    from partner_analysis.store_schema import head_revision, known_revisions
    assert found["revisions"] == known_revisions() and found["head"] == head_revision()
    # the installed wheel's Spanish catalog is found and read (the msgstr of "Submit" in es/partner_analysis.po)
    assert found["es"] == "Enviar"


def test_checkout_install_survives(wheel, tmp_path):
    # a fresh interpreter still imports the editable checkout the rest of the suite runs on
    done = subprocess.run([sys.executable, "-c", "import partner_analysis; print(partner_analysis.__file__)"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.strip().startswith(str(ROOT))
