"""Decision trees and tree ensembles for the local scorer (not compiled yet)."""

from __future__ import annotations

from collections.abc import Callable

from sparktrack.models._local_frame import Stage
from sparktrack.models._sparkml_reader import SavedStage

__all__ = ["COMPILERS"]

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {}
"""The tree models compiled here, by the JVM class Spark ML saves them under."""
