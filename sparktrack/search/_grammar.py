"""Tokenizer and recursive-descent parser for run-search filters and order_by clauses.

The language is MLflow's search syntax plus a few extensions::

    filter     := or_expr END
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := unary ("AND" unary)*
    unary      := "NOT" unary | "(" or_expr ")" | predicate
    predicate  := ident op value
                | ident ["NOT"] ("LIKE" | "ILIKE") string
                | ident ["NOT"] "IN" "(" string ("," string)* ")"
                | ident "IS" ["NOT"] "NULL"
    order_key  := ident ["ASC" | "DESC"] END
    ident      := prefix "." key | attribute | "`" attribute "`" | '"' attribute '"'
    prefix     := word | "`" word "`"        (metrics, params, tags, attributes,
                                               datasets and their other spellings)

Identifiers follow MLflow's ``SearchUtils``: every spelling of a prefix MLflow
accepts (``metric``, ``parameters``, ``attr``, ``run``, ``dataset``, ...) also in
backticks; ``created`` names ``start_time`` and ``run name`` names ``run_name``
(attribute names are case-insensitive); ``datasets.name|digest|context`` name the
run's dataset inputs, which a filter may test but an order may not (a run can
have several inputs).

The parser turns text into a small AST of frozen dataclasses; it never looks at
data. Every error is a ``SearchSyntaxError`` that quotes the input, names the
offending text and its 0-based position, and says what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import Literal, NoReturn, TypeAlias

from sparktrack.errors import SearchSyntaxError

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "DATASET_KEYS",
    "NUMERIC_ATTRIBUTES",
    "STRING_ATTRIBUTES",
    "And",
    "EntityKind",
    "Expr",
    "Identifier",
    "InList",
    "IsNull",
    "Not",
    "NumericComparison",
    "NumericOp",
    "Or",
    "OrderKey",
    "StringComparison",
    "StringOp",
    "parse_filter",
    "parse_order_by",
]

EntityKind: TypeAlias = Literal["metric", "param", "tag", "attribute", "dataset"]
NumericOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
StringOp: TypeAlias = Literal["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
STRING_ATTRIBUTES = frozenset(
    {
        "run_id",
        "run_name",
        "status",
        "user_id",
        "artifact_uri",
        "lifecycle_stage",
        "experiment_id",
    }
)
ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES
# MLflow's other names for attributes (its UI's column titles), lower-cased.
ATTRIBUTE_ALIASES = {"created": "start_time", "run name": "run_name"}
# What a filter may test about a run's dataset inputs (the inputs table's
# dataset_name, digest and context).
DATASET_KEYS = frozenset({"name", "digest", "context"})

# Every spelling of a prefix MLflow's SearchUtils accepts names the same entity.
_PREFIXES: dict[str, EntityKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "datasets": "dataset",
    "dataset": "dataset",
}
_COLUMN_PREFIX: dict[EntityKind, str] = {
    "metric": "metrics.",
    "param": "params.",
    "tag": "tags.",
    "dataset": "datasets.",
}

_MAX_NESTING = 100  # deeper input is surely machine-made garbage; stop before RecursionError


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Identifier:
    """A reference to one column of the runs frame, e.g. ``metrics.acc`` or ``status``."""

    kind: EntityKind
    key: str

    @property
    def column(self) -> str:
        """The name of the frame column holding this value."""
        if self.kind == "attribute":
            return self.key
        return _COLUMN_PREFIX[self.kind] + self.key

    @property
    def is_numeric(self) -> bool:
        """Whether values are numbers (metrics, start_time, end_time)."""
        if self.kind == "attribute":
            return self.key in NUMERIC_ATTRIBUTES
        return self.kind == "metric"

    @property
    def compares_numbers(self) -> bool:
        """Whether ``> 1``-style comparisons are allowed (params parse their text)."""
        return self.is_numeric or self.kind == "param"

    @property
    def compares_strings(self) -> bool:
        """Whether ``= 'x'``, LIKE and IN are allowed."""
        return not self.is_numeric

    @property
    def is_per_input(self) -> bool:
        """Whether a run has a list of values (one per dataset input) rather than one."""
        return self.kind == "dataset"

    def display(self) -> str:
        """The identifier as a user would write it, quoting keys that need it."""
        if self.kind == "attribute":
            return f"attributes.{self.key}"
        if self.kind == "dataset":
            return self.column
        if _UNQUOTED_KEY.fullmatch(self.key):
            return self.column
        return _COLUMN_PREFIX[self.kind] + "`" + self.key.replace("`", "``") + "`"


@dataclass(frozen=True)
class NumericComparison:
    """``ident <op> number``; params are parsed as numbers before comparing."""

    ident: Identifier
    op: NumericOp
    value: float


@dataclass(frozen=True)
class StringComparison:
    """``ident = 'text'``, ``!=``, ``[NOT] LIKE`` or ``[NOT] ILIKE``.

    ``NOT LIKE`` is one comparison, not ``NOT (... LIKE ...)``: the two differ for
    ``datasets.*``, where a comparison holds if it holds for any of the run's inputs.
    """

    ident: Identifier
    op: StringOp
    value: str


@dataclass(frozen=True)
class InList:
    """``ident IN ('a', 'b')``, or ``NOT IN`` when ``negated``."""

    ident: Identifier
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``ident IS NULL``, or ``IS NOT NULL`` when ``negated``."""

    ident: Identifier
    negated: bool = False


@dataclass(frozen=True)
class And:
    """All operands hold (flattened: ``a AND b AND c`` is one node)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Any operand holds (flattened like ``And``)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The operand does not hold (SQL three-valued: NOT of unknown stays unknown)."""

    operand: Expr


Expr: TypeAlias = NumericComparison | StringComparison | InList | IsNull | And | Or | Not


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` entry."""

    ident: Identifier
    ascending: bool = True


# --------------------------------------------------------------------------- tokens


class _Kind(Enum):
    IDENT = auto()
    NUMBER = auto()
    STRING = auto()
    OP = auto()
    KEYWORD = auto()
    WORD = auto()  # a bare word that is neither keyword nor attribute; always an error
    LPAREN = auto()
    RPAREN = auto()
    COMMA = auto()
    END = auto()


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # exactly as written, for error messages
    pos: int
    value: str | float | Identifier | None = None  # decoded value; keywords are upper-cased


_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})
_OPERATORS = ("<=", ">=", "!=", "<", ">", "=")  # two-character operators first: maximal munch
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_UNQUOTED_KEY = re.compile(r"[\w.\-/:]+")  # \w: Unicode letters, digits and _
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]")  # a number glued to these is malformed
_TOKEN_RUN = re.compile(r"[^\s(),=<>!'\"`]*")  # extent of a bad token, for the message
_PUNCTUATION = {"(": _Kind.LPAREN, ")": _Kind.RPAREN, ",": _Kind.COMMA}

_IDENT_EXPECTED = (
    "an identifier such as metrics.acc, params.lr, tags.`mlflow.runName`, attributes.status "
    "or datasets.name"
)
_PREFIX_EXPECTED = (
    "one of metrics., params., tags., attributes., datasets. "
    "(or metric., param., parameter(s)., tag., attribute., attr., run., dataset.)"
)
_ATTRIBUTE_EXPECTED = (
    "one of "
    + ", ".join(sorted(ATTRIBUTES))
    + " (or "
    + ", ".join(f"{alias!r} for {name}" for alias, name in sorted(ATTRIBUTE_ALIASES.items()))
    + ")"
)
_DATASET_EXPECTED = "one of " + ", ".join(sorted(DATASET_KEYS))


@dataclass(frozen=True)
class _Source:
    """The text being parsed and how to name it in messages (``filter_string``, ``order_by[0]``)."""

    label: str
    text: str

    def fail(self, problem: str, pos: int, expected: str) -> NoReturn:
        raise SearchSyntaxError(
            f"{self.label} {self.text!r}: {problem} at position {pos}; expected {expected}"
        )

    def unexpected(self, token: _Token, expected: str) -> NoReturn:
        found = "end of input" if token.kind is _Kind.END else repr(token.text)
        self.fail(f"unexpected {found}", token.pos, expected)


def _tokenize(source: _Source) -> list[_Token]:
    """Split the text into tokens, ending with an END token."""
    text = source.text
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            tokens.append(_Token(_Kind.END, "", pos))
            return tokens
        token = _read_token(source, pos)
        tokens.append(token)
        pos += len(token.text)


def _read_token(source: _Source, pos: int) -> _Token:
    text = source.text
    char = text[pos]
    if char in _PUNCTUATION:
        return _Token(_PUNCTUATION[char], char, pos)
    for op in _OPERATORS:
        if text.startswith(op, pos):
            return _Token(_Kind.OP, op, pos, op)
    if char in "'\"":
        value, end = _read_quoted(source, pos, "quoted string")
        return _Token(_Kind.STRING, text[pos:end], pos, value)
    if char.isdigit() or char in "-.":
        return _read_number(source, pos)
    if _WORD.match(text, pos):
        return _read_word(source, pos)
    if char == "!":
        source.fail("unexpected '!'", pos, "'!=' (not equal)")
    if char == "`":
        return _read_backticked(source, pos)
    source.fail(
        f"unexpected {char!r}",
        pos,
        "an identifier, a number, a quoted string, an operator, a parenthesis or a comma",
    )


def _read_quoted(source: _Source, start: int, what: str) -> tuple[str, int]:
    """Read a string quoted with the character at ``start``; a doubled quote is a literal one.

    Returns the decoded text and the position just past the closing quote.
    """
    text = source.text
    quote = text[start]
    parts: list[str] = []
    pos = start + 1
    while True:
        close = text.find(quote, pos)
        if close == -1:
            source.fail(
                f"unterminated {what} {text[start:]!r}", start, f"a closing quote ({quote})"
            )
        parts.append(text[pos:close])
        if text.startswith(quote, close + 1):  # SQL-style escape: '' inside '...'
            parts.append(quote)
            pos = close + 2
            continue
        return "".join(parts), close + 1


def _read_number(source: _Source, pos: int) -> _Token:
    text = source.text
    match = _NUMBER.match(text, pos)
    if match is None or (match.end() < len(text) and _NUMBER_TAIL.match(text, match.end())):
        bad = _bad_token_text(text, pos)
        source.fail(f"malformed number {bad!r}", pos, "a number such as 3, -0.5 or 1e-3")
    return _Token(_Kind.NUMBER, match.group(), pos, float(match.group()))


def _bad_token_text(text: str, pos: int) -> str:
    run = _TOKEN_RUN.match(text, pos)
    return run.group() if run and run.group() else text[pos]


def _read_word(source: _Source, pos: int) -> _Token:
    """A keyword, a prefixed identifier (``metrics.acc``) or a bare attribute (``status``)."""
    text = source.text
    word = _WORD.match(text, pos)
    assert word is not None  # the caller checked
    end = word.end()
    if end < len(text) and text[end] == ".":
        return _read_identifier(source, pos, word.group())
    upper = word.group().upper()
    if upper in _KEYWORDS:
        return _Token(_Kind.KEYWORD, word.group(), pos, upper)
    lowered = word.group().lower()
    if lowered in ATTRIBUTES or lowered in ATTRIBUTE_ALIASES:
        # MLflow accepts a bare attribute name: `status = 'FINISHED'`, `created > 5`.
        return _Token(_Kind.IDENT, word.group(), pos, _attribute(source, word.group(), pos))
    return _Token(_Kind.WORD, word.group(), pos, word.group())


def _read_backticked(source: _Source, pos: int) -> _Token:
    """```metrics`.acc`` (a quoted prefix, as MLflow allows) or ```Run name``` (an attribute)."""
    text = source.text
    word, end = _read_quoted(source, pos, "quoted name")
    if end < len(text) and text[end] == ".":
        return _read_identifier(source, pos, word, key_pos=end + 1)
    return _Token(_Kind.IDENT, text[pos:end], pos, _attribute(source, word, pos + 1))


def _attribute(source: _Source, name: str, pos: int) -> Identifier:
    """The attribute ``name`` (any case, or one of MLflow's aliases) names."""
    lowered = name.lower()
    lowered = ATTRIBUTE_ALIASES.get(lowered, lowered)
    if lowered not in ATTRIBUTES:
        source.fail(f"unknown attribute {name!r}", pos, _ATTRIBUTE_EXPECTED)
    return Identifier("attribute", lowered)


def _read_identifier(source: _Source, pos: int, prefix: str, key_pos: int | None = None) -> _Token:
    """``prefix.key`` starting at ``pos``; its key starts at ``key_pos`` (default: after ".")."""
    text = source.text
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        source.fail(f"unknown prefix {prefix + '.'!r}", pos, _PREFIX_EXPECTED)
    if key_pos is None:
        key_pos = pos + len(prefix) + 1
    key, end = _read_key(source, key_pos, prefix)
    if kind == "attribute":
        return _Token(_Kind.IDENT, text[pos:end], pos, _attribute(source, key, key_pos))
    if kind == "dataset":
        if key.lower() not in DATASET_KEYS:
            source.fail(f"unknown dataset field {key!r}", key_pos, _DATASET_EXPECTED)
        key = key.lower()
    return _Token(_Kind.IDENT, text[pos:end], pos, Identifier(kind, key))


def _read_key(source: _Source, pos: int, prefix: str) -> tuple[str, int]:
    """The key after ``prefix.``: backtick- or double-quoted, or a plain run of key characters."""
    text = source.text
    if pos < len(text) and text[pos] in '`"':
        key, end = _read_quoted(source, pos, "quoted key")
        if not key:
            source.fail(f"empty key after {prefix + '.'!r}", pos, "a non-empty key")
        return key, end
    match = _UNQUOTED_KEY.match(text, pos)
    if match is None:
        source.fail(
            f"missing key after {prefix + '.'!r}",
            pos,
            f"a key such as {prefix}.acc, or a quoted key such as {prefix}.`my key`",
        )
    return match.group(), match.end()


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over a token list; one instance per input string."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind is not _Kind.END:
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is _Kind.KEYWORD and token.value in words

    def expect(self, kind: _Kind, expected: str) -> _Token:
        token = self.peek()
        if token.kind is not kind:
            self.source.unexpected(token, expected)
        return self.advance()

    # -- filter ------------------------------------------------------------

    def parse_filter(self) -> Expr:
        expr = self.parse_or(depth=0)
        self.expect(_Kind.END, "AND, OR or end of input")
        return expr

    def parse_or(self, depth: int) -> Expr:
        operands = [self.parse_and(depth)]
        while self.at_keyword("OR"):
            self.advance()
            operands.append(self.parse_and(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self, depth: int) -> Expr:
        operands = [self.parse_unary(depth)]
        while self.at_keyword("AND"):
            self.advance()
            operands.append(self.parse_unary(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_unary(self, depth: int) -> Expr:
        token = self.peek()
        if depth > _MAX_NESTING:
            self.source.fail(
                f"nesting deeper than {_MAX_NESTING} levels", token.pos, "a flatter expression"
            )
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.parse_unary(depth + 1))
        if token.kind is _Kind.LPAREN:
            self.advance()
            inner = self.parse_or(depth + 1)
            self.expect(_Kind.RPAREN, "AND, OR or ')'")
            return inner
        if self.at_identifier():
            return self.parse_predicate()
        self.source.unexpected(token, f"{_IDENT_EXPECTED}, '(' or NOT")

    def parse_predicate(self) -> Expr:
        ident = self.identifier(self.advance())
        token = self.peek()
        if token.kind is _Kind.OP and (ident.compares_numbers or token.text in ("=", "!=")):
            self.advance()
            return self.parse_operator_value(ident, _as_numeric_op(token.text))
        if self.at_keyword("IS"):
            self.advance()
            return self.parse_is_null(ident)
        if ident.compares_strings and self.at_keyword("IN", "LIKE", "ILIKE", "NOT"):
            return self.parse_string_predicate(ident)
        self.source.unexpected(token, _operators_for(ident))

    def parse_string_predicate(self, ident: Identifier) -> Expr:
        negated = self.at_keyword("NOT")
        if negated:
            self.advance()
            if not self.at_keyword("IN", "LIKE", "ILIKE"):
                self.source.unexpected(self.peek(), "IN, LIKE or ILIKE after NOT")
        keyword = self.advance()
        if keyword.value == "IN":
            return InList(ident, self.parse_string_list(), negated)
        pattern = self.expect(_Kind.STRING, f"a quoted pattern after {keyword.text}")
        assert isinstance(pattern.value, str)
        return StringComparison(ident, _like_op(keyword.value == "ILIKE", negated), pattern.value)

    def parse_operator_value(self, ident: Identifier, op: NumericOp) -> Expr:
        token = self.peek()
        if token.kind is _Kind.NUMBER and ident.compares_numbers:
            self.advance()
            assert isinstance(token.value, float)
            return NumericComparison(ident, op, token.value)
        if token.kind is _Kind.STRING and ident.compares_strings and op in ("=", "!="):
            self.advance()
            assert isinstance(token.value, str)
            string_op: StringOp = "=" if op == "=" else "!="
            return StringComparison(ident, string_op, token.value)
        self.source.unexpected(token, _values_for(ident, op))

    def parse_is_null(self, ident: Identifier) -> IsNull:
        negated = self.at_keyword("NOT")
        if negated:
            self.advance()
            if not self.at_keyword("NULL"):
                self.source.unexpected(self.peek(), "NULL after IS NOT")
        elif not self.at_keyword("NULL"):
            self.source.unexpected(self.peek(), "NULL or NOT NULL after IS")
        self.advance()
        return IsNull(ident, negated)

    def parse_string_list(self) -> tuple[str, ...]:
        self.expect(_Kind.LPAREN, "'(' to open the IN list")
        values: list[str] = []
        while True:
            item = self.expect(_Kind.STRING, "a quoted string in the IN list")
            assert isinstance(item.value, str)
            values.append(item.value)
            separator = self.peek()
            if separator.kind is _Kind.RPAREN:
                self.advance()
                return tuple(values)
            self.expect(_Kind.COMMA, "',' or ')' in the IN list")

    def at_identifier(self) -> bool:
        token = self.peek()
        # As in MLflow (sqlparse reads "..." as a name), a double-quoted attribute name.
        return token.kind is _Kind.IDENT or (token.kind is _Kind.STRING and token.text[0] == '"')

    def identifier(self, token: _Token) -> Identifier:
        if token.kind is _Kind.STRING:
            assert isinstance(token.value, str)
            return _attribute(self.source, token.value, token.pos + 1)
        assert isinstance(token.value, Identifier)
        return token.value

    # -- order_by ----------------------------------------------------------

    def parse_order_key(self) -> OrderKey:
        token = self.peek()
        if not self.at_identifier():
            self.source.unexpected(token, _IDENT_EXPECTED)
        ident = self.identifier(self.advance())
        if ident.is_per_input:
            self.source.fail(
                f"{ident.display()} cannot order runs (a run can have several dataset inputs)",
                token.pos,
                "a metric, param, tag or attribute",
            )
        ascending = True
        if self.at_keyword("ASC", "DESC"):
            ascending = self.advance().value == "ASC"
            self.expect(_Kind.END, "end of the order_by clause")
        else:
            self.expect(_Kind.END, "ASC, DESC or end of the order_by clause")
        return OrderKey(ident, ascending)


def _like_op(case_insensitive: bool, negated: bool) -> StringOp:
    ops: dict[tuple[bool, bool], StringOp] = {
        (False, False): "LIKE",
        (True, False): "ILIKE",
        (False, True): "NOT LIKE",
        (True, True): "NOT ILIKE",
    }
    return ops[case_insensitive, negated]


def _as_numeric_op(text: str) -> NumericOp:
    # The tokenizer emits only these six strings as OP tokens.
    ops: dict[str, NumericOp] = {
        "=": "=",
        "!=": "!=",
        "<": "<",
        "<=": "<=",
        ">": ">",
        ">=": ">=",
    }
    return ops[text]


def _operators_for(ident: Identifier) -> str:
    """What may follow ``ident``, phrased for an error message."""
    name = ident.display()
    if ident.is_numeric:
        return f"one of >, >=, =, !=, <, <= or IS [NOT] NULL ({name} is numeric)"
    if ident.kind == "param":
        return (
            f"one of =, !=, [NOT] LIKE, [NOT] ILIKE, [NOT] IN, IS [NOT] NULL, "
            f"or >, >=, <, <= with a number ({name} is a param)"
        )
    return f"one of =, !=, [NOT] LIKE, [NOT] ILIKE, [NOT] IN or IS [NOT] NULL ({name} is text)"


def _values_for(ident: Identifier, op: NumericOp) -> str:
    """What may follow ``ident <op>``, phrased for an error message."""
    if ident.is_numeric:
        return "a number"
    if ident.kind == "param":
        if op in ("=", "!="):
            return "a quoted string or a number"
        return f"a number ({ident.display()} compares numerically with {op})"
    return f"a quoted string ({ident.display()} is text)"


# --------------------------------------------------------------------------- entry points


def parse_filter(filter_string: str | None) -> Expr | None:
    """Parse a filter string; ``None``, empty or blank means "match every run"."""
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise SearchSyntaxError(
            f"filter_string must be a string, got {type(filter_string).__name__} "
            f'{filter_string!r}; expected text such as "metrics.acc > 0.9"'
        )
    if not filter_string.strip():
        return None
    return _Parser(_Source("filter_string", filter_string)).parse_filter()


def parse_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse order_by clauses such as ``["metrics.auc DESC", "params.depth"]``."""
    if order_by is None:
        return []
    if isinstance(order_by, str):
        # A bare string would be iterated character by character; say so plainly.
        raise SearchSyntaxError(
            f"order_by must be a list of clauses, got the string {order_by!r}; "
            f"expected e.g. [{order_by!r}]"
        )
    keys: list[OrderKey] = []
    for index, clause in enumerate(order_by):
        label = f"order_by[{index}]"
        if not isinstance(clause, str):
            raise SearchSyntaxError(
                f"{label} must be a string, got {type(clause).__name__} {clause!r}; "
                "expected e.g. 'metrics.auc DESC'"
            )
        keys.append(_Parser(_Source(label, clause)).parse_order_key())
    return keys
