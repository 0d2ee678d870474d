"""``partner-analysis import-edfi``: Ed-Fi XML interchanges or ODS/API JSON resources -> a validated DATA_DIR.

SOURCE is a folder of XML interchanges (:mod:`.edfi`), a folder of ``<resource>.json`` files, or the base
URL of an ODS/API (:mod:`.edfi_api`). The tables then go through the SIS import's validation and all-or-nothing
write (:func:`partner_analysis.data.load.finish_import`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..config import DistrictConfig, load_config
from .dataset import check_replaceable
from .edfi import read_interchanges
from .edfi_api import is_api_url, read_api_tables, read_json_resources
from .edfi_map import EdfiMap, read_edfi_map
from .load import ImportResult, finish_import

__all__ = ["import_edfi"]


def _resolve_config(config, emap: EdfiMap) -> DistrictConfig:
    if isinstance(config, DistrictConfig):
        return config
    if config is not None:
        return load_config(config)
    return load_config(emap.config_path)


def import_edfi(source: str | Path, *, out: str | Path, map_path: str | Path | None = None,
                config: DistrictConfig | str | Path | None = None) -> ImportResult:
    """Import Ed-Fi XML interchanges into a validated DATA_DIR (all or nothing).

    Parameters
    ----------
    source : path or str
        Folder of Ed-Fi XML interchanges (or one file), folder of ODS/API ``<resource>.json`` files, or the
        ``https://`` base URL of an ODS/API (credentials from the environment: :mod:`.edfi_api`).
    out : path
        DATA_DIR to write (as :func:`partner_analysis.data.load.import_source`).
    map_path : path, optional
        Ed-Fi map (:mod:`partner_analysis.data.edfi_map`); default: the default descriptor table, exceptions-only
        attendance, no partner programmes.
    config : DistrictConfig or path, optional
        District config; default the map's ``config:``, else the embedded default.

    Returns
    -------
    ImportResult

    Raises
    ------
    ImportValidationError, InputDataError
        Every problem, naming file, line (``row``), element path (``column``) and value; nothing is written.
    """
    emap = read_edfi_map(map_path)
    check_replaceable(out)
    cfg = _resolve_config(config, emap)
    if is_api_url(source):
        tables, errors, notes = read_api_tables(str(source), emap, cfg)
    elif Path(source).is_dir() and not any(Path(source).glob("*.xml")) and any(Path(source).glob("*.json")):
        tables, errors, notes = read_json_resources(source, emap, cfg)
    else:
        tables, errors, notes = read_interchanges(source, emap, cfg)
    result = finish_import(tables, errors, cfg, out, mapped=tuple(tables),
                           map_path=str(emap.path or "the default Ed-Fi map"), attendance=emap.attendance,
                           default_enrolment=emap.default_enrolment)
    return replace(result, warnings=tuple(notes) + result.warnings)

