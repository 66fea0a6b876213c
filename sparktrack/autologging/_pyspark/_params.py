"""Flattening an estimator's params (nested estimators, pipeline stages) into run params.

Top-level params keep their names (``regParam``). A Pipeline's stages are prefixed
by their class (``LogisticRegression.regParam``), numbered when a class repeats
(``StandardScaler_1.withMean``, ``StandardScaler_2.withMean``); an estimator or
evaluator held by a param is named by its class and expanded the same way
(``evaluator`` = ``BinaryClassificationEvaluator``,
``BinaryClassificationEvaluator.metricName`` = ``areaUnderROC``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

__all__ = [
    "flatten_params",
    "nested_estimator_uids",
    "param_map_params",
    "stage_hierarchy",
    "stage_labels",
]

_MAX_VALUE = 6000
_MAX_KEY = 250
_KEY_UNSAFE = re.compile(r"[^/\w.\- :]")


def _is_params(value: Any) -> bool:
    from pyspark.ml.param import Params

    return isinstance(value, Params)


def _children(owner: Any) -> Iterator[Any]:
    """Params objects held by ``owner``'s params (stages, estimator, evaluator, classifier)."""
    for param, value in owner.extractParamMap().items():
        if param.name == "estimatorParamMaps":
            continue
        if _is_params(value):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if _is_params(item))


def stage_labels(root: Any) -> dict[str, str]:
    """Label every Params object under root: uid -> class name, numbered when repeated."""
    seen: list[Any] = []

    def visit(node: Any) -> None:
        for child in _children(node):
            if all(child.uid != s.uid for s in seen):
                seen.append(child)
                visit(child)

    visit(root)
    counts = Counter(type(node).__name__ for node in seen)
    numbering: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for node in seen:
        name = type(node).__name__
        if counts[name] > 1:
            numbering[name] += 1
            name = f"{name}_{numbering[name]}"
        labels[node.uid] = name
    return labels


def nested_estimator_uids(root: Any) -> set[str]:
    """The uids of every Params object under ``root`` (internal use: for sweeps).

    Pipeline stages, a tuner's estimator and evaluator, a OneVsRest's classifier...:
    the fits autolog must treat as nested in ``root``'s fit (see ``claim_nested``).

    Args:
        root: A ``pyspark.ml`` estimator (any ``Params`` object).

    Returns:
        The ``uid`` of every ``Params`` object its params hold, at any depth (stages
        of stages included); ``root``'s own uid only if something under it holds
        ``root`` again. Empty for an estimator that holds none.
    """
    return set(stage_labels(root))


def _format(value: Any) -> str:
    if _is_params(value):
        return type(value).__name__
    if isinstance(value, (list, tuple)):
        if any(_is_params(item) for item in value):
            return json.dumps([type(item).__name__ for item in value])
        return json.dumps(list(value), default=str)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def _key(text: str) -> str:
    return _KEY_UNSAFE.sub("_", text)[:_MAX_KEY]


def _own_params(owner: Any, prefix: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for param, value in owner.extractParamMap().items():
        if param.name == "estimatorParamMaps":
            params[_key(prefix + param.name)] = f"{len(value)} param maps"
            continue
        params[_key(prefix + param.name)] = _format(value)
    return params


def flatten_params(root: Any) -> dict[str, str]:
    """Every param of ``root`` and of everything nested in it, as string values."""
    params = _own_params(root, "")
    labels = stage_labels(root)
    seen: set[str] = set()

    def visit(node: Any) -> None:
        for child in _children(node):
            if child.uid in seen:
                continue
            seen.add(child.uid)
            params.update(_own_params(child, labels[child.uid] + "."))
            visit(child)

    visit(root)
    return params


def param_map_params(param_map: dict[Any, Any], labels: dict[str, str], root_uid: str):
    """A tuning param map as run params, keyed like ``flatten_params`` keys them."""
    params: dict[str, str] = {}
    for param, value in param_map.items():
        owner = getattr(param, "parent", None)
        prefix = "" if owner == root_uid or owner not in labels else labels[owner] + "."
        params[_key(prefix + param.name)] = _format(value)
    return params


def stage_hierarchy(root: Any) -> dict[str, Any]:
    """The estimator tree as nested dicts, for the ``estimator_hierarchy.json`` artifact."""
    node: dict[str, Any] = {
        "class": f"{type(root).__module__}.{type(root).__name__}",
        "uid": root.uid,
    }
    children: dict[str, Any] = {}
    for param, value in root.extractParamMap().items():
        if param.name == "estimatorParamMaps":
            continue
        if _is_params(value):
            children[param.name] = stage_hierarchy(value)
        elif isinstance(value, (list, tuple)) and any(_is_params(v) for v in value):
            children[param.name] = [stage_hierarchy(v) for v in value if _is_params(v)]
    if children:
        node["children"] = children
    return node
