"""What every request handler of one UI app shares: the clients and the app's settings."""

from __future__ import annotations

from dataclasses import dataclass

from sparktrack.errors import SparktrackError
from sparktrack.registry import RegistryClient
from sparktrack.tracking import TrackingClient

__all__ = ["UiState", "WritesDisabledError"]


class WritesDisabledError(SparktrackError):
    """A change was asked of a UI started read-only (answered 403)."""


@dataclass(frozen=True)
class UiState:
    """The store the UI shows and what it allows.

    Attributes:
        client: The tracking client every read and write goes through.
        registry: The registry of the same store.
        allow_writes: Whether registry changes and run renames/tags/deletes are allowed.
        token: The bearer token every API request must carry, or None.
    """

    client: TrackingClient
    registry: RegistryClient
    allow_writes: bool
    token: str | None

    def check_writes(self) -> None:
        """Refuse a change unless the UI was started with writes allowed."""
        if not self.allow_writes:
            raise WritesDisabledError(
                "this UI is read-only; restart it with `sparktrack ui --allow-writes` "
                "to change runs and the registry from it"
            )
