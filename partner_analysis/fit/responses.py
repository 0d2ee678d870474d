"""Survey responses in the records store: instruments, respondents, response sets, answers and their audit.

The fit survey's own tables are in :mod:`partner_analysis.fit.tables` (as the partnership records' tables sit
in :mod:`partner_analysis.records.tables`); :class:`~partner_analysis.store.Store` creates them with every other
area's. The functions take an open :class:`~partner_analysis.store.Store` and
run in its transactions: :func:`open_response` / :func:`save_answer` / :func:`submit` for a respondent's
draft, :func:`edit_submitted_many` for an audited correction, :func:`answers_long` / :func:`answers_wide`
for scoring and export.

Answer values are stored as JSON text (:func:`encode_value`): lists for ``select_multiple``, ISO
``YYYY-MM-DD`` strings for dates, numbers for integer/decimal items. What counts as "no answer" is the
forms' rule (:func:`partner_analysis.forms.engine.is_empty`): such a value clears the answer.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa

from ..exceptions import StoreError
from ..forms.engine import is_empty
from ..store import Store
from ..store_tables import check_id, ensure_partnership, utc_now
from .tables import ROLES, STATUSES, answer_audit, answers, instruments, respondents, response_sets

__all__ = ["encode_value", "decode_value", "register_instrument", "instruments_frame", "upsert_respondent",
           "open_response", "response", "get_answers", "save_answer", "submit", "edit_submitted",
           "edit_submitted_many", "find_submitted", "audit_frame", "answers_long", "answers_wide"]

_LONG_COLUMNS = ["response_id", "form_id", "version", "partner_id", "role", "respondent", "wave", "status",
                 "item", "value", "submitted_at"]
_META_COLUMNS = ["response_id", "form_id", "version", "partner_id", "role", "respondent", "wave", "status",
                 "submitted_at"]

# -- answer values ----------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (_dt.datetime,)):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    # numpy scalars and pandas timestamps have .item() / .isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _jsonable(value.item())
    raise StoreError(f"cannot store a value of type {type(value).__name__} ({value!r}); "
                     "store strings, numbers, dates or lists of those")


def encode_value(value: Any) -> str:
    """JSON text for one answer value (lists for multi-choice, ISO strings for dates)."""
    return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)


def decode_value(text: str | None) -> Any:
    """Inverse of :func:`encode_value` (dates come back as ISO strings)."""
    if text is None:
        return None
    return json.loads(text)


# -- instruments, respondents, responses -------------------------------------------------------

def register_instrument(store: Store, instrument: Any, source_path: str | os.PathLike | None = None) -> int:
    """Record an instrument version (idempotent).

    Parameters
    ----------
    instrument
        Anything with ``form_id``, ``version`` and ``title`` (a :class:`fit.instrument.Instrument`).
    source_path : path, optional
        The XLSForm file; its SHA-256 is stored so a changed file under an unchanged version is caught.

    Returns
    -------
    int
        The instrument row id.

    Raises
    ------
    StoreError
        When the same form_id and version were registered from a different file.
    """
    form_id, version = str(instrument.form_id), str(instrument.version)
    title = getattr(instrument, "title", None)
    if source_path is None:
        source_path = getattr(instrument, "source_path", None) or getattr(instrument, "path", None)
    sha = None
    if source_path is not None and Path(source_path).is_file():
        sha = hashlib.sha256(Path(source_path).read_bytes()).hexdigest()
    with store.transaction() as conn:
        row = conn.execute(sa.select(instruments).where(instruments.c.form_id == form_id,
                                                        instruments.c.version == version)).mappings().first()
        if row is not None:
            if sha and row["sha256"] and row["sha256"] != sha:
                raise StoreError(
                    f"instrument '{form_id}' version {version} is already registered from a different file "
                    f"({row['source_path']}). Increase `version` in the settings sheet when you change "
                    "the form, so answers to the two wordings are never mixed")
            return int(row["id"])
        result = conn.execute(instruments.insert().values(
            form_id=form_id, version=version, title=title,
            source_path=None if source_path is None else str(source_path), sha256=sha,
            registered_at=utc_now()))
        return int(result.inserted_primary_key[0])

def instruments_frame(store: Store) -> pd.DataFrame:
    """Registered instruments: id, form_id, version, title, source_path, sha256, registered_at."""
    with store.read() as conn:
        rows = conn.execute(sa.select(instruments).order_by(instruments.c.id)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in instruments.columns])

def upsert_respondent(store: Store, respondent_id: str, partner_id: str, role: str, *, name: str | None = None,
                      email: str | None = None) -> None:
    """Create or update a respondent (names and emails are optional and never exported)."""
    respondent_id = check_id("respondent_id", respondent_id)
    partner_id = check_id("partner_id", partner_id)
    _check_role(role)
    with store.transaction() as conn:
        ensure_partnership(conn, partner_id)
        exists = conn.execute(sa.select(respondents.c.respondent_id)
                              .where(respondents.c.respondent_id == respondent_id)).first()
        values = dict(partner_id=partner_id, role=role, name=name, email=email)
        if exists is None:
            conn.execute(respondents.insert().values(respondent_id=respondent_id, **values))
        else:
            conn.execute(respondents.update().where(respondents.c.respondent_id == respondent_id)
                         .values(**values))

# -- responses ---------------------------------------------------------------------------------

def open_response(store: Store, form_id: str, version: str, partner_id: str, role: str, respondent: str, *,
                  wave: str = "annual", client_token: str | None = None) -> int:
    """Return the id of this respondent's draft, creating it when there is none.

    Parameters
    ----------
    form_id, version : str
        The instrument (``Instrument.form_id``, ``Instrument.version``).
    partner_id : str
        The partnership; created in ``partnerships`` when new.
    role : {"district", "partner"}
    respondent : str
        Who answers (a name, an email or an opaque id).
    wave : str
        Survey round, e.g. ``"annual"`` or ``"2025-26"``.
    client_token : str, optional
        Idempotency key: when a response set with this token exists (draft or submitted), its id is
        returned and nothing is created.

    Returns
    -------
    int
        The response id.
    """
    partner_id = check_id("partner_id", partner_id)
    respondent = check_id("respondent", respondent)
    _check_role(role)
    form_id, version, wave = str(form_id), str(version), str(wave)
    with store.transaction() as conn:
        if client_token is not None:
            row = conn.execute(sa.select(response_sets.c.id)
                               .where(response_sets.c.client_token == client_token)).first()
            if row is not None:
                return int(row[0])
        row = conn.execute(
            sa.select(response_sets.c.id).where(
                response_sets.c.form_id == form_id, response_sets.c.version == version,
                response_sets.c.partner_id == partner_id, response_sets.c.role == role,
                response_sets.c.respondent == respondent, response_sets.c.wave == wave,
                response_sets.c.status == "draft").order_by(response_sets.c.id.desc())).first()
        if row is not None:
            return int(row[0])
        ensure_partnership(conn, partner_id)
        now = utc_now()
        result = conn.execute(response_sets.insert().values(
            form_id=form_id, version=version, partner_id=partner_id, role=role, respondent=respondent,
            wave=wave, status="draft", created_at=now, updated_at=now, client_token=client_token))
        return int(result.inserted_primary_key[0])

def response(store: Store, response_id: int) -> dict:
    """The response set's metadata as a dict (id, form_id, version, ..., status, submitted_at)."""
    with store.read() as conn:
        return _response_row(conn, response_id)

def _response_row(conn: sa.Connection, response_id: int) -> dict:
    row = conn.execute(sa.select(response_sets).where(response_sets.c.id == int(response_id))).mappings().first()
    if row is None:
        raise StoreError(f"response {response_id} does not exist in the records store. Open one with "
                         "open_response()")
    return dict(row)

def get_answers(store: Store, response_id: int) -> dict[str, Any]:
    """Current answers of one response as ``{item: value}`` (decoded JSON)."""
    with store.read() as conn:
        _response_row(conn, response_id)
        return _answers_of(conn, response_id)

def _answers_of(conn: sa.Connection, response_id: int) -> dict[str, Any]:
    rows = conn.execute(sa.select(answers.c.item, answers.c.value)
                        .where(answers.c.response_id == int(response_id)).order_by(answers.c.id)).all()
    return {item: decode_value(value) for item, value in rows}

def save_answer(store: Store, response_id: int, item: str, value: Any) -> None:
    """Autosave one answer of a draft in its own transaction (``None`` or empty clears it).

    Raises
    ------
    StoreError
        When the response does not exist or is already submitted (use :func:`edit_submitted`).
    """
    item = check_id("item", item)
    with store.transaction() as conn:
        row = _response_row(conn, response_id)
        if row["status"] != "draft":
            raise StoreError(f"response {response_id} was submitted on {row['submitted_at']}; it is read-only. "
                             "Correct it with edit_submitted(..., editor=, reason=) so the change is audited")
        now = utc_now()
        _write_answer(conn, int(response_id), item, value, now)
        conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                     .values(updated_at=now))

def _write_answer(conn: sa.Connection, response_id: int, item: str, value: Any,
                  now: _dt.datetime) -> tuple[str | None, str | None]:
    """Upsert or delete one answer; returns (old JSON, new JSON)."""
    old = conn.execute(sa.select(answers.c.value).where(answers.c.response_id == response_id,
                                                        answers.c.item == item)).first()
    old_text = None if old is None else old[0]
    if is_empty(value):
        if old is not None:
            conn.execute(answers.delete().where(answers.c.response_id == response_id, answers.c.item == item))
        return old_text, None
    text = encode_value(value)
    if old is None:
        conn.execute(answers.insert().values(response_id=response_id, item=item, value=text, updated_at=now))
    elif old_text != text:
        conn.execute(answers.update().where(answers.c.response_id == response_id, answers.c.item == item)
                     .values(value=text, updated_at=now))
    return old_text, text

def submit(store: Store, response_id: int, answers: Mapping[str, Any] | None = None, *,
           validator: Callable[[dict], Sequence] | None = None) -> int:
    """Submit a draft in one transaction.

    Parameters
    ----------
    response_id : int
    answers : mapping, optional
        The final answers. When given they replace the stored ones exactly: items absent (or empty)
        here are deleted, which is how answers to questions hidden by skip logic are cleared.
    validator : callable, optional
        Called with the final ``{item: value}``; a non-empty sequence of problems (strings or
        ``(item, message)`` pairs) refuses the submission and rolls everything back.

    Returns
    -------
    int
        ``response_id``. Submitting an already submitted response returns it unchanged
        (a retried click must not fail or duplicate).

    Raises
    ------
    StoreError
        Unknown response, or the validator found problems (``.problems`` holds them).
    """
    with store.transaction() as conn:
        row = _response_row(conn, response_id)
        if row["status"] == "submitted":
            return int(response_id)
        now = utc_now()
        if answers is not None:
            keep = {str(k): v for k, v in answers.items() if not is_empty(v)}
            stored = _answers_of(conn, response_id)
            for item in stored:
                if item not in keep:
                    _write_answer(conn, int(response_id), item, None, now)
            for item, value in keep.items():
                _write_answer(conn, int(response_id), item, value, now)
        final = _answers_of(conn, response_id)
        if validator is not None:
            _refuse_problems(validator(final), f"response {response_id} cannot be submitted: {{}}. Answer these "
                             "questions and submit again")
        conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                     .values(status="submitted", submitted_at=now, updated_at=now))
    return int(response_id)

def edit_submitted(store: Store, response_id: int, item: str, value: Any, *, editor: str, reason: str) -> None:
    """Correct one answer of a submitted response, leaving an ``answer_audit`` row.

    Raises
    ------
    StoreError
        When the response is still a draft (use :func:`save_answer`), or editor/reason are empty.
    """
    item = check_id("item", item)
    if not str(editor or "").strip() or not str(reason or "").strip():
        raise StoreError("an edit of a submitted response needs `editor` and `reason` (both non-empty), "
                         "so the audit trail says who changed what and why")
    with store.transaction() as conn:
        row = _response_row(conn, response_id)
        if row["status"] != "submitted":
            raise StoreError(f"response {response_id} is a draft; change it with save_answer()")
        now = utc_now()
        old, new = _write_answer(conn, int(response_id), item, value, now)
        if old == new:
            return
        conn.execute(answer_audit.insert().values(
            response_id=int(response_id), item=item, old_value=old, new_value=new, editor=str(editor),
            reason=str(reason), changed_at=now))
        conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                     .values(updated_at=now))

def edit_submitted_many(store: Store, response_id: int, changes: Mapping[str, Any], *, editor: str, reason: str,
                        validator: Callable[[dict], Sequence] | None = None) -> list[dict]:
    """Correct several answers of a submitted response in one transaction, all or nothing.

    Parameters
    ----------
    response_id : int
    changes : mapping
        ``{item: new value}``; ``None`` or an empty value clears the answer (how answers to
        questions hidden by skip logic are removed). Items whose value does not change are skipped
        and leave no audit row.
    editor, reason : str
        Who corrects and why; both must be non-empty and are written to every audit row.
    validator : callable, optional
        Called inside the transaction with the would-be final ``{item: value}``; a non-empty
        sequence of problems (strings or ``(item, message)`` pairs) rolls every change back, so a
        correction can never leave a submitted response invalid.

    Returns
    -------
    list of dict
        One ``{"item", "old_value", "new_value"}`` (decoded) per audit row written, in ``changes``
        order; empty when nothing changed (then nothing is written, not even ``updated_at``).

    Raises
    ------
    StoreError
        Unknown response, a draft (use :func:`save_answer`), empty editor/reason, a bad item key,
        or the validator found problems (``.problems`` holds them; nothing was changed).

    Notes
    -----
    The response stays ``submitted`` and keeps its ``submitted_at``; ``updated_at`` becomes the time
    of the correction, which is also the ``changed_at`` of its audit rows.
    """
    if not str(editor or "").strip() or not str(reason or "").strip():
        raise StoreError("a correction of a submitted response needs `editor` and `reason` (both non-empty), "
                         "so the audit trail says who changed what and why")
    items = {check_id("item", k): v for k, v in dict(changes).items()}
    written: list[dict] = []
    with store.transaction() as conn:
        row = _response_row(conn, response_id)
        if row["status"] != "submitted":
            raise StoreError(f"response {response_id} is a draft; change it with save_answer()")
        now = utc_now()
        for item, value in items.items():
            old, new = _write_answer(conn, int(response_id), item, value, now)
            if old != new:
                written.append({"item": item, "old_value": old, "new_value": new})
        if not written:
            return []
        if validator is not None:  # raising rolls back every change of this call
            _refuse_problems(validator(_answers_of(conn, response_id)),
                             f"response {response_id} was not corrected: {{}}. Nothing was changed; "
                             "fix these answers and save again")
        conn.execute(answer_audit.insert(), [
            dict(response_id=int(response_id), item=w["item"], old_value=w["old_value"],
                 new_value=w["new_value"], editor=str(editor), reason=str(reason), changed_at=now)
            for w in written])
        conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                     .values(updated_at=now))
    return [{"item": w["item"], "old_value": decode_value(w["old_value"]),
             "new_value": decode_value(w["new_value"])} for w in written]

def find_submitted(store: Store, form_id: str, version: str, partner_id: str, role: str, respondent: str, *,
                   wave: str = "annual") -> int | None:
    """The id of this respondent's latest submitted response in ``wave`` (``None`` when there is none).

    The same keys as :func:`open_response`; a returning respondent's form uses it to open the
    submitted answers for correction instead of starting a second response in the same wave.
    """
    with store.read() as conn:
        row = conn.execute(
            sa.select(response_sets.c.id).where(
                response_sets.c.form_id == str(form_id), response_sets.c.version == str(version),
                response_sets.c.partner_id == str(partner_id), response_sets.c.role == role,
                response_sets.c.respondent == str(respondent), response_sets.c.wave == str(wave),
                response_sets.c.status == "submitted").order_by(response_sets.c.id.desc())).first()
    return None if row is None else int(row[0])

def audit_frame(store: Store, response_id: int | None = None) -> pd.DataFrame:
    """Audit rows: response_id, item, old_value, new_value (decoded; ``None`` = no answer), editor, reason,
    changed_at."""
    query = sa.select(answer_audit).order_by(answer_audit.c.id)
    if response_id is not None:
        query = query.where(answer_audit.c.response_id == int(response_id))
    with store.read() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for r in rows:
        r["old_value"] = decode_value(r["old_value"])
        r["new_value"] = decode_value(r["new_value"])
    cols = ["response_id", "item", "old_value", "new_value", "editor", "reason", "changed_at"]
    frame = pd.DataFrame(rows, columns=["id"] + cols)[cols]
    for col in ("old_value", "new_value"):
        # None (no answer before / answer cleared) stays None, not NaN
        frame[col] = pd.Series([r[col] for r in rows], index=frame.index, dtype=object)
    return frame

# -- exports -----------------------------------------------------------------------------------

def _select_long(form_id, partner_id, status, wave, role):
    rs, an = response_sets, answers
    query = (sa.select(rs.c.id.label("response_id"), rs.c.form_id, rs.c.version, rs.c.partner_id, rs.c.role,
                       rs.c.respondent, rs.c.wave, rs.c.status, an.c.item, an.c.value, rs.c.submitted_at)
             .select_from(rs.join(an, an.c.response_id == rs.c.id))
             .order_by(rs.c.id, an.c.id))
    return _filter(query, form_id, partner_id, status, wave, role)

def _filter(query, form_id, partner_id, status, wave, role):
    rs = response_sets
    if status is not None:
        _check_choice("status", status, STATUSES)
        query = query.where(rs.c.status == status)
    if form_id is not None:
        query = query.where(rs.c.form_id == str(form_id))
    if partner_id is not None:
        ids = [partner_id] if isinstance(partner_id, str) else [str(p) for p in partner_id]
        query = query.where(rs.c.partner_id.in_(ids))
    if wave is not None:
        query = query.where(rs.c.wave == str(wave))
    if role is not None:
        _check_role(role)
        query = query.where(rs.c.role == role)
    return query

def answers_long(store: Store, form_id: str | None = None, partner_id: str | Sequence[str] | None = None,
                 status: str | None = "submitted", *, wave: str | None = None,
                 role: str | None = None) -> pd.DataFrame:
    """Answers, one row per response × item.

    Parameters
    ----------
    form_id, partner_id, wave, role : optional filters (``partner_id`` may be a list)
    status : {"submitted", "draft", None}
        ``None`` returns both.

    Returns
    -------
    DataFrame
        response_id (int), form_id, version, partner_id, role, respondent, wave, status, item,
        value (decoded: str for choices, list for multi-choice, number, ISO date string),
        submitted_at (UTC timestamp, NaT for drafts).
    """
    with store.read() as conn:
        rows = conn.execute(_select_long(form_id, partner_id, status, wave, role)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=_LONG_COLUMNS)
    frame["value"] = pd.Series([decode_value(v) for v in frame["value"]], index=frame.index, dtype=object)
    frame["response_id"] = frame["response_id"].astype("int64")
    frame["submitted_at"] = _utc(frame["submitted_at"])
    return frame

def answers_wide(store: Store, form_id: str | None = None, partner_id: str | Sequence[str] | None = None,
                 status: str | None = "submitted", *, wave: str | None = None,
                 role: str | None = None) -> pd.DataFrame:
    """Answers, one row per response and one column per item (plus the version column).

    Returns
    -------
    DataFrame
        response_id, form_id, version, partner_id, role, respondent, wave, status, submitted_at, then
        one column per item in first-answered order (missing answers are ``None``). Responses with no
        answers still get a row.
    """
    long = answers_long(store, form_id, partner_id, status, wave=wave, role=role)
    query = _filter(sa.select(response_sets).order_by(response_sets.c.id), form_id, partner_id, status,
                         wave, role)
    with store.read() as conn:
        meta_rows = [dict(r) for r in conn.execute(query).mappings()]
    meta = pd.DataFrame(meta_rows, columns=[c.name for c in response_sets.columns]).rename(
        columns={"id": "response_id"})[_META_COLUMNS]
    meta["response_id"] = meta["response_id"].astype("int64")
    meta["submitted_at"] = _utc(meta["submitted_at"])
    items = list(dict.fromkeys(long["item"]))
    cells: dict[int, dict[str, Any]] = {}
    for rid, item, value in zip(long["response_id"], long["item"], long["value"]):
        cells.setdefault(int(rid), {})[item] = value
    for item in items:
        meta[item] = pd.Series([cells.get(int(rid), {}).get(item) for rid in meta["response_id"]],
                               index=meta.index, dtype=object)
    return meta


def _utc(series: pd.Series) -> pd.Series:
    if len(series) == 0:
        return pd.Series(pd.to_datetime([], utc=True), index=series.index)
    return pd.to_datetime(series, utc=True)


def _check_role(role: Any) -> None:
    _check_choice("role", role, ROLES)


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise StoreError(f"The value for `{name}` must be one of {list(allowed)}, but {value!r} was passed")


def _refuse_problems(problems, message: str) -> None:
    """Raise a StoreError (``message`` with the first ten problems at ``{}``, ``.problems`` all) if any."""
    problems = list(problems or [])
    if problems:
        text = "; ".join(f"{p[0]}: {p[1]}" if isinstance(p, (tuple, list)) else str(p) for p in problems[:10])
        err = StoreError(message.format(text))
        err.problems = problems
        raise err
