"""Run the release attacks of tests/test_privacy_attacks.py on many generated small districts (by hand).

    python benchmarks/privacy_attacks.py [N] [FIRST_SEED]

Each district: 150-320 students, 2-4 partners (drawn from the seed); releases of Q1 and Q2, then six more
releases of Q2 with 1, 2, 5 students added and removed. Prints one line per district and a summary; exits 1
at the first district where an attack succeeds.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_privacy_attacks as attacks  # noqa: E402
from partner_analysis.data.synth import make_demo_district  # noqa: E402


def main(n: int = 200, first: int = 0) -> int:
    t0, cells, ok = time.perf_counter(), 0, 0
    for seed in range(first, first + n):
        rng = np.random.default_rng(seed)
        students, partners = int(rng.integers(150, 321)), int(rng.integers(2, 5))
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "district"
            make_demo_district(data, students=students, partners=partners, seed=seed, with_records=False)
            try:
                result = attacks.run_all_attacks(data, Path(tmp) / "reports")
            except AssertionError as err:
                print(f"seed {seed} ({students} students, {partners} partners): ATTACK SUCCEEDED\n{err}")
                return 1
        ok += 1
        cells += result["cells_checked"]
        print(f"seed {seed}: {students} students, {partners} partners, {result['cells_checked']} true cells "
              f"feasible, {result['differencing_rounds']} differencing rounds, 0 recoveries", flush=True)
    print(f"{ok} districts, {cells} cells checked, 0 successful attacks, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
