"""The recursive-descent parser of run-search filters and order_by clauses.

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

The parser turns the tokens of ``_lexer`` into the small AST of frozen dataclasses
in ``_ast``; it never looks at data. Every error is a ``SearchSyntaxError`` that
quotes the input, names the offending text and its 0-based position, and says what
was expected there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparktrack.errors import SearchSyntaxError
from sparktrack.search._ast import (
    And,
    Expr,
    Identifier,
    InList,
    IsNull,
    Not,
    NumericComparison,
    NumericOp,
    Or,
    OrderKey,
    StringComparison,
    StringOp,
)
from sparktrack.search._lexer import (
    IDENT_EXPECTED,
    Source,
    Token,
    TokenKind,
    attribute,
    tokenize,
)

__all__ = ["parse_filter", "parse_order_by"]

_MAX_NESTING = 100  # deeper input is surely machine-made garbage; stop before RecursionError


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over a token list; one instance per input string."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is TokenKind.KEYWORD and token.value in words

    def expect(self, kind: TokenKind, expected: str) -> Token:
        token = self.peek()
        if token.kind is not kind:
            self.source.unexpected(token, expected)
        return self.advance()

    # -- filter ------------------------------------------------------------

    def parse_filter(self) -> Expr:
        expr = self.parse_or(depth=0)
        self.expect(TokenKind.END, "AND, OR or end of input")
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
        if token.kind is TokenKind.LPAREN:
            self.advance()
            inner = self.parse_or(depth + 1)
            self.expect(TokenKind.RPAREN, "AND, OR or ')'")
            return inner
        if self.at_identifier():
            return self.parse_predicate()
        self.source.unexpected(token, f"{IDENT_EXPECTED}, '(' or NOT")

    def parse_predicate(self) -> Expr:
        ident = self.identifier(self.advance())
        token = self.peek()
        if token.kind is TokenKind.OP and (ident.compares_numbers or token.text in ("=", "!=")):
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
        pattern = self.expect(TokenKind.STRING, f"a quoted pattern after {keyword.text}")
        assert isinstance(pattern.value, str)
        return StringComparison(ident, _like_op(keyword.value == "ILIKE", negated), pattern.value)

    def parse_operator_value(self, ident: Identifier, op: NumericOp) -> Expr:
        token = self.peek()
        if token.kind is TokenKind.NUMBER and ident.compares_numbers:
            self.advance()
            assert isinstance(token.value, float)
            return NumericComparison(ident, op, token.value)
        if token.kind is TokenKind.STRING and ident.compares_strings and op in ("=", "!="):
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
        self.expect(TokenKind.LPAREN, "'(' to open the IN list")
        values: list[str] = []
        while True:
            item = self.expect(TokenKind.STRING, "a quoted string in the IN list")
            assert isinstance(item.value, str)
            values.append(item.value)
            separator = self.peek()
            if separator.kind is TokenKind.RPAREN:
                self.advance()
                return tuple(values)
            self.expect(TokenKind.COMMA, "',' or ')' in the IN list")

    def at_identifier(self) -> bool:
        token = self.peek()
        # As in MLflow (sqlparse reads "..." as a name), a double-quoted attribute name.
        return token.kind is TokenKind.IDENT or (
            token.kind is TokenKind.STRING and token.text[0] == '"'
        )

    def identifier(self, token: Token) -> Identifier:
        if token.kind is TokenKind.STRING:
            assert isinstance(token.value, str)
            return attribute(self.source, token.value, token.pos + 1)
        assert isinstance(token.value, Identifier)
        return token.value

    # -- order_by ----------------------------------------------------------

    def parse_order_key(self) -> OrderKey:
        token = self.peek()
        if not self.at_identifier():
            self.source.unexpected(token, IDENT_EXPECTED)
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
            self.expect(TokenKind.END, "end of the order_by clause")
        else:
            self.expect(TokenKind.END, "ASC, DESC or end of the order_by clause")
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
    """Parse an MLflow-style filter string into a syntax tree.

    Args:
        filter_string: A filter such as ``"metrics.acc > 0.9 AND params.opt = 'adam'"``.
            ``None``, empty or blank means "match every run".

    Returns:
        The tree of the filter, or None when it matches every run.

    Raises:
        SearchSyntaxError: ``filter_string`` is not a string or not a valid filter; the
            message quotes it, names the offending text and its position, and says
            what was expected there.
    """
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise SearchSyntaxError(
            f"filter_string must be a string, got {type(filter_string).__name__} "
            f'{filter_string!r}; expected text such as "metrics.acc > 0.9"'
        )
    if not filter_string.strip():
        return None
    return _Parser(Source("filter_string", filter_string)).parse_filter()


def parse_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse order_by clauses such as ``["metrics.auc DESC", "params.depth"]``.

    Args:
        order_by: One clause per sort key, most significant first: an identifier,
            optionally followed by ``ASC`` (the default) or ``DESC``. None means no order.

    Returns:
        One OrderKey per clause, in the given order (empty for None).

    Raises:
        SearchSyntaxError: ``order_by`` is a bare string rather than a list, a clause
            is not a string or not valid, or a clause orders by ``datasets.*`` (a run
            can have several dataset inputs).
    """
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
        keys.append(_Parser(Source(label, clause)).parse_order_key())
    return keys
