"""What every handler works with: the store's tracking and registry clients."""

from __future__ import annotations

import dataclasses

from sparktrack.registry import RegistryClient
from sparktrack.tracking import TrackingClient

__all__ = ["ServerContext"]


@dataclasses.dataclass(frozen=True)
class ServerContext:
    """The server's view of one store, shared by every request.

    Attributes:
        tracking: The tracking client every run and experiment endpoint goes through
            (the same code paths as ``sparktrack``'s own API).
        registry: The registry over the same store.
    """

    tracking: TrackingClient
    registry: RegistryClient
