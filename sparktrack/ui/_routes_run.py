"""One run, its metric curves, and several runs side by side.

``/api/runs/{run_id}``, ``/api/metric-history`` (downsampled on the server) and
``/api/compare``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.sweeps import SweepTags
from sparktrack.tracking import Run, TrackingClient
from sparktrack.ui._deps import ui_state
from sparktrack.ui._downsample import lttb
from sparktrack.ui._run_facts import facts_of
from sparktrack.ui._schemas import (
    CompareAnswer,
    CompareRow,
    RunBrief,
    RunDetail,
    Series,
    SeriesAnswer,
    json_value,
)
from sparktrack.ui._state import UiState

__all__ = ["MAX_POINTS", "get_run_or_404", "router", "run_exists", "runs_by_id"]

router = APIRouter(prefix="/api", tags=["run"])
State = Annotated[UiState, Depends(ui_state)]
MAX_POINTS = 10_000  # per curve; 2,000 (the default) already fills a wide chart
MAX_RUNS = 50  # curves and compare columns of one request
MAX_CHILDREN = 1_000


def _brief(run: Run) -> RunBrief:
    return RunBrief(run_id=run.info.run_id, run_name=run.info.run_name, status=run.info.status)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _children(client: TrackingClient, run: Run) -> list[RunBrief]:
    frame = client.search_runs(
        [run.info.experiment_id],
        f"tags.`mlflow.parentRunId` = {_quoted(run.info.run_id)}",
        max_results=MAX_CHILDREN,
        order_by=["start_time ASC"],
        columns=[],  # names and statuses only: no params, metrics or tags
    )
    return [
        RunBrief(run_id=str(r["run_id"]), run_name=r.get("run_name"), status=str(r["status"]))
        for r in frame[["run_id", "run_name", "status"]].to_dict("records")
    ]


def get_run_or_404(client: TrackingClient, run_id: str) -> Run:
    """The run, or NotFoundError (a malformed id names no run either)."""
    try:
        return client.get_run(run_id)
    except InvalidInputError:
        # A malformed id in a URL is "not found", not "bad input".
        raise NotFoundError(f"no run {run_id!r}") from None


def runs_by_id(client: TrackingClient, run_ids: list[str]) -> list[Run]:
    """The runs, in the order asked, read in one search; NotFoundError names a missing one.

    One search over the store's cached, folded tables answers for every run at once,
    where a ``get_run`` per run would read each run's tables anew.
    """
    if not run_ids:
        return []
    found = client.search_runs(
        None,
        f"attributes.run_id IN ({', '.join(map(_quoted, run_ids))})",
        "ALL",  # get_run shows deleted runs too
        max_results=len(run_ids),
        output_format="list",
    )
    by_id = {run.info.run_id: run for run in found}
    for run_id in run_ids:
        if run_id not in by_id:
            raise NotFoundError(f"no run {run_id!r}")
    return [by_id[run_id] for run_id in run_ids]


def run_exists(client: TrackingClient, run_id: str) -> None:
    """Check that the run exists (cheaper than reading it), else raise NotFoundError."""
    try:
        client.experiment_of(run_id)
    except InvalidInputError:
        raise NotFoundError(f"no run {run_id!r}") from None


@router.get("/runs/{run_id}", response_model=RunDetail)
def run_detail(state: State, run_id: str) -> RunDetail:
    """A run: metadata, params, latest metrics, tags, inputs, parent and children.

    The system tags are also given as ``facts``, named for people.
    """
    client = state.client
    # Through the search's folded tables (kept between requests), not a fresh read of
    # the run's points: a run with a 100,000-point curve opens as fast as any.
    (run,) = runs_by_id(client, [run_id])
    info = run.info
    parent = None
    if info.parent_run_id:
        try:
            (found,) = runs_by_id(client, [info.parent_run_id])
            parent = _brief(found)
        except NotFoundError:
            parent = RunBrief(run_id=info.parent_run_id, run_name=None, status="UNKNOWN")
    try:
        experiment_name: str | None = client.get_experiment(info.experiment_id).name
    except NotFoundError:
        experiment_name = None
    inputs = []
    for dataset in client.get_inputs(run_id):
        entry = dict(dataset.__dict__)
        for field in ("source", "schema"):
            with contextlib.suppress(TypeError, ValueError):  # else shown as the text it is
                entry[field] = json.loads(entry[field])
        inputs.append(entry)
    return RunDetail(
        run_id=info.run_id,
        run_name=info.run_name,
        experiment_id=info.experiment_id,
        experiment_name=experiment_name,
        status=info.status,
        lifecycle_stage=info.lifecycle_stage,
        user_id=info.user_id,
        start_time=info.start_time,
        end_time=info.end_time,
        duration_ms=info.end_time - info.start_time if info.end_time is not None else None,
        artifact_uri=info.artifact_uri,
        params=dict(run.data.params),
        metrics={k: json_value(v) for k, v in run.data.metrics.items()},
        tags=dict(run.data.tags),
        facts=facts_of(run.data.tags),
        inputs=inputs,
        parent=parent,
        children=_children(client, run),
        sweep=run.data.tags.get(SweepTags.ROLE) == "sweep",
    )


XAxis = Literal["step", "time", "wall"]


@router.get("/metric-history", response_model=SeriesAnswer)
def metric_history(
    state: State,
    run_id: Annotated[list[str], Query()],
    key: Annotated[list[str], Query()],
    x: XAxis = "step",
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 2_000,
) -> SeriesAnswer:
    """Curves of metrics of runs, each downsampled (LTTB) to at most ``max_points``.

    ``x`` is ``step``, ``time`` (seconds since the run started) or ``wall`` (milliseconds
    since the epoch). Every combination of ``run_id`` and ``key`` is a curve (at most 50
    runs and 50 keys); a run that never logged a key gives no curve for it.
    """
    run_ids, keys = list(dict.fromkeys(run_id)), list(dict.fromkeys(key))
    if len(run_ids) > MAX_RUNS or len(keys) > MAX_RUNS:
        raise InvalidInputError(f"at most {MAX_RUNS} runs and {MAX_RUNS} keys per request")
    client = state.client
    # Only seconds since the start need the runs themselves: one search reads them all.
    starts = (
        {r.info.run_id: r.info.start_time for r in runs_by_id(client, run_ids)}
        if x == "time"
        else {}
    )
    try:
        # Columns, not an object per point: a curve can hold 100,000 of them.
        curves = client.get_metric_history_frames(run_ids, keys)
    except InvalidInputError as exc:
        raise NotFoundError(str(exc)) from None
    series = []
    for rid in run_ids:
        for name in keys:
            history = curves.get((rid, name))
            if history is None or history.empty:
                continue
            steps = history["step"].to_numpy(dtype=np.int64)
            values = history["value"].to_numpy(dtype=float)
            stamps = history["timestamp"].to_numpy(dtype=np.int64)
            if x == "step":
                xs = steps.astype(float)
            elif x == "time":
                xs = (stamps - starts[rid]) / 1000.0
            else:
                xs = stamps.astype(float)
            order = np.argsort(xs, kind="stable")
            xs, values, steps = xs[order], values[order], steps[order]
            kept = lttb(xs, values, max_points)
            series.append(
                Series(
                    run_id=rid,
                    key=name,
                    x=xs[kept].tolist(),
                    y=[float(v) if np.isfinite(v) else None for v in values[kept]],
                    steps=steps[kept].tolist(),
                    total_points=len(history),
                    downsampled=len(kept) < len(history),
                )
            )
    return SeriesAnswer(x_axis=x, series=series)


@router.get("/compare", response_model=CompareAnswer)
def compare(state: State, run_id: Annotated[list[str], Query()]) -> CompareAnswer:
    """Runs side by side: every param and latest metric, and whether the runs differ."""
    run_ids = list(dict.fromkeys(run_id))
    if len(run_ids) > MAX_RUNS:
        raise InvalidInputError(f"compare at most {MAX_RUNS} runs at once")
    found = runs_by_id(state.client, run_ids)
    param_keys = sorted({k for r in found for k in r.data.params})
    metric_keys = sorted({k for r in found for k in r.data.metrics})
    params = []
    for k in param_keys:
        texts = [r.data.params.get(k) for r in found]
        params.append(CompareRow(key=k, values=list(texts), differs=len(set(texts)) > 1))
    metrics = []
    for k in metric_keys:
        numbers = [json_value(r.data.metrics.get(k)) for r in found]
        metrics.append(CompareRow(key=k, values=numbers, differs=len(set(numbers)) > 1))
    return CompareAnswer(runs=[_brief(r) for r in found], params=params, metrics=metrics)
