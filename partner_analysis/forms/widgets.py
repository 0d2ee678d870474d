"""ipywidgets view of a :class:`~partner_analysis.forms.engine.FormController`.

Accessibility decisions (checked with axe-core in ``tests/test_voila_browser.py``):

- every input carries its question as ``description``, which ipywidgets renders as a ``<label>``
  (CSS below lets long questions wrap above the input instead of being cut off);
- no sliders: slider handles have no accessible name;
- required questions say so in words (``* (required)``), errors are text (``Error: ...``), never
  colour alone;
- messages go to HTML widgets, because ``print()`` in a callback shows nothing under Voilà;
- a run of two or more choice questions with ``appearance="likert"`` and the same choices is drawn as a
  compact matrix: one row per question, each row one radio group named by its question (the page template
  makes every ``RadioButtons`` a ``role="radiogroup"`` labelled by its question, and gives its radios one
  name, so arrow keys move within the row), the scale written once above the columns (``aria-hidden``:
  every radio keeps its own label, visually hidden on wide screens). Below 720 px the rows stack and the
  option labels show again.

Numbers are typed into ``Text`` boxes rather than ``IntText``/``FloatText``: those always hold a
number (0 when untouched), so an unanswered question would be indistinguishable from an answer of 0.
"""
from __future__ import annotations

import datetime as _dt
import html
from typing import Any, Callable, Sequence

import ipywidgets as widgets
import traitlets

from ..i18n import N_, Translator
from .engine import FieldSpec, FormController, fields_by_section

__all__ = ["WidgetForm", "CheckboxGroup", "FORM_CSS", "MAX_RADIO_CHOICES", "likert_runs"]

#: choice lists longer than this become a Dropdown instead of radio buttons
MAX_RADIO_CHOICES = 7

FORM_CSS = """
<style>
.pa-form { max-width: 60em; font-size: 15px; color: #1a1a1a; }
.pa-form h1 { font-size: 1.6em; margin: 0.4em 0; }
.pa-form h2 { font-size: 1.25em; margin: 1.2em 0 0.3em 0; border-bottom: 1px solid #767676; }
.pa-form .pa-question { margin: 0.6em 0 0.9em 0; padding-left: 2px; }
.pa-form .pa-q.widget-inline-hbox, .pa-form .pa-q.widget-inline-vbox {
  flex-direction: column; align-items: stretch; height: auto; width: 100%; }
.pa-form .pa-q > .widget-label, .pa-form .pa-q > label {
  width: auto !important; max-width: 48em; white-space: normal; overflow: visible; text-overflow: clip;
  height: auto; line-height: 1.4; font-weight: 600; margin: 0 0 0.3em 0; text-align: left; }
.pa-form .pa-q > select, .pa-form .pa-q > input, .pa-form .pa-q > textarea, .pa-form .pa-q > .widget-radio-box {
  flex: 0 0 auto; max-width: 30em; }
.pa-form .pa-q > select, .pa-form .pa-q > input { height: 2em; }
.pa-form .pa-q > textarea { min-height: 4.5em; }
.pa-form .pa-hint { color: #4a4a4a; font-size: 0.92em; }
.pa-form .pa-error { color: #a00000; font-weight: 600; }
.pa-form .pa-progress { font-weight: 600; }
.pa-form .pa-status { margin-top: 0.5em; }
.pa-form .widget-radio-box label, .pa-form .widget-checkbox label { color: #1a1a1a; }
.pa-form .widget-radio-box label { height: auto; min-height: 1.6em; line-height: 1.5; white-space: normal;
  padding: 1px 0; display: flex; flex-direction: row-reverse; justify-content: flex-end; align-items: flex-start; }
.pa-form .widget-radio-box input { float: none; flex: 0 0 auto; margin-top: 0.3em; }
.pa-form .pa-q > .widget-radio-box { max-width: 44em; }
.pa-form .widget-button { min-width: 9em; }
.pa-form .pa-language { max-width: 16em; }
.pa-form .pa-matrix { margin: 0.5em 0 1em 0; }
.pa-form .pa-matrix-head { display: flex; align-items: flex-end; border-bottom: 1px solid #767676;
  padding: 0.2em 0; }
.pa-form .pa-matrix-head .pa-matrix-corner { flex: 0 0 44%; font-size: 0.9em; color: #4a4a4a; }
.pa-form .pa-matrix-scale { flex: 1 1 auto; display: grid; grid-auto-flow: column; grid-auto-columns: 1fr;
  text-align: center; font-size: 0.85em; font-weight: 600; line-height: 1.25; }
.pa-form .pa-matrix .pa-question { margin: 0; padding: 0.3em 0 0.3em 2px; border-bottom: 1px solid #d4d4d4; }
.pa-form .pa-matrix .pa-question:nth-child(odd) { background: #f4f4f4; }
.pa-form .pa-likert { display: flex; flex-direction: row; align-items: center; }
.pa-form .pa-likert > .widget-label { flex: 0 0 44%; max-width: 44%; margin: 0; font-weight: 500; }
.pa-form .pa-likert > .widget-radio-box { flex: 1 1 auto; max-width: none; display: grid; grid-auto-flow: column;
  grid-auto-columns: 1fr; margin-bottom: 0 !important; }
.pa-form .pa-likert .widget-radio-box label { font-size: 0; justify-content: center; flex-direction: row;
  align-items: center; min-height: 2.2rem; margin: 0; cursor: pointer; }
.pa-form .pa-likert .widget-radio-box input { margin: 0; width: 1.15rem; height: 1.15rem; }
@media (max-width: 720px) {
  .pa-form .pa-matrix-head { display: none; }
  .pa-form .pa-likert { flex-direction: column; align-items: stretch; }
  .pa-form .pa-likert > .widget-label { max-width: none; flex: 0 0 auto; margin-bottom: 0.3em; }
  .pa-form .pa-likert > .widget-radio-box { display: flex; flex-direction: column; }
  .pa-form .pa-likert .widget-radio-box label { font-size: 15px; justify-content: flex-end;
    flex-direction: row-reverse; align-items: flex-start; min-height: 1.6em; }
  .pa-form .pa-likert .widget-radio-box input { margin: 0.25em 0.4em 0 0; }
}
</style>
"""


def _is_likert(spec: FieldSpec) -> bool:
    return (spec.kind == "choice" and "likert" in spec.appearance.split()
            and 1 < len(spec.choices) <= MAX_RADIO_CHOICES)


def likert_runs(fields: Sequence[FieldSpec]) -> list[list[FieldSpec]]:
    """Split fields into runs: consecutive Likert questions with the same choices form one run (a matrix),
    every other field is a run of its own."""
    runs: list[list[FieldSpec]] = []
    for spec in fields:
        last = runs[-1] if runs else None
        if (last and _is_likert(spec) and _is_likert(last[-1]) and last[-1].choices == spec.choices):
            last.append(spec)
        else:
            runs.append([spec])
    return runs


class CheckboxGroup(widgets.VBox):
    """A multi-choice question as a labelled group of checkboxes with one ``value`` (a tuple).

    Checkboxes are easier to use than ``SelectMultiple`` (no Ctrl-click) and each box is a labelled
    input.
    """

    value = traitlets.Tuple()
    description = traitlets.Unicode("")
    disabled = traitlets.Bool(False)

    def __init__(self, options, description: str = "", value=(), **kwargs):
        self._options = [(str(label), v) for label, v in options]
        self._boxes = [widgets.Checkbox(value=False, description=label, indent=False,
                                        layout=widgets.Layout(width="auto"))
                       for label, _ in self._options]
        self._legend = widgets.HTML(f'<span class="widget-label">{html.escape(description)}</span>')
        super().__init__(children=[self._legend, *self._boxes], **kwargs)
        self.description = description
        self._syncing = False
        for box in self._boxes:
            box.observe(self._box_changed, names="value")
        self.value = tuple(value or ())

    @traitlets.observe("value")
    def _value_changed(self, change):
        if self._syncing:
            return
        chosen = set(change["new"] or ())
        self._syncing = True
        try:
            for box, (_, v) in zip(self._boxes, self._options):
                box.value = v in chosen
        finally:
            self._syncing = False

    @traitlets.observe("disabled")
    def _disabled_changed(self, change):
        for box in self._boxes:
            box.disabled = change["new"]

    def _box_changed(self, _change):
        if self._syncing:
            return
        self._syncing = True
        try:
            new = tuple(v for box, (_, v) in zip(self._boxes, self._options) if box.value)
        finally:
            self._syncing = False
        self.value = new


class WidgetForm:
    """Render a form controller as ipywidgets and wire every input to it.

    Parameters
    ----------
    controller : FormController
    title : str
        Shown as the page heading (``<h1>``).
    intro : str
        Optional paragraph under the title (plain text).
    on_save : callable, optional
        Called by **Save draft**; may return a message to show. Answers are already autosaved through
        ``controller.on_change``, so this is a reassurance and a flush, not the only save.
    submit_label : str
        Text of the submit button (``"Save corrections"`` for a correction form).
    save_label : str or None
        Text of the save button; ``None`` leaves it out of the page (``.save_button`` still exists).
    note : str, optional
        The instructions under the intro (plain text); the default explains required marks and autosaving.
    extra : sequence of Widget
        Shown between the questions and the buttons (e.g. a correction's reason field).
    refused_text : str
        Start of the status message when a submission is refused.
    done_text : str or callable
        Status message after a successful submission; a callable is asked for it at that moment.
    lang : str, optional
        Language of the buttons, instructions and messages (``"es"``; default English), looked up in the
        gettext catalogs of :mod:`partner_analysis.i18n`. Texts passed in (title, labels) are used as given.
    header_extra : sequence of Widget
        Shown right under the title (e.g. the language switcher).

    Attributes
    ----------
    widget : ipywidgets.VBox
        Display this.
    inputs : dict[str, Widget]
        The input of each answerable field; tests set ``.value`` on these.
    errors : dict[str, ipywidgets.HTML]
        Inline error text of each field.
    progress, status : ipywidgets.HTML
        "7 of 32 required questions answered"; confirmation and problem messages (next to the buttons; the
        apps add a confirmation banner at the top).
    save_button, submit_button : ipywidgets.Button
    """

    DEFAULT_NOTE = N_("Questions marked * (required) must be answered before you submit. "
                      "Your answers are saved as you go; you can close the page and return.")

    def __init__(self, controller: FormController, title: str = "Form", *, intro: str = "",
                 on_save: Callable[[], str | None] | None = None, submit_label: str | None = None,
                 save_label: str | None = "", note: str | None = None, extra: Sequence = (),
                 refused_text: str | None = None, done_text: str | Callable[[], str] | None = None,
                 lang: str | None = None, header_extra: Sequence = ()):
        _ = self._ = Translator(lang)
        self.lang = lang
        submit_label = submit_label or _("Submit")
        save_label = _("Save draft") if save_label == "" else save_label
        self.controller = controller
        self.on_save = on_save
        self.refused_text = refused_text or _("Not submitted yet")
        self.done_text = done_text or _("Thank you. Your answers were submitted.")
        self.inputs: dict[str, widgets.Widget] = {}
        self.errors: dict[str, widgets.HTML] = {}
        self.boxes: dict[str, widgets.Box] = {}
        self._loading = True
        self._show_required = False
        self._touched: set[str] = set()
        # problems found by the controller's on_submit (record checks), shown next to their question
        # until that answer changes
        self._submit_errors: dict[str, str] = {}

        # the page template sets <html lang> from this marker (the language of the form's texts)
        marker = f'<span class="pa-lang" data-lang="{html.escape(_.code.replace("_", "-"))}" hidden></span>'
        self._header_extra = tuple(header_extra)
        header = [widgets.HTML(FORM_CSS + marker), widgets.HTML(f"<h1>{html.escape(title)}</h1>"), *header_extra]
        #: the intro paragraph (empty when there is none)
        self.intro_html = widgets.HTML(f"<p>{html.escape(intro)}</p>" if intro else "")
        if intro:
            header.append(self.intro_html)
        header.append(widgets.HTML(f"<p>{html.escape(_(self.DEFAULT_NOTE) if note is None else note)}</p>"))
        self.progress = widgets.HTML(layout=widgets.Layout(margin="0.4em 0"))
        self.progress.add_class("pa-progress")
        header.append(self.progress)

        sections = []
        for section, fields in fields_by_section(controller.fields):
            children = [widgets.HTML(f"<h2>{html.escape(section)}</h2>")] if section else []
            for run in likert_runs(fields):
                children.append(self._matrix(run) if len(run) > 1 else self._question(run[0]))
            box = widgets.VBox(children)
            box.add_class("pa-section")
            sections.append(box)

        self.save_button = widgets.Button(description=save_label or _("Save draft"),
                                          tooltip=_("Save your answers and finish later"), button_style="")
        self.submit_button = widgets.Button(description=submit_label, tooltip=submit_label
                                            if submit_label != _("Submit") else _("Send your answers"),
                                            button_style="primary")
        self.save_button.on_click(self._on_save_click)
        self.submit_button.on_click(self._on_submit_click)
        self.status = widgets.HTML("")
        self.status.add_class("pa-status")
        buttons = [self.save_button, self.submit_button] if save_label is not None else [self.submit_button]
        footer = [*extra, widgets.HBox(buttons), self.status]

        self.widget = widgets.VBox(header + sections + footer)
        self.widget.add_class("pa-form")
        self._loading = False
        self.refresh()

    # -- building ------------------------------------------------------------------------------

    def _label(self, spec: FieldSpec) -> str:
        # a conditional requirement (callable) is announced by the inline error instead
        return self._("{question} * (required)").format(question=spec.label) if spec.required is True \
            else spec.label

    def _matrix(self, run: Sequence[FieldSpec]) -> widgets.Box:
        """Likert questions with one scale: the scale once as column heads, one radio-group row per question."""
        heads = "".join(f"<span>{html.escape(label)}</span>" for _value, label in run[0].choices)
        head = widgets.HTML(f'<div class="pa-matrix-head" aria-hidden="true"><span class="pa-matrix-corner">'
                            f'</span><span class="pa-matrix-scale">{heads}</span></div>')
        rows = [self._question(spec) for spec in run]
        for spec in run:
            self.inputs[spec.name].add_class("pa-likert")
        box = widgets.VBox([head, *rows])
        box.add_class("pa-matrix")
        return box

    def _question(self, spec: FieldSpec) -> widgets.Box:
        if spec.kind == "note":
            box = widgets.VBox([widgets.HTML(f"<p>{html.escape(spec.label)}</p>")])
            box.add_class("pa-note")
            self.boxes[spec.name] = box
            return box
        control = self._input(spec)
        control.add_class("pa-q")
        self.inputs[spec.name] = control
        parts = [control]
        if spec.hint:
            hint = widgets.HTML(f'<span class="pa-hint">{html.escape(spec.hint)}</span>')
            parts.append(hint)
        error = widgets.HTML("")
        self.errors[spec.name] = error
        parts.append(error)
        control.observe(lambda change, name=spec.name: self._on_input(name, change["new"]), names="value")
        box = widgets.VBox(parts)
        box.add_class("pa-question")
        self.boxes[spec.name] = box
        return box

    def _input(self, spec: FieldSpec) -> widgets.Widget:
        label = self._label(spec)
        current = self.controller.answers.get(spec.name)
        wide = {"description_width": "initial"}
        full = widgets.Layout(width="auto")
        if spec.kind == "choice":
            options = [(lab, val) for val, lab in spec.choices]
            if len(options) <= MAX_RADIO_CHOICES:
                return widgets.RadioButtons(options=options, value=current, description=label, style=wide,
                                            layout=full)
            return widgets.Dropdown(options=options, value=current, description=label, style=wide, layout=full)
        if spec.kind == "multi_choice":
            return CheckboxGroup([(lab, val) for val, lab in spec.choices], description=label,
                                 value=tuple(current or ()))
        if spec.kind == "date":
            return widgets.DatePicker(value=current, description=label, style=wide, layout=full)
        text = "" if current is None else str(current)
        if spec.kind == "long_text":
            return widgets.Textarea(value=text, description=label, style=wide, layout=full,
                                    continuous_update=False)
        placeholder = {"integer": self._("a whole number"), "decimal": self._("a number")}.get(spec.kind, "")
        # continuous_update=False: check and autosave when the respondent leaves the box, not per keystroke
        return widgets.Text(value=text, description=label, placeholder=placeholder, style=wide, layout=full,
                            continuous_update=False)

    # -- events --------------------------------------------------------------------------------

    def _on_input(self, name: str, value: Any) -> None:
        if self._loading or self.controller.submitted:
            return
        self._touched.add(name)
        self._submit_errors.pop(name, None)
        try:
            self.controller.set(name, value)
        except Exception as err:  # noqa: BLE001 - Voilà hides tracebacks; the respondent must see something
            self._message(self._("Your last answer could not be saved: {error}. Please try again.").format(
                error=err), error=True)
        self.refresh()

    def _on_save_click(self, _button=None) -> None:
        try:
            message = self.on_save() if self.on_save is not None else None
        except Exception as err:  # noqa: BLE001
            self._message(self._("The draft could not be saved: {error}. Please try again.").format(error=err),
                          error=True)
            return
        stamp = _dt.datetime.now().strftime("%H:%M")
        self._message(message or self._("Draft saved at {time}. You can close this page and continue later.")
                      .format(time=stamp))

    def _on_submit_click(self, _button=None) -> None:
        if self.controller.submitted:
            self._message(self._("These answers were already submitted."))
            return
        self._show_required = True
        try:
            problems = self.controller.submit()
        except Exception as err:  # noqa: BLE001
            self._message(self._("Your answers could not be submitted: {error}. Nothing was lost; please try "
                                 "again.").format(error=err), error=True)
            return
        self._submit_errors = {n: m for n, m in problems if n in self.errors
                               and self.controller.field_error(n, include_required=True) is None}
        self.refresh()
        if problems:
            labels = [self.controller.field(n).label if n in self.inputs else self._(m) for n, m in problems]
            shown = "; ".join(html.escape(x) for x in labels[:5]) + ("; ..." if len(labels) > 5 else "")
            if not any(n in self.inputs for n, _ in problems):
                # only general problems (e.g. a missing reason): say them as they are
                self._message(f"{html.escape(self.refused_text)}: {shown}", error=True, escape=False)
                return
            summary = self._.ngettext("{n} question needs an answer or a correction",
                                      "{n} questions need an answer or a correction", len(problems))
            self._message(f"{html.escape(self.refused_text)}: {html.escape(summary.format(n=len(problems)))}: "
                          f"{shown}", error=True, escape=False)
            return
        for control in [*self.inputs.values(), *self._header_extra]:
            if hasattr(control, "disabled"):
                control.disabled = True   # also the language menu: the confirmation stays as it is
        self.save_button.disabled = True
        self.submit_button.disabled = True
        self._message(self.done_text() if callable(self.done_text) else self.done_text)

    # -- view ------------------------------------------------------------------------------------

    def _message(self, text: str, *, error: bool = False, escape: bool = True) -> None:
        body = html.escape(text) if escape else text
        if error:
            text = self._("Error: {message}").format(message=body)
            self.status.value = f'<p class="pa-error" role="alert">{text}</p>'
        else:
            self.status.value = f'<p role="status">{body}</p>'

    def refresh(self) -> None:
        """Re-apply skip logic, inline errors and progress from the controller."""
        visible = {f.name for f in self.controller.visible_fields()}
        for name, box in self.boxes.items():
            box.layout.display = None if name in visible else "none"
        for name, label in self.errors.items():
            message = None
            if name in visible and (self._show_required or name in self._touched):
                message = self.controller.field_error(name, include_required=self._show_required)
            if message is None and name in visible:
                message = self._submit_errors.get(name)
            # No role="alert" here: after a failed Submit dozens of alerts would interrupt each other; the
            # status line announces the summary and these texts sit next to their questions.
            text = self._("Error: {message}").format(message=self._(message)) if message else ""
            label.value = f'<span class="pa-error">{html.escape(text)}</span>' if message else ""
        progress = self.controller.progress()
        text = self._.ngettext("{answered} of {total} required question answered",
                               "{answered} of {total} required questions answered", progress.total)
        self.progress.value = (f'<p aria-live="polite">'
                               f'{html.escape(text.format(answered=progress.answered, total=progress.total))}</p>')
