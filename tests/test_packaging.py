"""pyproject.toml and environment.yml must agree on every package (the conda route must not drift)."""
from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT

# conda-forge names that differ from PyPI names
_CONDA_ALIASES = {"dask[distributed]": {"dask", "distributed"}, "psycopg[binary]": {"psycopg"}}


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\s]", req.strip(), maxsplit=1)[0].lower()


def _pyproject_packages() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        reqs += extra
    names = set()
    for r in reqs:
        n = _name(r)
        names |= _CONDA_ALIASES.get(n, {re.sub(r"\[.*\]", "", n)})
    return names


def _environment_packages() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(x) for x in dep.get("pip", [])}
        else:
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_environment_matches_pyproject():
    py, env = _pyproject_packages(), _environment_packages()
    assert py - env == set(), f"in pyproject.toml but not environment.yml: {sorted(py - env)}"
    assert env - py == set(), f"in environment.yml but not pyproject.toml: {sorted(env - py)}"


def test_lower_bounds_agree():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"]) + [r for e in data["project"]["optional-dependencies"].values()
                                                      for r in e]
    bounds = {re.sub(r"\[.*\]", "", _name(r)): r.split(">=")[1] for r in reqs if ">=" in r}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    flat = [d for d in env["dependencies"] if isinstance(d, str)]
    flat += [x for d in env["dependencies"] if isinstance(d, dict) for x in d.get("pip", [])]
    for dep in flat:
        n = _name(dep)
        if n in bounds and ">=" in dep:
            assert dep.split(">=")[1] == bounds[n], f"{n}: environment.yml >={dep.split('>=')[1]}, pyproject >={bounds[n]}"


def test_console_script_and_module_entry_point():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "partner_analysis", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo-data" in out.stdout
