"""The tokenizer of run-search filters and order_by clauses.

It turns text into tokens for the parser (``_grammar``), resolving identifiers on the
way: ``metrics.acc``, ```metrics`.`my key```, ``status`` and ```Run name``` each
become one IDENT token carrying an ``Identifier``. Every error is a
``SearchSyntaxError`` that quotes the input, names the offending text and its 0-based
position, and says what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import NoReturn

from sparktrack.errors import SearchSyntaxError
from sparktrack.search._ast import (
    ATTRIBUTE_ALIASES,
    ATTRIBUTES,
    DATASET_KEYS,
    UNQUOTED_KEY,
    EntityKind,
    Identifier,
)

__all__ = ["IDENT_EXPECTED", "Source", "Token", "TokenKind", "attribute", "tokenize"]


class TokenKind(Enum):
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
class Token:
    kind: TokenKind
    text: str  # exactly as written, for error messages
    pos: int
    value: str | float | Identifier | None = None  # decoded value; keywords are upper-cased


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

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})
_OPERATORS = ("<=", ">=", "!=", "<", ">", "=")  # two-character operators first: maximal munch
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]")  # a number glued to these is malformed
_TOKEN_RUN = re.compile(r"[^\s(),=<>!'\"`]*")  # extent of a bad token, for the message
_PUNCTUATION = {"(": TokenKind.LPAREN, ")": TokenKind.RPAREN, ",": TokenKind.COMMA}

IDENT_EXPECTED = (
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
class Source:
    """The text being parsed and how to name it in messages (``filter_string``, ``order_by[0]``)."""

    label: str
    text: str

    def fail(self, problem: str, pos: int, expected: str) -> NoReturn:
        raise SearchSyntaxError(
            f"{self.label} {self.text!r}: {problem} at position {pos}; expected {expected}",
            position=pos,
        )

    def unexpected(self, token: Token, expected: str) -> NoReturn:
        found = "end of input" if token.kind is TokenKind.END else repr(token.text)
        self.fail(f"unexpected {found}", token.pos, expected)


def tokenize(source: Source) -> list[Token]:
    """Split the text into tokens, ending with an END token."""
    text = source.text
    tokens: list[Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            tokens.append(Token(TokenKind.END, "", pos))
            return tokens
        token = _read_token(source, pos)
        tokens.append(token)
        pos += len(token.text)


def _read_token(source: Source, pos: int) -> Token:
    text = source.text
    char = text[pos]
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, pos)
    for op in _OPERATORS:
        if text.startswith(op, pos):
            return Token(TokenKind.OP, op, pos, op)
    if char in "'\"":
        value, end = _read_quoted(source, pos, "quoted string")
        return Token(TokenKind.STRING, text[pos:end], pos, value)
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


def _read_quoted(source: Source, start: int, what: str) -> tuple[str, int]:
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


def _read_number(source: Source, pos: int) -> Token:
    text = source.text
    match = _NUMBER.match(text, pos)
    if match is None or (match.end() < len(text) and _NUMBER_TAIL.match(text, match.end())):
        bad = _bad_token_text(text, pos)
        source.fail(f"malformed number {bad!r}", pos, "a number such as 3, -0.5 or 1e-3")
    return Token(TokenKind.NUMBER, match.group(), pos, float(match.group()))


def _bad_token_text(text: str, pos: int) -> str:
    run = _TOKEN_RUN.match(text, pos)
    return run.group() if run and run.group() else text[pos]


def _read_word(source: Source, pos: int) -> Token:
    """A keyword, a prefixed identifier (``metrics.acc``) or a bare attribute (``status``)."""
    text = source.text
    word = _WORD.match(text, pos)
    assert word is not None  # the caller checked
    end = word.end()
    if end < len(text) and text[end] == ".":
        return _read_identifier(source, pos, word.group())
    upper = word.group().upper()
    if upper in _KEYWORDS:
        return Token(TokenKind.KEYWORD, word.group(), pos, upper)
    lowered = word.group().lower()
    if lowered in ATTRIBUTES or lowered in ATTRIBUTE_ALIASES:
        # MLflow accepts a bare attribute name: `status = 'FINISHED'`, `created > 5`.
        return Token(TokenKind.IDENT, word.group(), pos, attribute(source, word.group(), pos))
    return Token(TokenKind.WORD, word.group(), pos, word.group())


def _read_backticked(source: Source, pos: int) -> Token:
    """```metrics`.acc`` (a quoted prefix, as MLflow allows) or ```Run name``` (an attribute)."""
    text = source.text
    word, end = _read_quoted(source, pos, "quoted name")
    if end < len(text) and text[end] == ".":
        return _read_identifier(source, pos, word, key_pos=end + 1)
    return Token(TokenKind.IDENT, text[pos:end], pos, attribute(source, word, pos + 1))


def attribute(source: Source, name: str, pos: int) -> Identifier:
    """The attribute ``name`` (any case, or one of MLflow's aliases) names."""
    lowered = name.lower()
    lowered = ATTRIBUTE_ALIASES.get(lowered, lowered)
    if lowered not in ATTRIBUTES:
        source.fail(f"unknown attribute {name!r}", pos, _ATTRIBUTE_EXPECTED)
    return Identifier("attribute", lowered)


def _read_identifier(source: Source, pos: int, prefix: str, key_pos: int | None = None) -> Token:
    """``prefix.key`` starting at ``pos``; its key starts at ``key_pos`` (default: after ".")."""
    text = source.text
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        source.fail(f"unknown prefix {prefix + '.'!r}", pos, _PREFIX_EXPECTED)
    if key_pos is None:
        key_pos = pos + len(prefix) + 1
    key, end = _read_key(source, key_pos, prefix)
    if kind == "attribute":
        return Token(TokenKind.IDENT, text[pos:end], pos, attribute(source, key, key_pos))
    if kind == "dataset":
        if key.lower() not in DATASET_KEYS:
            source.fail(f"unknown dataset field {key!r}", key_pos, _DATASET_EXPECTED)
        key = key.lower()
    return Token(TokenKind.IDENT, text[pos:end], pos, Identifier(kind, key))


def _read_key(source: Source, pos: int, prefix: str) -> tuple[str, int]:
    """The key after ``prefix.``: backtick- or double-quoted, or a plain run of key characters."""
    text = source.text
    if pos < len(text) and text[pos] in '`"':
        key, end = _read_quoted(source, pos, "quoted key")
        if not key:
            source.fail(f"empty key after {prefix + '.'!r}", pos, "a non-empty key")
        return key, end
    match = UNQUOTED_KEY.match(text, pos)
    if match is None:
        source.fail(
            f"missing key after {prefix + '.'!r}",
            pos,
            f"a key such as {prefix}.acc, or a quoted key such as {prefix}.`my key`",
        )
    return match.group(), match.end()
