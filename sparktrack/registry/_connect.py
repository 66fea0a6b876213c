"""The registry plugs into the layers below it, which never import it.

Models resolve ``models:/`` URIs and register models (``log_model(registered_model_name=
...)``) through ``sparktrack.models.connect_registry``; the deprecated
``TrackingClient.registry`` goes through ``sparktrack.tracking.provide_registry``.
"""

from __future__ import annotations

from sparktrack.models import connect_registry
from sparktrack.registry._client import RegistryClient
from sparktrack.tracking import provide_registry

__all__ = ["connect"]


def connect() -> None:
    """Give models and tracking the registry: ``RegistryClient(client)`` for a client."""
    connect_registry(RegistryClient)
    provide_registry(RegistryClient)
