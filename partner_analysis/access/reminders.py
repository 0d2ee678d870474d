"""Reminders: e-mail each survey invitee who has not submitted a fresh link, at most once per interval.

Links are not stored (only their hashes), so a reminder cannot resend the old link: it issues a fresh
token for the same invitation, which replaces the old one (the old link stops working) and keeps the
respondent's draft, which belongs to the invitation, not to the link. For each recipient the new hash
is written and the message handed to the SMTP server inside one store transaction: when the server does
not take the message, the transaction rolls back and the old link still works.

Each message is in the invitation's language (``invite create --lang es``), English otherwise, and its
link carries that language.

Who is reminded: survey invitations of the wave that are ``invited`` or ``started`` (not submitted,
expired or revoked) and were not sent a link in the last ``min_days`` days. Running ``invite remind``
twice in a row therefore sends each person one message.

A dry run (:class:`~partner_analysis.access.mail.FolderOutbox`) writes the messages with a placeholder
instead of a link and changes nothing in the store.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ..i18n import N_, Translator
from ..store import Store
from .invitations import invitation_link, rotate_token
from .mail import Outbox, make_message
from .tables import invitations
from .tracking import invitation_status

__all__ = ["Reminder", "remind", "reminder_text", "DEFAULT_MIN_DAYS", "DRY_RUN_LINK"]

#: days between two reminders to the same person
DEFAULT_MIN_DAYS = 7
#: what a dry run's messages show instead of a link
DRY_RUN_LINK = "[a fresh personal link is put here when the reminder is really sent]"

ROLE_TEXT = {"district": N_("district staff"), "partner": N_("partner staff")}


@dataclass(frozen=True)
class Reminder:
    """One reminder handed to the outbox."""

    invitation_id: int
    email: str
    partner_id: str
    where: str


def reminder_text(*, name: str | None, partner: str, role: str, wave: str, link: str,
                  expires: dt.datetime, lang: str | None = None) -> tuple[str, str]:
    """Subject and body of a reminder, in ``lang`` (the invitation's language; default English)."""
    from babel.dates import format_date
    _ = Translator(lang)
    until = format_date(expires, format="long", locale=_.code) if lang else f"{expires:%d %B %Y}"
    subject = _("Reminder: partnership fit survey for {partner} ({wave})").format(partner=partner, wave=wave)
    body = "\n\n".join([
        (_("Dear {name},") if name else _("Dear colleague,")).format(name=name),
        _("You were invited to answer the partnership fit survey for {partner} as {role} ({wave}). We have not "
          "received your answers yet.").format(partner=partner, role=_(ROLE_TEXT.get(role, role)), wave=wave),
        _("Your personal link (it replaces any earlier link; please do not forward it):"),
        link,
        _("It works until {date}. Your answers are saved as you go, and any you already gave are kept: you can "
          "stop and come back with the same link.").format(date=until),
        _("If you should not have received this, reply to this message and tell us."),
    ]) + "\n"
    return subject, body


def _lang(row) -> str | None:
    return row.lang if isinstance(row.lang, str) and row.lang else None


def remind(store: Store, *, wave: str, base_url: str, sender: str, outbox: Outbox, dry_run: bool = False,
           min_days: int = DEFAULT_MIN_DAYS, now: dt.datetime | None = None) -> list[Reminder]:
    """E-mail every survey invitee of ``wave`` who has not submitted (see the module docstring).

    Parameters
    ----------
    store : Store
    wave : str
    base_url : str
        The survey app's public address; links are ``base_url?token=...``.
    sender : str
        The From address.
    outbox : Outbox
        :class:`~partner_analysis.access.mail.SmtpOutbox` or, with ``dry_run``,
        :class:`~partner_analysis.access.mail.FolderOutbox`.
    dry_run : bool
        Write the messages with a placeholder link; change nothing in the store.
    min_days : int
        Nobody gets two messages within this many days.

    Returns
    -------
    list of Reminder
        What was sent (or written), in invitation order.

    Raises
    ------
    MailError
        The server did not take a message; those before it were sent (and their new links stored),
        that one and those after it were not (their old links still work).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    frame = invitation_status(store, form="survey", wave=wave, now=now)
    known = store.partnerships_frame()
    names = {pid: name for pid, name in zip(known["partner_id"], known["name"]) if isinstance(name, str) and name}
    due = frame[frame["status"].isin(["invited", "started"])]
    cutoff = now - dt.timedelta(days=min_days)
    due = due[due["sent_at"].isna() | (due["sent_at"] <= cutoff)]
    sent: list[Reminder] = []
    try:
        for row in due.itertuples(index=False):
            partner = names.get(row.partners) or row.partners
            inv_id = int(row.invitation_id)
            if dry_run:
                subject, body = reminder_text(name=row.name, partner=partner, role=row.role, wave=wave,
                                              link=DRY_RUN_LINK, expires=row.expires_at, lang=_lang(row))
                msg = make_message(sender=sender, to=row.email, subject=subject, body=body)
                where = outbox.send(msg, name=f"reminder-{inv_id:05d}")
                sent.append(Reminder(inv_id, row.email, row.partners, where))
                continue
            with store.transaction() as conn:
                # re-checked inside the write transaction: a second `invite remind` running at the same
                # moment waits here, then finds the link just sent and skips this person
                last = conn.execute(sa.select(invitations.c.sent_at, invitations.c.revoked_at)
                                    .where(invitations.c.invitation_id == inv_id)).first()
                stamp = last.sent_at if last.sent_at is None or last.sent_at.tzinfo else \
                    last.sent_at.replace(tzinfo=dt.timezone.utc)
                if last.revoked_at is not None or (stamp is not None and stamp > cutoff):
                    continue
                token = rotate_token(conn, inv_id, now=now)
                subject, body = reminder_text(name=row.name, partner=partner, role=row.role, wave=wave,
                                              link=invitation_link(base_url, token, lang=_lang(row)),
                                              expires=row.expires_at, lang=_lang(row))
                msg = make_message(sender=sender, to=row.email, subject=subject, body=body)
                where = outbox.send(msg, name=f"reminder-{inv_id:05d}")
            sent.append(Reminder(inv_id, row.email, row.partners, where))
    finally:
        outbox.close()
    return sent
