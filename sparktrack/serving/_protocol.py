"""MLflow's scoring protocol: request bodies to pandas, predictions to JSON.

Accepted bodies (``POST /invocations``)::

    application/json  {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
                      {"dataframe_records": [{"col": value, ...}, ...]}
                      {"instances": ...} or {"inputs": ...}: a list of records, a dict
                      of column lists, or a list of rows in the model's column order
    text/csv          a header row naming the columns, then one line per row

The answer is ``{"predictions": [...]}``: one value per row, or one object per row
when the model has several outputs. Bad input raises :class:`RequestError`, which the
app turns into ``{"error_code": "BAD_REQUEST", "message": ...}``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CSV",
    "INPUT_KEYS",
    "JSON",
    "RequestError",
    "charset",
    "check_columns",
    "encode_predictions",
    "media_type",
    "parse_body",
]

JSON = "application/json"
CSV = "text/csv"
INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_EXAMPLE = '{"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}'


class RequestError(Exception):
    """A request the server refuses: HTTP status, MLflow error code and a message.

    Args:
        message: What was wrong with the request, naming the column or key.
        status: The HTTP status to answer with.
        error_code: MLflow's error code for the answer's body.
    """

    def __init__(self, message: str, status: int = 400, error_code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code

    def payload(self) -> dict[str, str]:
        """The JSON body of the answer.

        Returns:
            ``{"error_code": ..., "message": ...}``, as MLflow's server answers.
        """
        return {"error_code": self.error_code, "message": self.message}


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, lower-cased; None when absent."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


# -- request bodies ------------------------------------------------------------------------
def parse_body(media: str, body: bytes, columns: Sequence[str] | None) -> pd.DataFrame:
    """Read the rows of an ``/invocations`` request body.

    Args:
        media: The body's media type: ``"application/json"`` (``dataframe_split``,
            ``dataframe_records``, ``instances`` or ``inputs``) or ``"text/csv"`` (a
            header row, then the rows).
        body: The body's bytes, UTF-8.
        columns: The names of the values of positional rows (the signature's inputs);
            None when the model names none.

    Returns:
        The rows; JSON ``null`` and empty CSV fields are missing values.

    Raises:
        RequestError: The body is empty, malformed, has no rows or names a column
            twice; the message says what to send.
    """
    if not body.strip():
        raise RequestError(
            "the request body is empty; send JSON such as "
            f"{_EXAMPLE} (Content-Type: application/json) or CSV with a header row "
            "(Content-Type: text/csv)"
        )
    frame = _parse_csv(body, columns) if media == CSV else _parse_json(body, columns)
    if len(frame.index) == 0:
        raise RequestError("the request has no rows; send at least one row to score")
    duplicates = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicates:
        raise RequestError(f"the request names columns {duplicates} more than once")
    return frame


def _looks_like_a_value(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


def _parse_csv(body: bytes, columns: Sequence[str] | None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise RequestError(
            f"the CSV body could not be parsed ({exc}); send a header row of column "
            "names, then one line of comma-separated values per row"
        ) from None
    # pandas reads the first line as the header whatever it holds: a body of data rows
    # alone would otherwise lose its first row and fail on "unknown columns 1.5, 2.0".
    names = [str(c) for c in frame.columns]
    headerless = (
        not any(name in columns for name in names)
        if columns
        else all(_looks_like_a_value(name) for name in names)
    )
    if headerless:
        first = body.decode("utf-8", errors="replace").strip().splitlines()[0][:200]
        expected = f": {','.join(columns)}" if columns else ""
        found = (
            "names none of the model's input columns"
            if columns
            else "holds values, not column names"
        )
        raise RequestError(
            f"the CSV body needs a header row naming the columns{expected}; its first line "
            f"{first!r} {found}. Send the header line, then one line of comma-separated "
            "values per row"
        )
    return frame


def _parse_json(body: bytes, columns: Sequence[str] | None) -> pd.DataFrame:
    try:
        document = json.loads(body)
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request body is not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}; send for instance {_EXAMPLE}"
        ) from None
    if not isinstance(document, dict):
        raise RequestError(
            f"the JSON body must be an object with one of the keys {list(INPUT_KEYS)}, got "
            f"a {_json_kind(document)}; send for instance {_EXAMPLE}"
        )
    keys = [k for k in INPUT_KEYS if k in document]
    others = [k for k in document if k not in INPUT_KEYS and k != "params"]
    if others:
        raise RequestError(
            f"unknown key(s) {others} in the JSON body; use exactly one of {list(INPUT_KEYS)}"
        )
    if len(keys) != 1:
        found = f"got {keys}" if keys else "got none"
        raise RequestError(
            f"the JSON body must have exactly one of the keys {list(INPUT_KEYS)}, {found}; "
            f"send for instance {_EXAMPLE}"
        )
    if document.get("params"):
        raise RequestError(
            "the key 'params' is not supported: Spark models take no inference params; remove it"
        )
    key = keys[0]
    value = document[key]
    if key == "dataframe_split":
        return _split_frame(value, columns)
    if key == "dataframe_records":
        return _records_frame(value, key)
    return _tensor_frame(value, key, columns)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else type(value).__name__


def _split_frame(value: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if not isinstance(value, dict):
        raise RequestError(
            "'dataframe_split' must be an object with 'columns' and 'data', got a "
            f"{_json_kind(value)}; e.g. {_EXAMPLE}"
        )
    unknown = [k for k in value if k not in ("columns", "data", "index")]
    if unknown:
        raise RequestError(
            f"unknown key(s) {unknown} in 'dataframe_split'; it takes 'columns', 'data' "
            "and optionally 'index'"
        )
    data = value.get("data")
    if not isinstance(data, list):
        raise RequestError(
            f"'dataframe_split.data' must be a list of rows, got {_json_kind(data)}; "
            f"e.g. {_EXAMPLE}"
        )
    names = value.get("columns")
    if names is None:
        names = _positional_names(columns, "dataframe_split without 'columns'")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise RequestError("'dataframe_split.columns' must be a list of column names (strings)")
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise RequestError(
                f"'dataframe_split.data[{i}]' must be a list of values, got a {_json_kind(row)}"
            )
        if len(row) != len(names):
            raise RequestError(
                f"'dataframe_split.data[{i}]' has {len(row)} values but there are "
                f"{len(names)} columns {names}; send one value per column"
            )
    return pd.DataFrame(data, columns=names) if data else pd.DataFrame(columns=names)


def _records_frame(value: Any, key: str) -> pd.DataFrame:
    if not isinstance(value, list):
        raise RequestError(
            f"'{key}' must be a list of objects (one per row), got a {_json_kind(value)}"
        )
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            raise RequestError(
                f"'{key}[{i}]' must be an object of column -> value, got a {_json_kind(record)}"
            )
    return pd.DataFrame.from_records(value) if value else pd.DataFrame()


def _positional_names(columns: Sequence[str] | None, what: str) -> list[str]:
    if not columns:
        raise RequestError(
            f"{what} gives values by position, but the model has no signature naming its "
            "input columns; send column names (dataframe_split with 'columns', or records)"
        )
    return list(columns)


def _tensor_frame(value: Any, key: str, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(value, dict):
        # Columnar: {"col": [v1, v2], ...}, or one row: {"col": v, ...}.
        lists = [isinstance(v, list) for v in value.values()]
        if lists and not any(lists):
            return pd.DataFrame([value])
        lengths = {len(v) for v in value.values() if isinstance(v, list)}
        if not all(lists) or len(lengths) > 1:
            raise RequestError(
                f"'{key}' as an object must map every column to a list of values of the "
                "same length (or every column to one value, for one row)"
            )
        return pd.DataFrame(value)
    if not isinstance(value, list):
        raise RequestError(
            f"'{key}' must be a list of rows or an object of columns, got a {_json_kind(value)}"
        )
    if not value:
        return pd.DataFrame()
    if all(isinstance(row, dict) for row in value):
        return _records_frame(value, key)
    names = _positional_names(columns, f"'{key}' as a list of lists")
    if all(isinstance(row, list) for row in value):
        for i, row in enumerate(value):
            if len(row) != len(names):
                raise RequestError(
                    f"'{key}[{i}]' has {len(row)} values but the model reads {len(names)} "
                    f"columns {names}, in that order"
                )
        return pd.DataFrame(value, columns=names)
    if len(names) == 1 and not any(isinstance(row, dict | list) for row in value):
        return pd.DataFrame({names[0]: value})
    raise RequestError(
        f"'{key}' must be a list of objects (records) or a list of lists (rows in the "
        f"model's column order {names}), not a mix"
    )


def check_columns(frame: pd.DataFrame, accepted: Sequence[str] | None, drop_extra: bool) -> None:
    """Refuse columns the model does not read, unless ``drop_extra``.

    A misspelt column would otherwise pass unnoticed when it is optional.
    """
    if accepted is None:
        return
    known = set(accepted)
    unknown = [str(c) for c in frame.columns if c not in known]
    if unknown and not drop_extra:
        raise RequestError(
            f"unknown input column(s) {unknown}: the model reads {list(accepted)}. Remove "
            "them, or start the server with --ignore-extra-columns to drop them as MLflow does"
        )


# -- responses -----------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    """NaN and infinities as null (JSON has neither); numpy scalars as Python values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def encode_predictions(result: pd.Series | pd.DataFrame) -> bytes:
    """Encode predictions as the answer to ``/invocations``.

    Args:
        result: What the model predicted: a Series (one value per row) or a DataFrame
            (one record per row).

    Returns:
        The JSON ``{"predictions": [...]}``, UTF-8; NaN and infinities become ``null``.
    """
    if isinstance(result, pd.DataFrame):
        predictions: Any = result.to_dict(orient="records")
    else:
        predictions = result.tolist()
    try:
        text = json.dumps({"predictions": predictions}, allow_nan=False)
    except (ValueError, TypeError):  # NaN, or numpy values inside lists
        text = json.dumps({"predictions": _jsonable(predictions)}, allow_nan=False)
    return text.encode()
