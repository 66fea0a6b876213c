"""Projections for the local scorer: PCA, ElementwiseProduct and plain SQL selections.

PCAModel multiplies ``pc.transpose`` by the vector, each output summed in feature
order as Spark's gemv sums it; Spark's Java BLAS on Java 11 and later accumulates with
fused multiply-adds (Math.fma), which numpy does not offer, so outputs agree within
1e-9 relative rather than bit for bit. ElementwiseProduct multiplies element by
element (bit-equal).

SQLTransformer is evaluated only when its statement selects and renames columns::

    statement := SELECT item ("," item)* FROM __THIS__
    item      := "*" | name [AS name]
    name      := letters, digits and "_", not starting with a digit | `anything but backticks`

Keywords in any case; nothing else (an expression, a function, WHERE, a table alias,
a keyword used as a name) is accepted: such a statement raises
LocalScoringUnsupported when compiled, and Spark runs it. Spark resolves names
ignoring case; the local scorer resolves only exact names, and leaves the rest to
Spark too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    OneColumnStage,
    Stage,
    read_column,
    read_vectors,
)
from sparktrack.models._local_stages import VectorScaling
from sparktrack.models._sparkml_reader import SavedStage, matrix, vector

__all__ = [
    "COMPILERS",
    "Projection",
    "SelectItem",
    "SqlSelection",
    "parse_selection",
]


@dataclass(frozen=True)
class Projection(OneColumnStage):
    """PCAModel: ``components`` is the saved pc matrix, features x k."""

    components: np.ndarray

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.input, self.name, self.components.shape[0])
        projected = np.zeros((rows, self.components.shape[1]))
        for i in range(self.components.shape[0]):
            projected += values[:, i : i + 1] * self.components[i]
        frame[self.output] = projected


# -- SQLTransformer: selections and renames only -------------------------------------------
@dataclass(frozen=True)
class SelectItem:
    """One select item: a column (``source``) under ``alias``, or every column (``*``)."""

    source: str
    alias: str
    every: bool = False  # `*` (a quoted `*` names a column)


_STAR = SelectItem("*", "*", every=True)
_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_][A-Za-z0-9_]*)|(,|\*))")
# Words Spark reads as keywords, literals or functions rather than column names.
_RESERVED = frozenset(
    [
        "all",
        "and",
        "any",
        "as",
        "asc",
        "between",
        "by",
        "case",
        "cast",
        "current_catalog",
        "current_database",
        "current_date",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "date",
        "desc",
        "distinct",
        "else",
        "end",
        "except",
        "exists",
        "false",
        "from",
        "group",
        "having",
        "in",
        "interval",
        "intersect",
        "is",
        "join",
        "like",
        "limit",
        "minus",
        "not",
        "null",
        "or",
        "order",
        "rlike",
        "select",
        "session_user",
        "some",
        "table",
        "then",
        "timestamp",
        "true",
        "union",
        "user",
        "using",
        "when",
        "where",
        "with",
    ]
)


def _tokens(statement: str) -> list[tuple[str, bool]]:
    """(text, quoted) per token; LocalScoringUnsupported at the first unexpected text."""
    tokens, position = [], 0
    end = len(statement.rstrip())
    while position < end:
        found = _TOKEN.match(statement, position)
        if found is None:
            raise LocalScoringUnsupported(
                f"SQLTransformer statement {statement!r}: only column selections and renames "
                f"are scored without Spark (unexpected text at {position})"
            )
        quoted, word, symbol = found.groups()
        tokens.append((quoted[1:-1], True) if quoted else (word or symbol, False))
        position = found.end()
    return tokens


def parse_selection(statement: str) -> tuple[SelectItem, ...]:
    """The items of ``SELECT ... FROM __THIS__``; LocalScoringUnsupported for other SQL."""
    tokens = _tokens(statement)

    def refuse(why: str) -> LocalScoringUnsupported:
        return LocalScoringUnsupported(
            f"SQLTransformer statement {statement!r}: only column selections and renames "
            f"are scored without Spark ({why})"
        )

    def keyword(index: int, word: str) -> bool:
        return index < len(tokens) and not tokens[index][1] and tokens[index][0].lower() == word

    def name(index: int) -> str:
        if index >= len(tokens):
            raise refuse("the statement ends early")
        text, quoted = tokens[index]
        if not quoted and (text in (",", "*") or text.lower() in _RESERVED):
            raise refuse(f"{text!r} where a column name was expected")
        return text

    if not keyword(0, "select"):
        raise refuse("it does not start with SELECT")
    items, index = [], 1
    while True:
        if index < len(tokens) and tokens[index] == ("*", False):
            items.append(_STAR)
            index += 1
        else:
            source = name(index)
            index += 1
            alias = source
            if keyword(index, "as"):
                alias = name(index + 1)
                index += 2
            items.append(SelectItem(source, alias))
        if index < len(tokens) and tokens[index] == (",", False):
            index += 1
            continue
        break
    if not keyword(index, "from") or tokens[index + 1 :] != [("__THIS__", False)]:
        raise refuse("it must end with FROM __THIS__")
    return tuple(items)


@dataclass(frozen=True)
class SqlSelection:
    name: str
    items: tuple[SelectItem, ...]

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.source for i in self.items if not i.every))

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(i.alias for i in self.items if not i.every)

    def apply(self, frame: Frame, rows: int) -> None:
        selected: list[tuple[str, np.ndarray]] = []
        for item in self.items:
            if item.every:
                selected.extend(frame.items())
                continue
            matches = [c for c in frame if c.lower() == item.source.lower()]
            if matches and matches != [item.source]:
                # Spark matches names ignoring case: "x" finds "X", and is ambiguous
                # beside it. Exact names only here.
                raise LocalScoringUnsupported(
                    f"{self.name} selecting {item.source!r}, matched ignoring case"
                )
            selected.append((item.alias, read_column(frame, item.source, self.name)))
        names = [n.lower() for n, _ in selected]
        if len(set(names)) != len(names):
            raise LocalScoringUnsupported(f"{self.name} giving two columns the same name")
        frame.clear()
        frame.update(selected)


# -- compiling saved stages ----------------------------------------------------------------
def _pca(saved: SavedStage) -> Stage:
    components = matrix(saved.rows()[0]["pc"])
    if not np.isfinite(components).all():
        # 0 * NaN: a dense vector's zeros would give NaN, a sparse one's 0.
        raise LocalScoringUnsupported(f"{saved.label} with non-finite components")
    return Projection(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        components=components,
    )


def _elementwise_product(saved: SavedStage) -> Stage:
    return VectorScaling(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        factors=vector(saved.param("scalingVec")),
    )


def _sql_transformer(saved: SavedStage) -> Stage:
    return SqlSelection(name=saved.label, items=parse_selection(str(saved.param("statement"))))


_FEATURE = "org.apache.spark.ml.feature."

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _FEATURE + "PCAModel": _pca,
    _FEATURE + "ElementwiseProduct": _elementwise_product,
    _FEATURE + "SQLTransformer": _sql_transformer,
}
"""The projections compiled here, by the JVM class Spark ML saves them under."""
