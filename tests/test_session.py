"""Where sparktrack gets its SparkSession: the running one, as it is, from any thread.

The end-to-end proof (a session without Delta, autolog's real background thread) is
tests/test_user_session.py; these check the pieces in the suite's shared session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sparktrack
from sparktrack.session import running_session, spark_session, using_session

pytestmark = pytest.mark.spark


def _in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` on a fresh thread: pyspark has no active session there."""
    found: dict[str, Any] = {}

    def run() -> None:
        found["value"] = work()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the worker thread did not finish"
    return found["value"]


def _same(one: Any, other: Any) -> bool:
    return bool(one._jsparkSession.equals(other._jsparkSession))


def test_a_thread_without_an_active_session_gets_the_running_one_unchanged(spark: Any) -> None:
    spark.conf.set("spark.sql.shuffle.partitions", "3")  # sparktrack's builder sets 4
    catalog = spark.conf.get("spark.sql.catalog.spark_catalog", None)
    try:
        assert _same(_in_thread(running_session), spark)
        assert _same(_in_thread(spark_session), spark)
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.conf.get("spark.sql.catalog.spark_catalog", None) == catalog
    finally:
        spark.conf.unset("spark.sql.shuffle.partitions")


def test_using_session_binds_a_session_to_the_thread_for_the_block(spark: Any) -> None:
    other = spark.newSession()  # same SparkContext, its own runtime confs

    def bound() -> tuple[Any, Any]:
        with using_session(other):
            inside = running_session()
        return inside, running_session()

    inside, after = _in_thread(bound)
    assert _same(inside, other) and not _same(inside, spark)
    assert _same(after, spark)


@pytest.fixture
def autolog_store(fluent_store: str, spark: Any) -> Iterator[None]:
    sparktrack.autolog()
    yield
    # pyspark's createDataFrame makes its session this thread's active one: give the
    # shared session back to the tests that follow (they set confs on it).
    spark.createDataFrame([], "x int")


def test_autolog_logs_with_the_session_of_the_fitted_dataframe(
    spark: Any, autolog_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work after a fit sees the fit's DataFrame's session, passed and bound, not
    whichever session happens to be the process's default."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    import sparktrack.models as models

    seen: dict[str, Any] = {}
    original = models.signature_for_spark_model

    def recording(model: Any, schema: Any, *args: Any, **kwargs: Any) -> Any:
        seen["passed"] = kwargs.get("spark")
        seen["running"] = running_session()
        return original(model, schema, *args, **kwargs)

    monkeypatch.setattr(models, "signature_for_spark_model", recording)
    other = spark.newSession()
    rows = [(float(i % 5), float(i % 2)) for i in range(30)]
    frame = other.createDataFrame(rows, "x double, label double")
    features = VectorAssembler(inputCols=["x"], outputCol="features").transform(frame)
    LogisticRegression(maxIter=3).fit(features)
    sparktrack.flush()
    assert _same(seen["passed"], other) and _same(seen["running"], other)
