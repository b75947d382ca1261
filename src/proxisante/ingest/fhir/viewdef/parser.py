"""FHIRPath text → syntax tree (:mod:`.ast`): a tokenizer and a precedence-climbing parser.

The grammar is FHIRPath N1 (the normative release) for everything a ViewDefinition may contain:
literals (string, number, boolean, date, dateTime, time, quantity, ``{}``), ``%constants``,
``$this``, member navigation, function calls, the indexer, and every operator with its precedence.
Whether a function is *supported* is the SQL generator's concern, not the parser's: the parser
accepts any name, so that "unknown function" and "syntax error" are different messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxisante.ingest.fhir.viewdef.ast import (
    Binary,
    Call,
    Constant,
    Index,
    Literal,
    Member,
    Node,
    Quantity,
    TypeName,
    TypeOp,
    Unary,
    Variable,
)


class FhirPathSyntaxError(ValueError):
    """A FHIRPath expression that does not parse; the message gives the character position."""


# Binary operators by precedence, lowest first (FHIRPath N1 §"Operator precedence").
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)
_WORD_OPERATORS = frozenset(op for level in _LEVELS for op in level if op.isalpha())
_CALENDAR_UNITS = frozenset(
    [
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "hour",
        "hours",
        "minute",
        "minutes",
        "second",
        "seconds",
        "millisecond",
        "milliseconds",
    ]
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?(?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<variable>\$[A-Za-z_]+)
  | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[-+*/&|=~<>().,\[\]{}%])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens (whitespace and comments dropped), ending with an ``end`` token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FhirPathSyntaxError(f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unescape(body: str) -> str:
    """The value of a quoted string or delimited identifier, without quotes, escapes resolved."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "identifier") and self.tok.text in texts

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("op", "identifier"):
            self.fail(f"expected {text!r}")
        return self.advance()

    def fail(self, message: str) -> None:
        found = repr(self.tok.text) if self.tok.kind != "end" else "end of expression"
        raise FhirPathSyntaxError(f"{message} at position {self.tok.pos}, found {found}, in {self.text!r}")

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "end":
            self.fail("empty expression")
        node = self.expression(0)
        if self.tok.kind != "end":
            self.fail("unexpected token")
        return node

    def expression(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.polarity()
        left = self.expression(level + 1)
        while self.tok.kind in ("op", "identifier") and self.tok.text in _LEVELS[level]:
            op = self.advance().text
            if op in ("is", "as"):
                left = TypeOp(op, left, self.type_specifier())
            else:
                left = Binary(op, left, self.expression(level + 1))
        return left

    def polarity(self) -> Node:
        if self.at("+", "-") and self.tok.kind == "op":
            op = self.advance().text
            return Unary(op, self.polarity())
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at(".") and self.tok.kind == "op":
                self.advance()
                node = self.invocation(node)
            elif self.at("[") and self.tok.kind == "op":
                self.advance()
                index = self.expression(0)
                self.expect("]")
                node = Index(node, index)
            else:
                return node

    def term(self) -> Node:
        token = self.tok
        if token.kind == "op" and token.text == "(":
            self.advance()
            node = self.expression(0)
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "{":
            self.advance()
            self.expect("}")
            return Literal(None, "empty")
        if token.kind == "op" and token.text == "%":
            self.advance()
            name = self.advance()
            if name.kind == "identifier":
                return Constant(name.text)
            if name.kind in ("delimited", "string"):
                return Constant(_unescape(name.text[1:-1]))
            self.i -= 1
            self.fail("expected a constant name after '%'")
        if token.kind == "string":
            self.advance()
            return Literal(_unescape(token.text[1:-1]), "string")
        if token.kind == "number":
            return self.number()
        if token.kind == "datetime":
            self.advance()
            value = token.text[1:]
            return Literal(value, "dateTime" if "T" in value else "date")
        if token.kind == "time":
            self.advance()
            return Literal(token.text[2:], "time")
        if token.kind == "variable":
            self.advance()
            if token.text not in ("$this", "$index", "$total"):
                self.i -= 1
                self.fail("unknown variable")
            return Variable(token.text[1:])
        if token.kind == "identifier" and token.text in ("true", "false"):
            self.advance()
            return Literal(token.text == "true", "boolean")
        return self.invocation(None)

    def number(self) -> Node:
        text = self.advance().text
        value: object = float(text) if "." in text else int(text)
        if self.tok.kind == "string":
            return Quantity(float(text), _unescape(self.advance().text[1:-1]))
        if self.tok.kind == "identifier" and self.tok.text in _CALENDAR_UNITS:
            return Quantity(float(text), self.advance().text)
        return Literal(value, "decimal" if "." in text else "integer")

    def identifier(self) -> str:
        token = self.tok
        if token.kind == "identifier":
            self.advance()
            return token.text
        if token.kind == "delimited":
            self.advance()
            return _unescape(token.text[1:-1])
        self.fail("expected an identifier")
        raise AssertionError  # fail() always raises

    def invocation(self, target: Node | None) -> Node:
        if (
            target is None
            and self.tok.kind == "identifier"
            and self.tok.text in _WORD_OPERATORS - {"as", "contains", "in", "is"}
        ):
            self.fail("expected an expression")
        name = self.identifier()
        if not (self.at("(") and self.tok.kind == "op"):
            return Member(target, name)
        self.advance()
        args: list[Node] = []
        if not self.at(")"):
            args.append(self.argument(name))
            while self.at(","):
                self.advance()
                args.append(self.argument(name))
        self.expect(")")
        return Call(target, name, tuple(args))

    def argument(self, function: str) -> Node:
        node = self.expression(0)
        if function in ("ofType", "is", "as", "getReferenceKey"):
            return _as_type_name(node) or node
        return node

    def type_specifier(self) -> TypeName:
        parts = [self.identifier()]
        while self.at(".") and self.tok.kind == "op":
            self.advance()
            parts.append(self.identifier())
        return TypeName(parts[-1])


def _as_type_name(node: Node) -> TypeName | None:
    """``Quantity`` or ``FHIR.Quantity`` parsed as a path → the type it names (namespace dropped)."""
    if isinstance(node, Member) and (node.target is None or _as_type_name(node.target) is not None):
        return TypeName(node.name)
    return None


def parse(text: str) -> Node:
    """Parse one FHIRPath expression; raises :class:`FhirPathSyntaxError` with the position."""
    if not isinstance(text, str):
        raise FhirPathSyntaxError(f"a FHIRPath expression must be a string, not {type(text).__name__}")
    return _Parser(text).parse()
