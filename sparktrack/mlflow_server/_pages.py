"""Page tokens: MLflow's own spelling, base64 of ``{"offset": n}``.

A page is a slice of a deterministic order (each search sorts with a unique last key),
so an offset is enough; a token from MLflow's SQL store has the same form.
"""

from __future__ import annotations

import base64
import binascii
import json

from sparktrack.errors import InvalidInputError

__all__ = ["next_token", "offset_of"]


def offset_of(token: str | None, where: str) -> int:
    """Where a page starts: 0 without a token.

    Raises:
        InvalidInputError: The token is not one this server (or MLflow's) handed out.
    """
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(token.encode(), validate=True))
        offset = decoded["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidInputError(
            f"{where}: invalid page_token {token!r}: pass the next_page_token of the "
            "previous answer"
        ) from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"{where}: invalid page_token {token!r}: bad offset {offset!r}")
    return offset


def next_token(offset: int, page_size: int, total: int) -> str | None:
    """The token of the page after ``[offset, offset + page_size)``; None when it is the last."""
    end = offset + page_size
    if end >= total:
        return None
    return base64.b64encode(json.dumps({"offset": end}).encode()).decode()
