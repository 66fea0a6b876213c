"""The route table: each MLflow REST endpoint is a plain function of the request's fields.

Handlers take the server's context and the request's fields (the JSON body of a POST,
PATCH or DELETE, the query string of a GET; path parameters merged in) and return the
JSON answer as a dict; they raise sparktrack's errors, which ``_errors`` answers with
MLflow's codes. They know nothing of FastAPI, so they are tested by calling them, and
``_app`` serves every endpoint under both ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow``
(MLflow's UI calls the second).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_server._context import ServerContext

__all__ = ["Endpoint", "Fields", "Handler"]


class Fields:
    """A request's fields, read and checked the way MLflow's server reads them.

    GET requests carry them in the query string (a repeated key is a list:
    ``order_by=a&order_by=b``), the others in a JSON object body, where each field must
    have its protobuf type: a number where a string is expected is refused, as MLflow
    refuses it, with MLflow's wording ("Invalid value 31 for parameter 'run_id'
    supplied", "Missing value for required parameter 'key'"), which its clients and
    tests look for.

    Args:
        values: Field name to value (a list where the query string repeated the key).
        where: What the fields came from, for messages ("runs/get").
        query: True when the values come from a query string (every value a string).
    """

    def __init__(self, values: Mapping[str, Any], where: str, *, query: bool = False) -> None:
        self._values = dict(values)
        self.where = where
        self.query = query

    def __contains__(self, name: str) -> bool:
        return self._values.get(name) is not None

    def raw(self, name: str) -> Any:
        """The value as sent, or None."""
        return self._values.get(name)

    def invalid(self, name: str, value: Any, why: str = "") -> InvalidInputError:
        """The error for a value of the wrong type or range, in MLflow's words."""
        shown = json.dumps(value, default=str)
        return InvalidInputError(
            f"{self.where}: Invalid value {shown} for parameter '{name}' supplied"
            + (f": {why}" if why else "")
        )

    def _last(self, name: str) -> Any:
        value = self._values.get(name)
        if isinstance(value, list) and self.query:
            return value[-1] if value else None
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        """A string field (the last one when a query string repeated it)."""
        value = self._last(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.invalid(name, value, "expected a string")
        return value

    def required(self, name: str) -> str:
        """A string field that must be present and non-empty."""
        value = self.text(name)
        if not value:
            raise InvalidInputError(f"{self.where}: Missing value for required parameter '{name}'")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An integer field (MLflow's JSON sends int64 as strings or numbers)."""
        raw = self._last(name)
        if raw is None or raw == "":
            return default
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise self.invalid(name, raw, "expected an integer")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise self.invalid(name, raw, "expected an integer") from None

    def number(self, name: str) -> float | None:
        """A number field (``NaN`` and ``Infinity`` arrive as strings)."""
        raw = self._last(name)
        if raw is None:
            return None
        if isinstance(raw, (bool, list, dict)):
            raise self.invalid(name, raw, "expected a number")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise self.invalid(name, raw, "expected a number") from None

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean field (``true``/``false`` in a query string)."""
        raw = self._last(name)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
            return raw.lower() in ("true", "1")
        raise self.invalid(name, raw, "expected true or false")

    def many(self, name: str) -> list[Any]:
        """A repeated field: [] when absent.

        A query string may give one value (a one-item list); a JSON body must give an
        array.
        """
        raw = self._values.get(name)
        if raw is None:
            return []
        if isinstance(raw, list):
            return raw
        if self.query:
            return [raw]
        raise self.invalid(name, raw, "expected an array")


Handler = Callable[[ServerContext, Fields], Mapping[str, Any]]
"""An endpoint's function: the context and the request's fields in, the JSON answer out."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One MLflow REST endpoint.

    Attributes:
        method: ``GET``, ``POST``, ``PATCH`` or ``DELETE``.
        path: The path under ``/api/2.0/mlflow``, with FastAPI-style path parameters
            (``/runs/create``, ``/logged-models/{model_id}``).
        handler: What answers it.
        writes: True when it changes the store.
    """

    method: str
    path: str
    handler: Handler
    writes: bool
