"""The typed parameter contract of the quarterly report notebook.

papermill validates nothing: unknown names only warn, missing names silently
keep the template's defaults, and its CLI turns ``"0123"`` into ``123``. The
batch runner therefore checks every parameter set against
:class:`ReportParameters` *before* a kernel starts, and cross-checks the
contract against the template's own ``parameters`` cell
(:func:`check_template`), so the two cannot drift apart.

Only identifiers and paths cross this line (privacy.md §7): papermill stores
parameters in the executed notebook.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..exceptions import ConfigError

__all__ = ["ReportParameters", "validate_parameters", "check_template", "PARAMETER_NAMES"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class ReportParameters:
    """Parameters of ``notebooks/quarterly_report.ipynb``.

    Parameters
    ----------
    partner_id : str
        Partner identifier, a string (leading zeros are kept), e.g. ``"P01"``.
    term : str
        Term identifier from ``district.yml``, e.g. ``"2025-26-Q2"``.
    bundle_path : str
        Folder of the partner's report bundle (aggregates only).
    lang : str
        Language of the report text (``"en"``, ``"es"``, ``"es-MX"``; gettext domain ``report``).
    """

    partner_id: str
    term: str
    bundle_path: str
    lang: str = "en"

    def __post_init__(self):
        for name in ("partner_id", "term", "bundle_path"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(
                    f"report parameter `{name}` must be a string, but {type(value).__name__} {value!r} was passed",
                    key=name, value=value,
                    fix="Pass identifiers as strings (\"0123\", not 123); use the Python API, never papermill -p")
        for name in ("partner_id", "term"):
            if not _ID.match(getattr(self, name)):
                raise ConfigError(f"report parameter `{name}` is not a valid identifier: {getattr(self, name)!r}",
                                  key=name, value=getattr(self, name),
                                  fix="Use letters, digits, '-', '_' or '.' (at most 64 characters)")
        if not isinstance(self.lang, str) or not _LANG.match(self.lang):
            raise ConfigError(f"report parameter `lang` is not a language code: {self.lang!r}", key="lang",
                              value=self.lang, fix="Use a code such as en, es or es-MX")
        if not self.bundle_path:
            raise ConfigError("report parameter `bundle_path` is empty", key="bundle_path",
                              fix="Build the bundle with report.bundle.build_bundles() and pass its folder")

    def as_papermill(self) -> dict[str, str]:
        """The dict handed to ``papermill.execute_notebook(parameters=...)``."""
        return dataclasses.asdict(self)


PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ReportParameters))
#: the names every parameter set must carry (``lang`` defaults to English)
REQUIRED_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ReportParameters)
                                        if f.default is dataclasses.MISSING)


def validate_parameters(params: Mapping[str, Any]) -> ReportParameters:
    """Check a parameter mapping against the contract and return it typed.

    Raises
    ------
    ConfigError
        When a name is missing or unknown, or a value is not a string identifier.
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"report parameters must be a mapping, got {type(params).__name__}")
    missing = [n for n in REQUIRED_NAMES if n not in params]
    unknown = sorted(set(params) - set(PARAMETER_NAMES))
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unknown:
            problems.append(f"unknown {unknown}")
        raise ConfigError(f"report parameters: {'; '.join(problems)}", key="parameters",
                          fix=f"Pass exactly {list(PARAMETER_NAMES)}")
    return ReportParameters(**{n: params[n] for n in PARAMETER_NAMES if n in params})


def check_template(path: str | Path) -> None:
    """Check that a template's ``parameters`` cell declares exactly the contract's names, typed ``str``.

    Uses :func:`papermill.inspect_notebook`, which reads the annotations of the
    cell tagged ``parameters``.

    Raises
    ------
    ConfigError
        When the notebook has no parameters cell or its names/types differ.
    """
    import papermill

    path = Path(path)
    try:
        declared = papermill.inspect_notebook(str(path))
    except Exception as err:  # papermill raises plain exceptions for unreadable notebooks
        raise ConfigError(f"cannot read the report template: {err}", path=path) from err
    if not declared:
        raise ConfigError("the report template has no cell tagged 'parameters'", path=path,
                          fix="Tag the first code cell 'parameters'")
    names = set(declared)
    if names != set(PARAMETER_NAMES):
        raise ConfigError(f"template parameters {sorted(names)} differ from the contract {sorted(PARAMETER_NAMES)}",
                          path=path, fix="Update the parameters cell or report/contract.py together")
    wrong = sorted(n for n, spec in declared.items() if str(spec.get("inferred_type_name", "")) != "str")
    if wrong:
        raise ConfigError(f"template parameters {wrong} are not annotated ': str'", path=path,
                          fix="Write e.g. `partner_id: str = \"P01\"` in the parameters cell")
