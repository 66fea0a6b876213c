"""H2OGridSearch and H2OAutoML: child runs for the models they trained.

Both fit inside H2O (no nested ``Estimator.fit`` in Python), so the parent run is
the tracked fit itself; after it, the estimator holds the results as DataFrames:
a grid's models with their hyper-params and metrics, AutoML's leaderboard. The
first ``max_tuning_runs`` of them (H2O sorts best first) become child runs.
"""

from __future__ import annotations

import re
from typing import Any

from sparktrack.autologging._h2o._model import safe_key
from sparktrack.tracking import RunStatus, TrackingClient

__all__ = ["log_automl", "log_grid_search"]

INTEGRATION = "h2o"
_ID_COLUMNS = ("MOJO Model ID", "model_id")


def _param_name(column: str, algo: Any) -> str:
    """H2O's snake_case hyper-param name as the Sparkling Water param the parent run has.

    ``max_depth`` -> ``maxDepth``, so parent and children use the same keys.
    """
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), column)
    try:
        return camel if algo is not None and algo.hasParam(camel) else safe_key(column)
    except Exception:
        return safe_key(column)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _child(tracked: Any, name: str, params: dict[str, str], metrics: dict[str, float]) -> str:
    client: TrackingClient = tracked.client
    run = client.create_run(
        tracked.experiment_id,
        run_name=name,
        parent_run_id=tracked.run_id,
        tags={"sparktrack.autolog": INTEGRATION, **tracked.config.extra_tags},
        record_context=False,
    )
    run_id = run.info.run_id
    client.log_params(run_id, params)
    client.log_metrics(run_id, metrics)
    client.set_terminated(run_id, RunStatus.FINISHED)
    return run_id


def _rows(frame: Any) -> list[dict[str, Any]]:
    return [] if frame is None else frame.toPandas().to_dict("records")


def _cap(rows: list[Any], max_runs: int | None) -> list[Any]:
    return rows if max_runs is None else rows[:max_runs]


def log_grid_search(tracked: Any, grid: Any) -> None:
    params_rows = _rows(grid.getGridModelsParams())
    metric_rows = {str(r.get(_ID_COLUMNS[0])): r for r in _rows(grid.getGridModelsMetrics())}
    client: TrackingClient = tracked.client
    if params_rows:
        import pandas as pd

        merged = [
            {**row, **metric_rows.get(str(row.get(_ID_COLUMNS[0])), {})} for row in params_rows
        ]
        client.log_text(
            tracked.run_id, pd.DataFrame(merged).to_csv(index=False), "grid_results.csv"
        )
    algo = grid.getAlgo() if hasattr(grid, "getAlgo") else None
    child_ids = []
    for row in _cap(params_rows, tracked.config.max_tuning_runs):
        model_id = str(row.get(_ID_COLUMNS[0]))
        params = {_param_name(k, algo): str(v) for k, v in row.items() if k != _ID_COLUMNS[0]}
        params["model_id"] = model_id
        metrics = {
            safe_key(k): float(v)
            for k, v in metric_rows.get(model_id, {}).items()
            if k not in (_ID_COLUMNS[0], "ScoringTime") and _is_number(v)
        }
        child_ids.append(_child(tracked, model_id, params, metrics))
    if child_ids:
        client.set_tag(tracked.run_id, "sparktrack.best_run_id", child_ids[0])
    client.log_metric(tracked.run_id, "grid_models", float(len(params_rows)))


def log_automl(tracked: Any, automl: Any) -> None:
    frame = automl.getLeaderboard()
    client: TrackingClient = tracked.client
    rows = _rows(frame)
    if rows:
        client.log_text(tracked.run_id, frame.toPandas().to_csv(index=False), "leaderboard.csv")
    child_ids = []
    for rank, row in enumerate(_cap(rows, tracked.config.max_tuning_runs)):
        model_id = str(row.get(_ID_COLUMNS[1], f"model-{rank}"))
        metrics = {safe_key(k): float(v) for k, v in row.items() if _is_number(v)}
        child_ids.append(
            _child(
                tracked, model_id, {"model_id": model_id, "leaderboard_rank": str(rank)}, metrics
            )
        )
    if child_ids:
        client.set_tag(tracked.run_id, "sparktrack.best_run_id", child_ids[0])
    client.log_metric(tracked.run_id, "automl_models", float(len(rows)))
