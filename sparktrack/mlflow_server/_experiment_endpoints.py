"""MLflow's experiment endpoints (``/experiments/...``) over the tracking client.

sparktrack derives an experiment's id from its name (concurrent creators agree with no
lock), stores no experiment tags and keeps artifacts in the store's own tree, so
renaming, experiment tags and a custom ``artifact_location`` are refused with a message
saying so, instead of being accepted and lost.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._errors import MlflowApiError
from sparktrack.mlflow_server._experiment_search import filter_experiments, sort_experiments
from sparktrack.mlflow_server._pages import next_token, offset_of
from sparktrack.mlflow_server._routes import Endpoint, Fields
from sparktrack.mlflow_server._shapes import experiment_json
from sparktrack.tracking import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME

__all__ = ["ENDPOINTS", "MAX_RESULTS_LIMIT", "ensure_default_experiment", "view_type"]

MAX_RESULTS_LIMIT = 50_000
"""MLflow's server refuses a page larger than this, for experiments and runs alike."""

_VIEW_NUMBERS = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL"}


def ensure_default_experiment(context: ServerContext) -> None:
    """Create "Default" (id "0") if the store lacks it.

    MLflow's client logs there when no experiment is set, and every MLflow store has it.
    """
    if context.tracking.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME) is None:
        context.tracking.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME)


ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]


def view_type(fields: Fields, name: str) -> ViewType:
    """A ViewType field: its name or protobuf number; ACTIVE_ONLY by default."""
    raw = fields.text(name) or "ACTIVE_ONLY"
    view = _VIEW_NUMBERS.get(raw, raw.upper())
    if view not in _VIEW_NUMBERS.values():
        raise InvalidInputError(
            f"{fields.where}: {name} {raw!r} must be one of {list(_VIEW_NUMBERS.values())}"
        )
    return cast(ViewType, view)


def page_size(fields: Fields, default: int) -> int:
    """``max_results``, between 1 and MLflow's limit."""
    size = fields.integer("max_results", default)
    assert size is not None
    if size < 1 or size > MAX_RESULTS_LIMIT:
        raise InvalidInputError(
            f"{fields.where}: max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {size}"
        )
    return size


def _create(context: ServerContext, fields: Fields) -> dict[str, Any]:
    name = fields.required("name")
    if fields.text("artifact_location"):
        raise InvalidInputError(
            f"experiments/create: artifact_location {fields.text('artifact_location')!r} is not "
            "supported: this server keeps every experiment's artifacts in the store's "
            "artifact tree (mlflow-artifacts:/<experiment id>); leave it out"
        )
    _refuse_tags(fields.many("tags"), "experiments/create")
    return {"experiment_id": context.tracking.create_experiment(name)}


def _refuse_tags(tags: list[Any], where: str) -> None:
    if tags:
        raise MlflowApiError(
            "NOT_IMPLEMENTED",
            f"{where}: sparktrack stores no experiment tags (got {tags!r}); tag the runs "
            "instead, or create the experiment without tags",
        )


def _get(context: ServerContext, fields: Fields) -> dict[str, Any]:
    experiment_id = fields.required("experiment_id")
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        ensure_default_experiment(context)
    return {"experiment": experiment_json(context.tracking.get_experiment(experiment_id))}


def _get_by_name(context: ServerContext, fields: Fields) -> dict[str, Any]:
    name = fields.required("experiment_name")
    experiment = context.tracking.get_experiment_by_name(name)
    if experiment is None:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'"
        )
    return {"experiment": experiment_json(experiment)}


def _search(context: ServerContext, fields: Fields) -> dict[str, Any]:
    size = page_size(fields, 1000)
    offset = offset_of(fields.text("page_token"), fields.where)
    found = context.tracking.search_experiments(view_type(fields, "view_type"))
    matching = filter_experiments(found, fields.text("filter"))
    ordered = sort_experiments(matching, [str(o) for o in fields.many("order_by")])
    answer: dict[str, Any] = {
        "experiments": [experiment_json(e) for e in ordered[offset : offset + size]]
    }
    token = next_token(offset, size, len(ordered))
    if token is not None:
        answer["next_page_token"] = token
    return answer


def _update(context: ServerContext, fields: Fields) -> dict[str, Any]:
    experiment = context.tracking.get_experiment(fields.required("experiment_id"))
    new_name = fields.text("new_name")
    if new_name and new_name != experiment.name:
        raise MlflowApiError(
            "NOT_IMPLEMENTED",
            f"experiments/update: cannot rename experiment {experiment.name!r} to "
            f"{new_name!r}: sparktrack derives an experiment's id from its name; create "
            f"experiment {new_name!r} and log new runs there instead",
        )
    return {}


def _delete(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.delete_experiment(fields.required("experiment_id"))
    return {}


def _restore(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.restore_experiment(fields.required("experiment_id"))
    return {}


def _set_tag(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.get_experiment(fields.required("experiment_id"))
    _refuse_tags([{"key": fields.raw("key"), "value": fields.raw("value")}], fields.where)
    return {}


ENDPOINTS = [
    Endpoint("POST", "/experiments/create", _create, writes=True),
    Endpoint("GET", "/experiments/get", _get, writes=False),
    Endpoint("GET", "/experiments/get-by-name", _get_by_name, writes=False),
    Endpoint("POST", "/experiments/search", _search, writes=False),
    Endpoint("GET", "/experiments/search", _search, writes=False),
    Endpoint("POST", "/experiments/update", _update, writes=True),
    Endpoint("POST", "/experiments/delete", _delete, writes=True),
    Endpoint("POST", "/experiments/restore", _restore, writes=True),
    Endpoint("POST", "/experiments/set-experiment-tag", _set_tag, writes=True),
    Endpoint("POST", "/experiments/delete-experiment-tag", _set_tag, writes=True),
]
