"""Spark's complaints about a model's input, told apart from Spark failing.

A pyspark.ml model checks its input in two places: when ``transform`` analyses the
plan (a missing column, a column of the wrong type: pyspark raises
``IllegalArgumentException`` or ``AnalysisException``) and inside the job, where a
stage's own check (a vector of the wrong size, a null the assembler refuses) fails a
task and surfaces as a ``Py4JJavaError`` whose innermost cause is a Java
``IllegalArgumentException``. Both are the input's fault and become
:class:`~sparktrack.errors.InvalidInputError` with Spark's own sentence, which names
the column. Anything else (a lost executor, out of memory) is Spark failing and is
left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sparktrack.errors import InvalidInputError

__all__ = ["input_errors_from_spark", "spark_input_complaint"]

# Java exceptions a stage throws when the values it is given do not fit it.
_INPUT_CAUSES = ("java.lang.IllegalArgumentException",)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _innermost_input_cause(exc: BaseException) -> str | None:
    from py4j.protocol import Py4JJavaError  # pyspark's bridge: loads with pyspark only

    if not isinstance(exc, Py4JJavaError):
        return None
    try:
        cause = exc.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        if str(cause.getClass().getName()) not in _INPUT_CAUSES:
            return None
        return _first_line(str(cause.getMessage() or cause.toString()))
    except Exception:  # the JVM is gone: this is not about the input
        return None


def spark_input_complaint(exc: BaseException) -> str | None:
    """Spark's sentence about the input when ``exc`` is Spark rejecting it, else None."""
    from pyspark.errors.exceptions.captured import AnalysisException, IllegalArgumentException

    if isinstance(exc, AnalysisException | IllegalArgumentException):
        return _first_line(str(exc)) or type(exc).__name__
    return _innermost_input_cause(exc)


@contextmanager
def input_errors_from_spark(what: str) -> Iterator[None]:
    """Re-raise Spark's rejections of the input as InvalidInputError: "``what``: ..."."""
    try:
        yield
    except Exception as exc:
        complaint = spark_input_complaint(exc)
        if complaint is None:
            raise
        # from None: Spark's sentence is the useful part; the JVM stack only buries it.
        raise InvalidInputError(f"{what}: {complaint}") from None
