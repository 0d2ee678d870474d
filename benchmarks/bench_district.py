"""The large demo district the benchmarks share: generated once under ``<tmp>/pa_bench/`` and reused."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path


def district_for(students: int, seed: int, data_dir: Path | None = None) -> Path:
    """``data_dir`` (default ``<tmp>/pa_bench/district_<students>_<seed>``), generated when it holds none."""
    data_dir = data_dir or Path(tempfile.gettempdir()) / "pa_bench" / f"district_{students}_{seed}"
    if not (data_dir / "district.yml").exists():
        from partner_analysis.data.synth import make_demo_district
        t = time.perf_counter()
        make_demo_district(data_dir, students=students, seed=seed, with_records=False)
        print(f"generated {data_dir} in {time.perf_counter() - t:.1f} s")
    else:
        print(f"reusing {data_dir}")
    return data_dir
