"""The hook through which monitoring profiles a model's training data at log time.

Monitoring builds on models (it loads them), so models cannot import it; like the
registry (``_registry_hook``), it connects itself here when imported, which
``import sparktrack`` always does. Without it, ``training_data=`` is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sparktrack.models._signature import ModelSignature
from sparktrack.models._uri import ModelLocation

__all__ = ["Profiler", "connect_profiler", "profile_logged_model"]

Profiler = Callable[[Any, Any, ModelLocation, ModelSignature | None], None]
"""``profiler(spark_model, training_data, location, signature)``: writes the profile
into the model folder at ``location``; never raises."""

_profiler: Profiler | None = None


def connect_profiler(profiler: Profiler) -> None:
    """Give models the profiler of training data (internal use: monitoring calls this).

    Args:
        profiler: ``profiler(spark_model, training_data, location, signature)``, which
            writes ``profile.json`` into the model folder and never raises.
    """
    global _profiler
    _profiler = profiler


def profile_logged_model(
    spark_model: Any,
    training_data: Any,
    location: ModelLocation,
    signature: ModelSignature | None,
) -> None:
    """Profile ``training_data`` into the just-written model folder, if monitoring is there."""
    if _profiler is not None and training_data is not None:
        _profiler(spark_model, training_data, location, signature)
