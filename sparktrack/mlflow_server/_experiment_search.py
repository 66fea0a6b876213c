"""``experiments/search``: MLflow's experiment filter and order, over sparktrack's experiments.

MLflow's grammar for experiments is small (``SearchExperimentsUtils``)::

    filter := clause ("AND" clause)*
    clause := ident op value
    ident  := ["attribute" "."] ("name" | "creation_time" | "last_update_time")
            | "tags" "." key          (key bare, or in backticks or double quotes)
    op     := "=" | "!=" | "LIKE" | "ILIKE" | "<" | "<=" | ">" | ">="
    order  := ident ["ASC" | "DESC"]   (also "experiment_id")

sparktrack stores no experiment tags, so a ``tags.`` clause matches no experiment.
Results are sorted by the order given, then by experiment id (a total order, so page
tokens are offsets).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.search import like_to_regex
from sparktrack.tracking import Experiment

__all__ = ["filter_experiments", "sort_experiments"]

_CLAUSE = re.compile(
    r"""\s*(?P<ident>(?:(?:attribute|attributes|attr)\.)?(?:name|creation_time|last_update_time)
        |tags?\.(?:`[^`]+`|"[^"]+"|[\w.]+))
        \s*(?P<op>!=|<=|>=|=|<|>|\bNOT\s+ILIKE\b|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)
        \s*(?P<value>'(?:[^']|'')*'|"[^"]*"|-?\d+)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_NUMERIC = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERABLE = ("name", "experiment_id", "creation_time", "last_update_time")


@dataclass(frozen=True)
class _Clause:
    field: str  # name, creation_time, last_update_time, or "tag"
    op: str
    value: Any

    def matches(self, experiment: Experiment) -> bool:
        if self.field == "tag":
            return False  # no experiment has tags in sparktrack
        if self.field == "name":
            return _string_test(self.op, self.value)(experiment.name)
        # sparktrack keeps no update time: an experiment's is its creation time.
        return bool(_NUMERIC[self.op](experiment.creation_time, self.value))


def _string_test(op: str, value: str) -> Callable[[str], bool]:
    if op in ("=", "!="):
        return (lambda s: s == value) if op == "=" else (lambda s: s != value)
    pattern = re.compile(like_to_regex(value), 0 if "ILIKE" not in op else re.IGNORECASE)
    negated = op.startswith("NOT")
    return lambda s: bool(pattern.fullmatch(s)) != negated


def _parse(filter_string: str) -> list[_Clause]:
    clauses = []
    for text in _AND.split(filter_string.strip()):
        found = _CLAUSE.match(text)
        if found is None:
            raise InvalidInputError(
                f"invalid experiment filter clause {text!r} in {filter_string!r}: expected "
                "name, creation_time, last_update_time or tags.<key>, an operator and a "
                "value (e.g. \"name LIKE 'exp%'\"); clauses join with AND"
            )
        ident = found["ident"].lower()
        op = " ".join(found["op"].upper().split())
        raw = found["value"]
        field = "tag" if ident.startswith("tag") else ident.rsplit(".", 1)[-1]
        if field == "name" or field == "tag":
            if raw[0] not in "'\"":
                raise InvalidInputError(f"{text!r}: compare {ident} with a quoted string")
            if op in ("<", "<=", ">", ">="):
                raise InvalidInputError(f"{text!r}: {op} does not apply to {ident}")
            value: Any = raw[1:-1].replace("''", "'")
        else:
            if raw[0] in "'\"" or op not in _NUMERIC:
                raise InvalidInputError(f"{text!r}: compare {ident} with a number")
            value = int(raw)
        clauses.append(_Clause(field, op, value))
    return clauses


def filter_experiments(experiments: Sequence[Experiment], filter_string: str | None) -> list:
    """The experiments matching MLflow's experiment filter (all for an empty one).

    Raises:
        InvalidInputError: The filter is not MLflow's experiment grammar.
    """
    if not filter_string or not filter_string.strip():
        return list(experiments)
    clauses = _parse(filter_string)
    return [e for e in experiments if all(c.matches(e) for c in clauses)]


def sort_experiments(experiments: Sequence[Experiment], order_by: Sequence[str]) -> list:
    """Sorted by ``order_by`` (default: newest first), then by experiment id.

    Raises:
        InvalidInputError: An order key is not one of MLflow's for experiments.
    """
    keys: list[tuple[str, bool]] = []
    for clause in order_by or ["creation_time DESC"]:
        words = clause.split()
        name = words[0].lower().rsplit(".", 1)[-1] if words else ""
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if len(words) not in (1, 2) or name not in _ORDERABLE or direction not in ("ASC", "DESC"):
            raise InvalidInputError(
                f"invalid experiment order_by {clause!r}: expected one of "
                f"{', '.join(_ORDERABLE)}, optionally followed by ASC or DESC"
            )
        keys.append(("creation_time" if name == "last_update_time" else name, direction == "DESC"))
    ordered = sorted(experiments, key=lambda e: e.experiment_id)
    # Stable sorts, least significant key first.
    for name, descending in reversed(keys):
        ordered.sort(key=lambda e, n=name: getattr(e, n), reverse=descending)  # type: ignore[misc]
    return ordered
