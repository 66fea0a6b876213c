"""Where a DataFrame's data comes from, read off its analyzed logical plan through py4j.

Autolog calls this on every fit, so nothing here may start a Spark job: it reads only
what the plan already holds (the file listing an index cached when the DataFrame was
made, the Delta snapshot resolved at analysis, local rows kept by the driver, hashed
inside the JVM) plus the Delta log through delta-rs, which needs no JVM. Row counts are
given only where they are free. pyspark is never imported: the DataFrame's own py4j
handles are enough.

This module walks the plan; each kind of leaf has its reader: files, catalog tables
and the dispatch to Delta in ``_files``, Delta in ``_delta``, local data in ``_local``.
Every leaf is described on its own and a failure there makes that leaf "unknown"; a
failure of the plan walk itself propagates to the caller, which degrades the whole
description to "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparktrack.datasets._digest import normalize_plan_string, opaque_identity
from sparktrack.datasets._files import hive_table, logical_relation, v2_relation
from sparktrack.datasets._local import local_relation, logical_rdd, one_row, range_relation
from sparktrack.datasets._py4j import JavaObject, seq
from sparktrack.datasets._source import SourceInfo

__all__ = ["PlanInfo", "SourceInfo", "inspect_dataframe"]

# Unary operators that keep every row of their child: a source's row count is the
# DataFrame's only when nothing else sits between the two.
ROW_PRESERVING = frozenset(
    {
        "Project",
        "SubqueryAlias",
        "View",
        "ResolvedHint",
        "Repartition",
        "RepartitionByExpression",
        "RebalancePartitions",
        "Sort",
        "Window",
    }
)
_MAX_PLAN_DEPTH = 500

_LEAF_HANDLERS: dict[str, Callable[[JavaObject, JavaObject], SourceInfo]] = {
    "LogicalRelation": logical_relation,
    "HiveTableRelation": hive_table,
    "DataSourceV2Relation": v2_relation,
    "LocalRelation": local_relation,
    "LogicalRDD": logical_rdd,
    "Range": range_relation,
    "OneRowRelation": one_row,
}


@dataclass(frozen=True)
class PlanInfo:
    plan: str  # normalised plan text, equal for equal plans in any JVM
    sources: list[SourceInfo]
    row_preserving: bool  # one leaf, and only row-preserving operators above it


def inspect_dataframe(df: Any) -> PlanInfo:
    """Describe ``df``'s sources and plan shape; raises if the plan cannot be read at all."""
    analyzed = df._jdf.queryExecution().analyzed()
    jvm = df.sparkSession.sparkContext._jvm
    subqueries = seq(analyzed.subqueriesAll())
    leaves = seq(analyzed.collectLeaves())
    for subquery in subqueries:
        leaves.extend(seq(subquery.collectLeaves()))
    sources = _unique([_describe_leaf(leaf, jvm) for leaf in leaves])
    row_preserving = len(leaves) == 1 and not subqueries and _is_row_preserving(analyzed)
    return PlanInfo(_plan_text(analyzed), sources, row_preserving)


def _plan_text(plan: JavaObject) -> str:
    try:
        # Canonicalisation numbers expression ids by position, so two reads of the
        # same data with the same transformations give the same text.
        text = str(plan.canonicalized().toString())
    except Exception:
        text = re.sub(r"#\d+", "#", str(plan.toString()))
    return normalize_plan_string(text)


def _is_row_preserving(plan: JavaObject) -> bool:
    node = plan
    for _ in range(_MAX_PLAN_DEPTH):
        children = node.children()
        if children.isEmpty():
            return True
        if children.size() != 1 or node.nodeName() not in ROW_PRESERVING:
            return False
        node = children.head()
    return False


def _unique(sources: list[SourceInfo]) -> list[SourceInfo]:
    """Sources in plan order, each once (a self-join reads one table)."""
    unique: dict[str, SourceInfo] = {}
    for source in sources:
        unique.setdefault(source.identity, source)
    return list(unique.values())


def _describe_leaf(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    node = "?"
    try:
        node = str(leaf.nodeName())
        describe = _LEAF_HANDLERS.get(node)
        if describe is not None:
            return describe(leaf, jvm)
    except Exception:
        pass  # a leaf we cannot read is reported as unknown, like one we do not know
    return _unknown_leaf(leaf, jvm, node)


def _unknown_leaf(leaf: JavaObject, jvm: JavaObject, node: str) -> SourceInfo:
    try:
        # Unique to this leaf object: its DataFrame keeps one digest, nothing else shares it.
        token = f"{jvm.java.lang.System.identityHashCode(leaf)}|{leaf.toString()}"
    except Exception:
        token = str(id(leaf))
    return SourceInfo("unknown", {"plan": node}, opaque_identity(node, token))
