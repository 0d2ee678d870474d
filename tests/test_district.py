"""The analyst's front door (pa.open_district) and notebooks that run as opened, with their default parameters."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import partner_analysis as pa
from partner_analysis import district as district_module
from partner_analysis.district import find_data_dir, open_district
from partner_analysis.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: The app notebooks Voila serves: opened without an invitation link they say so (and do not stop).
APP_NOTEBOOKS = {"fit_survey.ipynb", "records_forms.ipynb"}
def _every_notebook():
    """Every notebook in notebooks/, so a new one is covered without touching this file."""
    return [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb"))]


def test_dir_shows_only_the_public_api():
    names = dir(pa)
    assert "open_district" in names and "kpi" in names and "DistrictConfig" in names
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    assert "annotations" not in names and "importlib" not in names
    for name in pa.__all__:
        assert getattr(pa, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        pa.nonsense  # noqa: B018


def test_find_data_dir_order(demo_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PA_DATA_DIR", raising=False)
    fake_checkout = tmp_path / "checkout"
    (fake_checkout / "notebooks").mkdir(parents=True)
    monkeypatch.setattr(district_module, "_CHECKOUT", fake_checkout)
    with pytest.raises(ConfigError, match="make demo"):
        find_data_dir("")
    shutil.copytree(demo_dir, fake_checkout / "demo_district")
    # 3. the checkout's demo district, whatever the working directory (JupyterLab runs in notebooks/)
    monkeypatch.chdir(fake_checkout / "notebooks")
    assert find_data_dir("") == (fake_checkout / "demo_district").resolve()
    # a relative parameter is also tried against the checkout, so "demo_district" works from notebooks/
    assert find_data_dir("demo_district") == (fake_checkout / "demo_district").resolve()
    # 2. PA_DATA_DIR before the demo
    monkeypatch.setenv("PA_DATA_DIR", str(demo_dir))
    assert find_data_dir(None) == demo_dir.resolve()
    # 1. the parameter before everything
    other = tmp_path / "other"
    shutil.copytree(demo_dir, other, ignore=shutil.ignore_patterns("*.parquet", "records*"))
    assert find_data_dir(str(other)) == other.resolve()


def test_find_data_dir_names_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("PA_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"PA_DATA_DIR.*no district.yml"):
        find_data_dir("")
    with pytest.raises(ConfigError, match=r"the path given.*no district.yml"):
        find_data_dir(tmp_path)


def test_district_reads_lazily_and_compares(demo_dir):
    district = open_district(demo_dir)
    assert "dataset" not in vars(district)          # nothing read yet
    assert district.terms() == sorted(district.terms(), key=district.terms().index)
    assert district.name == district.config.name
    partners = district.partners()
    assert len(partners) == 8 and partners.partner_id.iloc[0] == "P01"
    table = district.compare(term="2025-26-Q2", partners="P01")
    assert set(table.partner_id) == {"P01"} and "marker" in table
    again = district.compare(term="2025-26-Q2", partners="P01")
    assert table.equals(again)
    with pytest.raises(ConfigError, match="no table 'nonsense'"):
        district.table("nonsense")
    assert district.fit("P01")["fit_overall"].shape[0] == 1


def _cells_with_errors(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return [o.get("evalue", "") for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("name", _every_notebook())
def test_notebook_runs_with_its_default_parameters(name, demo_dir, tmp_path, monkeypatch):
    """As a newcomer runs it: opened in notebooks/, Run All, no parameter changed (the demo via PA_DATA_DIR)."""
    import papermill as pm
    monkeypatch.setenv("PA_DATA_DIR", str(demo_dir))
    monkeypatch.delenv("PA_DB_URL", raising=False)
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    out = tmp_path / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), kernel_name="python3", progress_bar=False,
                        cwd=str(NOTEBOOKS))
    assert _cells_with_errors(out) == []
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before   # nothing written beside the notebooks
    if name in APP_NOTEBOOKS:   # no ?token= in a notebook opened by hand: the refusal page, not a store error
        text = out.read_text(encoding="utf-8")
        assert "personal invitation link" in text and "Error:" not in text
    if name == "quarterly_report.ipynb":   # opened by hand: a preview of P01's report, board first
        text = out.read_text(encoding="utf-8")
        assert "Partnership board" in text and "P01" in text


def test_app_data_dir_never_raises(demo_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PA_DATA_DIR", raising=False)
    monkeypatch.setattr(district_module, "_CHECKOUT", tmp_path)     # a checkout without a demo district
    assert district_module.app_data_dir("") == ""
    assert district_module.app_data_dir(str(tmp_path / "nowhere")) == str(tmp_path / "nowhere")   # the app says
    monkeypatch.setenv("PA_DATA_DIR", str(demo_dir))
    assert district_module.app_data_dir("") == str(demo_dir.resolve())
    # a store named without a DATA_DIR is never paired with the checkout's demo district
    monkeypatch.delenv("PA_DATA_DIR")
    shutil.copytree(demo_dir, tmp_path / "demo_district")
    assert district_module.app_data_dir("") == str((tmp_path / "demo_district").resolve())
    assert district_module.app_data_dir("", db="postgresql+psycopg://district/records") == ""
    monkeypatch.setenv("PA_DB_URL", "sqlite:///elsewhere.sqlite")
    assert district_module.app_data_dir("") == ""


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_papermill_reads_every_parameter(name):
    """A parameter papermill cannot parse is silently not overridable ("Passed unknown parameter")."""
    import papermill as pm
    nb = json.loads((NOTEBOOKS / name).read_text())
    [cell] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assigned = [line.split("=")[0].split(":")[0].strip() for line in "".join(cell["source"]).splitlines()
                if "=" in line and not line.lstrip().startswith("#")]
    assert sorted(pm.inspect_notebook(str(NOTEBOOKS / name))) == sorted(assigned)
