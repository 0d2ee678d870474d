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
# 2026113001: Spanish translation added (wording of the English items unchanged; item and choice names
# unchanged, so answers to 2025090101 keep their meaning). A changed file needs a new version: the
# records store refuses one version registered from two different files.
VERSION = "2026113001"
TITLE = "Partner fit survey"
OUT = Path(__file__).with_name("partner_fit_v1.xlsx")

#: XLSForm languages (https://xlsform.org/en/#multiple-language-support): name, then the code in brackets
EN, ES_ = "English (en)", "Español (es)"
LANGUAGES = (EN, ES_)
#: columns written once per language, as ``column::Language (code)``
TRANSLATED = ("label", "hint", "required_message", "constraint_message")
SURVEY_COLUMNS = ["type", "name", *(f"label::{lang}" for lang in LANGUAGES), *(f"hint::{lang}" for lang in LANGUAGES),
                  "required", *(f"required_message::{lang}" for lang in LANGUAGES), "relevant", "constraint",
                  *(f"constraint_message::{lang}" for lang in LANGUAGES), "appearance", "fit::dimension",
                  "fit::reverse", "fit::weight", "fit::role", "fit::pair"]

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


# -- Spanish ---------------------------------------------------------------------------------------
# Written for this toolkit in plain, respectful, Latin-American Spanish ("usted"; "la organización
# asociada" for the partner). A district should have a native speaker review it before use; keys are the
# English texts above, so a new or reworded English text without a Spanish entry stops the build.
ES = {
    # sections
    "About you": "Sobre usted",
    "Desired student outcomes": "Resultados deseados para los estudiantes",
    "Shared values": "Valores compartidos",
    "Cultural alignment": "Afinidad cultural",
    "Vision of success and the path to it": "Visión del éxito y el camino para lograrlo",
    "Leadership and oversight": "Liderazgo y supervisión",
    "Resource commitment (people, money, tools)": "Compromiso de recursos (personal, dinero, herramientas)",
    "Mutual benefit": "Beneficio mutuo",
    "Communication cadence": "Frecuencia de la comunicación",
    "Data sharing": "Intercambio de datos",
    "Flexibility": "Flexibilidad",
    "How closely we work": "Qué tan estrechamente trabajamos",
    # statements
    "We agree on what students should gain from this partnership.":
        "Estamos de acuerdo en lo que los estudiantes deben obtener de esta colaboración.",
    "The partner can name the student results the district cares most about.":
        "La organización asociada puede nombrar los resultados estudiantiles que más le importan al distrito.",
    "We can name the student results the district cares most about.":
        "Podemos nombrar los resultados estudiantiles que más le importan al distrito.",
    "Students' needs, not only the partner's hiring or enrolment needs, shape what we offer.":
        "Lo que ofrecemos responde a las necesidades de los estudiantes, no solo a las necesidades de "
        "contratación o de matrícula de la organización asociada.",
    "Students' needs, not only our hiring or enrolment needs, shape what we offer.":
        "Lo que ofrecemos responde a las necesidades de los estudiantes, no solo a nuestras necesidades de "
        "contratación o de matrícula.",
    "Our two organisations expect quite different things for students.":
        "Nuestras dos organizaciones esperan cosas bastante distintas para los estudiantes.",
    "We hold similar beliefs about what young people deserve.":
        "Tenemos creencias parecidas sobre lo que merecen los jóvenes.",
    "I trust the partner to act in students' interest when no one is checking.":
        "Confío en que la organización asociada actúa en interés de los estudiantes aunque nadie la esté "
        "supervisando.",
    "I trust the district to act in students' interest when no one is checking.":
        "Confío en que el distrito actúa en interés de los estudiantes aunque nadie lo esté supervisando.",
    "Our organisations' priorities often pull in different directions.":
        "Las prioridades de nuestras organizaciones a menudo van en direcciones distintas.",
    "Our ways of working (pace, formality, decision style) fit together well.":
        "Nuestras formas de trabajar (ritmo, formalidad, manera de decidir) encajan bien.",
    "Partner staff are comfortable and welcome in our schools.":
        "El personal de la organización asociada se siente cómodo y bienvenido en nuestras escuelas.",
    "Our staff are comfortable and welcome in the district's schools.":
        "Nuestro personal se siente cómodo y bienvenido en las escuelas del distrito.",
    "Partner staff understand the communities and families our students come from.":
        "El personal de la organización asociada entiende las comunidades y las familias de las que vienen "
        "nuestros estudiantes.",
    "Our staff understand the communities and families the students come from.":
        "Nuestro personal entiende las comunidades y las familias de las que vienen los estudiantes.",
    "We share a picture of what success looks like in three years.":
        "Compartimos una idea de cómo se verá el éxito dentro de tres años.",
    "We have agreed, written milestones on the way there.":
        "Hemos acordado por escrito las metas intermedias para llegar allí.",
    "Each side knows which steps it is responsible for.":
        "Cada parte sabe de qué pasos es responsable.",
    "It is unclear how today's activities lead to the results we want.":
        "No está claro cómo las actividades de hoy llevan a los resultados que queremos.",
    "Leaders on both sides visibly support this partnership.":
        "Los líderes de ambas partes apoyan esta colaboración de forma visible.",
    "It is clear who decides what, and how disagreements are settled.":
        "Está claro quién decide qué, y cómo se resuelven los desacuerdos.",
    "Someone on each side is accountable for keeping the work on track.":
        "En cada parte hay una persona responsable de que el trabajo avance según lo previsto.",
    "The partner commits enough staff time to do what we agreed.":
        "La organización asociada dedica suficiente tiempo de su personal para cumplir lo acordado.",
    "We commit enough staff time to do what we agreed.":
        "Dedicamos suficiente tiempo de nuestro personal para cumplir lo acordado.",
    "The funding for this work is secure for the coming year.":
        "El financiamiento de este trabajo está asegurado para el próximo año.",
    "We provide the space, equipment and tools the programme needs.":
        "Proporcionamos el espacio, el equipo y las herramientas que el programa necesita.",
    "The district provides the space, equipment and tools the programme needs.":
        "El distrito proporciona el espacio, el equipo y las herramientas que el programa necesita.",
    "Agreed resources often arrive late or not at all.":
        "Los recursos acordados a menudo llegan tarde o no llegan.",
    "The district gets enough out of this partnership to justify its effort.":
        "El distrito obtiene lo suficiente de esta colaboración para justificar su esfuerzo.",
    "The partner gets enough out of this partnership to justify its effort.":
        "La organización asociada obtiene lo suficiente de esta colaboración para justificar su esfuerzo.",
    "Our organisation gets enough out of this partnership to justify its effort.":
        "Nuestra organización obtiene lo suficiente de esta colaboración para justificar su esfuerzo.",
    "Both sides gain about equally from working together.":
        "Ambas partes se benefician más o menos por igual de trabajar juntas.",
    "We meet or talk often enough to keep the work moving.":
        "Nos reunimos o hablamos con la frecuencia necesaria para que el trabajo siga avanzando.",
    "Problems are raised early and openly.":
        "Los problemas se plantean pronto y abiertamente.",
    "I know whom to contact on the other side, and they answer promptly.":
        "Sé a quién contactar en la otra parte, y me responden con prontitud.",
    "We share student outcome data every quarter.":
        "Compartimos datos de resultados estudiantiles cada trimestre.",
    "A written agreement sets out what data is shared and how it is protected.":
        "Un acuerdo escrito establece qué datos se comparten y cómo se protegen.",
    "Shared data is used to improve the programme, not only to report on it.":
        "Los datos compartidos se usan para mejorar el programa, no solo para informar sobre él.",
    "When plans change, we adjust together without starting over.":
        "Cuando los planes cambian, nos adaptamos juntos sin empezar de cero.",
    "Each side is willing to give ground to reach an agreement.":
        "Cada parte está dispuesta a ceder para llegar a un acuerdo.",
    "Once something is agreed, it is very hard to change.":
        "Una vez que algo se acuerda, es muy difícil cambiarlo.",
    # other questions, hints and messages
    "This survey asks the district and the partner the same questions. There are no right answers: differences "
    "between the two sides are what the conversation afterwards is for.":
        "Esta encuesta hace las mismas preguntas al distrito y a la organización asociada. No hay respuestas "
        "correctas: las diferencias entre las dos partes son precisamente el tema de la conversación posterior.",
    "Your name": "Su nombre",
    "Please enter your name.": "Por favor, escriba su nombre.",
    "Your job title or role in the partnership": "Su cargo o función en la colaboración",
    "Please keep this under 120 characters.": "Por favor, use menos de 120 caracteres.",
    "Your organisation": "Su organización",
    "When did this partnership start (roughly)?": "¿Cuándo comenzó esta colaboración (aproximadamente)?",
    "Leave blank if you do not know.": "Déjelo en blanco si no lo sabe.",
    "You rated at least one statement here 2 or lower. What is behind that, and what would need to change?":
        "Calificó al menos una afirmación de esta sección con 2 o menos. ¿Qué hay detrás de eso, y qué tendría "
        "que cambiar?",
    "Which resources does your organisation put into this partnership?":
        "¿Qué recursos aporta su organización a esta colaboración?",
    "Tick all that apply.": "Marque todas las opciones que correspondan.",
    "'None so far' cannot be combined with other answers.":
        "«Ninguno hasta ahora» no se puede combinar con otras respuestas.",
    "About how many staff hours a month does your organisation spend on it?":
        "¿Aproximadamente cuántas horas al mes dedica el personal de su organización a esta colaboración?",
    "Enter a number of hours between 0 and 2000.": "Escriba un número de horas entre 0 y 2000.",
    "Which description best fits how closely our two organisations work together today?":
        "¿Qué descripción se ajusta mejor a qué tan estrechamente trabajan hoy nuestras dos organizaciones?",
    "And which level should we aim for in two years?": "¿Y a qué nivel deberíamos aspirar dentro de dos años?",
    "Anything else the other side should know?": "¿Hay algo más que la otra parte debería saber?",
    # choices
    "0 - No interaction: we do not work together": "0 - Sin interacción: no trabajamos juntos",
    "1 - Networking: we know of each other and share information now and then":
        "1 - Contacto: nos conocemos y compartimos información de vez en cuando",
    "2 - Cooperation: we support each other's activities informally":
        "2 - Cooperación: apoyamos las actividades de la otra parte de manera informal",
    "3 - Coordination: we plan some joint activities and share some resources":
        "3 - Coordinación: planificamos algunas actividades juntos y compartimos algunos recursos",
    "4 - Coalition: we share decisions, resources and a joint plan":
        "4 - Coalición: compartimos decisiones, recursos y un plan común",
    "5 - Collaboration: we work as one team with shared goals, money and accountability":
        "5 - Colaboración: trabajamos como un solo equipo, con metas, fondos y rendición de cuentas compartidos",
    "Strongly disagree": "Muy en desacuerdo",
    "Disagree": "En desacuerdo",
    "Neither agree nor disagree": "Ni de acuerdo ni en desacuerdo",
    "Agree": "De acuerdo",
    "Strongly agree": "Muy de acuerdo",
    "Don't know": "No sé",
    "Staff time": "Tiempo del personal",
    "Money": "Dinero",
    "Space or facilities": "Espacio o instalaciones",
    "Equipment or tools": "Equipo o herramientas",
    "Transport": "Transporte",
    "None so far": "Ninguno hasta ahora",
    # settings
    "Partner fit survey": "Encuesta sobre la colaboración con la organización asociada",
}


TRANSLATION_NOTES = (
    "The Spanish texts (columns ...::Español (es)) were written for partner_analysis, not by a professional "
    "translator.",
    "Before a district uses them, a native speaker who knows its families and partners should review every "
    "question, answer choice and message, and the district should record that review here.",
    "Change only the texts: item names (column name) and choice names must stay as they are, so that answers "
    "in either language are stored and scored identically. Raise the version in the settings sheet after any "
    "change.",
)


def translate(text: str | None, lang: str) -> str | None:
    """``text`` in ``lang`` (one of LANGUAGES); a missing Spanish text is an error, never English in disguise."""
    if not text or lang == EN:
        return text
    try:
        return ES[text]
    except KeyError:
        raise SystemExit(f"build_partner_fit_v1.py: no Spanish text for {text!r}; add it to ES") from None


def translated_row(row: dict) -> dict:
    """A survey row with ``label`` etc. spread over one ``label::Language (code)`` column per language."""
    out = {k: v for k, v in row.items() if k not in TRANSLATED}
    for column in TRANSLATED:
        for lang in LANGUAGES:
            out[f"{column}::{lang}"] = translate(row.get(column), lang)
    return out


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
        row = translated_row(row)
        ws.append([row.get(c, "") or None for c in SURVEY_COLUMNS])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", *(f"label::{lang}" for lang in LANGUAGES), "fit::score"])
    for name, label, score in AGREE:
        ch.append(["agree5", name, *(translate(label, lang) for lang in LANGUAGES), score])
    for name, label in LEVELS:
        ch.append(["collab_level", name, *(translate(label, lang) for lang in LANGUAGES), None])
    for name, label in RESOURCE_KINDS:
        ch.append(["resource_kind", name, *(translate(label, lang) for lang in LANGUAGES), None])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "style", "default_language", "fit::bands", "fit::gap_watch",
               "fit::gap_discuss", "fit::min_items_pct", "fit::min_n", "fit::confidential",
               f"fit::form_title::{ES_}"])
    st.append([TITLE, FORM_ID, VERSION, "pages", EN, "concern<3.0; borderline<4.0; strength", 0.5, 1.0,
               0.75, 5, "no", translate(TITLE, ES_)])
    notes = wb.create_sheet("translation_notes")
    notes.append(["note"])
    for line in TRANSLATION_NOTES:
        notes.append([line])
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    # fixed workbook metadata so rebuilding without changes gives a byte-stable file in git
    import datetime as dt
    stamp = dt.datetime(2026, 11, 30, 0, 0, 0)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "partner_analysis"
    wb.save(out)
    return out


if __name__ == "__main__":
    path = build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {path}")
