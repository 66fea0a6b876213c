"""Page tokens of the search endpoints: where the next page starts, opaque to clients.

MLflow's client passes ``next_page_token`` back unchanged and stops when a response
has none. A token here is the offset of the next item in the search's ordered result,
with the search's filter and order, so a token is refused if used with another search.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sparktrack.errors import InvalidInputError

__all__ = ["page_of"]

T = TypeVar("T")


def _token(offset: int, search: str) -> str:
    data = json.dumps({"offset": offset, "search": search}).encode()
    return base64.urlsafe_b64encode(data).decode()


def _offset(token: str | None, search: str, where: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["offset"])
        same = data["search"] == search
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(
            f"{where}: page_token {token!r} is not one this server gave; pass the "
            "next_page_token of the previous page unchanged"
        ) from None
    if not same or offset < 0:
        raise InvalidInputError(
            f"{where}: page_token {token!r} belongs to another search (filter or order "
            "differ); start again without a page_token"
        )
    return offset


def page_of(
    items: Sequence[T],
    *,
    max_results: int,
    page_token: str | None,
    search: Any,
    where: str,
) -> tuple[list[T], str | None]:
    """One page of an ordered result, and the token of the next page (None: the last).

    Args:
        items: The whole result, in order.
        max_results: The page's size (at least 1).
        page_token: The token of the previous page's answer, or None for the first page.
        search: What identifies the search (its filter and order), JSON-serialisable.
        where: The endpoint, for messages.

    Raises:
        InvalidInputError: ``max_results`` is not positive, or the token is not one of
            this search's.
    """
    if max_results < 1:
        raise InvalidInputError(
            f"{where}: max_results must be a positive integer, got {max_results}"
        )
    key = json.dumps(search, sort_keys=True, default=str)
    start = _offset(page_token, key, where)
    end = start + max_results
    page = list(items[start:end])
    return page, (_token(end, key) if end < len(items) else None)
