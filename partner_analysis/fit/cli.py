"""``partner-analysis survey ...`` verbs: validate, export, import-kobo, score, and ``survey-app`` (the Voilà form),
thin over :mod:`partner_analysis.fit`."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..cliargs import add_action_group, add_store_args

__all__ = ["add_parsers"]


def _instrument(path):
    from .instrument import read_instrument
    return read_instrument(path)


def _cmd_validate(args) -> int:
    from .instrument import read_instrument, write_plain_xlsform
    inst = read_instrument(args.file, previous_version=args.previous_version)
    print(f"{args.file}: valid instrument '{inst.form_id}' version {inst.version} ({inst.title})")
    questions = [it for it in inst.items if it.type != "note"]
    print(f"  {len(questions)} questions, {len(inst.groups)} sections, {len(inst.dimensions)} scored dimensions")
    for dim in inst.dimensions:
        d = len(inst.scored_items(dim, role="district"))
        p = len(inst.scored_items(dim, role="partner"))
        print(f"  - {inst.dimension_label(dim)} ({dim}): {d} district items, {p} partner items")
    bands = "; ".join(f"{b.label}<{b.upper}" if b.upper != float("inf") else b.label for b in inst.bands)
    print(f"  bands: {bands}; gap watch >= {inst.gap_thresholds.watch}, discuss >= {inst.gap_thresholds.discuss}; "
          f"min items {inst.min_items_pct:.0%}; min n {inst.min_n}; "
          f"confidential: {'yes' if inst.confidential else 'no'}")
    languages = ", ".join(f"{name} ({code})" for code, name in inst.languages)
    print(f"  languages: {languages}; default {inst.default_language}"
          + ("; every scored item translated in each" if len(inst.languages) > 1 else ""))
    if args.write_plain:
        write_plain_xlsform(args.file, args.write_plain)
        print(f"  plain XLSForm for KoboToolbox/ODK written to {args.write_plain}")
    return 0


def _store(args, *, create: bool = True):
    from ..store import Store
    # Reading verbs pass create=False: a mistyped --db must fail, not leave an empty store behind.
    return Store(args.db, data_dir=getattr(args, "data_dir", None), create=create)


def _cmd_export(args) -> int:
    from .exchange import export_answers
    inst = _instrument(args.instrument)
    store = _store(args, create=False)
    paths = export_answers(store, args.out, instrument=inst, partner_id=args.partner_id, wave=args.wave,
                           status=None if args.status == "all" else args.status)
    for kind, path in paths.items():
        print(f"{kind:7s} {path}")
    return 0


def _cmd_import_kobo(args) -> int:
    from .exchange import import_kobo
    inst = _instrument(args.instrument)
    store = _store(args)
    partners = None
    if args.data_dir is not None and (Path(args.data_dir) / "partners.parquet").exists():
        partners = pd.read_parquet(Path(args.data_dir) / "partners.parquet", columns=["partner_id"])["partner_id"]
    ignore = [c for value in (args.ignore_columns or []) for c in value.split(",")]
    result = import_kobo(store, args.csv, inst, partner_id=args.partner_id, role=args.role, wave=args.wave,
                         partner_column=args.partner_column, role_column=args.role_column, partners=partners,
                         ignore_columns=ignore)
    print(result.report())
    return 0


def _cmd_score(args) -> int:
    from .results import score_store
    inst = _instrument(args.instrument)
    scores = score_store(_store(args, create=False), inst, partner_id=args.partner_id, wave=args.wave)
    if scores.answers.empty:
        print(f"no submitted answers to '{inst.form_id}' version {inst.version}"
              + (f" for partner {args.partner_id}" if args.partner_id else ""))
        return 0
    view = scores.gap_report[["partner_id", "wave", "dimension", "district_mean", "partner_mean", "gap", "gap_flag",
                              "n_district", "n_partner"]]
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.float_format", "{:.2f}".format):
        print(view.to_string(index=False))
    if len(scores.prompts):
        print("\nDiscussion prompts:")
        for row in scores.prompts.itertuples(index=False):
            print(f"  [{row.partner_id} {row.wave}] {row.prompt}")
    if args.out:
        print("\nwritten: " + ", ".join(str(p) for p in scores.write(args.out)))
    return 0


def _db_args(p) -> None:
    add_store_args(p)
    p.add_argument("--instrument", default=None,
                   help="instrument workbook (default: surveys/partner_fit_v1.xlsx)")


def add_parsers(subparsers) -> None:
    """Add the ``survey`` and ``survey-app`` verbs to the top-level parser."""
    sub = add_action_group(subparsers, "survey", dest="survey_verb",
                           help="partner-fit survey: validate, export, import, score",
                           description="Partner-fit survey instruments (XLSForm) and answers.")

    p = sub.add_parser("validate", help="check an instrument workbook (XLSForm + fit:: columns)",
                       description="Read and validate an instrument; errors name sheet, row and column.")
    p.add_argument("file", type=Path, help="instrument .xlsx")
    p.add_argument("--previous-version", default=None, help="version this revision replaces (must increase)")
    p.add_argument("--write-plain", type=Path, default=None,
                   help="also write a copy without fit:: columns for upload to KoboToolbox / ODK Central")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("export", help="write answers as long / wide CSV plus dimension scores and gaps",
                       description="Export answers from the records store (long and wide CSV carry form_id and "
                                   "version) and the scored dimension table.")
    _db_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--partner-id", default=None)
    p.add_argument("--wave", default=None)
    p.add_argument("--status", choices=("submitted", "draft", "all"), default="submitted")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("import-kobo", help="import a KoboToolbox / ODK Central CSV export",
                       description="Import submissions exported as CSV from KoboToolbox or ODK Central for a form "
                                   "built from the same instrument. All rows are checked before anything is "
                                   "written; re-importing the same export creates nothing new.")
    p.add_argument("csv", type=Path, help="the CSV export")
    _db_args(p)
    p.add_argument("--partner-id", default=None, help="partner for every row (else the CSV's partner column)")
    p.add_argument("--role", choices=("district", "partner"), default=None,
                   help="side for every row (else the CSV's role column)")
    p.add_argument("--wave", default="annual", help="survey round (default annual)")
    p.add_argument("--partner-column", default="partner_id")
    p.add_argument("--role-column", default="role")
    p.add_argument("--ignore-columns", action="append", metavar="COL[,COL...]",
                   help="export columns to skip on purpose (any other column that is neither a question nor "
                        "export metadata is refused)")
    p.set_defaults(func=_cmd_import_kobo)

    p = sub.add_parser("score", help="print dimension scores, district-vs-partner gaps and prompts",
                       description="Score submitted answers and print the gap report and discussion prompts.")
    _db_args(p)
    p.add_argument("--partner-id", default=None)
    p.add_argument("--wave", default=None)
    p.add_argument("--out", type=Path, default=None, help="also write dimension_scores.csv, gap_report.csv, "
                                                          "reliability.csv here")
    p.set_defaults(func=_cmd_score)

    _add_survey_app_parser(subparsers)


def _cmd_survey_app(args) -> int:
    from ..forms.voila import serving_settings
    from ..store import resolve_db_url
    from .app import serve_survey_app
    db = args.db
    if not db and args.data_dir:
        db = resolve_db_url(None, data_dir=args.data_dir)
    return serve_survey_app(db, instrument=args.instrument, settings=serving_settings(args))


def _add_survey_app_parser(subparsers) -> None:
    """Add ``partner-analysis survey-app [--db URL] [--port N]``."""
    from ..forms.voila import add_serving_args
    p = subparsers.add_parser(
        "survey-app", help="serve the fit-survey form with Voila (invitation links only)",
        description="Serve notebooks/fit_survey.ipynb with Voila (code hidden, no browser opened, idle kernels "
                    "culled). Only invitation links (`partner-analysis invite create`) open it: each opens that "
                    "respondent's own survey; answers are saved on every change to the records store.")
    add_store_args(p)
    add_serving_args(p, port=8866)
    p.add_argument("--instrument", default=None, help="instrument workbook (default: surveys/partner_fit_v1.xlsx)")
    p.set_defaults(func=_cmd_survey_app)
