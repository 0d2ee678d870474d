"""notebooks/fit_results.ipynb runs top to bottom through papermill on demo survey answers."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "fit_results.ipynb"


@pytest.fixture(scope="module")
def fit_db(tmp_path_factory):
    from partner_analysis.fit.demo import write_demo_fit
    from partner_analysis.store import Store
    db = tmp_path_factory.mktemp("nbfit") / "records.sqlite"
    partners = pd.DataFrame({"partner_id": ["P01", "P02", "P03", "P04"], "name": ["A", "B", "C", "D"]})
    write_demo_fit(Store(db), SimpleNamespace(tables={"partners": partners}), seed=3)
    return db


def test_notebook_has_parameters_and_no_logic():
    nb = json.loads(NOTEBOOK.read_text())
    params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    assert "db = " in "".join(params[0]["source"]) and "partner_id = " in "".join(params[0]["source"])
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "for " not in code and "def " not in code and "lambda" not in code


@pytest.mark.slow
def test_fit_results_notebook_runs(fit_db, tmp_path):
    import papermill as pm
    out = tmp_path / "fit_results.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"db": str(fit_db), "partner_id": "P02"},
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "\n".join("".join(o.get("data", {}).get(kind, "")) for o in outputs
                     for kind in ("text/markdown", "text/plain"))
    assert "On " in text and "higher than the" in text  # discussion prompts
    assert "cronbach" not in text.lower() and "alpha" in text  # the reliability table
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1  # the gap chart, once, with its alt text (no stray inline figure)
    alt = pngs[0]["metadata"]["image/png"]["alt"]
    assert "partner P02" in alt and "largest gap" in alt


@pytest.mark.slow
def test_fit_results_notebook_fails_clearly_for_a_missing_store(tmp_path):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    with pytest.raises(PapermillExecutionError) as info:
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                            parameters={"db": "postgresql+nosuchdriver://x/y", "partner_id": "P01"},
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert info.value.cell_index is not None
