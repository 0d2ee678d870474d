"""Widget forms for investment entries, quarterly check-ins and goals, on the shared form engine.

Each builder returns a :class:`~partner_analysis.forms.widgets.WidgetForm`
whose ``controller`` is a :class:`~partner_analysis.forms.engine.FormController`:

- every change is autosaved as a draft (``records_drafts``), so a refreshed
  or culled Voilà page resumes where the coordinator left off;
- **Submit** runs the same checks as the CSV import and the Python API
  (:func:`~partner_analysis.records.investments.check_investment`,
  :func:`~partner_analysis.records.checkins.check_checkin`,
  :func:`~partner_analysis.records.goals.check_goal`) and writes the
  record in one transaction; problems come back next to the field they concern.

The check-in form is built for one partner: it has one status and note per
goal of that partner and a fixed number of attendee and action-item slots,
each shown once the previous one is filled in.

The goal form offers the KPIs of the catalog (or a free-form goal). For KPIs
measured as a proportion (catalog unit ``proportion`` or ``share``) the
baseline and target are entered **in percent** (0-100, "92" for 92%) and
stored as proportions (0.92), the scale of the KPI values they are compared
with; other units are entered as they are (GPA points, credits, hours).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Callable, Sequence

from sqlalchemy import delete, select

from ..exceptions import ConfigError
from ..forms.engine import FieldSpec, FormController
from ..i18n import N_, Translator
from ._common import RecordsContext, now_utc
from .checkins import GOAL_STATUSES, STATUS_LABELS, check_checkin, write_checkin
from .goals import PROPORTION_UNITS, SUBGROUP_MAX, SUBGROUP_PREFIX, check_goal, read_goals, write_goal
from .investments import CATEGORIES, CATEGORY_LABELS, TIME_UNITS, Valuation, check_investment

__all__ = ["investment_fields", "investment_form", "investment_controller", "checkin_fields", "checkin_form",
           "checkin_controller", "goal_fields", "goal_form", "goal_controller", "load_draft", "default_term",
           "FREE_FORM"]

_SIDE_CHOICES = (("district", N_("District")), ("partner", N_("Partner")))
#: the check-in form's extra goal answer; such goals get no review row
NOT_DISCUSSED = ("not_discussed", N_("not discussed"))
# Labels defined in other modules, listed here so that `make i18n-extract` puts them in the catalog
# (tests/test_i18n.py checks that every one of them is translated).
_EXTERNAL_LABELS = (N_("met"), N_("on track"), N_("at risk"), N_("off track"), N_("Staff (FTE)"), N_("Staff hours"),
                    N_("Funding"), N_("In-kind goods"), N_("Facilities"), N_("Equipment/software"), N_("Training"))


def _sides(_: Translator) -> tuple:
    return tuple((v, _(label)) for v, label in _SIDE_CHOICES)


# -- drafts -----------------------------------------------------------------------------------------

def _draft_key(kind: str, entered_by: str, partner_id: str | None) -> str:
    return f"{kind}:{partner_id or '*'}:{entered_by}"


def load_draft(store, kind: str, *, entered_by: str, partner_id: str | None = None) -> dict:
    """The autosaved answers of an unsubmitted form ({} when none)."""
    from .tables import drafts
    with store.engine.connect() as conn:
        row = conn.execute(select(drafts.c.answers).where(
            drafts.c.draft_key == _draft_key(kind, entered_by, partner_id))).first()
    return {} if row is None else json.loads(row[0])


def _autosaver(store, kind: str, key: str) -> Callable[[str, Any], None]:
    from .tables import drafts

    def save(name: str, value: Any) -> None:
        with store.transaction() as conn:
            row = conn.execute(select(drafts.c.answers).where(drafts.c.draft_key == key)).first()
            answers = {} if row is None else json.loads(row[0])
            if value is None:
                answers.pop(name, None)
            else:
                answers[name] = value.isoformat() if isinstance(value, dt.date) else value
            conn.execute(delete(drafts).where(drafts.c.draft_key == key))
            conn.execute(drafts.insert().values(draft_key=key, kind=kind, answers=json.dumps(answers),
                                                updated_at=now_utc()))
    return save


def _drop_draft(conn, key: str) -> None:
    from .tables import drafts
    conn.execute(delete(drafts).where(drafts.c.draft_key == key))


def default_term(ctx: RecordsContext, today: dt.date | None = None) -> str | None:
    """The term a new record most likely belongs to: today's term, else the latest term that has started
    (between terms, or after the configured ones), else the first term."""
    today = today or dt.date.today()
    terms = sorted(ctx.config.terms, key=lambda t: t.start)
    if not terms:
        return None
    current = ctx.config.term_for_date(today)
    if current is not None:
        return current.id
    started = [t for t in terms if t.start <= today]
    return (started[-1] if started else terms[0]).id


def _as_identity(identity, partner_id: str | None) -> tuple[str, str]:
    """(entered_by, draft owner) of an invitation's identity, after checking it may use ``partner_id``."""
    identity.require(partner_id)
    return identity.display_name, identity.respondent


def _without_name(fields: list[FieldSpec]) -> list[FieldSpec]:
    # who enters the record comes from the invitation link, not from a typed name
    return [f for f in fields if f.name != "entered_by"]


def _partner_field(ctx: RecordsContext, *, form: str, section: str, _: Translator = Translator()) -> FieldSpec:
    """The partner choice of a form whose partner is not fixed; needs the district's partner list."""
    if not ctx.partners:
        raise ConfigError(f"the {form} form needs the district's partner list or a partner_id",
                          fix="Open the records with data_dir= (partners.parquet), register partnerships in "
                              "the store, or pass partner_id=")
    return FieldSpec("partner_id", "choice", _("Partner"), choices=tuple((p, p) for p in sorted(ctx.partners)),
                     required=True, section=section)


# -- investment entries -----------------------------------------------------------------------------

def investment_fields(ctx: RecordsContext, *, partner_id: str | None = None, lang: str | None = None
                      ) -> list[FieldSpec]:
    """Fields of the investment-entry form (partner choice only when ``partner_id`` is not fixed).

    ``lang`` (``"es"``) gives labels, hints and messages from that language's catalog (default English).
    """
    _ = Translator(lang)
    val = Valuation.from_config(ctx.config)
    fields = []
    entry = _("Entry")
    if partner_id is None:
        fields.append(_partner_field(ctx, form="investment", section=entry, _=_))
    fields += [
        FieldSpec("term", "choice", _("Term"), choices=tuple((t, t) for t in ctx.config.term_ids), required=True,
                  section=entry, default=default_term(ctx)),
        FieldSpec("party", "choice", _("Contributed by"), choices=_sides(_), required=True, section=entry),
        FieldSpec("category", "choice", _("Category"),
                  choices=tuple((c, _(CATEGORY_LABELS[c])) for c in CATEGORIES), required=True, section=entry),
        FieldSpec("amount", "decimal", _("Amount"), required=True, section=entry,
                  hint=_("A positive number in the unit below (0.5 FTE, 12 hours, 2500 dollars)."),
                  validate=lambda v, a: _("The amount must not be negative.") if v < 0 else None),
        FieldSpec("unit", "choice", _("Unit"), choices=tuple((u, u) for u in val.units), required=True,
                  section=entry,
                  validate=lambda v, a: (None if not a.get("category") or v in val.allowed_units(a["category"])
                                         else _("Enter {category} in {units}.").format(
                                             category=_(CATEGORY_LABELS[a["category"]]),
                                             units=", ".join(val.allowed_units(a["category"]))))),
        FieldSpec("role", "choice", _("Role of the staff"),
                  choices=tuple((r, r) for r in sorted(val.hourly_rates)) + (("other", _("other (default rate)")),),
                  required=True, section=entry, relevant=lambda a: a.get("unit") in TIME_UNITS,
                  hint=_("Sets the hourly rate used to value staff time.")),
        FieldSpec("description", "long_text", _("Description"), section=entry),
        FieldSpec("entered_by", "text", _("Your name"), required=True, section=entry),
    ]
    return fields


def _field_problems(problems, rename: Callable[[str], str], lang: str | None = None) -> list[tuple[str, str]]:
    """``(field, message)`` per record problem, the message in ``lang``."""
    return [(rename(p.column), p.text(lang)) for p in problems]


def investment_controller(store, ctx: RecordsContext, *, entered_by: str = "", partner_id: str | None = None,
                          on_saved: Callable[[int], Any] | None = None, identity=None,
                          lang: str | None = None) -> FormController:
    """The investment-entry form's controller: autosaves a draft, writes the entry on submit.

    With ``identity`` (an invitation's :class:`~partner_analysis.access.Identity`) the partner must be one of
    the identity's, the form does not ask for a name, and the entry and its draft are the identity's.
    ``lang`` as in :func:`investment_fields`.
    """
    from .tables import investments
    owner = entered_by
    if identity is not None:
        entered_by, owner = _as_identity(identity, partner_id)
    key = _draft_key("investment", owner, partner_id)
    initial = {"entered_by": entered_by} if entered_by and identity is None else {}
    initial.update(load_draft(store, "investment", entered_by=owner, partner_id=partner_id))

    def submit(answers: dict):
        row = dict(answers, partner_id=partner_id or answers.get("partner_id"))
        if identity is not None:
            row["entered_by"] = entered_by
        clean, problems = check_investment(row, ctx)
        if problems:
            return _field_problems(problems, lambda c: c, lang)
        with store.transaction() as conn:
            entry_id = int(conn.execute(investments.insert().values(**clean)).inserted_primary_key[0])
            _drop_draft(conn, key)
        if on_saved is not None:
            on_saved(entry_id)
        return None

    fields = investment_fields(ctx, partner_id=partner_id, lang=lang)
    if identity is not None:
        fields = _without_name(fields)
    return FormController(fields, on_change=_autosaver(store, "investment", key), on_submit=submit, initial=initial)


def investment_form(store, ctx: RecordsContext, *, entered_by: str = "", partner_id: str | None = None,
                    on_saved: Callable[[int], Any] | None = None, identity=None, partner_name: str | None = None,
                    lang: str | None = None):
    """An ipywidgets form for one ledger entry (see :func:`investment_controller`); ``lang`` as in
    :func:`investment_fields`."""
    controller = investment_controller(store, ctx, entered_by=entered_by, partner_id=partner_id, on_saved=on_saved,
                                       identity=identity, lang=lang)
    titles = (N_("Investment entry: {partner}"), N_("Investment entry: partner {partner}"), N_("Investment entry"))
    return _titled_form(controller, titles, partner_id=partner_id, partner_name=partner_name, lang=lang,
                        intro=N_("Record what one side contributed to the partnership in one term. Staff time is "
                                 "valued with the district's hourly rates."))


def _titled_form(controller: FormController, titles: tuple[str, str, str], *, partner_id: str | None,
                 partner_name: str | None, lang: str | None, intro: str):
    """The widget form of ``controller`` titled by partner: ``titles`` are the msgids with the partner's name,
    with its id, and without a partner; ``intro`` is a msgid too."""
    from ..forms.widgets import WidgetForm
    _ = Translator(lang)
    named, by_id, plain = titles
    if partner_id and partner_name:
        title = _(named).format(partner=partner_name)
    elif partner_id:
        title = _(by_id).format(partner=partner_id)
    else:
        title = _(plain)
    return WidgetForm(controller, title=title, lang=lang, intro=_(intro))


# -- check-ins --------------------------------------------------------------------------------------

def checkin_fields(ctx: RecordsContext, *, partner_id: str, goals: Sequence[tuple[str, str]] = (),
                   attendee_slots: int = 6, action_slots: int = 4, lang: str | None = None) -> list[FieldSpec]:
    """Fields of the check-in form of one partner; ``goals`` are ``(goal_id, description)`` pairs.

    ``lang`` (``"es"``) gives labels, hints and messages from that language's catalog (default English).
    """
    _ = Translator(lang)
    today_term = default_term(ctx)
    checkin, attendees, reviewed = _("Check-in"), _("Attendees"), _("Goals reviewed")
    discussion, actions = _("Discussion"), _("Action items")
    f = [
        FieldSpec("date", "date", _("Date of the check-in"), required=True, section=checkin),
        FieldSpec("term", "choice", _("Term"), choices=tuple((t, t) for t in ctx.config.term_ids), required=True,
                  section=checkin, default=today_term,
                  hint=_("The date must fall inside this term.")),
    ]
    for i in range(1, attendee_slots + 1):
        shown = None if i == 1 else (lambda a, j=i: bool(a.get(f"attendee_{j - 1}_name")))
        req = i == 1
        f += [
            FieldSpec(f"attendee_{i}_name", "text", _("Attendee {i}: name").format(i=i), required=req,
                      section=attendees, relevant=shown),
            FieldSpec(f"attendee_{i}_side", "choice", _("Attendee {i}: side").format(i=i), choices=_sides(_),
                      required=True, section=attendees, relevant=lambda a, j=i: bool(a.get(f"attendee_{j}_name"))),
            FieldSpec(f"attendee_{i}_role", "text", _("Attendee {i}: role").format(i=i), section=attendees,
                      relevant=lambda a, j=i: bool(a.get(f"attendee_{j}_name"))),
        ]
    for gid, desc in goals:
        # A picked radio button cannot be unpicked, so "not discussed" is an answer of its own.
        f += [
            FieldSpec(f"goal_{gid}_status", "choice",
                      _("Goal {goal}: {description}").format(goal=gid, description=desc),
                      choices=tuple((s, _(STATUS_LABELS[s])) for s in GOAL_STATUSES)
                      + ((NOT_DISCUSSED[0], _(NOT_DISCUSSED[1])),),
                      section=reviewed, hint=_("Leave empty or choose “not discussed” if the goal was not "
                                               "discussed.")),
            FieldSpec(f"goal_{gid}_note", "long_text", _("Goal {goal}: note").format(goal=gid), section=reviewed,
                      relevant=lambda a, g=gid: a.get(f"goal_{g}_status") in GOAL_STATUSES),
        ]
    f += [
        FieldSpec("data_shared", "long_text", _("Data shared"), section=discussion),
        FieldSpec("challenges", "long_text", _("Challenges"), section=discussion),
        FieldSpec("adjustments", "long_text", _("Adjustments agreed"), section=discussion),
    ]
    for i in range(1, action_slots + 1):
        shown = None if i == 1 else (lambda a, j=i: bool(a.get(f"action_{j - 1}_description")))
        filled = lambda a, j=i: bool(a.get(f"action_{j}_description"))  # noqa: E731
        f += [
            FieldSpec(f"action_{i}_description", "text", _("Action item {i}").format(i=i), section=actions,
                      relevant=shown),
            FieldSpec(f"action_{i}_owner", "text", _("Action item {i}: owner").format(i=i), required=True,
                      section=actions, relevant=filled, required_message=_("Every action item needs an owner.")),
            FieldSpec(f"action_{i}_side", "choice", _("Action item {i}: side").format(i=i), choices=_sides(_),
                      required=True, section=actions, relevant=filled),
            FieldSpec(f"action_{i}_due_date", "date", _("Action item {i}: due date").format(i=i), required=True,
                      section=actions, relevant=filled),
        ]
    f.append(FieldSpec("entered_by", "text", _("Your name"), required=True, section=_("Submit")))
    return f


def _checkin_record(answers: dict, partner_id: str, goal_ids: Sequence[str], attendee_slots: int,
                    action_slots: int) -> tuple[dict, dict[str, str]]:
    """Answers of the flat form -> a check-in record, and the map from record columns back to fields."""
    back: dict[str, str] = {}
    rec = {k: answers.get(k) for k in ("date", "term", "data_shared", "challenges", "adjustments", "entered_by")}
    rec["partner_id"] = partner_id
    rec["attendees"], rec["goal_reviews"], rec["action_items"] = [], [], []
    for i in range(1, attendee_slots + 1):
        if answers.get(f"attendee_{i}_name"):
            n = len(rec["attendees"]) + 1
            rec["attendees"].append({c: answers.get(f"attendee_{i}_{c}") for c in ("name", "side", "role")})
            for c in ("name", "side", "role"):
                back[f"attendees[{n}].{c}"] = f"attendee_{i}_{c}"
    for gid in goal_ids:
        if answers.get(f"goal_{gid}_status") in GOAL_STATUSES:
            n = len(rec["goal_reviews"]) + 1
            rec["goal_reviews"].append({"goal_id": gid, "status": answers[f"goal_{gid}_status"],
                                        "note": answers.get(f"goal_{gid}_note")})
            back[f"goal_reviews[{n}].status"] = f"goal_{gid}_status"
            back[f"goal_reviews[{n}].note"] = f"goal_{gid}_note"
    for i in range(1, action_slots + 1):
        if answers.get(f"action_{i}_description"):
            n = len(rec["action_items"]) + 1
            rec["action_items"].append({c: answers.get(f"action_{i}_{c}")
                                        for c in ("description", "owner", "side", "due_date")})
            for c in ("description", "owner", "side", "due_date"):
                back[f"action_items[{n}].{c}"] = f"action_{i}_{c}"
    return rec, back


def checkin_controller(store, ctx: RecordsContext, *, partner_id: str, entered_by: str = "",
                       attendee_slots: int = 6, action_slots: int = 4,
                       on_saved: Callable[[str], Any] | None = None, identity=None,
                       lang: str | None = None) -> FormController:
    """The check-in form's controller for one partner: autosaves a draft, writes the check-in on submit.

    ``identity``: as for :func:`investment_controller` (checked before the partner's goals are read).
    """
    owner = entered_by
    if identity is not None:
        entered_by, owner = _as_identity(identity, partner_id)
    goals = read_goals(store, partner_id=partner_id)
    pairs = [(str(r.goal_id), str(r.description)) for r in goals.itertuples()]
    goal_ids = [g for g, _ in pairs]
    key = _draft_key("checkin", owner, partner_id)
    initial = {"entered_by": entered_by} if entered_by and identity is None else {}
    initial.update(load_draft(store, "checkin", entered_by=owner, partner_id=partner_id))
    # actions the partner board proposed (report.status): offered in the empty action slots
    from .proposals import read_proposals, settle_proposals
    offered = {str(initial.get(f"action_{i}_description") or "") for i in range(1, action_slots + 1)}
    free = [i for i in range(1, action_slots + 1) if not initial.get(f"action_{i}_description")]
    for i, prop in zip(free, (p for p in read_proposals(store, partner_id=partner_id).values()
                              if p["description"] not in offered)):
        initial[f"action_{i}_description"] = prop["description"]

    def submit(answers: dict):
        if identity is not None:
            answers = dict(answers, entered_by=entered_by)
        rec, back = _checkin_record(answers, partner_id, goal_ids, attendee_slots, action_slots)
        clean, problems = check_checkin(rec, ctx, goal_ids=goal_ids)
        if problems:
            return _field_problems(problems, lambda c: back.get(c, c if not re.match(r"\w+\[", c) else ""), lang)
        with store.transaction() as conn:
            cid = write_checkin(conn, clean)
            _drop_draft(conn, key)
            settle_proposals(conn, partner_id, [a.get("description") for a in clean.get("action_items", [])])
        if on_saved is not None:
            on_saved(cid)
        return None

    fields = checkin_fields(ctx, partner_id=partner_id, goals=pairs, attendee_slots=attendee_slots,
                            action_slots=action_slots, lang=lang)
    if identity is not None:
        fields = _without_name(fields)
    return FormController(fields, on_change=_autosaver(store, "checkin", key), on_submit=submit, initial=initial)


def checkin_form(store, ctx: RecordsContext, *, partner_id: str, entered_by: str = "", attendee_slots: int = 6,
                 action_slots: int = 4, on_saved: Callable[[str], Any] | None = None, identity=None,
                 partner_name: str | None = None, lang: str | None = None):
    """An ipywidgets form for one quarterly check-in of ``partner_id`` (see :func:`checkin_controller`)."""
    from ..forms.widgets import WidgetForm
    _ = Translator(lang)
    controller = checkin_controller(store, ctx, partner_id=partner_id, entered_by=entered_by,
                                    attendee_slots=attendee_slots, action_slots=action_slots, on_saved=on_saved,
                                    identity=identity, lang=lang)
    title = (_("Quarterly check-in: {partner}").format(partner=partner_name) if partner_name
             else _("Quarterly check-in: partner {partner}").format(partner=partner_id))
    return WidgetForm(controller, title=title,
                      intro=_("Who met, how the goals stand, what was shared and what happens next."), lang=lang)


# -- goals ------------------------------------------------------------------------------------------

#: the goal form's KPI answer for a goal without a KPI
FREE_FORM = "free_form"
_POPULATION_CHOICES = (("participants", N_("The partner's participants")), ("all", N_("All students")),
                       ("subgroup", N_("A subgroup (name it below)")))
_NON_NEGATIVE = ("credits", "hours", "points")


def _catalog_kpis(catalog=None) -> list[tuple[str, str, str]]:
    """``(id, label, unit)`` of the catalog's KPIs (the installed catalog by default)."""
    if catalog is None:
        from ..kpi.catalog import load_catalog
        catalog = load_catalog()
    return [(k.id, k.label, k.unit) for k in catalog]


def _in_percent(unit: str | None) -> bool:
    return unit in PROPORTION_UNITS


def goal_fields(ctx: RecordsContext, *, partner_id: str | None = None, catalog=None, lang: str | None = None
                ) -> list[FieldSpec]:
    """Fields of the goal form (partner choice only when ``partner_id`` is not fixed).

    Parameters
    ----------
    ctx : RecordsContext
        Terms (start and due term choices) and the partner list.
    partner_id : str, optional
        Fix the partner; otherwise the form asks for it.
    catalog : Catalog, optional
        KPI catalog offered (default: :func:`~partner_analysis.kpi.catalog.load_catalog`).
    lang : str, optional
        Language of labels, hints and messages (``"es"``; default English). KPI names come from the
        catalog as they are.

    Returns
    -------
    list of FieldSpec
    """
    _ = Translator(lang)
    kpis = _catalog_kpis(catalog)
    units = {k: u for k, _, u in kpis}
    fields: list[FieldSpec] = []
    if partner_id is None:
        fields.append(_partner_field(ctx, form="goal", section=_("Goal"), _=_))

    def is_kpi(a: dict) -> bool:
        return bool(a.get("kpi_id")) and a.get("kpi_id") != FREE_FORM

    def scale(v: float, a: dict) -> str | None:
        unit = units.get(a.get("kpi_id"))
        if _in_percent(unit) and not 0 <= v <= 100:
            return _("Enter a percent between 0 and 100 (92 for 92%).")
        if unit in _NON_NEGATIVE and v < 0:
            return _("Enter zero or more {unit}.").format(unit=unit)
        return None

    def target_check(v: float, a: dict) -> str | None:
        if scale(v, a):
            return scale(v, a)
        if a.get("baseline") is not None and v == a.get("baseline"):
            return _("Set a target that differs from the baseline (higher or lower).")
        return None

    def due_check(v: str, a: dict) -> str | None:
        order = list(ctx.config.term_ids)
        start = a.get("start_term")
        if start in order and v in order and order.index(v) < order.index(start):
            return _("The due term must not be before the start term ({start}).").format(start=start)
        return None

    today_term = default_term(ctx)
    terms = tuple((t, t) for t in ctx.config.term_ids)
    goal, timing = _("Goal"), _("Timing")
    fields += [
        FieldSpec("description", "long_text", _("What the partnership wants to achieve"), required=True,
                  section=goal, hint=_("One sentence, e.g. 'Raise participants' attendance rate by 2 points'.")),
        FieldSpec("kpi_id", "choice", _("KPI measured"),
                  choices=((FREE_FORM, _("free-form goal (no KPI; judged at check-ins)")),)
                  + tuple((k, f"{label} ({unit})" if unit else label) for k, label, unit in kpis),
                  required=True, section=goal),
        FieldSpec("population", "choice", _("Students the goal is about"),
                  choices=tuple((v, _(label)) for v, label in _POPULATION_CHOICES),
                  required=True, section=goal, relevant=is_kpi),
        FieldSpec("subgroup", "text", _("Subgroup"), required=True, section=goal,
                  relevant=lambda a: is_kpi(a) and a.get("population") == "subgroup",
                  hint=_("For example English learners (at most {n} characters).").format(n=SUBGROUP_MAX),
                  validate=lambda v, a: (_("Shorten the subgroup name to {n} characters.").format(n=SUBGROUP_MAX)
                                         if len(v.strip()) > SUBGROUP_MAX else None)),
        FieldSpec("baseline", "decimal", _("Baseline"), required=True, section=goal, relevant=is_kpi,
                  hint=_("Where the KPI stands at the start. Rates and shares in percent (92 for 92%); other KPIs "
                         "in their unit (GPA points, credits, hours)."),
                  validate=scale),
        FieldSpec("target", "decimal", _("Target"), required=True, section=goal, relevant=is_kpi,
                  hint=_("Where the KPI should be by the due term, in the same unit as the baseline."),
                  validate=target_check),
        FieldSpec("start_term", "choice", _("Start term"), choices=terms, required=True, section=timing,
                  default=today_term),
        FieldSpec("due_term", "choice", _("Due term"), choices=terms, required=True, section=timing,
                  hint=_("Not before the start term."), validate=due_check),
        FieldSpec("owner", "text", _("Owner of the goal"), required=True, section=timing,
                  hint=_("The person who answers for the goal."),
                  required_message=_("Every goal needs an owner.")),
        FieldSpec("entered_by", "text", _("Your name"), required=True, section=_("Submit")),
    ]
    return fields


def _goal_record(answers: dict, partner_id: str | None, units: dict[str, str]) -> dict:
    """Answers of the goal form -> a goal record on the KPI's scale (percent -> proportion)."""
    rec = {k: answers.get(k) for k in ("description", "start_term", "due_term", "owner", "entered_by")}
    rec["partner_id"] = partner_id or answers.get("partner_id")
    kpi = answers.get("kpi_id")
    if not kpi or kpi == FREE_FORM:
        return rec
    rec["kpi_id"] = kpi
    pop = answers.get("population")
    rec["population"] = (SUBGROUP_PREFIX + str(answers.get("subgroup") or "").strip()) if pop == "subgroup" else pop
    for col in ("baseline", "target"):
        v = answers.get(col)
        if v is not None and _in_percent(units.get(kpi)):
            v = round(float(v) / 100.0, 10)
        rec[col] = v
    return rec


def goal_controller(store, ctx: RecordsContext, *, entered_by: str = "", partner_id: str | None = None,
                    catalog=None, on_saved: Callable[[str], Any] | None = None, identity=None,
                    lang: str | None = None) -> FormController:
    """The goal form's controller: autosaves a draft, validates and writes the goal on submit.

    Parameters
    ----------
    store : Store
    ctx : RecordsContext
    entered_by : str
        Pre-fills "Your name" and keys the draft.
    partner_id : str, optional
        Fix the partner (the records app); otherwise the form asks for it.
    catalog : Catalog, optional
        KPI catalog (default: the installed one); its ids and units are what the goal is checked against.
    on_saved : callable, optional
        Called with the new ``goal_id`` after the goal is written.
    identity : Identity, optional
        As for :func:`investment_controller`.
    lang : str, optional
        Language of the form's texts (see :func:`goal_fields`).

    Returns
    -------
    FormController
        Submit runs :func:`~partner_analysis.records.goals.check_goal` (the API's and CSV import's checks)
        and writes the goal with its owner in one transaction
        (:func:`~partner_analysis.records.goals.write_goal`, as ``add_goal``).
    """
    owner = entered_by
    if identity is not None:
        entered_by, owner = _as_identity(identity, partner_id)
    kpis = _catalog_kpis(catalog)
    units = {k: u for k, _, u in kpis}
    key = _draft_key("goal", owner, partner_id)
    initial = {"entered_by": entered_by} if entered_by and identity is None else {}
    initial.update(load_draft(store, "goal", entered_by=owner, partner_id=partner_id))

    def submit(answers: dict):
        if identity is not None:
            answers = dict(answers, entered_by=entered_by)
        rec = _goal_record(answers, partner_id, units)
        clean, problems = check_goal(rec, ctx, kpi_ids=list(units), kpi_units=units)
        if problems:
            sub = answers.get("population") == "subgroup"
            return _field_problems(problems, lambda c: "subgroup" if c == "population" and sub else c, lang)
        with store.transaction() as conn:
            gid = write_goal(conn, clean)
            _drop_draft(conn, key)
        if on_saved is not None:
            on_saved(gid)
        return None

    fields = goal_fields(ctx, partner_id=partner_id, catalog=catalog, lang=lang)
    if identity is not None:
        fields = _without_name(fields)
    return FormController(fields, on_change=_autosaver(store, "goal", key), on_submit=submit, initial=initial)


def goal_form(store, ctx: RecordsContext, *, entered_by: str = "", partner_id: str | None = None, catalog=None,
              on_saved: Callable[[str], Any] | None = None, identity=None, partner_name: str | None = None,
              lang: str | None = None):
    """An ipywidgets form for one goal of a partner (see :func:`goal_controller`)."""
    controller = goal_controller(store, ctx, entered_by=entered_by, partner_id=partner_id, catalog=catalog,
                                 on_saved=on_saved, identity=identity, lang=lang)
    titles = (N_("Set a goal: {partner}"), N_("Set a goal: partner {partner}"), N_("Set a goal"))
    return _titled_form(controller, titles, partner_id=partner_id, partner_name=partner_name, lang=lang,
                        intro=N_("A goal the partnership commits to: a KPI of the catalog with a baseline and a "
                                 "target, or a free-form goal judged at the check-ins, with the terms it runs over "
                                 "and its owner."))
