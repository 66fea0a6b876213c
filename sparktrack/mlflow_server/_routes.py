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
from collections.abc import Callable, Mapping
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_server._context import ServerContext

__all__ = ["Endpoint", "Fields", "Handler"]


class Fields:
    """A request's fields, read the way MLflow's server reads them.

    GET requests carry them in the query string (a repeated key is a list:
    ``order_by=a&order_by=b``); the others in a JSON object body.

    Args:
        values: Field name to value (a list where the query string repeated the key).
        where: What the fields came from, for messages ("runs/get").
    """

    def __init__(self, values: Mapping[str, Any], where: str) -> None:
        self._values = dict(values)
        self.where = where

    def __contains__(self, name: str) -> bool:
        return self._values.get(name) is not None

    def raw(self, name: str) -> Any:
        """The value as sent, or None."""
        return self._values.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        """A string field (the last one when a query string repeated it)."""
        value = self._values.get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            raise InvalidInputError(f"{self.where}: {name!r} must be a string, got {value!r}")
        return str(value)

    def required(self, name: str) -> str:
        """A string field that must be present and non-empty."""
        value = self.text(name)
        if not value:
            raise InvalidInputError(f"{self.where}: missing value for required field {name!r}")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An integer field (MLflow's JSON sends int64 as strings or numbers)."""
        raw = self._values.get(name)
        if isinstance(raw, list):
            raw = raw[-1] if raw else None
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{self.where}: {name!r} must be an integer, got {raw!r}"
            ) from None

    def number(self, name: str) -> float | None:
        """A number field (``NaN`` and ``Infinity`` arrive as strings)."""
        raw = self._values.get(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{self.where}: {name!r} must be a number, got {raw!r}"
            ) from None

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean field (``true``/``false`` in a query string)."""
        raw = self._values.get(name)
        if isinstance(raw, list):
            raw = raw[-1] if raw else None
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("true", "1")

    def many(self, name: str) -> list[Any]:
        """A repeated field: [] when absent, a one-item list for a lone value."""
        raw = self._values.get(name)
        if raw is None:
            return []
        return raw if isinstance(raw, list) else [raw]


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
