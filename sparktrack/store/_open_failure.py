"""What went wrong opening a store, in one paragraph a user can act on.

delta-rs reports object-store failures as a chain of causes, one per line, drawn with
``↳`` and coloured with ANSI codes for a terminal. The chain is flattened to one line,
and a failure to find credentials, the usual first hurdle with ``s3a://`` stores,
says which settings provide them (as does an ``http://`` endpoint without
``AWS_ALLOW_HTTP``).
"""

from __future__ import annotations

import re

__all__ = ["open_failure_message"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CREDENTIALS = re.compile(r"credential", re.IGNORECASE)
# object_store refuses http:// endpoints (a local MinIO, a test server) unless allowed.
# (delta-rs says so; obstore, which checks conditional writes, reports a "BadScheme".)
_PLAIN_HTTP = re.compile(r"URL scheme is not allowed|BadScheme", re.IGNORECASE)
# obstore appends the error's Rust debug form after its message.
_DEBUG_SOURCE = "\n\nDebug source:"
_AWS_SCHEMES = ("s3://", "s3a://", "s3n://")


def _flattened(exc: BaseException) -> str:
    text = str(exc).split(_DEBUG_SOURCE, 1)[0]
    lines = [_ANSI.sub("", line).strip().lstrip("↳").strip() for line in text.splitlines()]
    return ": ".join(line for line in lines if line) or type(exc).__name__


def _mentions(pattern: re.Pattern[str], exc: BaseException) -> bool:
    return bool(pattern.search(str(exc)))


def open_failure_message(uri: str, exc: BaseException) -> str:
    detail = _flattened(exc)
    if uri.startswith(_AWS_SCHEMES) and _CREDENTIALS.search(detail):
        return (
            f"cannot open store {uri!r}: no AWS credentials were found. Set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION), or AWS_PROFILE, "
            "in the environment of the process that opens the store, or run it where an "
            f"instance role provides them (delta-rs: {detail})"
        )
    if uri.startswith(_AWS_SCHEMES) and _mentions(_PLAIN_HTTP, exc):
        return (
            f"cannot open store {uri!r}: its endpoint (AWS_ENDPOINT_URL) is plain http, "
            "which delta-rs refuses unless AWS_ALLOW_HTTP=true is set in the environment "
            f"of the process that opens the store (delta-rs: {detail})"
        )
    return (
        f"cannot open store {uri!r}: {detail}. Check that the location exists, is "
        "writable and (for cluster URIs) that its credentials are set."
    )
