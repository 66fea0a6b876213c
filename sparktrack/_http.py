"""What sparktrack's HTTP servers share: the listening socket, its URL, logging, body limits.

``sparktrack serve`` (the scoring server) and ``sparktrack ui`` (the tracking UI) are
independent packages of one layer; this module sits below both so they bind, announce,
log and bound request bodies the same way. FastAPI and uvicorn are optional extras:
nothing here imports them at import time.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import sys
from typing import TYPE_CHECKING, Any

from sparktrack.errors import ConfigurationError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "LOOPBACK_HOSTS",
    "bearer_token_ok",
    "bind",
    "configure_logging",
    "error_body",
    "read_limited_body",
    "require_web_extra",
    "serve_on",
    "trust_loopback_only",
    "url_of",
]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
"""Hosts only this machine can reach: anything else is announced with a warning."""


def require_web_extra(what: str, extra: str) -> None:
    """Check that FastAPI and uvicorn are installed.

    Args:
        what: What needs them, for the message ("the model server").
        extra: The extra that installs them ("serve", "ui").

    Raises:
        ConfigurationError: One of them is missing; the message says what to install.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"{what} needs fastapi and uvicorn, which are not installed "
            f"({exc.name} is missing): pip install 'sparktrack[{extra}]'"
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port).

    Raises:
        ConfigurationError: The address cannot be listened on.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc}); choose another --port or --host"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The ``http://host:port`` URL a listening socket answers on."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def configure_logging() -> None:
    """Send the server's messages to stderr, unless the application set up logging."""
    logger = logging.getLogger("sparktrack")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def error_body(code: str, message: str) -> bytes:
    """The JSON body of an error answer: ``{"error_code": ..., "message": ...}``."""
    return json.dumps({"error_code": code, "message": message}).encode()


async def read_limited_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to exceed ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading anything; a
    body without one is read in chunks and abandoned once it passes the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def bearer_token_ok(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>``."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Bytes: compare_digest refuses str with non-ASCII characters, which a header may hold.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    )


def trust_loopback_only(
    app: Any, host: str, token: str | None, *, exposes: str, log: logging.Logger
) -> None:
    """On loopback, refuse requests naming another host; elsewhere warn without a token.

    A web page cannot rebind a name of its own to a server that answers only requests
    naming a loopback host.

    Args:
        app: The Starlette/FastAPI app about to be served.
        host: The address it listens on.
        token: Its bearer token, if any.
        exposes: What anyone reaching it could do ("reads the store").
        log: The server's logger, for the warning.
    """
    from starlette.middleware.trustedhost import TrustedHostMiddleware  # the web extras

    if host in LOOPBACK_HOSTS:
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "::1", "[::1]"]
        )
    elif token is None:
        log.warning("listening on %s without a token: anyone who can reach it %s", host, exposes)


def serve_on(app: Any, sock: socket.socket, *, access_log: bool) -> None:
    """Serve ``app`` with uvicorn on a listening socket until interrupted, then close it."""
    import uvicorn  # the web extras: loaded only when a server starts

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="info",
            access_log=access_log,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
