"""MLflow's registry search syntax: ``name LIKE 'churn%' AND tags.team = 'risk'``.

Clauses are joined by AND. Identifiers: ``name``, ``version``, ``run_id``,
``source`` (also ``source_path``), ``current_stage`` (also ``stage``), ``user_id``,
``creation_timestamp``, ``last_updated_timestamp``, ``alias`` and ``tags.<key>``
(quote odd keys with backticks). Operators: ``=``, ``!=``, ``LIKE``, ``ILIKE``,
``IN (...)``, and ``<``, ``<=``, ``>``, ``>=`` on numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparktrack.errors import InvalidInputError, SearchSyntaxError
from sparktrack.registry._entities import ModelVersion, RegisteredModel
from sparktrack.search import like_to_regex

__all__ = [
    "REGISTRY_FIELDS",
    "Clause",
    "FilterFields",
    "limit",
    "matches",
    "model_field",
    "parse_registry_filter",
    "sort_entities",
    "version_field",
]


@dataclass(frozen=True)
class FilterFields:
    """The fields a filter may name: numbers, text, and other spellings of them.

    Attributes:
        numeric: Fields compared as numbers (``<``, ``>=``... allowed).
        text: Fields compared as text.
        synonyms: Other name -> field.
        prefixes: Key-value maps a filter may name as ``<prefix>.<key>`` (``tags``).
    """

    numeric: frozenset[str]
    text: frozenset[str]
    synonyms: dict[str, str] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ("tags",)

    @property
    def all(self) -> frozenset[str]:
        """Every field a filter may name (numeric and text)."""
        return self.numeric | self.text


REGISTRY_FIELDS = FilterFields(
    numeric=frozenset({"version", "creation_timestamp", "last_updated_timestamp"}),
    text=frozenset(
        {"name", "run_id", "source", "current_stage", "user_id", "alias", "description"}
    ),
    synonyms={
        "source_path": "source",
        "stage": "current_stage",
        "aliases": "alias",
        "version_number": "version",
    },
)
_IDENT = (
    r"(?:(?:tags?|params|metrics)\.(?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|[\w.\-:/ ]+?)|[A-Za-z_]+)"
)
_QUOTED = r"(?:'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")"
_VALUE = rf"(?:{_QUOTED}|-?\d+(?:\.\d+)?|\((?:[^()'\"]|{_QUOTED})*\))"
_CLAUSE = re.compile(
    rf"\s*(?P<ident>{_IDENT})\s*(?P<op>!=|<>|<=|>=|=|<|>|\bI?LIKE\b|\bIN\b)\s*(?P<value>{_VALUE})\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"AND\b", re.IGNORECASE)
_ITEM = re.compile(r"\s*('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|-?\d+(?:\.\d+)?)\s*(,|$)")


@dataclass(frozen=True)
class Clause:
    field: str  # an attribute name, or "<prefix>.<key>" ("tags.<key>")
    op: str
    value: Any  # str, float, or a tuple for IN

    def test(self, actual: Any) -> bool:
        if self.op == "IN":
            return actual is not None and str(actual) in self.value
        if actual is None:
            return self.op == "!="
        if self.op in ("LIKE", "ILIKE"):
            flags = re.IGNORECASE | re.DOTALL if self.op == "ILIKE" else re.DOTALL
            return re.fullmatch(like_to_regex(str(self.value)), str(actual), flags) is not None
        if isinstance(self.value, float):
            number = float(actual)
            return {
                "=": number == self.value,
                "!=": number != self.value,
                "<": number < self.value,
                "<=": number <= self.value,
                ">": number > self.value,
                ">=": number >= self.value,
            }[self.op]
        return (str(actual) == self.value) == (self.op == "=")


def _unquote(text: str) -> str:
    if text[:1] in "'\"`" and text[-1:] == text[:1]:
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    return text


def _literal(raw: str) -> str | float:
    if raw[:1] in "'\"":
        return _unquote(raw)
    return float(raw)


def _field(ident: str, text: str, position: int, fields: FilterFields) -> str:
    lowered = ident.lower()
    prefix = "tags" if lowered.startswith("tag.") else lowered.split(".", 1)[0]
    if "." in lowered and prefix in fields.prefixes:
        return f"{prefix}." + _unquote(ident.split(".", 1)[1].strip())
    name = fields.synonyms.get(lowered, lowered)
    if name not in fields.all:
        keyed = " or ".join(f"{p}.<key>" for p in fields.prefixes)
        raise SearchSyntaxError(
            f"unknown field {ident!r} at position {position} of filter {text!r}; use one "
            f"of {sorted(fields.all)} or {keyed}"
        )
    return name


def _clause(match: re.Match[str], text: str, fields: FilterFields) -> Clause:
    field = _field(match.group("ident"), text, match.start("ident"), fields)
    op = match.group("op").upper().replace("<>", "!=")
    raw = match.group("value")
    if op == "IN":
        if not raw.startswith("("):
            raise SearchSyntaxError(f"IN needs a list like ('a', 'b') in filter {text!r}")
        items = []
        inner = raw[1:-1]
        position = 0
        while position < len(inner):
            item = _ITEM.match(inner, position)
            if item is None:
                raise SearchSyntaxError(f"cannot read the IN list {raw!r} of filter {text!r}")
            value = _literal(item.group(1))
            items.append(str(int(value)) if isinstance(value, float) else value)
            position = item.end()
        return Clause(field, op, tuple(items))
    value = _literal(raw)
    numeric_field = field in fields.numeric
    if op in ("<", "<=", ">", ">=") and not numeric_field:
        raise SearchSyntaxError(f"{field} is text: {op} works on {sorted(fields.numeric)} only")
    if op in ("LIKE", "ILIKE") and not isinstance(value, str):
        raise SearchSyntaxError(f"{op} needs a quoted pattern, got {raw} in filter {text!r}")
    if numeric_field and op not in ("LIKE", "ILIKE"):
        try:
            value = float(value)
        except ValueError as exc:
            raise SearchSyntaxError(f"{field} is a number, got {raw} in filter {text!r}") from exc
    return Clause(field, op, value)


def parse_registry_filter(text: str | None, fields: FilterFields = REGISTRY_FIELDS) -> list[Clause]:
    """Read a filter on ``fields`` (the registry's by default).

    Args:
        text: Clauses like ``name = 'churn'`` joined by AND; None or blank for none.
        fields: The fields it may name.

    Returns:
        Its clauses, each to test with ``matches``.

    Raises:
        SearchSyntaxError: The filter cannot be read, or names an unknown field.
    """
    if text is None or not text.strip():
        return []
    if not isinstance(text, str):
        raise SearchSyntaxError(f"filter_string must be a string, got {type(text).__name__}")
    clauses = []
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise SearchSyntaxError(
                f"cannot read filter {text!r} at position {position} ({text[position:][:30]!r}); "
                "write clauses like name = 'churn' or tags.team LIKE 'ri%', joined by AND"
            )
        clauses.append(_clause(match, text, fields))
        position = match.end()
        if position >= len(text):
            return clauses
        joined = _AND.match(text, position)
        if joined is None:
            raise SearchSyntaxError(
                f"expected AND at position {position} of filter {text!r}, found "
                f"{text[position:][:20]!r} (registry searches join clauses with AND only)"
            )
        position = joined.end()


def matches(clauses: Sequence[Clause], lookup: Callable[[str], Any]) -> bool:
    """Tell whether every clause holds for one entity.

    Args:
        clauses: What ``parse_registry_filter`` read.
        lookup: The entity's value of a field (a tuple for several, e.g. aliases).

    Returns:
        True when every clause holds.
    """
    for clause in clauses:
        actual = lookup(clause.field)
        if isinstance(actual, tuple):  # several values (aliases): any may match
            if not any(clause.test(value) for value in actual) and not (
                clause.op == "!=" and not actual
            ):
                return False
        elif not clause.test(actual):
            return False
    return True


def sort_entities(
    items: list[Any],
    order_by: Sequence[str] | None,
    default: Sequence[str],
    fields: FilterFields = REGISTRY_FIELDS,
) -> list[Any]:
    """Sort by ``["field [ASC|DESC]", ...]`` on entity attributes (stable, last key first).

    Args:
        items: The entities, sorted in place.
        order_by: The order; None or empty for ``default``.
        default: The order without one.
        fields: The fields an order may name.

    Returns:
        ``items``, sorted.

    Raises:
        SearchSyntaxError: An order cannot be read or names an unknown field.
    """
    keys = list(order_by or default)
    for spec in reversed(keys):
        parts = str(spec).split()
        if (
            not parts
            or len(parts) > 2
            or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"))
        ):
            raise SearchSyntaxError(f"cannot read order_by {spec!r}; write e.g. 'version DESC'")
        name = fields.synonyms.get(parts[0].lower(), parts[0].lower())
        if name not in fields.all - {"alias", "description"}:
            raise SearchSyntaxError(
                f"cannot order by {parts[0]!r}; use one of "
                f"{sorted(fields.all - {'alias', 'description'})}"
            )
        descending = len(parts) == 2 and parts[1].upper() == "DESC"
        items.sort(key=lambda item: getattr(item, name, "") or "", reverse=descending)
    return items


def limit(items: list[Any], max_results: int | None) -> list[Any]:
    """The first ``max_results`` items (all of them for None)."""
    if max_results is None:
        return items
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidInputError(f"max_results must be a non-negative integer, got {max_results!r}")
    return items[:max_results]


def model_field(model: RegisteredModel, field: str) -> Any:
    """A registered model's value of a filter field."""
    if field.startswith("tags."):
        return model.tags.get(field[5:])
    if field == "alias":
        return tuple(model.aliases)
    return getattr(model, field, None)


def version_field(version: ModelVersion, field: str) -> Any:
    """A model version's value of a filter field."""
    if field.startswith("tags."):
        return version.tags.get(field[5:])
    if field == "alias":
        return version.aliases
    return getattr(version, field, None)
