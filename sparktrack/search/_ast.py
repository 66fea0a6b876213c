"""The syntax tree of run-search filters and orders: frozen dataclasses, no behaviour.

The parser (``_grammar``) builds these nodes and the evaluator (``_evaluate``) reads
them; neither the nodes nor the names of run columns depend on either. Equal input
gives equal trees, so trees can be compared, hashed and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "DATASET_KEYS",
    "NUMERIC_ATTRIBUTES",
    "STRING_ATTRIBUTES",
    "UNQUOTED_KEY",
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
]

EntityKind: TypeAlias = Literal["metric", "param", "tag", "attribute", "dataset"]
"""What an identifier names: a run's metric, param, tag, attribute or dataset input."""
NumericOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
"""The operators of a comparison with a number."""
StringOp: TypeAlias = Literal["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]
"""The operators of a comparison with a quoted string."""

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
"""Run attributes holding numbers (epoch milliseconds)."""
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
"""Run attributes holding text."""
ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES
"""Every run attribute a filter or order may name (``attributes.<name>`` or bare)."""
ATTRIBUTE_ALIASES = {"created": "start_time", "run name": "run_name"}
"""MLflow's other names for attributes (its UI's column titles), lower-cased."""
DATASET_KEYS = frozenset({"name", "digest", "context"})
"""What a filter may test about a run's dataset inputs (``datasets.<key>``): the inputs
table's dataset_name, digest and context."""

# A key that needs no quotes after its prefix; \w: Unicode letters, digits and _.
UNQUOTED_KEY = re.compile(r"[\w.\-/:]+")

_COLUMN_PREFIX: dict[EntityKind, str] = {
    "metric": "metrics.",
    "param": "params.",
    "tag": "tags.",
    "dataset": "datasets.",
}


@dataclass(frozen=True)
class Identifier:
    """A reference to one column of the runs frame, e.g. ``metrics.acc`` or ``status``.

    Attributes:
        kind: What the identifier names; ``"attribute"`` for run attributes.
        key: The metric, param or tag key, the attribute name (lower-cased, aliases
            resolved) or the dataset field (``name``, ``digest`` or ``context``).
    """

    kind: EntityKind
    key: str

    @property
    def column(self) -> str:
        """The name of the frame column holding this value (``metrics.acc``, ``status``)."""
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
        """The identifier as a user would write it, for messages.

        Returns:
            ``attributes.<name>`` for attributes, otherwise ``<prefix>.<key>`` with the
            key in backticks when it needs quoting.
        """
        if self.kind == "attribute":
            return f"attributes.{self.key}"
        if self.kind == "dataset":
            return self.column
        if UNQUOTED_KEY.fullmatch(self.key):
            return self.column
        return _COLUMN_PREFIX[self.kind] + "`" + self.key.replace("`", "``") + "`"


@dataclass(frozen=True)
class NumericComparison:
    """``ident <op> number``; params are parsed as numbers before comparing.

    Attributes:
        ident: The column compared.
        op: The comparison operator.
        value: The number compared with.
    """

    ident: Identifier
    op: NumericOp
    value: float


@dataclass(frozen=True)
class StringComparison:
    """``ident = 'text'``, ``!=``, ``[NOT] LIKE`` or ``[NOT] ILIKE``.

    ``NOT LIKE`` is one comparison, not ``NOT (... LIKE ...)``: the two differ for
    ``datasets.*``, where a comparison holds if it holds for any of the run's inputs.

    Attributes:
        ident: The column compared.
        op: The comparison operator.
        value: The text, or the LIKE pattern (``%`` any run of characters, ``_`` one).
    """

    ident: Identifier
    op: StringOp
    value: str


@dataclass(frozen=True)
class InList:
    """``ident IN ('a', 'b')``, or ``NOT IN`` when ``negated``.

    Attributes:
        ident: The column tested.
        values: The strings listed.
        negated: True for ``NOT IN``.
    """

    ident: Identifier
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``ident IS NULL``, or ``IS NOT NULL`` when ``negated``.

    Attributes:
        ident: The column tested.
        negated: True for ``IS NOT NULL``.
    """

    ident: Identifier
    negated: bool = False


@dataclass(frozen=True)
class And:
    """All operands hold (flattened: ``a AND b AND c`` is one node).

    Attributes:
        operands: Two or more sub-expressions.
    """

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Any operand holds (flattened like ``And``).

    Attributes:
        operands: Two or more sub-expressions.
    """

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The operand does not hold (SQL three-valued: NOT of unknown stays unknown).

    Attributes:
        operand: The negated sub-expression.
    """

    operand: Expr


Expr: TypeAlias = NumericComparison | StringComparison | InList | IsNull | And | Or | Not
"""A parsed filter: one of the node classes above."""


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` entry.

    Attributes:
        ident: The column to order by (never a ``datasets.*`` one).
        ascending: False for ``DESC``.
    """

    ident: Identifier
    ascending: bool = True
