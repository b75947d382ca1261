"""The FHIRPath syntax tree: what the parser produces and the SQL generator consumes.

Nodes are frozen dataclasses, so that a parsed expression is a plain value (comparable in tests,
printable in error messages). A path such as ``name.where(use = 'official').family`` is a chain:
``Member(Call(Member(None, 'name'), 'where', (...)), 'family')``; a ``None`` target means "the
focus" (``$this`` at the start of the expression).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    """Base of every FHIRPath syntax node."""


@dataclass(frozen=True)
class Literal(Node):
    """A literal; ``type`` is the FHIRPath type (string, boolean, integer, decimal, date, dateTime,
    time) or ``empty`` for ``{}``. Dates and times keep their text, without the leading ``@``."""

    value: object
    type: str


@dataclass(frozen=True)
class Quantity(Node):
    """A quantity literal (``4 'mg'``, ``2 days``): parsed so that the error can name it."""

    value: float
    unit: str


@dataclass(frozen=True)
class Variable(Node):
    """``$this``, ``$index`` or ``$total`` (``name`` without the ``$``)."""

    name: str


@dataclass(frozen=True)
class Constant(Node):
    """An external constant: ``%name`` (view constants, ``%rowIndex``, ``%resource``)."""

    name: str


@dataclass(frozen=True)
class Member(Node):
    """Navigation to a child element: ``target.name``, or ``name`` on the focus when target is None."""

    target: Node | None
    name: str


@dataclass(frozen=True)
class Call(Node):
    """A function invocation ``target.name(args)``; target None means the focus."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class TypeName(Node):
    """A type specifier, as argument of ``ofType``/``is``/``as`` (``FHIR.Quantity`` → ``Quantity``)."""

    name: str


@dataclass(frozen=True)
class Index(Node):
    """The indexer ``target[index]`` (0-based)."""

    target: Node
    index: Node


@dataclass(frozen=True)
class Unary(Node):
    """Polarity: ``-x`` or ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """A binary operator: arithmetic, ``&``, ``|``, comparison, equality, membership, boolean logic."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class TypeOp(Node):
    """``operand is Type`` or ``operand as Type``."""

    op: str
    operand: Node
    type: TypeName
