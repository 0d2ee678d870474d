"""The ``partner-analysis`` command: thin verbs over the library.

Each verb parses arguments, calls one library function and maps
:class:`~partner_analysis.exceptions.PartnerAnalysisError` to a one-line
message and a non-zero exit code (tracebacks only with ``--debug``).

Verbs are grouped by area; each area adds its sub-parsers in one
``_add_<area>`` function below.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from .exceptions import PartnerAnalysisError

__all__ = ["main", "build_parser"]


def _path(s: str) -> Path:
    return Path(s)


# the area modules' parser helpers live in .cliargs (so an area CLI never imports this module back)
from .cliargs import add_action_group, add_store_args  # noqa: E402,F401


# -- foundation: data ----------------------------------------------------------------------------

def _cmd_demo_data(args) -> int:
    from .data.synth import make_demo_district
    out = make_demo_district(args.out, students=args.students, partners=args.partners, seed=args.seed,
                             config=args.config, with_records=not args.no_records, db=args.db)
    print(f"demo district written to {out}")
    return 0


def _cmd_import(args) -> int:
    from .data.load import import_source
    from .data.stream import StreamOptions
    result = import_source(args.source, map_path=args.map, out=args.out, config=args.config,
                           stream=StreamOptions(above=int(args.stream_above * 2**20)))
    print(result.report())
    return 0


def _cmd_import_edfi(args) -> int:
    from .data.edfi_import import import_edfi
    source = args.source if str(args.source).startswith(("http://", "https://")) else Path(args.source)
    result = import_edfi(source, map_path=args.map, out=args.out, config=args.config)
    print(result.report())
    return 0


def _cmd_quality(args) -> int:
    from .data.quality import profile_dataset, write_quality
    written = write_quality(profile_dataset(args.data_dir), args.out or args.data_dir)
    print("data-quality profile written to " + " and ".join(str(p) for p in written.values()))
    return 0


def _cmd_validate(args) -> int:
    from .data.load import validate_dataset
    result = validate_dataset(args.data_dir)
    print(result.report())
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo
    return run_demo(out=args.out, term=args.term, students=args.students, seed=args.seed,
                    workers=args.workers, reports_dir=args.reports)


def _add_data(sub) -> None:
    p = sub.add_parser("demo-data", help="generate a synthetic, reproducible demo district",
                       description="Generate a synthetic demo district (two school years, four quarters each).")
    p.add_argument("--out", type=_path, required=True, help="output DATA_DIR")
    p.add_argument("--students", type=int, default=2400, help="number of students (default 2400)")
    p.add_argument("--partners", type=int, default=8, help="number of partners, 6-10 recommended (default 8)")
    p.add_argument("--seed", type=int, default=20251, help="random seed (default 20251)")
    p.add_argument("--config", type=_path, default=None, help="district.yml (default: embedded demo config)")
    p.add_argument("--db", default=None, help="records store URL/path for demo survey answers, check-ins, investments "
                                              "(default: DATA_DIR/records/records.sqlite)")
    p.add_argument("--no-records", action="store_true", help="do not write fit-survey/records demo data")
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("import", help="import SIS exports through a column map into a validated DATA_DIR",
                       description="Read CSV/XLSX/parquet files named in a column map, rename and recode columns, "
                                   "validate everything, and write DATA_DIR only if all of it is valid.")
    p.add_argument("source", type=_path, help="folder (or file) holding the exports named in the map")
    p.add_argument("--map", type=_path, required=True, help="column map YAML (see examples/)")
    p.add_argument("--out", type=_path, required=True,
                   help="output DATA_DIR: a new folder, or one an import wrote (its imported files are replaced "
                        "atomically; the records store in it is kept; any other file stops the import)")
    p.add_argument("--config", type=_path, default=None, help="district.yml (default: the map's `config`, "
                                                              "else the embedded default)")
    p.add_argument("--stream-above", type=float, default=64, metavar="MB",
                   help="validate a table in chunks and write it as a partitioned parquet folder when one of its "
                        "CSV files is at least this many MiB (default 64; 0 streams every table that qualifies)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("import-edfi", help="import Ed-Fi XML interchanges into a validated DATA_DIR",
                       description="Read Ed-Fi Data Standard XML interchanges (Student, StudentEnrollment, "
                                   "EducationOrganization, EducationOrgCalendar, StudentAttendance, StudentProgram), "
                                   "map descriptors and programme associations through an Ed-Fi map, validate "
                                   "everything, and write DATA_DIR only if all of it is valid (docs/ed-fi.md).")
    p.add_argument("source", help="folder (or file) of XML interchanges, folder of ODS/API <resource>.json files, or "
                                  "the https:// base URL of an ODS/API (client id and secret from the environment "
                                  "variables PA_EDFI_CLIENT_ID and PA_EDFI_CLIENT_SECRET)")
    p.add_argument("--map", type=_path, default=None,
                   help="Ed-Fi map YAML (see examples/edfi_grand_bend/edfi.yml; default: the default descriptor "
                        "table, exceptions-only attendance, no partner programmes)")
    p.add_argument("--out", type=_path, required=True, help="output DATA_DIR (as for `import`)")
    p.add_argument("--config", type=_path, default=None, help="district.yml (default: the map's `config`, "
                                                              "else the embedded default)")
    p.set_defaults(func=_cmd_import_edfi)

    p = sub.add_parser("quality", help="write the data-quality profile of a DATA_DIR (HTML + CSV)",
                       description="Profile a DATA_DIR: completeness, attendance coverage per school and term, "
                                   "students without enrolment, distributions and outliers, duplicates, and which "
                                   "KPIs cannot be computed and why. Aggregates only (docs/quality.md).")
    p.add_argument("data_dir", type=_path)
    p.add_argument("--out", type=_path, default=None,
                   help="folder for quality.html and quality.csv (default: DATA_DIR)")
    p.set_defaults(func=_cmd_quality)

    p = sub.add_parser("validate", help="re-check a DATA_DIR", description="Re-run every check on a DATA_DIR.")
    p.add_argument("data_dir", type=_path)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("demo", help="the main job on the demo district (what `make demo` runs)",
                       description="Build the demo district (if missing) and run the main job on it.")
    p.add_argument("--out", type=_path, default=Path("demo_district"), help="demo DATA_DIR")
    p.add_argument("--term", default="2025-26-Q2", help="term to report on")
    p.add_argument("--students", type=int, default=2400)
    p.add_argument("--seed", type=int, default=20251)
    p.add_argument("--workers", type=int, default=None, help="report workers (default: one per core)")
    p.add_argument("--reports", type=_path, default=Path("reports"), help="report output folder")
    p.set_defaults(func=_cmd_demo)


# -- the areas' verbs: each area's cli module adds its own ------------------------------------------

def _add_kpi(sub) -> None:
    from .kpi.cli import add_parsers
    add_parsers(sub)


def _add_fit(sub) -> None:
    from .fit.cli import add_parsers
    add_parsers(sub)


def _add_records(sub) -> None:
    from .records.cli import add_parsers
    add_parsers(sub)


def _add_report(sub) -> None:
    from .report.cli import add_parsers
    add_parsers(sub)


def _add_access(sub) -> None:
    from .access.cli import add_parsers
    add_parsers(sub)


# -- records store: schema versions, backup, restore -----------------------------------------------

def _add_db(sub) -> None:
    from .store_cli import add_parsers
    add_parsers(sub)


_AREAS: Sequence[Callable] = (_add_data, _add_kpi, _add_fit, _add_records, _add_report, _add_access, _add_db)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="partner-analysis",
        description="School-district partnerships: data import, KPIs, fit survey, records and quarterly reports.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for expected errors")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for add in _AREAS:
        add(sub)
    return parser


#: exit status when the reader of standard output went away (128 + SIGPIPE, as the shell reports it)
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; return its exit status (2 for expected errors, 141 when stdout was closed)."""
    try:
        try:
            code = _main(argv)
        finally:
            sys.stdout.flush()     # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # The reader went away (`partner-analysis releases | head -1`): stop quietly. Point stdout at
        # devnull so the interpreter's final flush does not raise a second BrokenPipeError.
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PartnerAnalysisError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
