"""``partner-analysis invite create|list|revoke|remind``: invitation links, response tracking, reminders."""
from __future__ import annotations

import os
from pathlib import Path

from .._io import open_private
from ..cliargs import add_action_group, add_store_args

__all__ = ["add_parsers", "app_base_url", "APP_URL_ENV", "DEFAULT_APP_URLS"]

#: environment variable holding the apps' public address (e.g. https://survey.district.org/)
APP_URL_ENV = "PA_APP_URL"
#: where the apps listen by default (make survey-app, make records-app)
DEFAULT_APP_URLS = {"survey": "http://127.0.0.1:8866/", "records": "http://127.0.0.1:8867/"}


def app_base_url(form: str, base_url: str | None = None, *, data_dir=None) -> str:
    """The public address links are made with: ``base_url`` (``--base-url``), else ``$PA_APP_URL``, else
    ``apps.survey_url`` / ``apps.records_url`` of the DATA_DIR's district.yml, else the local app address."""
    from .mail import district_config
    if base_url or os.environ.get(APP_URL_ENV):
        return base_url or os.environ[APP_URL_ENV]
    config = district_config(data_dir)
    return (config.apps.url(form) if config is not None else None) or DEFAULT_APP_URLS[form]


def _base_url(args) -> str:
    return app_base_url(args.form, args.base_url, data_dir=args.data_dir)


def _known_partners(store, data_dir) -> set[str]:
    known = set(store.partnerships_frame()["partner_id"].astype(str))
    if data_dir and (Path(data_dir) / "partners.parquet").exists():
        import pandas as pd
        known |= set(pd.read_parquet(Path(data_dir) / "partners.parquet", columns=["partner_id"])["partner_id"]
                     .astype(str))
    return known


def _open_private(path: Path) -> int:
    """A new file readable by its owner only (mode 0600); an existing file is never overwritten."""
    from ..exceptions import InputDataError
    try:
        return open_private(path, exclusive=True)
    except FileExistsError:
        raise InputDataError("the file exists; links are written to a new file only", path=path,
                             fix="Pass another --links-out path") from None


def _write_rows(fd: int, rows: list[dict]) -> None:
    import csv
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["invitation_id"])
        writer.writeheader()
        writer.writerows(rows)


def _cmd_create(args) -> int:
    from ..exceptions import InputDataError
    from ..store import Store
    from .invitations import create_from_roster, create_invitation
    if args.roster is None and not (args.partner and args.role and args.email):
        raise InputDataError("give --partner, --role and --email for one invitation, or --from ROSTER.csv")
    if args.roster is not None and (args.partner or args.email or args.lang):
        raise InputDataError("--from reads everyone from the roster; leave out --partner, --email and --lang "
                             "(the roster's lang column gives each person's language)")
    base = _base_url(args)
    with Store(args.db, data_dir=args.data_dir) as store:
        known = _known_partners(store, args.data_dir)
        if args.roster is not None:
            out = Path(args.links_out or f"invitation-links-{args.form}-{args.wave or 'records'}.csv")
            fd = _open_private(out)          # made first: invitations are never made without a place for links
            try:
                made = create_from_roster(store, args.roster, form=args.form, wave=args.wave,
                                          expires_days=args.expires, known_partners=known)
            except BaseException:
                os.close(fd)
                out.unlink()
                raise
            _write_rows(fd, [{"invitation_id": m.invitation_id, "email": m.email, "name": m.name or "",
                              "partners": ";".join(m.partners), "role": m.role, "link": m.link(base)}
                             for m in made])
            print(f"{len(made)} invitations made; their links are in {out} (readable by you only). "
                  "Send each person their own link, then delete the file: links are not stored and cannot be "
                  "shown again (`invite remind` issues fresh ones).")
            return 0
        partners = [p for chunk in args.partner for p in chunk.split(",") if p.strip()]
        made = create_invitation(store, partners=partners, role=args.role, email=args.email, form=args.form,
                                 wave=args.wave, name=args.name, expires_days=args.expires, known_partners=known,
                                 lang=args.lang, renew=args.renew)
    print(f"invitation {made.invitation_id} for {made.email} ({', '.join(made.partners)}, {made.role}"
          f"{', wave ' + args.wave if args.form == 'survey' else ''}), valid until {made.expires_at:%Y-%m-%d}:")
    print(f"  {made.link(base)}")
    if not made.lang:
        from ..i18n import available_languages
        others = [code for code in available_languages() if code != "en"]
        if others:
            print(f"  (the page follows the browser's language; add &lang={others[0]} to the link for "
                  f"{', '.join(others)}, or make the invitation with --lang)")
    print("This link is shown once and is not stored: send it to this person only.")
    return 0


def _cmd_list(args) -> int:
    from ..store import Store
    from .invitations import invitations_frame
    from .tracking import response_rates
    with Store(args.db, data_dir=args.data_dir, create=False) as store:
        if args.summary:
            frame = response_rates(store, wave=args.wave)
            if frame.empty:
                print("no survey invitations" + (f" in wave {args.wave}" if args.wave else ""))
                return 0
            shown = frame.assign(response_rate=(frame["response_rate"] * 100).round().astype(int).astype(str) + "%")
            print(shown.to_string(index=False))
            return 0
        frame = invitations_frame(store, form=args.form, wave=args.wave)
    if frame.empty:
        print("no invitations")
        return 0
    cols = ["invitation_id", "form", "partners", "role", "wave", "email", "name", "lang", "status", "expires_at",
            "reminders"]
    shown = frame[cols].assign(expires_at=frame["expires_at"].dt.strftime("%Y-%m-%d"),
                               wave=frame["wave"].fillna(""), name=frame["name"].fillna(""),
                               lang=frame["lang"].fillna(""))
    print(shown.to_string(index=False))
    return 0


def _cmd_revoke(args) -> int:
    from ..store import Store
    from .invitations import revoke
    with Store(args.db, data_dir=args.data_dir, create=False) as store:
        changed = revoke(store, args.invitation_id)
    what = "revoked: its link no longer works" if changed else "was already revoked"
    print(f"invitation {args.invitation_id} {what}")
    return 0


def _cmd_remind(args) -> int:
    from ..store import Store
    from .mail import outbox_for
    from .reminders import remind
    sender, outbox = outbox_for(smtp=args.smtp, sender=args.sender, dry_run=args.dry_run, data_dir=args.data_dir)
    args.form = "survey"
    with Store(args.db, data_dir=args.data_dir, create=False) as store:
        sent = remind(store, wave=args.wave, base_url=_base_url(args), sender=sender, outbox=outbox,
                      dry_run=bool(args.dry_run), min_days=args.min_days)
    verb = "written" if args.dry_run else "sent"
    print(f"{len(sent)} reminders {verb}" + (f" to {args.dry_run} (nothing changed in the store)"
                                              if args.dry_run else ""))
    for r in sent:
        print(f"  invitation {r.invitation_id}: {r.email} ({r.partner_id})")
    return 0


def add_parsers(subparsers) -> None:
    """Add the ``invite`` verb with ``create``, ``list``, ``revoke`` and ``remind``."""
    sub = add_action_group(subparsers, "invite", dest="invite_verb",
                           help="invitation links to the survey and records forms; response tracking; reminders",
                           description="One invitation per respondent: its link (shown once, stored only as a "
                                       "hash) is the only way into the survey and the records forms.")
    p = sub.add_parser("create", help="make invitations and print (or write) their links",
                       description="Make one invitation (--partner, --role, --email) or one per roster row "
                                   "(--from ROSTER.csv with partner_id, role, email, name). A single link is "
                                   "printed once; a roster's links go to a new file readable by you only.")
    p.add_argument("--form", choices=["survey", "records"], default="survey",
                   help="the app the link opens (default survey)")
    p.add_argument("--partner", action="append", default=[],
                   help="partnership id (repeatable or comma-separated: a district coordinator's records "
                        "invitation may list several)")
    p.add_argument("--role", choices=["district", "partner"], help="the respondent's side")
    p.add_argument("--wave", help="survey round, e.g. 2025-26 (required for the survey)")
    p.add_argument("--email", help="the respondent's e-mail address")
    p.add_argument("--name", help="the respondent's name, shown in the app and recorded as editor")
    p.add_argument("--expires", type=int, default=30, metavar="DAYS", help="days the link works (default 30)")
    p.add_argument("--from", dest="roster", type=Path, default=None, metavar="ROSTER.csv",
                   help="make one invitation per row of this CSV (partner_id, role, email, name)")
    p.add_argument("--links-out", type=Path, default=None,
                   help="with --from: new file for the links (default invitation-links-FORM-WAVE.csv)")
    p.add_argument("--renew", action="store_true",
                   help="when this person already has a valid invitation for this, give it a fresh link (the old "
                        "link stops working; answers stay) instead of refusing")
    p.add_argument("--lang", default=None, metavar="CODE",
                   help="the respondent's language, e.g. es: their link, pages, refusal page and reminders are in "
                        "it (a roster may have a lang column instead; default: the browser's language)")
    p.add_argument("--base-url", default=None, help=f"the app's public address (default ${APP_URL_ENV}, else "
                                                     "apps.survey_url / apps.records_url in district.yml, else "
                                                     "the local app address)")
    add_store_args(p, data_dir_help="DATA_DIR whose partners.parquet lists the partnerships and whose "
                                    "records/records.sqlite is the default store and whose district.yml "
                                    "may give the apps' addresses (apps:)")
    p.set_defaults(func=_cmd_create)

    p = sub.add_parser("list", help="invitations and their status (never a link)",
                       description="Every invitation with its status: invited, started, submitted, expired or "
                                   "revoked. --summary: survey response rates per wave, partnership and side.")
    p.add_argument("--form", choices=["survey", "records"], default=None)
    p.add_argument("--wave", default=None)
    p.add_argument("--summary", action="store_true", help="response rates per partnership and side")
    add_store_args(p)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("revoke", help="withdraw an invitation (its link stops working)",
                       description="Withdraw an invitation; answers already given are kept.")
    p.add_argument("invitation_id", type=int)
    add_store_args(p)
    p.set_defaults(func=_cmd_revoke)

    p = sub.add_parser("remind", help="e-mail non-respondents of a wave a fresh link",
                       description="E-mail each survey invitee of the wave who has not submitted a fresh link "
                                   "(the old one stops working; their answers are kept). Nobody gets two "
                                   "reminders within --min-days. The SMTP password is read from "
                                   "$PA_SMTP_PASSWORD, never from the command line.")
    p.add_argument("--wave", required=True)
    p.add_argument("--smtp", default=None, help="SMTP server URL, e.g. smtp://user@mail.district.org:587 "
                                                "(default $PA_SMTP_URL, else mail.smtp in district.yml)")
    p.add_argument("--sender", default=None, help="From address (default $PA_MAIL_FROM, else mail.sender in "
                                                  "district.yml)")
    p.add_argument("--dry-run", type=Path, default=None, metavar="DIR",
                   help="write the messages as .eml files to DIR instead of sending; change nothing")
    p.add_argument("--min-days", type=int, default=7, help="days between two reminders to a person (default 7)")
    p.add_argument("--base-url", default=None, help=f"the survey's public address (default ${APP_URL_ENV}, else "
                                                     "apps.survey_url in district.yml)")
    add_store_args(p, data_dir_help="DATA_DIR whose records/records.sqlite is the default store and whose "
                                    "district.yml may give the SMTP server and sender (mail:) and the survey's "
                                    "address (apps:)")
    p.set_defaults(func=_cmd_remind)
