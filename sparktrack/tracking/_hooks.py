"""Where the layers above tracking plug in, so that tracking never imports them.

Tracking sits below autologging and the model registry (see the layers in
``pyproject.toml``), yet two of its features concern them:

* ``flush()`` must wait for what autolog's background worker still has to log:
  autologging registers that wait with ``before_flush``.
* ``TrackingClient.registry`` (deprecated) returns the registry of the client's
  store: the registry package registers its constructor with ``provide_registry``
  when it is imported, which ``import sparktrack`` always does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sparktrack.errors import ConfigurationError

__all__ = ["before_flush", "provide_registry", "registry_of", "run_before_flush"]

_lock = threading.Lock()
_before_flush: list[Callable[[], None]] = []
# Called with a TrackingClient (not named here: the client module imports this one).
_registry_factory: Callable[[Any], Any] | None = None


def before_flush(hook: Callable[[], None]) -> None:
    """Have ``sparktrack.flush()`` call ``hook`` before it commits (internal use).

    For the layers above tracking: autologging registers the wait for its background
    queue here, so that what autolog logs after a fit is committed by ``flush()``.
    Registering the same hook again changes nothing.

    Args:
        hook: A function without arguments; it runs in the thread that calls ``flush()``.
    """
    with _lock:
        if hook not in _before_flush:
            _before_flush.append(hook)


def run_before_flush() -> None:
    """Call every hook registered with ``before_flush``, in the order of registration."""
    with _lock:
        hooks = list(_before_flush)
    for hook in hooks:
        hook()


def provide_registry(factory: Callable[[Any], Any]) -> None:
    """Set what the deprecated ``TrackingClient.registry`` builds (internal use).

    The model registry calls this when it is imported, with its ``RegistryClient``.

    Args:
        factory: Builds the registry of a tracking client's store.
    """
    global _registry_factory
    _registry_factory = factory


def registry_of(client: Any) -> Any:
    """The registry ``provide_registry``'s factory builds for ``client``.

    Raises:
        ConfigurationError: No registry was provided (``sparktrack.registry`` was never
            imported, which ``import sparktrack`` does).
    """
    factory = _registry_factory
    if factory is None:
        raise ConfigurationError(
            "no model registry is loaded: import sparktrack (or sparktrack.registry) and "
            "use sparktrack.registry.RegistryClient(client)"
        )
    return factory(client)
