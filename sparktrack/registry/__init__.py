"""The model registry: named models, numbered versions, stages and aliases.

    version = sparktrack.register_model(f"runs:/{run_id}/model", "churn")
    sparktrack.set_model_stage("churn", version.version, "Production")
    sparktrack.set_model_alias("churn", "champion", version.version)
    model = sparktrack.load_model("models:/churn@champion")

The registry is one Delta table (``registry``) of events in the tracking store.
Rules: version numbers count from 1 and are never reused; Staging and Production
hold at most one version each (promoting archives the previous holder in the same
commit); an alias points to one version. They hold with many writing processes.

``RegistryClient(tracking_client)`` is the registry of any store;
``get_registry_client()`` the fluent API's. The registry builds on tracking and
models; they reach it only through the hooks it connects below when imported.
"""

from __future__ import annotations

from sparktrack.registry import _connect
from sparktrack.registry._client import RegistryClient
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Stage, Transition
from sparktrack.registry._filter import FilterFields, matches, parse_registry_filter, sort_entities
from sparktrack.registry._fluent import (
    delete_model_alias,
    delete_model_version,
    delete_registered_model,
    get_model_history,
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    get_registry_client,
    register_model,
    search_model_versions,
    search_registered_models,
    set_model_alias,
    set_model_stage,
)
from sparktrack.registry._state import Event
from sparktrack.registry._uri import ModelReference, parse_models_uri
from sparktrack.registry._validation import check_stage

# Besides the public API: the registry's filter grammar, for the layers above that
# filter other entities the same way (the MLflow server's logged-model search).
__all__ = [
    "Event",
    "FilterFields",
    "ModelReference",
    "ModelVersion",
    "RegisteredModel",
    "RegistryClient",
    "Stage",
    "Transition",
    "check_stage",
    "delete_model_alias",
    "delete_model_version",
    "delete_registered_model",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_registry_client",
    "matches",
    "parse_models_uri",
    "parse_registry_filter",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "set_model_stage",
    "sort_entities",
]

# models:/ URIs and log_model(registered_model_name=...) in models, and the deprecated
# TrackingClient.registry: the layers below reach the registry through these hooks.
_connect.connect()
