"""The sweep's Optuna study, through Optuna's public API only.

The study lives on the driver and only decides: ``ask`` gives the next trial's params,
``tell`` records how it ended, ``report``/``should_prune`` run the pruner. A resumed
sweep rebuilds it with ``add_trial`` from its trial runs (``optuna.trial.create_trial``),
so the sampler learns from them and the grid sampler skips their points.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sparktrack.sweeps._records import TrialRecord

if TYPE_CHECKING:
    from optuna import Study
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.trial import FrozenTrial, Trial

__all__ = [
    "grid_id",
    "grid_points_taken",
    "new_study",
    "optuna_module",
    "pruner_for",
    "sampler_for",
    "tell",
]


@functools.cache
def optuna_module() -> ModuleType:
    """Optuna, imported on first use: ``import sparktrack`` does not pay for it.

    Its INFO line per trial is silenced: every trial is a run already.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def sampler_for(strategy: Any, grid: dict[str, list[Any]] | None, seed: int | None) -> BaseSampler:
    """The sampler of a (checked) strategy; ``grid`` is the space's grid for "grid"."""
    samplers = optuna_module().samplers
    if isinstance(strategy, samplers.BaseSampler):
        return strategy
    if strategy == "grid":
        assert grid is not None
        return samplers.GridSampler(grid, seed=seed)
    if strategy == "random":
        return samplers.RandomSampler(seed=seed)
    return samplers.TPESampler(seed=seed)


def pruner_for(early_stopping: Any) -> BasePruner | None:
    """The pruner of a (checked) ``early_stopping``; None when nothing is pruned."""
    pruners = optuna_module().pruners
    if early_stopping is None or early_stopping is False:
        return None
    if isinstance(early_stopping, pruners.NopPruner):
        return None
    if isinstance(early_stopping, pruners.BasePruner):
        return early_stopping
    if early_stopping == "median":
        return pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if early_stopping == "hyperband":
        return pruners.HyperbandPruner()
    return pruners.SuccessiveHalvingPruner()


def new_study(
    *,
    maximize: bool,
    sampler: BaseSampler,
    pruner: BasePruner | None,
    earlier: Mapping[int, TrialRecord],
    grid: dict[str, list[Any]] | None,
) -> Study:
    """A study holding the sweep's ``earlier`` trials (by number) as they ended."""
    optuna = optuna_module()
    study = optuna.create_study(
        direction="maximize" if maximize else "minimize",
        sampler=sampler,
        pruner=pruner if pruner is not None else optuna.pruners.NopPruner(),
    )
    # Re-add earlier trials under their own numbers: a study numbers its trials in the
    # order they are added, and a trial a killed driver left keeps its number only.
    for number in range(max(earlier, default=-1) + 1):
        study.add_trial(_frozen(earlier.get(number), grid))
    return study


def _frozen(record: TrialRecord | None, grid: dict[str, list[Any]] | None) -> FrozenTrial:
    optuna = optuna_module()
    state = optuna.trial.TrialState
    if record is None or not record.finished or record.distributions is None:
        return optuna.trial.create_trial(state=state.FAIL)
    system_attrs: dict[str, Any] = {}
    if grid is not None and record.grid_id is not None:
        # What GridSampler writes on the trials it hands out: it skips these points.
        system_attrs = {"grid_id": record.grid_id, "search_space": grid}
    kind = {"complete": state.COMPLETE, "pruned": state.PRUNED, "failed": state.FAIL}
    return optuna.trial.create_trial(
        state=kind[record.state],
        value=record.value if record.state == "complete" else None,
        params=record.params,
        distributions=record.distributions,
        system_attrs=system_attrs,
    )


def grid_id(study: Study, number: int) -> int | None:
    """The grid point Optuna's GridSampler gave trial ``number`` (kept for resuming)."""
    trials = study.get_trials(deepcopy=False)
    frozen = next((t for t in reversed(trials) if t.number == number), None)
    value = frozen.system_attrs.get("grid_id") if frozen is not None else None
    return int(value) if value is not None else None


def grid_points_taken(study: Study) -> int:
    """How many grid points the study's trials (finished or running) have taken."""
    return len(
        {
            t.system_attrs["grid_id"]
            for t in study.get_trials(deepcopy=False)
            if "grid_id" in t.system_attrs
        }
    )


def tell(study: Study, trial: Trial, state: str, value: float | None) -> None:
    """End ``trial`` in the study: complete with ``value``, pruned, or failed."""
    states = optuna_module().trial.TrialState
    try:
        if state == "complete" and value is not None:
            study.tell(trial, values=value)
        else:
            study.tell(trial, state=states.PRUNED if state == "pruned" else states.FAIL)
    except RuntimeError as exc:
        # GridSampler calls study.stop() after its last point, which raises outside
        # study.optimize (documented for ask-and-tell, optuna/optuna#5141); the trial is
        # recorded first, and this loop stops on its own there.
        if "Study.stop" not in str(exc):
            raise
