"""Comparing the local scorer with Spark's ``transform`` on the same fitted model.

``assert_parity`` saves a fitted pyspark.ml model with Spark ML's writer, compiles the
saved folder with the local scorer (no Spark involved, as a server without a JVM does),
scores a pandas frame both ways and compares every output column Spark writes.

Property-based tests draw small datasets and hyperparameters with hypothesis; each
example fits a Spark model, so ``SPARK_EXAMPLES`` keeps their number (and the suite's
time) small, with no per-example deadline (a fit under load takes seconds).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings

from sparktrack.models._local_scorer import LocalScorer, compile_saved_model
from sparktrack.models._uri import LocalLocation

__all__ = ["SPARK_EXAMPLES", "assert_parity", "local_outputs", "saved_scorer", "spark_outputs"]

SPARK_EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
"""hypothesis settings for tests that fit a Spark model per example."""


def saved_scorer(model: Any) -> LocalScorer:
    """Save ``model`` as Spark ML does and compile the saved folder, as loading does."""
    with tempfile.TemporaryDirectory(prefix="sparktrack-parity-") as tmp:
        model.write().save(str(Path(tmp) / "sparkml"))
        return compile_saved_model(LocalLocation(Path(tmp)), "sparkml")


def _python(value: Any) -> Any:
    return value.toArray().tolist() if hasattr(value, "toArray") else value


def spark_outputs(model: Any, spark: Any, frame: pd.DataFrame, columns: Iterable[str]) -> Any:
    """Spark's ``transform`` of ``frame``: the given columns as lists (vectors as lists)."""
    columns = list(columns)
    rows = model.transform(spark.createDataFrame(frame)).select(*columns).collect()
    return {c: [_python(row[i]) for row in rows] for i, c in enumerate(columns)}


def local_outputs(scorer: LocalScorer, columns: dict[str, np.ndarray], rows: int) -> Any:
    """The local scorer's frame for ``columns`` (1-D numbers, object strings, 2-D vectors)."""
    return scorer.transform(columns, rows)


def _close(got: Any, expected: Any, rtol: float) -> bool:
    if isinstance(expected, list):
        return len(got) == len(expected) and all(
            _close(g, e, rtol) for g, e in zip(got, expected, strict=True)
        )
    if expected is None or got is None:
        return got is None and expected is None
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if rtol == 0:
        return bool(got == expected)
    return bool(math.isclose(got, expected, rel_tol=rtol, abs_tol=1e-12))


def assert_parity(
    model: Any,
    spark: Any,
    frame: pd.DataFrame,
    *,
    columns: dict[str, np.ndarray] | None = None,
    exact: Iterable[str] = ("prediction",),
    close: Iterable[str] = (),
    rtol: float = 1e-9,
) -> LocalScorer:
    """Assert the saved-and-compiled model scores ``frame`` as ``model.transform`` does.

    Args:
        model: The fitted pyspark.ml model.
        spark: The session to run ``transform`` in.
        frame: The rows, as Spark reads them (``createDataFrame(frame)``).
        columns: The local scorer's input; by default ``frame``'s columns as arrays
            (numbers as float64, strings as objects).
        exact: Output columns that must be equal (labels, bit-equal arithmetic).
        close: Output columns equal within ``rtol`` relative (probabilities...).
        rtol: The relative tolerance for ``close``.

    Returns:
        The compiled scorer, for further checks.
    """
    scorer = saved_scorer(model)
    if columns is None:
        columns = {
            c: frame[c].to_numpy(
                dtype=np.float64 if pd.api.types.is_numeric_dtype(frame[c]) else object
            )
            for c in frame.columns
        }
    local = scorer.transform(columns, len(frame.index))
    exact, close = list(exact), list(close)
    expected = spark_outputs(model, spark, frame, [*exact, *close])
    for column in [*exact, *close]:
        values = local[column]
        got = values.tolist()
        tolerance = 0.0 if column in exact else rtol
        for row, (g, e) in enumerate(zip(got, expected[column], strict=True)):
            assert _close(g, e, tolerance), (
                f"{column!r} row {row}: local {g!r}, Spark {e!r} "
                f"(input {frame.iloc[row].to_dict()})"
            )
    return scorer
