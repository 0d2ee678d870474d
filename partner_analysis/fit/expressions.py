"""A small, safe parser for XLSForm ``relevant``, ``constraint`` and ``required`` expressions.

XLSForm expressions are a subset of XPath 1.0. The fit survey needs only a handful of its
features, so we parse them ourselves (tokenizer + recursive descent, no ``eval``) and evaluate
them against a plain ``{item: value}`` dict in Python. The same parsed tree drives skip logic in the
widget form, server-side checks before a submit, and instrument validation.

Grammar (lowest precedence first)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := comparison ("and" comparison)*
    comparison := additive (("=" | "!=" | "<" | "<=" | ">" | ">=") additive)?
    additive   := unary (("+" | "-") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "${" NAME "}" | "." | FUNC "(" [expr ("," expr)*] ")" | "(" expr ")"

Functions: ``selected(a, 'x')``, ``not(a)``, ``string-length(a)``, ``count-selected(a)``,
``true()``, ``false()``.

Value semantics follow XPath where it matters for forms: an unanswered question is the empty
string; ``=``/``!=`` compare numerically when either side is a number literal or a number, else as
strings; ``<``/``<=``/``>``/``>=`` always compare numbers, and a value that is not a number (blank,
"don't know") makes the comparison false.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

__all__ = ["ExpressionError", "Expression", "parse_expression", "evaluate", "references"]


class ExpressionError(ValueError):
    """An expression does not parse. ``position`` is the 0-based character offset."""

    def __init__(self, message: str, *, expression: str, position: int):
        self.expression = expression
        self.position = position
        self.message = message
        super().__init__(f"{message} at character {position + 1} of {expression!r}")

    def __reduce__(self):
        return (_rebuild_error, (self.message, self.expression, self.position))


def _rebuild_error(message, expression, position):
    return ExpressionError(message, expression=expression, position=position)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|=|<|>|\+|-|\(|\)|,)
  | (?P<dot>\.)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
""", re.VERBOSE)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# name -> (min args, max args)
_FUNCTIONS = {"selected": (2, 2), "not": (1, 1), "string-length": (1, 1), "count-selected": (1, 1),
              "true": (0, 0), "false": (0, 0)}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}", expression=text, position=pos)
        kind = m.lastgroup
        if kind == "refname":  # the inner group wins lastgroup; the outer one is what we mean
            kind = "ref"
        if kind == "ref":
            name = m.group("refname").strip()
            if not _NAME.match(name):
                raise ExpressionError(f"'${{{name}}}' is not a valid question name", expression=text, position=pos)
            tokens.append(_Tok("ref", name, pos))
        elif kind == "word" and m.group(0) in ("and", "or", "div", "mod"):
            tokens.append(_Tok("op", m.group(0), pos))
        elif kind != "ws":
            tokens.append(_Tok(kind, m.group(0), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op",):
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise ExpressionError(f"expected {text!r} but found {found}", expression=self.text, position=tok.pos)
        return tok

    def fail(self, tok: _Tok, what: str):
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise ExpressionError(f"expected {what} but found {found}", expression=self.text, position=tok.pos)

    def parse(self):
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", expression=self.text, position=0)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            self.fail(tok, "an operator (and, or, =, !=, <, <=, >, >=) or the end")
        return node

    def or_expr(self):
        node = self.and_expr()
        while self.peek().kind == "op" and self.peek().text == "or":
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.comparison()
        while self.peek().kind == "op" and self.peek().text == "and":
            self.take()
            node = ("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            node = ("cmp", tok.text, node, self.additive())
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text in ("=", "!=", "<", "<=", ">", ">="):
                # XPath would allow a = b = c, but in a form it is always a typo
                raise ExpressionError("two comparisons in a row; join them with 'and' / 'or'",
                                      expression=self.text, position=nxt.pos)
        return node

    def additive(self):
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            node = ("arith", op, node, self.unary())
        return node

    def unary(self):
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self):
        tok = self.take()
        if tok.kind == "number":
            return ("num", float(tok.text))
        if tok.kind == "string":
            return ("str", tok.text[1:-1])
        if tok.kind == "ref":
            return ("ref", tok.text)
        if tok.kind == "dot":
            return ("dot",)
        if tok.kind == "op" and tok.text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if tok.kind == "word":
            name = tok.text
            if name not in _FUNCTIONS:
                if self.peek().text == "(":
                    raise ExpressionError(f"unknown function {name}(); supported: {sorted(_FUNCTIONS)}",
                                          expression=self.text, position=tok.pos)
                raise ExpressionError(f"bare word {name!r}: write question references as ${{{name}}} and text "
                                      f"in quotes ('{name}')", expression=self.text, position=tok.pos)
            self.expect("(")
            args = []
            if not (self.peek().kind == "op" and self.peek().text == ")"):
                args.append(self.or_expr())
                while self.peek().kind == "op" and self.peek().text == ",":
                    self.take()
                    args.append(self.or_expr())
            self.expect(")")
            lo, hi = _FUNCTIONS[name]
            if not lo <= len(args) <= hi:
                raise ExpressionError(f"{name}() takes {lo} argument(s), {len(args)} given",
                                      expression=self.text, position=tok.pos)
            return ("call", name, tuple(args))
        self.fail(tok, "a value, ${name}, '.', a function or '('")


@dataclass(frozen=True)
class Expression:
    """A parsed expression: ``text``, the syntax ``tree`` and the ``${name}`` references it uses."""

    text: str
    tree: tuple
    refs: tuple[str, ...]
    uses_dot: bool

    def evaluate(self, answers: Mapping[str, Any], current: Any = None) -> bool:
        """Evaluate to a boolean against ``answers`` (``current`` is the value of ``.``)."""
        return _truth(_eval(self.tree, answers, current))


def _walk(tree, refs: list, flags: dict):
    tag = tree[0]
    if tag == "ref":
        refs.append(tree[1])
    elif tag == "dot":
        flags["dot"] = True
    elif tag in ("or", "and"):
        _walk(tree[1], refs, flags)
        _walk(tree[2], refs, flags)
    elif tag in ("cmp", "arith"):
        _walk(tree[2], refs, flags)
        _walk(tree[3], refs, flags)
    elif tag == "neg":
        _walk(tree[1], refs, flags)
    elif tag == "call":
        for arg in tree[2]:
            _walk(arg, refs, flags)


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expression:
    """Parse ``text`` once (cached) into an :class:`Expression`.

    Raises
    ------
    ExpressionError
        With the 0-based ``position`` of the offending token.
    """
    tree = _Parser(str(text)).parse()
    refs: list[str] = []
    flags: dict = {}
    _walk(tree, refs, flags)
    return Expression(text=str(text), tree=tree, refs=tuple(dict.fromkeys(refs)), uses_dot=bool(flags.get("dot")))


def references(text: str) -> tuple[str, ...]:
    """The question names an expression refers to with ``${name}``, in order of first use."""
    return parse_expression(text).refs


def evaluate(text: str, answers: Mapping[str, Any], current: Any = None) -> bool:
    """Parse (cached) and evaluate ``text`` to a boolean."""
    return parse_expression(text).evaluate(answers, current)


# -- evaluation ------------------------------------------------------------------------------------

def is_blank(v: Any) -> bool:
    """Whether an answer is blank for XLSForm expressions: ``None``, NaN, blank text or an empty selection."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, (list, tuple, set)):
        return len(v) == 0
    return isinstance(v, str) and v.strip() == ""


def _as_string(v: Any) -> str:
    if is_blank(v):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (list, tuple, set)):
        return " ".join(_as_string(x) for x in v)
    return str(v)


def _as_number(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(_as_string(v))
    except ValueError:
        return math.nan


def _truth(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return not (v == 0 or math.isnan(v))
    return not is_blank(v)


def _selected_set(v: Any) -> list[str]:
    if is_blank(v):
        return []
    if isinstance(v, (list, tuple, set)):
        return [_as_string(x) for x in v]
    return _as_string(v).split()


def _eval(tree, answers: Mapping[str, Any], current: Any):
    tag = tree[0]
    if tag == "num":
        return tree[1]
    if tag == "str":
        return tree[1]
    if tag == "ref":
        value = answers.get(tree[1])
        return "" if is_blank(value) else value
    if tag == "dot":
        return "" if is_blank(current) else current
    if tag == "or":
        return _truth(_eval(tree[1], answers, current)) or _truth(_eval(tree[2], answers, current))
    if tag == "and":
        return _truth(_eval(tree[1], answers, current)) and _truth(_eval(tree[2], answers, current))
    if tag == "neg":
        return -_as_number(_eval(tree[1], answers, current))
    if tag == "arith":
        a, b = _as_number(_eval(tree[2], answers, current)), _as_number(_eval(tree[3], answers, current))
        return a + b if tree[1] == "+" else a - b
    if tag == "cmp":
        return _compare(tree[1], _eval(tree[2], answers, current), _eval(tree[3], answers, current))
    if tag == "call":
        name, args = tree[1], [_eval(a, answers, current) for a in tree[2]]
        if name == "selected":
            return _as_string(args[1]) in _selected_set(args[0])
        if name == "not":
            return not _truth(args[0])
        if name == "string-length":
            return float(len(_as_string(args[0])))
        if name == "count-selected":
            return float(len(_selected_set(args[0])))
        if name == "true":
            return True
        return False
    raise ValueError(f"unknown node {tag!r}")  # pragma: no cover - the parser builds no other node


def _compare(op: str, a: Any, b: Any) -> bool:
    numeric = isinstance(a, (int, float, bool)) or isinstance(b, (int, float, bool))
    if op in ("=", "!="):
        if numeric:
            x, y = _as_number(a), _as_number(b)
            equal = x == y  # NaN never equals anything, as in XPath
        else:
            equal = _as_string(a) == _as_string(b)
        return equal if op == "=" else not equal
    x, y = _as_number(a), _as_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
