"""The RFC 7644 section 3.4.2.2 filter grammar, parsed into a small tree, and PATCH paths.

::

    FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
    valuePath = attrPath "[" valFilter "]" [ "." subAttr compareOp compValue / "." subAttr "pr" ]
    attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
    attrPath  = [URI ":"] ATTRNAME *1subAttr

``not`` binds tighter than ``and``, which binds tighter than ``or``; operators and attribute names are
case-insensitive. The optional sub-attribute after a value path (``emails[type eq "work"].value co
"@example.com"``) extends RFC 7644: one value must satisfy both the bracket and the comparison. The tree is turned into SQL by ``queries.py`` and evaluated on dicts (only for PATCH
value paths) by :func:`matches`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from colonnade.errors import load_storable_json
from colonnade.plugins.scim.errors import ScimError, invalid_filter, invalid_path

COMPARE_OPS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}
#: Filters longer than this are refused before parsing.
MAX_FILTER_LENGTH = 4096
#: How deeply filters may nest (parentheses, not, brackets).
MAX_DEPTH = 32

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<punct>[()\[\]])
      | (?P<word>[^\s()\[\]"]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class AttrPath:
    """``[urn:]attr[.sub]``; ``urn`` is ``None`` when the path names no schema."""

    urn: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.attr}.{self.sub}" if self.sub else self.attr
        return f"{self.urn}:{text}" if self.urn else text


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class Logical:
    op: str  # "and" or "or"
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    inner: Any


@dataclass(frozen=True)
class ValuePath:
    """``emails[type eq "work"]``: some value of ``path`` (multi-valued) matches ``inner``."""

    path: AttrPath
    inner: Any


def parse_attr_path(text: str, error: Callable[[str], ScimError] = invalid_filter) -> AttrPath:
    """``urn:...:User:name.givenName`` -> ``AttrPath(urn, "name", "givenName")``.

    :param error: Builds the error for a malformed path (``invalidFilter`` by default).
    """
    urn = None
    rest = text
    if text.lower().startswith("urn:"):
        if ":" not in text[4:]:
            raise error(f"invalid attribute path {text!r}")
        urn, rest = text.rsplit(":", 1)
    parts = rest.split(".")
    if len(parts) > 2 or not all(re.fullmatch(r"\$?[A-Za-z][\w$-]*", part) for part in parts):
        raise error(f"invalid attribute path {text!r}")
    return AttrPath(urn, parts[0], parts[1] if len(parts) == 2 else None)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise invalid_filter(f"unexpected character at position {position + 1} of the filter")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise invalid_filter(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
        self.tokens = tokenize(text)
        self.position = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise invalid_filter("the filter ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in words:
            self.position += 1
            return token[1].lower()
        return None

    def expect(self, punct: str) -> None:
        kind, text = self.take()
        if kind != "punct" or text != punct:
            raise invalid_filter(f"expected {punct!r} but found {text!r}")

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_filter("the filter nests too deeply")

    def parse(self) -> Any:
        node = self.expression()
        if self.peek() is not None:
            raise invalid_filter(f"unexpected {self.peek()[1]!r} in the filter")  # type: ignore[index]
        return node

    def expression(self) -> Any:
        node = self.conjunction()
        while self.keyword("or"):
            node = Logical("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.term()
        while self.keyword("and"):
            node = Logical("and", node, self.term())
        return node

    def term(self) -> Any:
        token = self.peek()
        if token is None:
            raise invalid_filter("the filter ends too early")
        if token == ("punct", "("):
            self.position += 1
            self.nested()
            node = self.expression()
            self.expect(")")
            self.depth -= 1
            return node
        if token[0] == "word" and token[1].lower() == "not":
            following = self.tokens[self.position + 1] if self.position + 1 < len(self.tokens) else None
            if following == ("punct", "("):
                self.position += 1
                self.nested()
                inner = self.term()
                self.depth -= 1
                return Not(inner)
        return self.attribute_expression()

    def attribute_expression(self) -> Any:
        kind, text = self.take()
        if kind != "word":
            raise invalid_filter(f"expected an attribute name but found {text!r}")
        path = parse_attr_path(text)
        if self.peek() == ("punct", "["):
            if path.sub is not None:
                raise invalid_filter(f"a value filter follows a sub-attribute in {text!r}")
            self.position += 1
            self.nested()
            inner = self.expression()
            self.expect("]")
            self.depth -= 1
            following = self.peek()
            if following is not None and following[0] == "word" and following[1].startswith("."):
                # emails[type eq "work"].value co "@x": the same value must match both (an extension of
                # the grammar, in the shape of a PATCH path)
                self.position += 1
                sub = AttrPath(None, parse_attr_path(following[1][1:]).attr)
                operator = self.take()
                op = operator[1].lower()
                if operator[0] != "word" or (op != "pr" and op not in COMPARE_OPS):
                    raise invalid_filter(f"unknown operator {operator[1]!r}")
                test = Present(sub) if op == "pr" else Compare(sub, op, self.value())
                return ValuePath(path, Logical("and", inner, test))
            return ValuePath(path, inner)
        operator = self.take()
        op = operator[1].lower()
        if operator[0] != "word" or (op != "pr" and op not in COMPARE_OPS):
            raise invalid_filter(f"unknown operator {operator[1]!r}")
        if op == "pr":
            return Present(path)
        return Compare(path, op, self.value())

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            try:
                # Refuses what no column can hold (a NUL, a lone surrogate escape) as well as bad JSON.
                return load_storable_json(text)
            except ValueError:
                raise invalid_filter(f"invalid string {text} in the filter") from None
        lowered = text.lower()
        if kind == "word" and lowered in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[lowered]
        if kind == "word" and re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", text):
            try:
                return load_storable_json(text)
            except ValueError:  # an integer beyond 64 bits
                raise invalid_filter(f"invalid number {text} in the filter") from None
        raise invalid_filter(f"invalid comparison value {text!r}")


def parse_filter(text: str) -> Any:
    """The tree of a filter; ``invalidFilter`` (400) when it does not follow the grammar."""
    if not text.strip():
        raise invalid_filter("the filter is empty")
    return _Parser(text).parse()


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attr``, ``attr.sub``, ``attr[filter]`` or ``attr[filter].sub``."""

    path: AttrPath
    filter: Any = None
    sub: str | None = None


def parse_patch_path(text: str) -> PatchPath:
    """Parse a PATCH ``path``; ``invalidPath`` (400) when it is not one."""
    text = text.strip()
    bracket = text.find("[")
    if bracket < 0:
        return PatchPath(parse_attr_path(text, invalid_path))
    close = text.rfind("]")
    if close < bracket:
        raise invalid_path(f"invalid path {text!r}")
    path = parse_attr_path(text[:bracket], invalid_path)
    if path.sub is not None:
        raise invalid_path(f"invalid path {text!r}")
    tail = text[close + 1 :]
    if tail and not re.fullmatch(r"\.[A-Za-z$][\w$]*", tail):
        raise invalid_path(f"invalid path {text!r}")
    try:
        inner = parse_filter(text[bracket + 1 : close])
    except ScimError as error:
        raise invalid_path(f"invalid value filter in path {text!r}: {error.detail}") from None
    return PatchPath(path, inner, tail[1:] or None)


# -- evaluation on dicts (PATCH value paths) --------------------------------------------------------


def _field(item: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    return next((value for key, value in item.items() if key.lower() == lowered), None)


def matches(node: Any, item: dict[str, Any], case_exact: Any = lambda name: False) -> bool:
    """Whether one value of a multi-valued attribute (a dict) matches a value filter.

    :param case_exact: ``name -> bool``: whether a sub-attribute compares case-sensitively.
    """
    if isinstance(node, Logical):
        left = matches(node.left, item, case_exact)
        if node.op == "and":
            return left and matches(node.right, item, case_exact)
        return left or matches(node.right, item, case_exact)
    if isinstance(node, Not):
        return not matches(node.inner, item, case_exact)
    if isinstance(node, Present):
        value = _field(item, node.path.attr)
        return value not in (None, "", [])
    if isinstance(node, Compare):
        return compare_values(_field(item, node.path.attr), node.op, node.value, case_exact(node.path.attr))
    raise invalid_path("value filters cannot nest")


def compare_values(actual: Any, op: str, expected: Any, case_exact: bool) -> bool:
    """``actual <op> expected`` in Python, for PATCH value paths and constant attributes."""
    if isinstance(actual, str) and isinstance(expected, bool):
        actual = {"true": True, "false": False}.get(actual.lower(), actual)
    if isinstance(actual, str) and isinstance(expected, str) and not case_exact:
        actual, expected = actual.lower(), expected.lower()
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if actual is None or expected is None:
        return False
    if op in ("co", "sw", "ew"):
        if not (isinstance(actual, str) and isinstance(expected, str)):
            return False
        return {"co": expected in actual, "sw": actual.startswith(expected), "ew": actual.endswith(expected)}[op]
    try:
        return {"gt": actual > expected, "ge": actual >= expected, "lt": actual < expected, "le": actual <= expected}[op]
    except TypeError:
        return False


def equalities(node: Any) -> dict[str, Any] | None:
    """``{attr: value}`` when a value filter is only ``eq`` comparisons joined by ``and`` (what a PATCH
    may turn into a new value when nothing matches), else ``None``."""
    if isinstance(node, Compare) and node.op == "eq" and node.path.sub is None:
        return {node.path.attr: node.value}
    if isinstance(node, Logical) and node.op == "and":
        left, right = equalities(node.left), equalities(node.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None
