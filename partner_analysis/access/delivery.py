"""Report delivery: e-mail each partner's contacts their own report, recorded per recipient in the ledger.

After ``partner-analysis reports … --deliver`` has written ``OUT/TERM/release/<partner>.html`` (and
``.pdf``) and recorded each release in ``OUT/release_ledger.jsonl``
(:class:`~partner_analysis.privacy.ReleaseLedger`), :func:`deliver_reports` sends every contact of a
partner that partner's latest release of the term, as attachments or as a link to where the district
publishes ``release/``. Only files whose bytes still hash as recorded in the ledger are sent.

Each message sent is one ledger entry (``table="delivery"``): the release id, the recipient, the files
and their hashes, when, and how. A recipient who already has a delivery of a release is skipped, so
running the delivery again sends nothing twice; a new release (the next quarter, or a re-run) is sent.

Contacts come from a CSV (``partner_id,email,name``) or, by default, from the records store: the
partner-side coordinators invited to the records forms of that partnership (``invite create --form
records --role partner``) whose invitation is neither revoked nor expired.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..exceptions import InputDataError
from ..i18n import Translator
from .mail import Outbox, make_message

__all__ = ["Delivery", "deliver_reports", "contacts_from_store", "contacts_from_csv", "delivery_text"]

_MIME = {".html": "text/html", ".pdf": "application/pdf"}


@dataclass(frozen=True)
class Delivery:
    """One message handed to the outbox."""

    partner_id: str
    email: str
    release_id: str
    files: tuple[str, ...]
    where: str


def contacts_from_store(store, partners: Iterable[str], *, now: dt.datetime | None = None
                        ) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Partner-side coordinators of each partnership (usable records invitations):
    ``{pid: [(email, name, language)]}`` (name and language None when the invitation has none)."""
    from .tracking import invitation_status
    frame = invitation_status(store, form="records", now=now)
    frame = frame[(frame["role"] == "partner") & frame["status"].isin(["invited", "started"])]
    out: dict[str, list[tuple[str, str | None]]] = {}
    for pid in partners:
        rows = frame[frame["partners"] == pid]
        out[pid] = sorted({(r.email, r.name if isinstance(r.name, str) else None,
                            r.lang if isinstance(r.lang, str) and r.lang else None) for r in rows.itertuples()},
                          key=lambda c: (c[0], c[1] or "", c[2] or ""))
    return out


def contacts_from_csv(path: str | Path) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Contacts from a CSV with ``partner_id``, ``email`` and optionally ``name`` and ``lang`` (the language of
    their message, e.g. ``es``); one row per person and partner.

    Raises
    ------
    InputDataError
        A missing column or a cell that is not an e-mail address, named by row and column.
    """
    from ..csvread import read_csv_strings
    from .invitations import check_email, check_language
    path = Path(path)
    frame = read_csv_strings(path)
    for col in ("partner_id", "email"):
        if col not in frame.columns:
            raise InputDataError(f"the contacts file has no column {col!r}", path=path, row=1,
                                 fix="The header row needs partner_id, email and optionally name and lang")
    out: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        pid = rec["partner_id"].strip()
        if not pid:
            raise InputDataError("empty partner_id", path=path, row=i, column="partner_id",
                                 fix="Give the partnership id of this contact")
        addr = check_email(rec["email"], path=path, row=i, column="email")
        lang = check_language(rec.get("lang"), path=path, row=i, column="lang")
        out.setdefault(pid, []).append((addr, (rec.get("name") or "").strip() or None, lang))
    return out


def delivery_text(*, name: str | None, partner: str, term: str, files: Sequence[str], link_base: str | None,
                  lang: str | None = None) -> tuple[str, str]:
    """Subject and body of a report delivery, in ``lang`` (the contact's language; default English)."""
    _ = Translator(lang)
    subject = _("Partnership report for {partner}, {term}").format(partner=partner, term=term)
    if link_base:
        where = _("Your report is online:") + "\n\n" + "\n".join(f"{link_base.rstrip('/')}/{Path(f).name}"
                                                                 for f in files)
    else:
        where = _("Your report is attached ({files}).").format(files=", ".join(Path(f).name for f in files))
    greeting = (_("Dear {name},") if name else _("Dear colleague,")).format(name=name)
    ready = _("the district's quarterly report on the partnership with {partner} for {term} is ready.").format(
        partner=partner, term=term)
    body = (f"{greeting}\n\n{ready} {where}\n\n"
            + _("It shows only figures about groups large enough to protect students' privacy. Please do not "
                "forward it outside your organisation. Questions and corrections: reply to this message.") + "\n")
    return subject, body


def deliver_reports(out: str | Path, term: str, *, contacts: Mapping[str, Sequence[tuple]],
                    sender: str, outbox: Outbox, names: Mapping[str, str] | None = None,
                    link_base: str | None = None, dry_run: bool = False) -> list[Delivery]:
    """Send each partner's contacts the partner's latest release of ``term`` (see the module docstring).

    Parameters
    ----------
    out : path
        The report output root (holds ``release_ledger.jsonl`` and ``TERM/release/``).
    term : str
    contacts : mapping
        ``{partner_id: [(email, name or None[, language or None]), ...]}``; a contact's message is in their
        language (English when none).
    sender : str
    outbox : Outbox
        :class:`~partner_analysis.access.mail.SmtpOutbox`, or a
        :class:`~partner_analysis.access.mail.FolderOutbox` with ``dry_run``.
    names : mapping, optional
        partner_id -> name for the messages.
    link_base : str, optional
        Send links under this address instead of attachments.
    dry_run : bool
        Write the messages; record nothing in the ledger.

    Returns
    -------
    list of Delivery
        One per message sent (or written).

    Raises
    ------
    InputDataError
        A released file is missing or no longer hashes as recorded (nothing more is sent).
    MailError
        The server did not take a message; those before it were sent and recorded.
    """
    from ..privacy import ReleaseLedger, file_sha256
    from ..report.release import LEDGER_FILE
    out = Path(out)
    ledger = ReleaseLedger(out / LEDGER_FILE)
    entries = ledger.entries()
    done = {(e.get("release_id"), e.get("recipient")) for e in entries if e.get("table") == "delivery"}
    latest: dict[str, dict] = {}
    for e in entries:
        if e.get("table") == "release" and e.get("term") == term and e.get("partner_id") in contacts:
            latest[e["partner_id"]] = e
    sent: list[Delivery] = []
    try:
        for pid in sorted(latest):
            release = latest[pid]
            files = [(f["path"], f["sha256"]) for f in release.get("files") or []]
            for rel_path, digest in files:
                path = out / rel_path
                if not path.is_file() or file_sha256(path) != digest:
                    raise InputDataError("the released file is missing or changed since it was recorded", path=path,
                                         fix=f"Re-run the reports for {pid}; nothing more was sent")
            partner = (names or {}).get(pid) or pid
            for addr, person, *more in contacts[pid]:
                if (release["release_id"], addr) in done:
                    continue
                subject, body = delivery_text(name=person, partner=partner, term=term,
                                              files=[p for p, _ in files], link_base=link_base,
                                              lang=more[0] if more else None)
                attachments = [] if link_base else [
                    (Path(p).name, (out / p).read_bytes(), _MIME.get(Path(p).suffix, "application/octet-stream"))
                    for p, _ in files]
                msg = make_message(sender=sender, to=addr, subject=subject, body=body, attachments=attachments)
                where = outbox.send(msg, name=f"report-{pid}-{len(sent) + 1:03d}")
                if not dry_run:
                    ledger.append(term=term, partner_id=pid, table="delivery", sha256=files[0][1] if files else
                                  release["sha256"], profile=release.get("profile", "public"), rows=None,
                                  release_id=release["release_id"], recipient=addr, recipients=[addr],
                                  files=[{"path": p, "sha256": h} for p, h in files],
                                  via="link" if link_base else "attachment", message_id=str(msg["Message-ID"]))
                    done.add((release["release_id"], addr))
                sent.append(Delivery(pid, addr, release["release_id"], tuple(p for p, _ in files), where))
    finally:
        outbox.close()
    return sent
