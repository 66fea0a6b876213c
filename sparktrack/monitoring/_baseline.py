"""Baselines of logged models: ``profile``, reading ``profile.json``, log-time profiles.

``log_model(..., training_data=df)`` (and autolog, which passes the fit's data) calls
``profile_at_log_time`` through the hook ``sparktrack.models`` offers
(``connect_profiler``): models sit below monitoring and cannot import it. It runs after
the model folder is complete, so a failed profile leaves a whole model without one.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from sparktrack.config import load_settings
from sparktrack.errors import NotFoundError
from sparktrack.models import ModelLocation, ModelSignature, load_model, resolve_model_uri
from sparktrack.monitoring._profile import profile_frame
from sparktrack.monitoring._profile_format import PROFILE_FILE, Profile

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparktrack.tracking import TrackingClient

__all__ = ["ProfileWarning", "profile", "profile_at_log_time", "read_profile"]


class ProfileWarning(UserWarning):
    """A model was logged without its ``profile.json``: profiling its data failed."""


def profile(
    model_uri: str,
    df: DataFrame,
    *,
    label_col: str | None = None,
    client: TrackingClient | None = None,
) -> Profile:
    """Profile a model's training data and store it beside the model as ``profile.json``.

    Models logged with their training data (autolog, ``log_model(training_data=df)``)
    have one already; this profiles models logged before, or replaces a profile.

        sparktrack.monitoring.profile("models:/churn/3", train_df)

    Args:
        model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``,
            ``models:/<name>@<alias>``, a model folder or a Hadoop URI.
        df: The data the model was trained on (Spark), with the model's input columns.
        label_col: The label column; by default the one the model was trained on, when
            ``df`` has it (the profile then holds the model's training metrics).
        client: The store of ``runs:/`` and ``models:/`` URIs; by default the fluent
            API's.

    Returns:
        The profile written.

    Raises:
        NotFoundError: No model is at ``model_uri``.
        InvalidInputError: ``df`` lacks a column the model reads, the label column, or
            rows.
    """
    loaded = load_model(model_uri, client=client)
    signature = loaded.signature
    found = profile_frame(
        loaded.spark_model,
        df,
        feature_names=signature.input_names if signature is not None else None,
        label_col=label_col,
        infer_label=label_col is None,
    )
    location = resolve_model_uri(model_uri, client)
    location.write_bytes(PROFILE_FILE, found.to_json().encode("utf-8"))
    return found


def read_profile(model_uri: str, client: TrackingClient | None = None) -> Profile:
    """Read the baseline (``profile.json``) of the model at ``model_uri``.

    Args:
        model_uri: As for ``profile``.
        client: The store of ``runs:/`` and ``models:/`` URIs; by default the fluent
            API's.

    Returns:
        The profile.

    Raises:
        NotFoundError: The model has no profile; the message says how to make one.
    """
    location = resolve_model_uri(model_uri, client)
    if not location.exists(PROFILE_FILE):
        raise NotFoundError(
            f"the model at {model_uri!r} has no {PROFILE_FILE} (it was logged without its "
            "training data): profile it once with sparktrack.monitoring.profile("
            f"{model_uri!r}, training_df), or pass reference=training_df to monitor()"
        )
    return Profile.from_json(location.read_bytes(PROFILE_FILE), f"{location}/{PROFILE_FILE}")


_warned = False


def profile_at_log_time(
    spark_model: Any,
    training_data: Any,
    location: ModelLocation,
    signature: ModelSignature | None,
) -> None:
    """Write ``profile.json`` into a model folder just logged (internal use: the hook).

    Never raises: a failure is one ``ProfileWarning`` per process, and the model stays
    logged without a profile. Does nothing when the ``profiles`` setting is false.
    """
    global _warned
    try:
        if not load_settings().profiles:
            return
        found = profile_frame(
            spark_model,
            training_data,
            feature_names=signature.input_names if signature is not None else None,
            infer_label=True,
        )
        location.write_bytes(PROFILE_FILE, found.to_json().encode("utf-8"))
    except Exception as exc:  # a profile must never cost the user their model
        if not _warned:
            _warned = True
            warnings.warn(
                f"the model at {location} was logged without {PROFILE_FILE}: profiling its "
                f"training data failed ({type(exc).__name__}: {exc}); profile it later "
                "with sparktrack.monitoring.profile(model_uri, df)",
                ProfileWarning,
                stacklevel=2,
            )
