"""Build surveys/partner_fit_v1.xlsx, the shipped partner-fit instrument (XLSForm + fit:: columns).

Run ``.venv/bin/python surveys/build_partner_fit_v1.py`` after editing the item bank below; the
workbook is generated, committed, and validated by tests/test_fit_instrument.py. Item wording is our
own; the Wilder Collaboration Factors Inventory, the Partnership Self-Assessment Tool and the Levels
of Collaboration Scale are conceptual anchors only (see surveys/README.md). When you change wording,
raise VERSION.
"""
from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

FORM_ID = "partner_fit"
VERSION = "2025090101"
TITLE = "Partner fit survey"
OUT = Path(__file__).with_name("partner_fit_v1.xlsx")

SURVEY_COLUMNS = ["type", "name", "label", "hint", "required", "required_message", "relevant", "constraint",
                  "constraint_message", "appearance", "fit::dimension", "fit::reverse", "fit::weight", "fit::role",
                  "fit::pair"]

# dimension id -> (section label, [(pair id, district wording, partner wording, reverse)]); a partner wording may
# be (item name, wording) when an existing item was re-paired (its name and answers stay)
# Most statements are written in the first person plural so that the district wording reads
# naturally when quoted in a discussion prompt shown to both sides.
BANK = {
    "student_outcomes": ("Desired student outcomes", [
        ("so1", "We agree on what students should gain from this partnership.",
                "We agree on what students should gain from this partnership.", False),
        ("so2", "The partner can name the student results the district cares most about.",
                "We can name the student results the district cares most about.", False),
        ("so3", "Students' needs, not only the partner's hiring or enrolment needs, shape what we offer.",
                "Students' needs, not only our hiring or enrolment needs, shape what we offer.", False),
        ("so4", "Our two organisations expect quite different things for students.",
                "Our two organisations expect quite different things for students.", True),
    ]),
    "shared_values": ("Shared values", [
        ("sv1", "We hold similar beliefs about what young people deserve.",
                "We hold similar beliefs about what young people deserve.", False),
        ("sv2", "I trust the partner to act in students' interest when no one is checking.",
                "I trust the district to act in students' interest when no one is checking.", False),
        ("sv3", "Our organisations' priorities often pull in different directions.",
                "Our organisations' priorities often pull in different directions.", True),
    ]),
    "cultural_alignment": ("Cultural alignment", [
        ("ca1", "Our ways of working (pace, formality, decision style) fit together well.",
                "Our ways of working (pace, formality, decision style) fit together well.", False),
        ("ca2", "Partner staff are comfortable and welcome in our schools.",
                "Our staff are comfortable and welcome in the district's schools.", False),
        ("ca3", "Partner staff understand the communities and families our students come from.",
                "Our staff understand the communities and families the students come from.", False),
    ]),
    "vision": ("Vision of success and the path to it", [
        ("vi1", "We share a picture of what success looks like in three years.",
                "We share a picture of what success looks like in three years.", False),
        ("vi2", "We have agreed, written milestones on the way there.",
                "We have agreed, written milestones on the way there.", False),
        ("vi3", "Each side knows which steps it is responsible for.",
                "Each side knows which steps it is responsible for.", False),
        ("vi4", "It is unclear how today's activities lead to the results we want.",
                "It is unclear how today's activities lead to the results we want.", True),
    ]),
    "leadership": ("Leadership and oversight", [
        ("le1", "Leaders on both sides visibly support this partnership.",
                "Leaders on both sides visibly support this partnership.", False),
        ("le2", "It is clear who decides what, and how disagreements are settled.",
                "It is clear who decides what, and how disagreements are settled.", False),
        ("le3", "Someone on each side is accountable for keeping the work on track.",
                "Someone on each side is accountable for keeping the work on track.", False),
    ]),
    "resources": ("Resource commitment (people, money, tools)", [
        ("re1", "The partner commits enough staff time to do what we agreed.",
                "We commit enough staff time to do what we agreed.", False),
        ("re2", "The funding for this work is secure for the coming year.",
                "The funding for this work is secure for the coming year.", False),
        ("re3", "We provide the space, equipment and tools the programme needs.",
                "The district provides the space, equipment and tools the programme needs.", False),
        ("re4", "Agreed resources often arrive late or not at all.",
                "Agreed resources often arrive late or not at all.", True),
    ]),
    "mutual_benefit": ("Mutual benefit", [
        # Each pair is one claim about one side's benefit, rated by both sides (issue #11: the pairs used to
        # link "The district gets..." with "Our organisation gets...", two different claims). The partner items
        # keep their names and wordings (answers already given stay valid); only their pairing changed.
        ("mb1", "The district gets enough out of this partnership to justify its effort.",
                ("p_mb2", "The district gets enough out of this partnership to justify its effort."), False),
        ("mb2", "The partner gets enough out of this partnership to justify its effort.",
                ("p_mb1", "Our organisation gets enough out of this partnership to justify its effort."), False),
        ("mb3", "Both sides gain about equally from working together.",
                "Both sides gain about equally from working together.", False),
    ]),
    "communication": ("Communication cadence", [
        ("co1", "We meet or talk often enough to keep the work moving.",
                "We meet or talk often enough to keep the work moving.", False),
        ("co2", "Problems are raised early and openly.",
                "Problems are raised early and openly.", False),
        ("co3", "I know whom to contact on the other side, and they answer promptly.",
                "I know whom to contact on the other side, and they answer promptly.", False),
    ]),
    "data_sharing": ("Data sharing", [
        ("ds1", "We share student outcome data every quarter.",
                "We share student outcome data every quarter.", False),
        ("ds2", "A written agreement sets out what data is shared and how it is protected.",
                "A written agreement sets out what data is shared and how it is protected.", False),
        ("ds3", "Shared data is used to improve the programme, not only to report on it.",
                "Shared data is used to improve the programme, not only to report on it.", False),
    ]),
    "flexibility": ("Flexibility", [
        ("fl1", "When plans change, we adjust together without starting over.",
                "When plans change, we adjust together without starting over.", False),
        ("fl2", "Each side is willing to give ground to reach an agreement.",
                "Each side is willing to give ground to reach an agreement.", False),
        ("fl3", "Once something is agreed, it is very hard to change.",
                "Once something is agreed, it is very hard to change.", True),
    ]),
}

LEVELS = [("0", "0 - No interaction: we do not work together"),
          ("1", "1 - Networking: we know of each other and share information now and then"),
          ("2", "2 - Cooperation: we support each other's activities informally"),
          ("3", "3 - Coordination: we plan some joint activities and share some resources"),
          ("4", "4 - Coalition: we share decisions, resources and a joint plan"),
          ("5", "5 - Collaboration: we work as one team with shared goals, money and accountability")]

AGREE = [("1", "Strongly disagree", 1), ("2", "Disagree", 2), ("3", "Neither agree nor disagree", 3),
         ("4", "Agree", 4), ("5", "Strongly agree", 5), ("dk", "Don't know", None)]

RESOURCE_KINDS = [("staff", "Staff time"), ("money", "Money"), ("space", "Space or facilities"),
                  ("equipment", "Equipment or tools"), ("transport", "Transport"), ("none", "None so far")]


def survey_rows() -> list[dict]:
    rows: list[dict] = []
    rows.append(dict(type="begin group", name="about", label="About you", appearance="field-list"))
    rows.append(dict(type="note", name="intro", label="This survey asks the district and the partner the same "
                     "questions. There are no right answers: differences between the two sides are what the "
                     "conversation afterwards is for."))
    rows.append(dict(type="text", name="respondent_name", label="Your name", required="yes",
                     required_message="Please enter your name."))
    rows.append(dict(type="text", name="respondent_role", label="Your job title or role in the partnership",
                     constraint="string-length(.) <= 120", constraint_message="Please keep this under 120 characters."))
    rows.append(dict(type="text", name="organisation", label="Your organisation", required="yes"))
    rows.append(dict(type="date", name="partnership_start", label="When did this partnership start (roughly)?",
                     hint="Leave blank if you do not know."))
    rows.append(dict(type="end group"))
    for dim, (section, items) in BANK.items():
        rows.append(dict(type="begin group", name=f"g_{dim}", label=section, appearance="field-list"))
        for side in ("district", "partner"):
            names = []
            for pair, d_text, p_text, reverse in items:
                name = f"{side[0]}_{pair}"
                if side == "partner" and isinstance(p_text, tuple):  # (item name, wording): a re-paired item
                    name, p_text = p_text
                names.append(name)
                rows.append({"type": "select_one agree5", "name": name,
                             "label": d_text if side == "district" else p_text, "required": "yes",
                             "appearance": "likert", "fit::dimension": dim, "fit::reverse": "yes" if reverse else "",
                             "fit::role": side, "fit::pair": pair})
            relevant = " or ".join(f"${{{n}}} <= 2" for n in names)
            rows.append({"type": "text", "name": f"{side[0]}_{dim}_why",
                         "label": "You rated at least one statement here 2 or lower. What is behind that, and what "
                                  "would need to change?",
                         "relevant": relevant, "fit::role": side, "appearance": "multiline"})
        if dim == "resources":
            rows.append({"type": "select_multiple resource_kind", "name": "resources_given",
                         "label": "Which resources does your organisation put into this partnership?",
                         "hint": "Tick all that apply.",
                         "constraint": "not(selected(., 'none') and count-selected(.) > 1)",
                         "constraint_message": "'None so far' cannot be combined with other answers."})
            rows.append({"type": "integer", "name": "staff_hours_month",
                         "label": "About how many staff hours a month does your organisation spend on it?",
                         "relevant": "selected(${resources_given}, 'staff')",
                         "constraint": ". >= 0 and . <= 2000",
                         "constraint_message": "Enter a number of hours between 0 and 2000."})
        rows.append(dict(type="end group"))
    rows.append(dict(type="begin group", name="g_level", label="How closely we work"))
    rows.append(dict(type="select_one collab_level", name="collab_level", required="yes",
                     label="Which description best fits how closely our two organisations work together today?"))
    rows.append(dict(type="select_one collab_level", name="collab_level_goal",
                     label="And which level should we aim for in two years?"))
    rows.append(dict(type="text", name="comments", label="Anything else the other side should know?",
                     appearance="multiline"))
    rows.append(dict(type="end group"))
    return rows


def build(out: Path = OUT) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(SURVEY_COLUMNS)
    for row in survey_rows():
        ws.append([row.get(c, "") or None for c in SURVEY_COLUMNS])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label", "fit::score"])
    for name, label, score in AGREE:
        ch.append(["agree5", name, label, score])
    for name, label in LEVELS:
        ch.append(["collab_level", name, label, None])
    for name, label in RESOURCE_KINDS:
        ch.append(["resource_kind", name, label, None])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "style", "default_language", "fit::bands", "fit::gap_watch",
               "fit::gap_discuss", "fit::min_items_pct", "fit::min_n", "fit::confidential"])
    st.append([TITLE, FORM_ID, VERSION, "pages", "English (en)", "concern<3.0; borderline<4.0; strength", 0.5, 1.0,
               0.75, 5, "no"])
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    # fixed workbook metadata so rebuilding without changes gives a byte-stable file in git
    import datetime as dt
    stamp = dt.datetime(2025, 9, 1, 0, 0, 0)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "partner_analysis"
    wb.save(out)
    return out


if __name__ == "__main__":
    path = build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {path}")
