"""MLflow's tracking endpoints over the tracking client: experiments, runs, metrics.

Every call goes through ``TrackingClient``, the code paths of sparktrack's own API
(validation, the buffered writer, the run fold), so a run logged by MLflow's client is
an ordinary sparktrack run. Runs created here record no context of the server's own
(its user, source, git): MLflow's client sends the caller's as tags.
"""

from __future__ import annotations

import json
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._experiment_endpoints import (
    ENDPOINTS as EXPERIMENTS,
)
from sparktrack.mlflow_server._experiment_endpoints import (
    ensure_default_experiment,
    page_size,
    view_type,
)
from sparktrack.mlflow_server._history_sampling import sampled_steps
from sparktrack.mlflow_server._logged_model_endpoints import log_model_inputs
from sparktrack.mlflow_server._pages import next_token, offset_of
from sparktrack.mlflow_server._routes import Endpoint, Fields
from sparktrack.mlflow_server._shapes import (
    CONTEXT_TAG,
    latest_points,
    metric_json,
    run_info_json,
    run_json,
    run_location,
)
from sparktrack.tracking import (
    DEFAULT_EXPERIMENT_ID,
    DatasetInput,
    LoggedModels,
    Metric,
    Run,
    RunStatus,
)

__all__ = ["ENDPOINTS"]

# MLflow's limits for one log-batch request (mlflow/utils/validation.py).
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000
# MLflow's bounds for metrics/get-history-bulk-interval (mlflow/server/handlers.py).
MAX_BULK_RUNS = 100
MAX_BULK_POINTS = 2500
MAX_HISTORY_POINTS = 25_000
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
# Run order ties are broken as MLflow's stores break them, which also makes a search's
# order total: page tokens are offsets into it.
_TIE_BREAKERS = ["attributes.start_time DESC", "attributes.run_id ASC"]


def _run_id(fields: Fields) -> str:
    """``run_id``, or ``run_uuid`` (older clients send only that)."""
    found = fields.text("run_id") or fields.text("run_uuid")
    if not found:
        raise InvalidInputError(f"{fields.where}: Missing value for required parameter 'run_id'")
    return found


def _key_values(fields: Fields, name: str) -> dict[str, str]:
    """A list of ``{"key", "value"}`` objects (params, tags) as a mapping."""
    pairs: dict[str, str] = {}
    for item in fields.many(name):
        if not isinstance(item, dict):
            raise fields.invalid(name, fields.raw(name), "expected objects with key and value")
        pair = Fields(item, f"{fields.where} {name}")
        pairs[pair.required("key")] = pair.text("value") or ""
    return pairs


def _full_run(context: ServerContext, run: Run) -> dict[str, Any]:
    """One run as MLflow's ``Run``, with its latest metrics' times and its inputs."""
    return _runs_json(context, [run], with_inputs=True)[0]


def _runs_json(
    context: ServerContext, runs: list[Run], *, with_inputs: bool
) -> list[dict[str, Any]]:
    keys = sorted({key for run in runs for key in run.data.metrics})
    histories = (
        context.tracking.get_metric_history_frames([r.info.run_id for r in runs], keys)
        if keys
        else {}
    )
    points = latest_points(runs, histories)
    run_ids = [run.info.run_id for run in runs]
    inputs = context.tracking.get_inputs_of(run_ids) if with_inputs and runs else {}
    outputs = LoggedModels(context.tracking).outputs_of(run_ids) if with_inputs and runs else {}
    return [
        run_json(run, points, inputs.get(run.info.run_id, ()), outputs.get(run.info.run_id, ()))
        for run in runs
    ]


def _run_exists(context: ServerContext, run_id: str) -> bool:
    try:
        context.tracking.experiment_of(run_id)
    except (NotFoundError, InvalidInputError):
        return False
    return True


# -- runs ---------------------------------------------------------------------------------
def _create_run(context: ServerContext, fields: Fields) -> dict[str, Any]:
    tags = _key_values(fields, "tags")
    experiment_id = fields.text("experiment_id") or DEFAULT_EXPERIMENT_ID
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        ensure_default_experiment(context)
    user_id = fields.text("user_id")
    if user_id and USER_TAG not in tags:
        tags[USER_TAG] = user_id
    parent = tags.pop(PARENT_TAG, None) or None
    if parent is not None and not _run_exists(context, parent):
        # MLflow keeps whatever parent id it is given; one sparktrack does not know stays
        # a plain tag instead of failing the run (only known parents become parent_run_id).
        tags[PARENT_TAG], parent = parent, None
    run = context.tracking.create_run(
        experiment_id,
        run_name=fields.text("run_name") or tags.pop(RUN_NAME_TAG, None) or None,
        tags=tags,
        parent_run_id=parent,
        start_time=fields.integer("start_time"),
        # The server's own user, source and git say nothing of the caller's run.
        record_context=False,
        snapshot=False,
    )
    return {"run": run_json(run, {})}


def _update_run(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id = _run_id(fields)
    name, status = fields.text("run_name"), fields.text("status")
    if status and status != RunStatus.RUNNING and status not in RunStatus.TERMINAL:
        raise InvalidInputError(
            f"runs/update: status {status!r} must be one of "
            f"{[RunStatus.RUNNING, *RunStatus.TERMINAL]}"
        )
    # Ending a run (what MLflow's end_run sends) needs only the run to exist: the run's
    # state is read first only when a rename or a resume depends on it.
    if name or status == RunStatus.RUNNING:
        before = context.tracking.get_run(run_id).info
        if name and name != before.run_name:
            context.tracking.rename_run(run_id, name)
        if status == RunStatus.RUNNING and before.status != RunStatus.RUNNING:
            context.tracking.resume_run(run_id)
    else:
        context.tracking.experiment_of(run_id)
    if status in RunStatus.TERMINAL:
        context.tracking.set_terminated(run_id, status, fields.integer("end_time"))
    return {"run_info": run_info_json(context.tracking.get_run(run_id).info)}


def _delete_run(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.delete_run(_run_id(fields))
    return {}


def _restore_run(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.restore_run(_run_id(fields))
    return {}


def _get_run(context: ServerContext, fields: Fields) -> dict[str, Any]:
    return {"run": _full_run(context, context.tracking.get_run(_run_id(fields)))}


def _search_runs(context: ServerContext, fields: Fields) -> dict[str, Any]:
    size = page_size(fields, 1000)
    offset = offset_of(fields.text("page_token"), fields.where)
    order = [str(o) for o in fields.many("order_by")] + _TIE_BREAKERS
    experiment_ids = [str(e) for e in fields.many("experiment_ids")]
    found = context.tracking.search_runs(
        experiment_ids or None,
        fields.text("filter") or "",
        view_type(fields, "run_view_type"),
        offset + size + 1,  # one more than the page: is there a next one?
        order,
        output_format="list",
    )
    page = found[offset : offset + size]
    answer: dict[str, Any] = {"runs": _runs_json(context, page, with_inputs=True)}
    token = next_token(offset, size, len(found))
    if token is not None:
        answer["next_page_token"] = token
    return answer


# -- logging ------------------------------------------------------------------------------
def _metric(item: Any, where: str) -> Metric:
    if not isinstance(item, dict):
        raise InvalidInputError(f"{where}: a metric must be an object, got {item!r}")
    fields = Fields(item, where)
    value = fields.number("value")
    if value is None:
        raise InvalidInputError(f"{where}: missing value for required field 'value' of a metric")
    timestamp = fields.integer("timestamp")
    if timestamp is None:
        raise InvalidInputError(
            f"{where}: missing value for required field 'timestamp' of metric "
            f"{fields.text('key')!r}"
        )
    return Metric(fields.required("key"), value, timestamp, fields.integer("step", 0) or 0)


def _log_metric(context: ServerContext, fields: Fields) -> dict[str, Any]:
    item = {name: fields.raw(name) for name in ("key", "value", "timestamp", "step")}
    metric = _metric(item, "runs/log-metric")
    context.tracking.log_batch(_run_id(fields), [metric])
    return {}


def _log_param(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id, key = _run_id(fields), fields.required("key")
    context.tracking.log_param(run_id, key, fields.text("value") or "")
    return {}


def _set_tag(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id, key = _run_id(fields), fields.required("key")
    value = fields.text("value") or ""
    if key == RUN_NAME_TAG:
        # The run's name is an attribute too: renaming keeps both in step, as MLflow does.
        context.tracking.rename_run(run_id, value)
    else:
        context.tracking.set_tag(run_id, key, value)
    return {}


def _delete_tag(context: ServerContext, fields: Fields) -> dict[str, Any]:
    context.tracking.delete_tag(_run_id(fields), fields.required("key"))
    return {}


def _log_batch(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id = _run_id(fields)
    raw_metrics = fields.many("metrics")
    params = _key_values(fields, "params")
    tags = _key_values(fields, "tags")
    counts = (len(raw_metrics), len(fields.many("params")), len(fields.many("tags")))
    limits = (MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS)
    for what, count, limit in zip(("metrics", "params", "tags"), counts, limits, strict=True):
        if count > limit:
            raise InvalidInputError(
                f"runs/log-batch: a batch holds at most {limit} {what}, got {count}; split it"
            )
    if sum(counts) > MAX_BATCH_ENTITIES:
        raise InvalidInputError(
            f"runs/log-batch: a batch holds at most {MAX_BATCH_ENTITIES} metrics, params and "
            f"tags together, got {sum(counts)}; split it"
        )
    metrics = [_metric(item, "runs/log-batch") for item in raw_metrics]
    if RUN_NAME_TAG in tags:
        context.tracking.rename_run(run_id, tags.pop(RUN_NAME_TAG))
    context.tracking.log_batch(run_id, metrics, params or None, tags or None)
    return {}


def _dataset_input(item: Any) -> DatasetInput:
    where = "runs/log-inputs"
    if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
        raise InvalidInputError(
            f"{where}: each dataset input needs a 'dataset' object, got {item!r}"
        )
    dataset = Fields(item["dataset"], where)
    tags = _key_values(Fields(item, where), "tags")
    num_rows = None
    try:
        profile = json.loads(dataset.text("profile") or "{}")
        if isinstance(profile, dict) and isinstance(profile.get("num_rows"), int):
            num_rows = profile["num_rows"]
    except ValueError:
        pass  # a profile is free text to MLflow: only its row count is kept
    return DatasetInput(
        name=dataset.required("name"),
        digest=dataset.required("digest"),
        source_type=dataset.required("source_type"),
        source=dataset.required("source"),
        schema=dataset.text("schema") or "",
        num_rows=num_rows,
        context=tags.get(CONTEXT_TAG) or "",
    )


def _log_inputs(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id = _run_id(fields)
    inputs = [_dataset_input(item) for item in fields.many("datasets")]
    for dataset in inputs:
        context.tracking.log_input(run_id, dataset, dataset.context or None)
    # MLflow 3 also sends `models`: the logged models the run used.
    log_model_inputs(context, run_id, fields.many("models"))
    return {}


# -- metrics and artifacts ----------------------------------------------------------------
def _metric_history(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id, key = _run_id(fields), fields.required("metric_key")
    history = context.tracking.get_metric_history(run_id, key)
    if "max_results" not in fields and "page_token" not in fields:
        return {"metrics": [metric_json(m) for m in history]}
    size = page_size(fields, MAX_HISTORY_POINTS)
    offset = offset_of(fields.text("page_token"), fields.where)
    answer: dict[str, Any] = {"metrics": [metric_json(m) for m in history[offset : offset + size]]}
    token = next_token(offset, size, len(history))
    if token is not None:
        answer["next_page_token"] = token
    return answer


def _history_bulk(context: ServerContext, fields: Fields) -> dict[str, Any]:
    """Every run's whole history of one metric (MLflow's UI charts read it), by run id."""
    where = "GetMetricHistoryBulk request"
    run_ids = sorted({str(r) for r in fields.many("run_id")})
    if not run_ids:
        raise InvalidInputError(f"{where} must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidInputError(
            f"{where} cannot specify more than {MAX_BULK_RUNS} run_ids. Received {len(run_ids)}."
        )
    key = fields.text("metric_key")
    if not key:
        raise InvalidInputError(f"{where} must specify a metric_key.")
    per_run = fields.integer("max_results", MAX_HISTORY_POINTS) or MAX_HISTORY_POINTS
    metrics: list[dict[str, Any]] = []
    for run_id in run_ids:
        history = context.tracking.get_metric_history(run_id, key)[:per_run]
        metrics.extend(metric_json(m, run_id) for m in history)
    return {"metrics": metrics}


def _history_bulk_interval(context: ServerContext, fields: Fields) -> dict[str, Any]:
    where = "GetMetricHistoryBulkInterval request"
    run_ids = [str(r) for r in fields.many("run_ids")]
    if not run_ids:
        raise InvalidInputError(f"{where}: Missing value for required parameter 'run_ids'.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidInputError(
            f"{where} must specify at most {MAX_BULK_RUNS} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    key = fields.required("metric_key")
    per_run = fields.integer("max_results", MAX_BULK_POINTS)
    assert per_run is not None
    if not 1 <= per_run <= MAX_BULK_POINTS:
        raise InvalidInputError(f"max_results must be between 1 and {MAX_BULK_POINTS}.")
    start, end = fields.integer("start_step"), fields.integer("end_step")
    if (start is None) != (end is None):
        raise InvalidInputError(
            "If either start step or end step are specified, both must be specified."
        )
    if start is not None and end is not None and start > end:
        raise InvalidInputError(
            "end_step must be greater than start_step. "
            f"Found start_step={start} and end_step={end}."
        )
    frames = context.tracking.get_metric_history_frames(run_ids, [key])
    present = [(run_id, frames[(run_id, key)]) for run_id in run_ids if (run_id, key) in frames]
    steps = sampled_steps((frame["step"].tolist() for _, frame in present), per_run, start, end)
    metrics: list[dict[str, Any]] = []
    for run_id, frame in present:
        chosen = frame[frame["step"].isin(list(steps))]
        points = zip(chosen["value"], chosen["timestamp"], chosen["step"], strict=True)
        metrics.extend(
            metric_json(Metric(key, float(value), int(stamp), int(step)), run_id)
            for value, stamp, step in points
        )
    return {"metrics": metrics}


def _list_artifacts(context: ServerContext, fields: Fields) -> dict[str, Any]:
    run_id = _run_id(fields)
    experiment_id = context.tracking.experiment_of(run_id)
    files = context.tracking.list_artifacts(run_id, fields.text("path"))
    return {
        "root_uri": run_location(experiment_id, run_id),
        "files": [
            {"path": f.path, "is_dir": f.is_dir, **({} if f.is_dir else {"file_size": f.file_size})}
            for f in files
        ],
    }


ENDPOINTS = [
    *EXPERIMENTS,
    Endpoint("POST", "/runs/create", _create_run, writes=True),
    Endpoint("POST", "/runs/update", _update_run, writes=True),
    Endpoint("POST", "/runs/delete", _delete_run, writes=True),
    Endpoint("POST", "/runs/restore", _restore_run, writes=True),
    Endpoint("GET", "/runs/get", _get_run, writes=False),
    Endpoint("POST", "/runs/search", _search_runs, writes=False),
    Endpoint("GET", "/runs/search", _search_runs, writes=False),
    Endpoint("POST", "/runs/log-metric", _log_metric, writes=True),
    Endpoint("POST", "/runs/log-parameter", _log_param, writes=True),
    Endpoint("POST", "/runs/set-tag", _set_tag, writes=True),
    Endpoint("POST", "/runs/delete-tag", _delete_tag, writes=True),
    Endpoint("POST", "/runs/log-batch", _log_batch, writes=True),
    Endpoint("POST", "/runs/log-inputs", _log_inputs, writes=True),
    Endpoint("GET", "/metrics/get-history", _metric_history, writes=False),
    Endpoint("GET", "/metrics/get-history-bulk", _history_bulk, writes=False),
    Endpoint("GET", "/metrics/get-history-bulk-interval", _history_bulk_interval, writes=False),
    Endpoint("GET", "/artifacts/list", _list_artifacts, writes=False),
]
