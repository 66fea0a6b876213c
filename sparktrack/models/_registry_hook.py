"""What models need from the model registry, which builds on models.

The registry checks that a URI holds a model folder before it registers it, so it
imports models, and models cannot import it back (see the layers in
``pyproject.toml``). Two things here need it: resolving a ``models:/`` URI
(``load_model``, ``spark_udf``) and ``log_model(registered_model_name=...)``. The
registry connects itself here when it is imported, which ``import sparktrack``
always does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sparktrack.errors import ConfigurationError

if TYPE_CHECKING:
    from sparktrack.tracking import TrackingClient

__all__ = ["ModelRegistry", "RegisteredVersion", "connect_registry", "registry_for"]


class RegisteredVersion(Protocol):
    """A registered model version, as far as models need to know it.

    ``sparktrack.registry.ModelVersion`` is one; models never build one themselves.
    """

    @property
    def version(self) -> int:
        """The version number."""
        ...

    @property
    def source(self) -> str:
        """Where the version's model folder is (a ``runs:/`` URI, a folder, a Hadoop URI)."""
        ...


class ModelRegistry(Protocol):
    """The registry of one tracking store, as far as models need it.

    ``sparktrack.registry.RegistryClient`` is one; ``connect_registry`` says how to
    build it for a tracking client.
    """

    def resolve(self, model_uri: str) -> RegisteredVersion:
        """Find the version a ``models:/`` URI points to now.

        Args:
            model_uri: ``models:/<name>/<version>``, ``models:/<name>/<stage>``,
                ``models:/<name>/latest`` or ``models:/<name>@<alias>``.

        Returns:
            The version; its ``source`` is where the model folder is.

        Raises:
            InvalidInputError: The URI cannot be read.
            NotFoundError: The model, version, alias or stage holder does not exist.
        """
        ...

    def register_model(self, model_uri: str, name: str) -> RegisteredVersion:
        """Register the model at ``model_uri`` as the next version of ``name``.

        The registered model is created if needed.

        Args:
            model_uri: ``runs:/<run_id>/<path>``, a ``models:/`` URI, a local folder or
                a Hadoop URI holding a model folder (an ``MLmodel`` file).
            name: The registered model.

        Returns:
            The new version.

        Raises:
            NotFoundError: No model folder is at ``model_uri``.
            InvalidInputError: The URI or the name is invalid.
        """
        ...


_factory: Callable[[TrackingClient], ModelRegistry] | None = None


def connect_registry(factory: Callable[[TrackingClient], ModelRegistry]) -> None:
    """Give models the model registry (internal use: the registry calls this).

    Args:
        factory: Builds the registry of a tracking client's store
            (``sparktrack.registry.RegistryClient``).
    """
    global _factory
    _factory = factory


def registry_for(client: TrackingClient) -> ModelRegistry:
    """The registry of ``client``'s store.

    Raises:
        ConfigurationError: The registry was never imported (``import sparktrack`` does).
    """
    if _factory is None:
        raise ConfigurationError(
            "models:/ URIs and registered_model_name= need the model registry: "
            "import sparktrack (or sparktrack.registry) first"
        )
    return _factory(client)
