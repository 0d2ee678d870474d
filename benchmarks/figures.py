"""One line per figure of issue #15, the same in every scale benchmark (``benchmarks/scale_all.py`` collects
the lines that start with ``FIGURE``)."""
from __future__ import annotations


def figure(label: str, value: float | str, target: float | str, *, better: str = "<=", fmt: str = "{:.2f}") -> None:
    """Print ``FIGURE <label> <value> (target <better> <target>; met|MISSED)``."""
    if isinstance(value, str):
        shown, ok = value, value == target
        goal = f"target {target}"
    else:
        shown = fmt.format(value)
        ok = value <= target if better == "<=" else value >= target
        goal = f"target {better} {target}"
    print(f"FIGURE {label:<66} {shown:>9}  ({goal}; {'met' if ok else 'MISSED'})", flush=True)
