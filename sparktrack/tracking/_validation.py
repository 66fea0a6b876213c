"""Validation of everything users log (MLflow's limits, clearer messages).

Every rejection is an InvalidInputError naming the key, the value and the run, and
nothing is written for the rejected call. Checks on the hot path are cached: a key
that passed once is not matched against the pattern again.
"""

from __future__ import annotations

import numbers
import posixpath
import re
import time
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.tracking._entities import RunStatus

__all__ = [
    "MAX_EXPERIMENT_NAME",
    "MAX_KEY",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "check_end",
    "check_experiment_name",
    "check_key",
    "check_metric",
    "check_param_value",
    "check_run_id",
    "check_tag_value",
    "now_ms",
]

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_EXPERIMENT_NAME = 500
_KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_\-]{1,256}$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_valid_keys: set[str] = set()


def now_ms() -> int:
    """The wall-clock time, as runs and events record it (internal use).

    Returns:
        Milliseconds since the epoch.
    """
    return time.time_ns() // 1_000_000


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_key(kind: str, key: Any, run_id: str | None) -> str:
    """``key`` if it is a valid param, metric or tag key (internal use).

    Args:
        kind: What the key names, for the message (``"param"``, ``"tag"``...).
        key: The key to check.
        run_id: The run it is logged to, for the message; None if none.

    Returns:
        ``key``, unchanged.

    Raises:
        InvalidInputError: The key is empty, too long, has characters other than letters,
            digits, ``_-. :/``, or is not a normalised relative path.
    """
    if key in _valid_keys:
        return key
    where = f" in run {run_id}" if run_id else ""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"{kind} key {_short(key)}{where} must be a non-empty string")
    if len(key) > MAX_KEY:
        raise InvalidInputError(
            f"{kind} key {_short(key)}{where} is {len(key)} characters long; the limit is {MAX_KEY}"
        )
    if not _KEY_PATTERN.match(key):
        raise InvalidInputError(
            f"{kind} key {_short(key)}{where} has characters other than letters, digits, "
            "'_', '-', '.', ' ', ':' and '/'; rename it"
        )
    if key.startswith("/") or posixpath.normpath(key) != key or ".." in key.split("/"):
        raise InvalidInputError(
            f"{kind} key {_short(key)}{where} must be a normalised relative path "
            "(no leading '/', no '..', no '//' or trailing '/')"
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def _check_text_value(kind: str, key: str, value: Any, limit: int, run_id: str | None) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInputError(
            f"{kind} {key!r} in run {run_id} has a value of {len(text)} characters "
            f"({_short(text, 40)}); the limit is {limit}. Log long text with log_text instead."
        )
    return text


def check_param_value(key: str, value: Any, run_id: str | None) -> str:
    return _check_text_value("param", key, value, MAX_PARAM_VALUE, run_id)


def check_tag_value(key: str, value: Any, run_id: str | None) -> str:
    return _check_text_value("tag", key, value, MAX_TAG_VALUE, run_id)


def check_metric(
    key: Any, value: Any, step: Any, timestamp: Any, run_id: str | None
) -> tuple[str, float, int, int]:
    """A validated ``(key, value, step, timestamp)``; NaN and ±inf are kept as they are."""
    key = check_key("metric", key, run_id)
    # float is checked first: it is by far the most common value type.
    if type(value) is float:
        number = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"metric {key!r} in run {run_id} got value {_short(value)} of type "
            f"{type(value).__name__}; metric values must be int or float (bool is rejected)"
        )
    else:
        number = float(value)
    step = 0 if step is None else step
    if (
        isinstance(step, bool)
        or not isinstance(step, numbers.Integral)
        or not (_INT64_MIN <= int(step) <= _INT64_MAX)
    ):
        raise InvalidInputError(
            f"metric {key!r} in run {run_id} got step {_short(step)}; "
            "steps must be integers within int64"
        )
    if timestamp is None:
        timestamp = now_ms()
    elif (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, numbers.Integral)
        or not (0 <= int(timestamp) <= _INT64_MAX)
    ):
        raise InvalidInputError(
            f"metric {key!r} in run {run_id} got timestamp {_short(timestamp)}; timestamps "
            "are integer milliseconds since the epoch, >= 0"
        )
    return key, number, int(step), int(timestamp)


def check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_PATTERN.match(run_id):
        raise InvalidInputError(
            f"run id {_short(run_id)} is not a valid run id (letters, digits, '_' and '-')"
        )
    return run_id


def check_experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"experiment name {_short(name)} must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise InvalidInputError(
            f"experiment name {_short(name)} is {len(name)} characters long; "
            f"the limit is {MAX_EXPERIMENT_NAME}"
        )
    return name


def check_end(status: Any, end_time: Any, run_id: str | None) -> tuple[str, int]:
    """A validated ``(status, end_time)`` for ending a run; ``end_time`` None means now."""
    if status not in RunStatus.TERMINAL:
        raise InvalidInputError(
            f"run {run_id} cannot end with status {_short(status)}; use one of "
            f"{list(RunStatus.TERMINAL)}"
        )
    if end_time is None:
        return status, now_ms()
    if (
        isinstance(end_time, bool)
        or not isinstance(end_time, numbers.Integral)
        or not (0 <= int(end_time) <= _INT64_MAX)
    ):
        raise InvalidInputError(
            f"run {run_id} got end_time {_short(end_time)}; end times are integer "
            "milliseconds since the epoch, >= 0"
        )
    return status, int(end_time)
