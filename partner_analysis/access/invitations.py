"""Invitations: one link per respondent, the only way into the survey and the records forms.

An invitation names who may open which app for which partnerships:

- ``form="survey"``: one respondent of one partnership, on one side (``role``), in one ``wave``;
- ``form="records"``: a coordinator's check-ins, investments and goals, for one partnership (a partner's
  coordinator) or a list of partnerships (a district coordinator).

Its link carries a random token (:mod:`partner_analysis.access.tokens`); the store keeps only the
token's SHA-256 hash, so the link is shown once, when it is made, and can never be read back. A link
stops working when it expires, when the invitation is revoked, or when a reminder issues a fresh link
for the same invitation (:mod:`partner_analysis.access.reminders`).

Who the respondent is comes from the token (:func:`resolve_token` returns an :class:`Identity`), never
from a name typed in a form; the apps ask the identity before they show or change anything
(:meth:`Identity.require`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from ..exceptions import AccessDenied, InputDataError
from ..store import Store
from .tables import FORMS, ROLES, invitation_partners, invitations
from .tokens import looks_like_token, new_token, same_hash, token_hash

__all__ = ["Identity", "NewInvitation", "create_invitation", "create_from_roster", "resolve_token", "revoke",
           "invitations_frame", "rotate_token", "invitation_usable", "check_email", "check_language",
           "invitation_link", "invitation_language",
           "DEFAULT_EXPIRY_DAYS", "ROSTER_COLUMNS"]

#: days an invitation link stays valid unless ``expires_days`` says otherwise
DEFAULT_EXPIRY_DAYS = 30
#: columns of a roster CSV (``partner_id`` may list several ids separated by ``;`` for district coordinators)
ROSTER_COLUMNS = ("partner_id", "role", "email", "name", "lang")

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stamp here is written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Identity:
    """Who opened an app, as the invitation link says.

    Attributes
    ----------
    invitation_id : int
    form : {"survey", "records"}
    role : {"district", "partner"}
    partners : tuple of str
        The partnerships this identity may see and change (one for the survey).
    wave : str or None
        The survey round (survey invitations).
    email : str
    name : str or None
    lang : str or None
        The respondent's language (``"es"``), when the invitation names one.
    """

    invitation_id: int
    form: str
    role: str
    partners: tuple[str, ...]
    wave: str | None
    email: str
    name: str | None = None
    lang: str | None = None

    @property
    def respondent(self) -> str:
        """The key of this respondent's answers and drafts (opaque: no name or e-mail in answer tables)."""
        return f"invitation-{self.invitation_id}"

    @property
    def display_name(self) -> str:
        """The name to greet and to record as the editor (the e-mail when no name was given)."""
        return self.name or self.email

    def allows(self, partner_id: str | None) -> bool:
        """Whether this identity may see and change ``partner_id``'s data."""
        return partner_id is not None and str(partner_id) in self.partners

    def require(self, partner_id: str | None) -> str:
        """``partner_id`` when this identity may use it.

        Raises
        ------
        AccessDenied
            (reason ``"scope"``) for any other partnership.
        """
        if not self.allows(partner_id):
            raise AccessDenied(f"this invitation does not give access to partnership {partner_id!r}",
                               reason="scope")
        return str(partner_id)


@dataclass(frozen=True)
class NewInvitation:
    """An invitation just made: the only moment its token exists outside the respondent's link."""

    invitation_id: int
    email: str
    name: str | None
    partners: tuple[str, ...]
    role: str
    token: str
    expires_at: dt.datetime
    lang: str | None = None

    def link(self, base_url: str) -> str:
        """The respondent's link (see :func:`invitation_link`), in the invitation's language."""
        return invitation_link(base_url, self.token, lang=self.lang)


def invitation_link(base_url: str, token: str, *, lang: str | None = None) -> str:
    """``base_url`` with ``?token=...`` (the app's public address, e.g. ``https://survey.district.org/``),
    and ``&lang=es`` when the invitation has a language (so even a refusal page of a damaged link is in it)."""
    base = base_url if base_url.endswith("/") or "?" in base_url else base_url + "/"
    return f"{base}{'&' if '?' in base else '?'}token={token}" + (f"&lang={lang}" if lang else "")


def check_language(lang: str | None, **where) -> str | None:
    """``lang`` as a language the apps have a catalog for (``"es"``), or None for none given.

    Raises
    ------
    InputDataError
        A language without a catalog (naming the ones there are).
    """
    from ..i18n import available_languages
    text = (lang or "").strip().lower().replace("_", "-")
    if not text:
        return None
    if text not in available_languages():
        raise InputDataError(f"no interface language {lang!r}", value=lang,
                             fix=f"Use one of {', '.join(available_languages())} (or leave it empty)", **where)
    return text


# -- checking what is asked ---------------------------------------------------------------------

def check_email(email: str, **where) -> str:
    """One plain address, lower-cased; :class:`InputDataError` (with ``where``: path, row, column) otherwise."""
    text = (email or "").strip()
    _name, addr = parseaddr(text)
    if not addr or addr != text or not _EMAIL.match(addr):
        raise InputDataError(f"{text!r} is not an e-mail address", value=text,
                             fix="Give one address such as ana.ruiz@district.org", **where)
    return addr.lower()


def _check_invitation(form: str, role: str, partners: Sequence[str], wave: str | None,
                      known_partners: Iterable[str] | None, **where) -> tuple[str, ...]:
    if form not in FORMS:
        raise InputDataError(f"form must be one of {', '.join(FORMS)}, found {form!r}", value=form, **where)
    if role not in ROLES:
        raise InputDataError(f"role must be district or partner, found {role!r}", value=role,
                             **({**where, "column": "role"} if "row" in where else where))
    ids = tuple(dict.fromkeys(str(p).strip() for p in partners if str(p).strip()))
    if not ids:
        raise InputDataError("no partnership given", fix="Name the partnership (e.g. --partner P01)", **where)
    if (form == "survey" or role == "partner") and len(ids) != 1:
        raise InputDataError(f"a {'survey' if form == 'survey' else 'partner coordinator'} invitation is for "
                             f"exactly one partnership, found {len(ids)} ({', '.join(ids)})",
                             value=";".join(ids),
                             fix="Only a district coordinator's records invitation may list several", **where)
    if form == "survey" and not (wave or "").strip():
        raise InputDataError("a survey invitation needs its wave", fix="Pass --wave (e.g. 2025-26)", **where)
    known = set(known_partners or ())
    if known:
        unknown = [p for p in ids if p not in known]
        if unknown:
            raise InputDataError(f"partnership {unknown[0]!r} is not in the district's partner list",
                                 value=unknown[0], fix=f"Known partnerships: {', '.join(sorted(known)[:12])}",
                                 **where)
    return ids


def _open_duplicate(conn, form: str, role: str, wave: str | None, email: str, ids: tuple[str, ...],
                    now: dt.datetime) -> int | None:
    """An invitation that is still usable for the same app, side, wave, person and partnerships."""
    rows = conn.execute(sa.select(invitations.c.invitation_id, invitations.c.expires_at).where(
        invitations.c.form == form, invitations.c.role == role, invitations.c.email == email,
        invitations.c.revoked_at.is_(None),
        (invitations.c.wave == wave) if wave is not None else invitations.c.wave.is_(None))).all()
    for inv_id, expires in rows:
        if _utc(expires) <= now:
            continue
        theirs = {r[0] for r in conn.execute(sa.select(invitation_partners.c.partner_id)
                                             .where(invitation_partners.c.invitation_id == inv_id))}
        if theirs == set(ids):
            return int(inv_id)
    return None


def _insert(conn, *, form, role, ids, wave, email, name, expires_days, now, lang=None) -> NewInvitation:
    token = new_token()
    expires = now + dt.timedelta(days=expires_days)
    result = conn.execute(invitations.insert().values(
        form=form, role=role, wave=wave, email=email, name=name or None, token_hash=token_hash(token),
        created_at=now, expires_at=expires, reminders=0, lang=lang))
    inv_id = int(result.inserted_primary_key[0])
    conn.execute(invitation_partners.insert(), [{"invitation_id": inv_id, "partner_id": p} for p in ids])
    return NewInvitation(inv_id, email, name or None, ids, role, token, expires, lang)


def _check_days(expires_days: int) -> int:
    if not isinstance(expires_days, int) or not 1 <= expires_days <= 366:
        raise InputDataError(f"expiry must be 1-366 days, found {expires_days!r}", value=expires_days,
                             fix="Pass --expires DAYS, e.g. 30")
    return expires_days


# -- making, revoking, reading ------------------------------------------------------------------

def create_invitation(store: Store, *, partners: Sequence[str] | str, role: str, email: str,
                      form: str = "survey", wave: str | None = None, name: str | None = None,
                      expires_days: int = DEFAULT_EXPIRY_DAYS, known_partners: Iterable[str] | None = None,
                      lang: str | None = None, renew: bool = False, now: dt.datetime | None = None) -> NewInvitation:
    """Make one invitation and return it with its token (shown once; only its hash is stored).

    Parameters
    ----------
    store : Store
    partners : str or sequence of str
        The partnership (survey, partner coordinator) or partnerships (district coordinator).
    role : {"district", "partner"}
    email : str
        One address; the invitation's respondent.
    form : {"survey", "records"}
    wave : str, optional
        Survey round (required for the survey).
    name : str, optional
        How the apps greet the respondent and record them as editor.
    expires_days : int
        Days the link stays valid (1-366).
    known_partners : iterable of str, optional
        When given and not empty, every partnership must be one of these.
    lang : str, optional
        The respondent's language (``"es"``): their link carries ``&lang=es``, and their pages, refusal
        page and reminders are in it. Default: none (the browser's preference, else English).
    renew : bool
        When the same person already holds a usable invitation for the same thing, give it a fresh link
        (the old one stops working; answers and drafts stay) instead of refusing. Its language becomes
        ``lang`` when one is given.

    Raises
    ------
    InputDataError
        A bad value, or (without ``renew``) the same person already holds a usable invitation for the same thing (revoke it
        first, or send a reminder).
    """
    partners = [partners] if isinstance(partners, str) else list(partners)
    ids = _check_invitation(form, role, partners, wave, known_partners)
    addr = check_email(email)
    lang = check_language(lang)
    days = _check_days(expires_days)
    wave = wave if form == "survey" else None
    now = now or _now()
    with store.transaction() as conn:
        dup = _open_duplicate(conn, form, role, wave, addr, ids, now)
        if dup is not None and renew:
            token = new_token()
            values = {"token_hash": token_hash(token), **({"lang": lang} if lang else {})}
            conn.execute(invitations.update().where(invitations.c.invitation_id == dup).values(**values))
            row = conn.execute(sa.select(invitations).where(invitations.c.invitation_id == dup)).first()
            return NewInvitation(dup, addr, row.name, ids, role, token, _utc(row.expires_at), row.lang)
        if dup is not None:
            raise InputDataError(f"{addr} already has invitation {dup} for this", value=addr,
                                 fix=f"Revoke it first (`partner-analysis invite revoke {dup}`) or send a "
                                     "reminder (`partner-analysis invite remind`), which issues a fresh link")
        return _insert(conn, form=form, role=role, ids=ids, wave=wave, email=addr, name=name, expires_days=days,
                       now=now, lang=lang)


def create_from_roster(store: Store, path: str | Path, *, form: str = "survey", wave: str | None = None,
                       expires_days: int = DEFAULT_EXPIRY_DAYS, known_partners: Iterable[str] | None = None,
                       now: dt.datetime | None = None) -> list[NewInvitation]:
    """Make one invitation per row of a roster CSV, all or none.

    The CSV has the columns ``partner_id``, ``role``, ``email`` and optionally ``name`` and ``lang`` (the
    respondent's language, e.g. ``es``; empty for none); a district
    coordinator's records invitation may list several partner ids separated by ``;``.

    Raises
    ------
    InputDataError
        Naming file, row, column and value of the first bad cell, a repeated respondent, or a
        respondent who already holds a usable invitation. Nothing is written then.
    """
    from ..csvread import read_csv_strings
    path = Path(path)
    frame = read_csv_strings(path)
    missing = [c for c in ("partner_id", "role", "email") if c not in frame.columns]
    if missing:
        raise InputDataError(f"the roster has no column {missing[0]!r}", path=path, row=1,
                             fix=f"The header row needs {', '.join(ROSTER_COLUMNS)} (name and lang are optional)")
    days = _check_days(expires_days)
    wave = wave if form == "survey" else None
    rows = []
    seen: dict[tuple, int] = {}
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        ids = _check_invitation(form, rec["role"].strip(), rec["partner_id"].split(";"), wave, known_partners,
                                path=path, row=i, column="partner_id")
        addr = check_email(rec["email"], path=path, row=i, column="email")
        key = (rec["role"].strip(), addr, ids)
        if key in seen:
            raise InputDataError(f"{addr} is listed twice (rows {seen[key]} and {i})", path=path, row=i,
                                 column="email", value=addr, fix="Keep one row per respondent")
        seen[key] = i
        lang = check_language(rec.get("lang"), path=path, row=i, column="lang")
        rows.append((i, rec["role"].strip(), ids, addr, (rec.get("name") or "").strip() or None, lang))
    now = now or _now()
    out = []
    with store.transaction() as conn:
        for i, role, ids, addr, name, lang in rows:
            dup = _open_duplicate(conn, form, role, wave, addr, ids, now)
            if dup is not None:
                raise InputDataError(f"{addr} already has invitation {dup} for this", path=path, row=i,
                                     column="email", value=addr,
                                     fix="Remove the row, or revoke the old invitation first. Nothing was written")
            out.append(_insert(conn, form=form, role=role, ids=ids, wave=wave, email=addr, name=name,
                               expires_days=days, now=now, lang=lang))
    return out


@contextlib.contextmanager
def _reading(store: Store):
    with store.errors("read"), store.engine.connect() as conn:
        yield conn


def _identity(conn, row) -> Identity:
    ids = tuple(r[0] for r in conn.execute(sa.select(invitation_partners.c.partner_id).where(
        invitation_partners.c.invitation_id == row.invitation_id).order_by(invitation_partners.c.partner_id)))
    return Identity(int(row.invitation_id), row.form, row.role, ids, row.wave, row.email, row.name, row.lang)


def resolve_token(store: Store, token: str | None, *, form: str, now: dt.datetime | None = None,
                  mark_opened: bool = True) -> Identity:
    """The identity a link's token stands for.

    Parameters
    ----------
    store : Store
    token : str or None
        What the link carried.
    form : {"survey", "records"}
        The app asking: a survey link does not open the records forms, nor the reverse.
    mark_opened : bool
        Record the first opening (the invitation then counts as started).

    Raises
    ------
    AccessDenied
        ``reason`` says why: missing, unknown (never issued, altered, or replaced by a reminder's fresh
        link), expired, revoked, wrong_app.
    """
    if not token:
        raise AccessDenied("this page opens only from an invitation link", reason="missing")
    if not looks_like_token(token):
        raise AccessDenied("this invitation link is not valid", reason="unknown")
    digest = token_hash(token)
    now = now or _now()
    opened = store.transaction() if mark_opened else _reading(store)
    with opened as conn:
        row = conn.execute(sa.select(invitations).where(invitations.c.token_hash == digest)).first()
        if row is None or not same_hash(row.token_hash, token):
            raise AccessDenied("this invitation link is not valid", reason="unknown")
        if row.revoked_at is not None:
            raise AccessDenied("this invitation was withdrawn", reason="revoked")
        if _utc(row.expires_at) <= now:
            raise AccessDenied("this invitation link has expired", reason="expired")
        if row.form != form:
            raise AccessDenied("this invitation link is for another form", reason="wrong_app")
        if mark_opened and row.opened_at is None:
            conn.execute(invitations.update().where(invitations.c.invitation_id == row.invitation_id)
                         .values(opened_at=now))
        return _identity(conn, row)


def invitation_language(store: Store, token: str | None) -> str | None:
    """The language of the invitation ``token`` stands for, whatever its state (expired, revoked, another
    app): the refusal page is in the respondent's language too. None for an unknown token or no language."""
    if not token or not looks_like_token(token):
        return None
    with _reading(store) as conn:
        row = conn.execute(sa.select(invitations.c.lang, invitations.c.token_hash)
                           .where(invitations.c.token_hash == token_hash(token))).first()
    return row.lang if row is not None and same_hash(row.token_hash, token) else None


def invitation_usable(store: Store, invitation_id: int, *, now: dt.datetime | None = None) -> bool:
    """Whether the invitation exists and is neither revoked nor expired (a signed-in browser's check)."""
    with _reading(store) as conn:
        row = conn.execute(sa.select(invitations.c.revoked_at, invitations.c.expires_at)
                           .where(invitations.c.invitation_id == int(invitation_id))).first()
    return row is not None and row.revoked_at is None and _utc(row.expires_at) > (now or _now())


def revoke(store: Store, invitation_id: int, *, now: dt.datetime | None = None) -> bool:
    """Withdraw an invitation: its link stops working at once. False when it was already revoked.

    Raises
    ------
    InputDataError
        No invitation has that id.
    """
    with store.transaction() as conn:
        row = conn.execute(sa.select(invitations.c.revoked_at)
                           .where(invitations.c.invitation_id == int(invitation_id))).first()
        if row is None:
            raise InputDataError(f"there is no invitation {invitation_id}", value=invitation_id,
                                 fix="See `partner-analysis invite list` for the ids")
        if row.revoked_at is not None:
            return False
        conn.execute(invitations.update().where(invitations.c.invitation_id == int(invitation_id))
                     .values(revoked_at=now or _now()))
        return True


def rotate_token(conn: sa.Connection, invitation_id: int, *, now: dt.datetime | None = None) -> str:
    """Give an invitation a fresh token on an open write transaction; the old link stops working.

    Used by reminders: links are not stored, so a reminder can only carry a new one. Returns the token.
    """
    token = new_token()
    conn.execute(invitations.update().where(invitations.c.invitation_id == int(invitation_id)).values(
        token_hash=token_hash(token), sent_at=now or _now(), reminders=invitations.c.reminders + 1))
    return token


def invitations_frame(store: Store, *, form: str | None = None, wave: str | None = None,
                      now: dt.datetime | None = None) -> pd.DataFrame:
    """Every invitation with its status; never a token or a hash.

    Returns
    -------
    DataFrame
        invitation_id, form, role, partners (``;``-joined), wave, email, name, status (invited, started,
        submitted, expired, revoked), created_at, expires_at, opened_at, sent_at, reminders.
    """
    from .tracking import invitation_status
    return invitation_status(store, form=form, wave=wave, now=now)
