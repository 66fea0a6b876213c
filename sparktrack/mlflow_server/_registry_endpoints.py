"""MLflow's model registry endpoints over ``RegistryClient`` (``model_registry.proto``).

Every change goes through the same ``RegistryClient`` methods as sparktrack's own API,
so the registry's rules hold for MLflow's clients too: version numbers are never
reused, Staging and Production hold one version each (a promotion archives the
previous holder in the same commit, whatever ``archive_existing_versions`` says), an
alias points to one version.
"""

from __future__ import annotations

from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._errors import MlflowApiError
from sparktrack.mlflow_server._model_sources import download_uri, registry_source
from sparktrack.mlflow_server._pages import next_token, offset_of
from sparktrack.mlflow_server._registry_json import model_json, version_json
from sparktrack.mlflow_server._routes import Endpoint, Fields

__all__ = ["ENDPOINTS"]

# MLflow's defaults and limits (mlflow/store/model_registry/__init__.py).
_MODELS_PAGE = 100
_MODELS_PAGE_LIMIT = 1000
_VERSIONS_PAGE = 10_000
_VERSIONS_PAGE_LIMIT = 200_000

Answer = dict[str, Any]


def _tags(fields: Fields) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for tag in fields.many("tags"):
        if not isinstance(tag, dict) or not tag.get("key"):
            raise InvalidInputError(f"{fields.where}: each tag needs a key, got {tag!r}")
        tags[str(tag["key"])] = tag.get("value", "")
    return tags


def _page_size(fields: Fields, default: int, limit: int) -> int:
    size = fields.integer("max_results", default)
    assert size is not None
    if size < 1 or size > limit:
        raise InvalidInputError(
            f"{fields.where}: max_results must be between 1 and {limit}, got {size}"
        )
    return size


# -- registered models ------------------------------------------------------------------
def create_registered_model(context: ServerContext, fields: Fields) -> Answer:
    model = context.registry.create_registered_model(
        fields.required("name"), tags=_tags(fields), description=fields.text("description")
    )
    return {"registered_model": model_json(model)}


def get_registered_model(context: ServerContext, fields: Fields) -> Answer:
    return {
        "registered_model": model_json(
            context.registry.get_registered_model(fields.required("name"))
        )
    }


def rename_registered_model(context: ServerContext, fields: Fields) -> Answer:
    model = context.registry.rename_registered_model(
        fields.required("name"), fields.required("new_name")
    )
    return {"registered_model": model_json(model)}


def update_registered_model(context: ServerContext, fields: Fields) -> Answer:
    name = fields.required("name")
    if "description" in fields:
        model = context.registry.update_registered_model(name, fields.text("description") or "")
    else:
        model = context.registry.get_registered_model(name)
    return {"registered_model": model_json(model)}


def delete_registered_model(context: ServerContext, fields: Fields) -> Answer:
    context.registry.delete_registered_model(fields.required("name"))
    return {}


def search_registered_models(context: ServerContext, fields: Fields) -> Answer:
    size = _page_size(fields, _MODELS_PAGE, _MODELS_PAGE_LIMIT)
    text, order = fields.text("filter"), [str(o) for o in fields.many("order_by")]
    # Completed by name (unique), so pages never tie.
    found = context.registry.search_registered_models(text, order_by=[*order, "name ASC"])
    start = offset_of(fields.text("page_token"), fields.where)
    page = found[start : start + size]
    token = next_token(start, size, len(found))
    answer: Answer = {"registered_models": [model_json(m) for m in page]}
    if token:
        answer["next_page_token"] = token
    return answer


def get_latest_versions(context: ServerContext, fields: Fields) -> Answer:
    stages = [str(s) for s in fields.many("stages")] or None
    found = context.registry.get_latest_versions(fields.required("name"), stages)
    return {"model_versions": [version_json(v) for v in found]}


def set_registered_model_tag(context: ServerContext, fields: Fields) -> Answer:
    context.registry.set_registered_model_tag(
        fields.required("name"), fields.required("key"), fields.text("value", "")
    )
    return {}


def delete_registered_model_tag(context: ServerContext, fields: Fields) -> Answer:
    context.registry.delete_registered_model_tag(fields.required("name"), fields.required("key"))
    return {}


def set_alias(context: ServerContext, fields: Fields) -> Answer:
    context.registry.set_registered_model_alias(
        fields.required("name"), fields.required("alias"), fields.required("version")
    )
    return {}


def delete_alias(context: ServerContext, fields: Fields) -> Answer:
    context.registry.delete_registered_model_alias(
        fields.required("name"), fields.required("alias")
    )
    return {}


def get_version_by_alias(context: ServerContext, fields: Fields) -> Answer:
    version = context.registry.get_model_version_by_alias(
        fields.required("name"), fields.required("alias")
    )
    return {"model_version": version_json(version)}


# -- model versions -------------------------------------------------------------------------
def create_model_version(context: ServerContext, fields: Fields) -> Answer:
    name = fields.required("name")
    # MLflow creates versions of existing models only (its client creates the model first).
    context.registry.get_registered_model(name)
    source = registry_source(context, fields.required("source"), fields.where)
    version = context.registry.register_model(
        source, name, tags=_tags(fields), description=fields.text("description")
    )
    return {"model_version": version_json(version)}


def get_model_version(context: ServerContext, fields: Fields) -> Answer:
    version = context.registry.get_model_version(
        fields.required("name"), fields.required("version")
    )
    return {"model_version": version_json(version)}


def update_model_version(context: ServerContext, fields: Fields) -> Answer:
    name, number = fields.required("name"), fields.required("version")
    if "description" in fields:
        version = context.registry.update_model_version(
            name, number, fields.text("description") or ""
        )
    else:
        version = context.registry.get_model_version(name, number)
    return {"model_version": version_json(version)}


def delete_model_version(context: ServerContext, fields: Fields) -> Answer:
    context.registry.delete_model_version(fields.required("name"), fields.required("version"))
    return {}


def transition_stage(context: ServerContext, fields: Fields) -> Answer:
    name, number = fields.required("name"), fields.required("version")
    stage = fields.required("stage")
    # archive_existing_versions=false cannot keep two versions in Staging or Production:
    # the registry's rule (one version per stage, under any number of writers) decides.
    version = context.registry.transition_model_version_stage(name, number, stage)
    return {"model_version": version_json(version)}


def _versions_order(order: list[str]) -> list[str]:
    """MLflow's order of versions: newest change first, then by name and newest version.

    An order given is completed by name and version, so pages never tie.
    """
    if not order:
        return ["last_updated_timestamp DESC", "name ASC", "version DESC"]
    named = {o.split()[0].lower() for o in order if o.split()}
    ties = [] if "name" in named else ["name ASC"]
    if not named & {"version", "version_number"}:
        ties.append("version DESC")
    return [*order, *ties]


def search_model_versions(context: ServerContext, fields: Fields) -> Answer:
    size = _page_size(fields, _VERSIONS_PAGE, _VERSIONS_PAGE_LIMIT)
    text, order = fields.text("filter"), [str(o) for o in fields.many("order_by")]
    found = context.registry.search_model_versions(text, order_by=_versions_order(order))
    start = offset_of(fields.text("page_token"), fields.where)
    page = found[start : start + size]
    token = next_token(start, size, len(found))
    answer: Answer = {"model_versions": [version_json(v) for v in page]}
    if token:
        answer["next_page_token"] = token
    return answer


def get_download_uri(context: ServerContext, fields: Fields) -> Answer:
    version = context.registry.get_model_version(
        fields.required("name"), fields.required("version")
    )
    try:
        return {"artifact_uri": download_uri(context, version)}
    except NotFoundError as exc:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST",
            f"version {version.version} of model {version.name!r} has source "
            f"{version.source!r}, which is gone: {exc}",
        ) from exc


def set_model_version_tag(context: ServerContext, fields: Fields) -> Answer:
    context.registry.set_model_version_tag(
        fields.required("name"),
        fields.required("version"),
        fields.required("key"),
        fields.text("value", ""),
    )
    return {}


def delete_model_version_tag(context: ServerContext, fields: Fields) -> Answer:
    context.registry.delete_model_version_tag(
        fields.required("name"), fields.required("version"), fields.required("key")
    )
    return {}


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/registered-models/create", create_registered_model, True),
    Endpoint("GET", "/registered-models/get", get_registered_model, False),
    Endpoint("POST", "/registered-models/rename", rename_registered_model, True),
    Endpoint("PATCH", "/registered-models/update", update_registered_model, True),
    Endpoint("DELETE", "/registered-models/delete", delete_registered_model, True),
    Endpoint("GET", "/registered-models/search", search_registered_models, False),
    Endpoint("POST", "/registered-models/get-latest-versions", get_latest_versions, False),
    Endpoint("GET", "/registered-models/get-latest-versions", get_latest_versions, False),
    Endpoint("POST", "/registered-models/set-tag", set_registered_model_tag, True),
    Endpoint("DELETE", "/registered-models/delete-tag", delete_registered_model_tag, True),
    Endpoint("POST", "/registered-models/alias", set_alias, True),
    Endpoint("DELETE", "/registered-models/alias", delete_alias, True),
    Endpoint("GET", "/registered-models/alias", get_version_by_alias, False),
    Endpoint("POST", "/model-versions/create", create_model_version, True),
    Endpoint("GET", "/model-versions/get", get_model_version, False),
    Endpoint("PATCH", "/model-versions/update", update_model_version, True),
    Endpoint("DELETE", "/model-versions/delete", delete_model_version, True),
    Endpoint("POST", "/model-versions/transition-stage", transition_stage, True),
    Endpoint("GET", "/model-versions/search", search_model_versions, False),
    Endpoint("GET", "/model-versions/get-download-uri", get_download_uri, False),
    Endpoint("POST", "/model-versions/set-tag", set_model_version_tag, True),
    Endpoint("DELETE", "/model-versions/delete-tag", delete_model_version_tag, True),
]
