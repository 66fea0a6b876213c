"""A sweep read back from its runs: trials, their states, best-so-far, param importances.

The sweep's run and its trials' runs carry everything (``sparktrack.sweeps.SweepTags``):
the trial number, its state, its params and their Optuna distributions as JSON. Param
importances come from Optuna's public importance API over a study rebuilt from the
complete trials; nothing is written back.
"""

from __future__ import annotations

import json
from typing import Any

from sparktrack.sweeps import SweepTags
from sparktrack.tracking import Run, RunStatus, TrackingClient
from sparktrack.ui._runs_query import millis
from sparktrack.ui._schemas import SweepAnswer, SweepTrial, json_value

__all__ = ["MAX_TRIALS", "sweep_summary"]

MAX_TRIALS = 20_000
STATES = ("complete", "pruned", "failed", "running", "killed")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cell(record: dict[Any, Any], column: str) -> Any:
    value = record.get(column)
    return None if value is None or (isinstance(value, float) and value != value) else value


def _trials(client: TrackingClient, sweep: Run, metric: str | None) -> list[tuple[SweepTrial, Any]]:
    frame = client.search_runs(
        [sweep.info.experiment_id],
        f"tags.`mlflow.parentRunId` = {_quoted(sweep.info.run_id)}",
        max_results=MAX_TRIALS,
    )
    found = []
    for record in frame.to_dict("records"):
        number = _cell(record, f"tags.{SweepTags.TRIAL}")
        if number is None:
            continue  # a run nested under the sweep by someone else
        state = _cell(record, f"tags.{SweepTags.STATE}")
        if state is None:
            state = "running" if record["status"] == RunStatus.RUNNING else "killed"
        value = _cell(record, f"metrics.{metric}") if metric else None
        trial = SweepTrial(
            number=int(number),
            run_id=str(record["run_id"]),
            state=str(state),
            value=json_value(value) if state == "complete" else None,
            params=json.loads(_cell(record, f"tags.{SweepTags.PARAMS}") or "{}"),
            start_time=millis(record.get("start_time")),
            end_time=millis(record.get("end_time")),
        )
        found.append((trial, _cell(record, f"tags.{SweepTags.DISTRIBUTIONS}")))
    return sorted(found, key=lambda pair: pair[0].number)


def _importances(
    trials: list[tuple[SweepTrial, Any]], maximize: bool
) -> tuple[dict[str, float] | None, str | None]:
    # Imported here: Optuna is heavy, and only the sweep page needs it.
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    added = 0
    for trial, raw in trials:
        if trial.state != "complete" or not isinstance(trial.value, float) or raw is None:
            continue
        distributions = {
            k: optuna.distributions.json_to_distribution(v) for k, v in json.loads(raw).items()
        }
        study.add_trial(
            optuna.trial.create_trial(
                params=trial.params, distributions=distributions, value=trial.value
            )
        )
        added += 1
    if added < 2:
        return None, "param importances need at least two complete trials"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as exc:
        return None, f"Optuna could not rank the params: {exc}"
    return {k: float(v) for k, v in found.items()}, None


def sweep_summary(client: TrackingClient, sweep: Run) -> SweepAnswer:
    """What the sweep page shows of the sweep whose run is ``sweep``."""
    tags = sweep.data.tags
    metric = tags.get(SweepTags.METRIC)
    mode = tags.get(SweepTags.MODE, "max")
    maximize = mode != "min"
    pairs = _trials(client, sweep, metric)
    trials = [t for t, _ in pairs]
    counts = {state: 0 for state in STATES}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    best: float | None = None
    best_trial = None
    curve: list[float | str | None] = []
    for trial in trials:
        if isinstance(trial.value, float) and (
            best is None or (trial.value > best if maximize else trial.value < best)
        ):
            best, best_trial = trial.value, trial.number
        curve.append(best)
    importances, note = _importances(pairs, maximize)
    return SweepAnswer(
        run_id=sweep.info.run_id,
        name=tags.get(SweepTags.NAME) or sweep.info.run_name,
        metric=metric,
        mode=mode,
        strategy=tags.get(SweepTags.STRATEGY),
        status=sweep.info.status,
        state_counts=counts,
        trials=trials,
        best_so_far=curve,
        best_trial=best_trial,
        importances=importances,
        importance_note=note,
    )
