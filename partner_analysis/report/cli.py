"""``partner-analysis reports`` and ``partner-analysis releases``: thin verbs over :mod:`.batch` and the ledger."""
from __future__ import annotations

from pathlib import Path

__all__ = ["add_parsers"]


def _formats(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _cmd_reports(args) -> int:
    from .batch import dask_executor, run_reports

    if args.deliver or args.deliver_dry_run:
        _delivery_outbox(args)       # a missing sender or a bad SMTP URL stops before the batch, not after

    kwargs = dict(term=args.term, out=args.out, partners=args.partner or None, workers=args.workers,
                  formats=args.format, only_failed=args.only_failed, db=args.db, timeout=args.timeout,
                  progress=not args.no_progress, recipients=tuple(args.recipient or ("public",)), lang=args.lang)
    if args.executor == "dask":
        with dask_executor(args.scheduler) as ex:
            manifest = run_reports(args.data_dir, executor=ex, **kwargs)
    else:
        manifest = run_reports(args.data_dir, **kwargs)
    n_ok = sum(r["status"] == "ok" for r in manifest.rows)
    print(f"{n_ok} of {len(manifest.rows)} reports succeeded; manifest: {manifest.json_path}")
    for r in manifest.rows:
        if r["status"] != "ok":
            cell = f", cell {r['failing_cell']}" if r.get("failing_cell") is not None else ""
            print(f"  FAILED {r['partner_id']} ({r['stage']}{cell}): {r['error']}")
    print(f"index: {manifest.index_path}")
    if args.deliver or args.deliver_dry_run:
        _deliver(args)
    return 0 if manifest.ok else 1


def _delivery_outbox(args):
    """(sender, outbox) of ``--deliver`` / ``--deliver-dry-run``: flags, then the environment, then the DATA_DIR's
    district.yml ``mail:`` (:func:`partner_analysis.access.mail.outbox_for`); ConfigError when one is missing."""
    from ..access.mail import outbox_for
    return outbox_for(smtp=args.smtp, sender=args.sender, dry_run=args.deliver_dry_run, data_dir=args.data_dir)


def _deliver(args) -> None:
    """E-mail each partner's contacts their report (see :mod:`partner_analysis.access.delivery`)."""
    import pandas as pd

    from ..access.delivery import contacts_from_csv, contacts_from_store, deliver_reports
    from ..store import Store
    sender, outbox = _delivery_outbox(args)
    frame = pd.read_parquet(Path(args.data_dir) / "partners.parquet")
    names = dict(zip(frame["partner_id"].astype(str), frame.get("name", frame["partner_id"]).astype(str)))
    partners = args.partner or list(names)
    if args.contacts:
        contacts = {p: c for p, c in contacts_from_csv(args.contacts).items() if p in partners}
    else:
        with Store(args.db, data_dir=args.data_dir, create=False) as store:
            contacts = contacts_from_store(store, partners)
    sent = deliver_reports(args.out, args.term, contacts=contacts, sender=sender, outbox=outbox, names=names,
                           link_base=args.link_base, dry_run=bool(args.deliver_dry_run))
    verb = (f"written to {args.deliver_dry_run} (not recorded)" if args.deliver_dry_run
            else "sent and recorded in the ledger")
    print(f"{len(sent)} report messages {verb}")
    for d in sent:
        print(f"  {d.partner_id} -> {d.email} ({d.release_id})")
    missing = sorted(p for p in partners if not contacts.get(p))
    if missing:
        print(f"no contacts for {', '.join(missing)}: invite their coordinators (`invite create --form records "
              "--role partner`) or pass --contacts CONTACTS.csv")


def _cmd_releases(args) -> int:
    import pandas as pd

    from ..privacy import ReleaseLedger
    from .release import LEDGER_FILE, verify_release

    if args.verify:
        result = verify_release(args.out, args.verify, data_dir=args.data_dir)
        for path, status in result["files"]:
            print(f"  {status:8} {path}")
        print(f"release {result['release_id']}: files {'unchanged' if result['unchanged'] else 'CHANGED'}")
        changed = [name for name, status in result["data"] if status != "ok"]
        if result["reproducible"]:
            print(f"reproducible from the data: yes (all {len(result['data'])} data files in {result['data_dir']} "
                  "hash as at release time)")
        else:
            print(f"reproducible from the data: no ({len(changed)} data file(s) changed or missing in "
                  f"{result['data_dir']}: {', '.join(changed[:5])})")
        return 0 if result["unchanged"] else 1
    entries = ReleaseLedger(Path(args.out) / LEDGER_FILE).releases(term=args.term)
    frame = pd.DataFrame([{"partner_id": e.get("partner_id"), "term": e.get("term"),
                           "recipients": ", ".join(e.get("recipients") or []), "release_id": e.get("release_id"),
                           "released_at": e.get("released_at"), "profile": e.get("profile"),
                           "files": len(e.get("files") or []), "cells": len(e.get("cells") or [])}
                          for e in entries],
                         columns=["partner_id", "term", "recipients", "release_id", "released_at", "profile", "files",
                                  "cells"])
    if args.partner:
        frame = frame[frame["partner_id"].isin(args.partner)]
    if args.recipient:
        frame = frame[frame["recipients"].apply(lambda r: any(x in r.split(", ") for x in args.recipient))]
    frame = frame.sort_values(["partner_id", "term", "recipients", "released_at"], kind="stable")
    if args.csv:
        print(frame.to_csv(index=False), end="")
    elif not len(frame):
        print("no releases recorded")
    else:
        print(frame.to_string(index=False))
    return 0


def add_parsers(sub) -> None:
    """Add the ``reports`` and ``releases`` verbs to the main parser's sub-parsers."""
    p = sub.add_parser(
        "reports", help="run the quarterly report for every partner (HTML, executed notebook, manifest, index)",
        description="Build privacy-safe report bundles once, then run notebooks/quarterly_report.ipynb with a fresh "
                    "kernel per partner in a process pool. Writes what readers get to OUT/TERM/release/ "
                    "(<partner_id>.html, .pdf, index.html, community_brief.html, a public manifest.json) and private "
                    "working files (bundles, executed notebooks, logs, full manifest, audit packets) to OUT/TERM/work/. "
                    "Every release is recorded in OUT/release_ledger.jsonl. Exit code 0 only when every report "
                    "succeeds.")
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="validated district data folder")
    p.add_argument("--term", required=True, help="term id, e.g. 2025-26-Q2")
    p.add_argument("--partner", action="append", metavar="P", help="only this partner id (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel reports (default: one per core)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="output root (default: reports/)")
    p.add_argument("--format", type=_formats, default=("html",), metavar="html[,pdf][,pptx]",
                   help="outputs: html (always), pdf (tagged, needs system Chromium), pptx (the meeting deck, "
                        "partnerships_<term>.pptx)")
    p.add_argument("--only-failed", action="store_true", help="re-run only partners that failed last time")
    p.add_argument("--lang", default=None, metavar="CODE",
                   help="language of the reports, index, brief and deck: en or es (default: report.language in "
                        "district.yml, else en)")
    p.add_argument("--timeout", type=float, default=300, help="seconds allowed per notebook cell (default 300)")
    p.add_argument("--db", default=None, help="records store URL/path (default DATA_DIR/records/records.sqlite)")
    p.add_argument("--executor", choices=("process", "dask"), default="process",
                   help="process pool on this machine (default) or a dask.distributed cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="dask scheduler address (with --executor dask; default: a local cluster)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--recipient", action="append", metavar="WHO",
                   help="who receives this release, recorded in the ledger (repeatable; default: public)")
    d = p.add_argument_group("delivery", "e-mail each partner's contacts their own report; each message is recorded "
                                         "in the ledger, and nobody gets the same release twice")
    d.add_argument("--deliver", action="store_true", help="send the reports after the batch")
    d.add_argument("--deliver-dry-run", type=Path, default=None, metavar="DIR",
                   help="write the messages as .eml files to DIR instead (nothing recorded)")
    d.add_argument("--contacts", type=Path, default=None, metavar="CSV",
                   help="partner_id,email,name (default: the partner coordinators invited to the records forms)")
    d.add_argument("--smtp", default=None, help="SMTP server URL (default $PA_SMTP_URL; password from "
                                                "$PA_SMTP_PASSWORD)")
    d.add_argument("--sender", default=None, help="From address (default $PA_MAIL_FROM)")
    d.add_argument("--link-base", default=None, metavar="URL",
                   help="send links under URL (where the district publishes release/) instead of attachments")
    p.set_defaults(func=_cmd_reports)

    p = sub.add_parser("releases", help="list releases by partner, term and recipient; --verify one",
                       description="List the release ledger by partner, term and recipient (release id, date, "
                                   "profile, files and published cells), or --verify RELEASE: recompute the hashes "
                                   "of its files and data files and say whether it can be reproduced from the data.")
    p.add_argument("--out", type=Path, default=Path("reports"), help="report output root holding the ledger")
    p.add_argument("--term", default=None, help="only this term")
    p.add_argument("--partner", action="append", metavar="P", help="only this partner (repeatable)")
    p.add_argument("--recipient", action="append", metavar="WHO", help="only releases to this recipient")
    p.add_argument("--verify", metavar="RELEASE", default=None, help="verify one release id")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="with --verify: data folder to check (default: the one recorded in the audit packet)")
    p.add_argument("--csv", action="store_true", help="print CSV")
    p.set_defaults(func=_cmd_releases)
