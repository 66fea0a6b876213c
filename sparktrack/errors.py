"""The one exception tree of sparktrack.

    SparktrackError                 every error sparktrack raises on purpose
     ├── InvalidInputError          a key, value, name or argument was rejected
     │    ├── ParamConflictError    a param was logged again with another value
     │    ├── AlreadyExistsError    an experiment or registered model of that name exists
     │    └── ScoringLogSchemaError a scoring log's column got values of another type
     ├── NotFoundError              an experiment, run, artifact or table does not exist
     ├── RunStateError              the operation does not fit the run's state
     ├── ConfigurationError         the environment (Spark, Delta, Java, store URI) is not usable
     ├── StoreError                 the store could not be read or written
     ├── SweepFailedError           every trial of a sweep failed: nothing to return
     └── SearchSyntaxError          a filter_string / order_by could not be parsed

Messages name the offending key, value and run id, and say what to do.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ConfigurationError",
    "InvalidInputError",
    "NotFoundError",
    "ParamConflictError",
    "RunStateError",
    "ScoringLogSchemaError",
    "SearchSyntaxError",
    "SparktrackError",
    "StoreError",
    "SweepFailedError",
]


class SparktrackError(Exception):
    """Base of every error sparktrack raises on purpose."""


class InvalidInputError(SparktrackError, ValueError):
    """A key, value, name or argument was rejected by validation."""


class ParamConflictError(InvalidInputError):
    """A param already logged in a run was logged again with a different value."""


class ScoringLogSchemaError(InvalidInputError):
    """Scored rows have a column whose type the scoring log's column cannot take.

    Args:
        message: Which column, its type in the table and in the rows, and what to do.
        column: The column's name.

    Attributes:
        column: The column's name.
    """

    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(message)
        self.column = column


class AlreadyExistsError(InvalidInputError):
    """An experiment or registered model of that name already exists."""


class NotFoundError(SparktrackError, LookupError):
    """An experiment, run, artifact or table does not exist."""


class RunStateError(SparktrackError):
    """The operation does not fit the run's current state."""


class ConfigurationError(SparktrackError):
    """Spark, Delta, Java or the store URI is not set up as needed."""


class StoreError(SparktrackError):
    """The store could not be read or written."""


class SweepFailedError(SparktrackError):
    """Every trial of a sweep failed; the message carries the first trial's error.

    Args:
        message: What failed, with the first trial's error.
        run_id: The sweep's run, ended FAILED.
        first_error: The first failed trial's whole traceback, as in its run's
            ``error.txt``.

    Attributes:
        run_id: The sweep's run, ended FAILED.
        first_error: The first failed trial's whole traceback.
    """

    def __init__(self, message: str, *, run_id: str, first_error: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.first_error = first_error


class SearchSyntaxError(InvalidInputError):
    """A filter_string or order_by clause could not be parsed.

    Args:
        message: What is wrong, quoting the text, its position and what was expected.
        position: The 0-based position in the text where parsing failed, when there
            is one (a tool can point at it).

    Attributes:
        position: The 0-based position where parsing failed, or None.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
