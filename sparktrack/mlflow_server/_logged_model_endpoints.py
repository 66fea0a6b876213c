"""MLflow 3's logged-model endpoints over ``sparktrack.tracking.LoggedModels``.

MLflow 3's ``log_model`` creates a logged model, uploads its folder to the model's
``artifact_uri`` (``mlflow-artifacts:/<exp>/models/<model_id>/artifacts``, the store's
``artifacts/<exp>/models/<model_id>/artifacts``) through the artifacts routes, records
it among the run's outputs (``runs/outputs``) and finalizes it READY. ``runs:/<run_id>/
<name>`` then resolves through a search by name, and ``models:/<model_id>`` through get.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._pages import next_token, offset_of
from sparktrack.mlflow_server._routes import Endpoint, Fields
from sparktrack.mlflow_server._shapes import ARTIFACTS_SCHEME
from sparktrack.models import logged_model_id
from sparktrack.registry import FilterFields, matches, parse_registry_filter, sort_entities
from sparktrack.tracking import LoggedModel, LoggedModels, LoggedModelStatus

__all__ = ["ENDPOINTS"]

Answer = dict[str, Any]

_PAGE = 100  # MLflow's SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT
_PAGE_LIMIT = 1000
# MLflow's LoggedModelStatus enum, by name and number, and the store's status for each.
_STATUS_NAMES = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_OF = {
    **{name: status for status, name in _STATUS_NAMES.items()},
    "1": LoggedModelStatus.PENDING,
    "2": LoggedModelStatus.READY,
    "3": LoggedModelStatus.FAILED,
}
_FIELDS = FilterFields(
    numeric=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    text=frozenset({"name", "model_id", "model_type", "status", "source_run_id"}),
    synonyms={
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
        "attributes.name": "name",
        "attributes.model_id": "model_id",
        "attributes.model_type": "model_type",
        "attributes.status": "status",
        "attributes.source_run_id": "source_run_id",
        "attributes.creation_timestamp": "creation_timestamp",
        "attributes.last_updated_timestamp": "last_updated_timestamp",
    },
    # No metrics.<key>: a logged model's metrics are its runs' (not kept per model).
    prefixes=("tags", "params"),
)


def _pairs(fields: Fields, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in fields.many(name):
        if not isinstance(item, Mapping) or not item.get("key"):
            raise InvalidInputError(f"{fields.where}: each of {name} needs a key, got {item!r}")
        found[str(item["key"])] = item.get("value", "")
    return found


def _artifact_uri(model: LoggedModel) -> str:
    return f"{ARTIFACTS_SCHEME}/{model.experiment_id}/models/{model.model_id}/artifacts"


def _registrations(context: ServerContext) -> dict[str, list[dict[str, str]]]:
    """Logged model id -> the registered versions made from it."""
    found: dict[str, list[dict[str, str]]] = {}
    versions = context.registry.search_model_versions(
        "source LIKE 'models:/m-%'", order_by=["name ASC", "version ASC"]
    )
    for version in versions:
        model_id = logged_model_id(version.source)
        if model_id is not None:
            found.setdefault(model_id, []).append(
                {"name": version.name, "version": str(version.version)}
            )
    return found


def model_json(model: LoggedModel, registrations: list[dict[str, str]]) -> Answer:
    """A ``LoggedModel`` message (``info`` and ``data``)."""
    info: Answer = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp,
        "last_updated_timestamp_ms": model.last_updated_timestamp,
        "artifact_uri": _artifact_uri(model),
        "status": _STATUS_NAMES[model.status],
        "model_type": model.model_type,
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
        "registrations": registrations,
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    params = [{"key": k, "value": v} for k, v in sorted(model.params.items())]
    return {"info": info, "data": {"params": params, "metrics": []}}


def _one(context: ServerContext, model: LoggedModel) -> Answer:
    return {"model": model_json(model, _registrations(context).get(model.model_id, []))}


def _status(fields: Fields) -> str:
    raw = fields.raw("status")  # an enum: its name, or its number (as MLflow reads it)
    status = _STATUS_OF.get(str(raw)) if isinstance(raw, str | int) else None
    if status is None:
        raise InvalidInputError(
            f"{fields.where}: status {raw!r} is not one of {sorted(_STATUS_NAMES.values())}"
        )
    return status


def create_logged_model(context: ServerContext, fields: Fields) -> Answer:
    model = LoggedModels(context.tracking).create(
        fields.required("experiment_id"),
        name=fields.text("name"),
        model_type=fields.text("model_type"),
        source_run_id=fields.text("source_run_id"),
        tags=_pairs(fields, "tags"),
        params=_pairs(fields, "params"),
    )
    return _one(context, model)


def get_logged_model(context: ServerContext, fields: Fields) -> Answer:
    model = LoggedModels(context.tracking).get(
        fields.required("model_id"), allow_deleted=fields.flag("allow_deleted")
    )
    return _one(context, model)


def finalize_logged_model(context: ServerContext, fields: Fields) -> Answer:
    model = LoggedModels(context.tracking).finalize(fields.required("model_id"), _status(fields))
    return _one(context, model)


def delete_logged_model(context: ServerContext, fields: Fields) -> Answer:
    LoggedModels(context.tracking).delete(fields.required("model_id"))
    return {}


def set_logged_model_tags(context: ServerContext, fields: Fields) -> Answer:
    LoggedModels(context.tracking).set_tags(fields.required("model_id"), _pairs(fields, "tags"))
    return {}


def delete_logged_model_tag(context: ServerContext, fields: Fields) -> Answer:
    LoggedModels(context.tracking).delete_tag(
        fields.required("model_id"), fields.required("tag_key")
    )
    return {}


def log_logged_model_params(context: ServerContext, fields: Fields) -> Answer:
    LoggedModels(context.tracking).log_params(fields.required("model_id"), _pairs(fields, "params"))
    return {}


def list_logged_model_artifacts(context: ServerContext, fields: Fields) -> Answer:
    models = LoggedModels(context.tracking)
    model = models.get(fields.required("model_id"))
    listing = context.tracking.artifacts.list_logged_model(
        model.experiment_id, model.model_id, fields.text("artifact_directory_path")
    )
    files = []
    for info in listing:
        entry: Answer = {"path": info.path, "is_dir": info.is_dir}
        if info.file_size is not None:
            entry["file_size"] = info.file_size
        files.append(entry)
    return {"root_uri": _artifact_uri(model), "files": files}


def _field_of(model: LoggedModel, name: str) -> Any:
    if name.startswith("tags."):
        return model.tags.get(name[5:])
    if name.startswith("params."):
        return model.params.get(name[7:])
    if name == "status":
        return _STATUS_NAMES[model.status]
    return getattr(model, name, None)


def _order(fields: Fields) -> list[str]:
    order = []
    for item in fields.many("order_by"):
        if not isinstance(item, Mapping) or not item.get("field_name"):
            raise InvalidInputError(
                f"{fields.where}: each order_by needs a field_name, got {item!r}"
            )
        if item.get("dataset_name"):
            raise InvalidInputError(
                f"{fields.where}: ordering by a dataset's metrics is not supported: logged "
                "models here keep no metrics of their own"
            )
        direction = "ASC" if item.get("ascending", True) else "DESC"
        order.append(f"{item['field_name']} {direction}")
    return order


def search_logged_models(context: ServerContext, fields: Fields) -> Answer:
    experiment_ids = [str(e) for e in fields.many("experiment_ids")]
    if not experiment_ids:
        raise InvalidInputError(f"{fields.where}: experiment_ids must name an experiment")
    if fields.many("datasets"):
        raise InvalidInputError(
            f"{fields.where}: filtering by datasets is not supported: logged models here "
            "keep no metrics of their own"
        )
    size = fields.integer("max_results", _PAGE)
    assert size is not None
    if size < 1 or size > _PAGE_LIMIT:
        raise InvalidInputError(
            f"{fields.where}: max_results must be between 1 and {_PAGE_LIMIT}, got {size}"
        )
    text, order = fields.text("filter"), _order(fields)
    clauses = parse_registry_filter(text, _FIELDS)
    found = [
        m
        for m in LoggedModels(context.tracking).search(experiment_ids)
        if matches(clauses, lambda name, m=m: _field_of(m, name))  # type: ignore[misc]
    ]
    found = sort_entities(found, order, ["creation_timestamp DESC"], _FIELDS)
    start = offset_of(fields.text("page_token"), fields.where)
    page = found[start : start + size]
    token = next_token(start, size, len(found))
    registrations = _registrations(context) if page else {}
    answer: Answer = {"models": [model_json(m, registrations.get(m.model_id, [])) for m in page]}
    if token:
        answer["next_page_token"] = token
    return answer


def log_outputs(context: ServerContext, fields: Fields) -> Answer:
    """``runs/outputs``: the run logged these models (at these steps)."""
    run_id = fields.required("run_id")
    context.tracking.experiment_of(run_id)  # NotFoundError for an unknown run
    models = LoggedModels(context.tracking)
    for output in fields.many("models"):
        if not isinstance(output, Mapping) or not output.get("model_id"):
            raise InvalidInputError(f"{fields.where}: each model needs a model_id, got {output!r}")
        models.log_output(str(output["model_id"]), run_id, int(output.get("step") or 0))
    return {}


def log_model_inputs(context: ServerContext, run_id: str, inputs: list[Any]) -> None:
    """The ``models`` part of ``runs/log-inputs``: the run used these logged models.

    Raises:
        InvalidInputError: An input names no model_id.
        NotFoundError: A model does not exist.
    """
    models = LoggedModels(context.tracking)
    for item in inputs:
        if not isinstance(item, Mapping) or not item.get("model_id"):
            raise InvalidInputError(f"runs/log-inputs: each model needs a model_id, got {item!r}")
        models.log_input(str(item["model_id"]), run_id)


ENDPOINTS: list[Endpoint] = [
    # search before /{model_id}: a path parameter would take "search" as an id.
    Endpoint("POST", "/logged-models/search", search_logged_models, False),
    Endpoint("POST", "/logged-models", create_logged_model, True),
    Endpoint("GET", "/logged-models/{model_id}", get_logged_model, False),
    Endpoint("PATCH", "/logged-models/{model_id}", finalize_logged_model, True),
    Endpoint("DELETE", "/logged-models/{model_id}", delete_logged_model, True),
    Endpoint("PATCH", "/logged-models/{model_id}/tags", set_logged_model_tags, True),
    Endpoint("DELETE", "/logged-models/{model_id}/tags/{tag_key}", delete_logged_model_tag, True),
    Endpoint("POST", "/logged-models/{model_id}/params", log_logged_model_params, True),
    Endpoint(
        "GET",
        "/logged-models/{model_id}/artifacts/directories",
        list_logged_model_artifacts,
        False,
    ),
    Endpoint("POST", "/runs/outputs", log_outputs, True),
]
