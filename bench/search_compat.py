"""Search compatibility: MLflow's own search test cases, run by MLflow and sparktrack.

Usage (from the repo root, in the benchmark environment, which has MLflow):

  .venv-bench/bin/python bench/search_compat.py
  .venv-bench/bin/python bench/search_compat.py --only sql_search_runs_datasets --verbose

The runs, filters, orders and expected results are those of MLflow's tests, as data in
tests/_mlflow_search_cases.py (which names the test each case comes from). For every
scenario the runs are logged to an MLflow SQLite store through its SqlAlchemyStore, the
store MLflow's tests drive (MlflowClient.create_run would read a start time of 0 as
"now"), then the same runs, with the run ids MLflow chose so that ties break alike,
to a sparktrack store. Each case then runs through both tools' search_runs and the
run lists are compared: in order where the case is ordered, as sets otherwise.

Filters and orders MLflow's tests say it rejects must be rejected by sparktrack too;
sparktrack's documented extensions (OR, NOT, parentheses, IS NULL everywhere, numeric
params, ...) must be rejected by MLflow and accepted by sparktrack.

Exit status: 0 when the tools agree on every case (documented extensions aside), 1 with
every disagreement printed, 2 when MLflow is not installed here.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The cases are shared with the test suite, which lives beside this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sparktrack import TrackingClient
from tests._mlflow_search_cases import (
    EXTENSIONS,
    ORDER_EXTENSIONS,
    REJECTED,
    REJECTED_ORDERS,
    SCENARIOS,
    Case,
    Scenario,
    log_to_sparktrack,
    render,
)

_CONTEXT_TAG = "mlflow.data.context"  # MLflow's MLFLOW_DATASET_CONTEXT input tag


@dataclass
class Tally:
    agreed: int = 0
    problems: list[str] | None = None

    def problem(self, text: str) -> None:
        if self.problems is None:
            self.problems = []
        self.problems.append(text)


# --------------------------------------------------------------------------- MLflow side


class MlflowSide:
    """An MLflow SQLite store in ``folder``, written and searched as MLflow's tests do."""

    def __init__(self, folder: Path) -> None:
        # Imported here: MLflow is a benchmark peer, installed only in .venv-bench.
        warnings.simplefilter("ignore")
        from mlflow import entities
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.entities = entities
        self.store = SqlAlchemyStore(
            f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlartifacts").as_uri()
        )

    def log(self, scenario: Scenario) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Write the scenario; returns run ids, experiment ids and artifact URIs by label."""
        e = self.entities
        experiments = {
            label: self.store.create_experiment(f"{scenario.name}-{label}")
            for label in scenario.experiments
        }
        run_ids, uris = {}, {}
        for spec in scenario.runs:
            tags = [e.RunTag("mlflow.user", spec.user_id)]
            run = self.store.create_run(
                experiments[spec.experiment], spec.user_id, spec.start_time, tags, spec.run_name
            )
            run_id = run.info.run_id
            run_ids[spec.label], uris[spec.label] = run_id, run.info.artifact_uri
            for key, value in spec.params.items():
                self.store.log_param(run_id, e.Param(key, value))
            for key, value in spec.tags.items():
                self.store.set_tag(run_id, e.RunTag(key, value))
            for point in spec.metrics:
                metric = e.Metric(point.key, float(point.value), point.timestamp, point.step)
                self.store.log_metric(run_id, metric)
            if spec.inputs:
                self.store.log_inputs(run_id, datasets=[self._input(i) for i in spec.inputs])
            if spec.status != "RUNNING":
                status = e.RunStatus.from_string(spec.status)
                self.store.update_run_info(run_id, status, spec.end_time, None)
        return run_ids, experiments, uris

    def _input(self, item: Any) -> Any:
        e = self.entities
        dataset = e.Dataset(name=item.name, digest=item.digest, source_type="memory", source="{}")
        tags = [] if item.context is None else [e.InputTag(_CONTEXT_TAG, item.context)]
        return e.DatasetInput(dataset, tags)

    def search(
        self, experiment_ids: list[str], filter_string: str | None, order_by: list[str] | None
    ) -> list[str]:
        runs = self.store.search_runs(
            experiment_ids,
            filter_string,
            self.entities.ViewType.ACTIVE_ONLY,
            max_results=1000,
            order_by=order_by,
        )
        return [run.info.run_id for run in runs]


# --------------------------------------------------------------------------- sparktrack side


class SparktrackSide:
    def __init__(self, folder: Path) -> None:
        self.client = TrackingClient(str(folder / "sparktrack-store"))

    def log(
        self, scenario: Scenario, run_ids: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Write the scenario with MLflow's run ids; returns experiment ids and URIs."""
        experiments = {
            label: self.client.create_experiment(f"{scenario.name}-{label}")
            for label in scenario.experiments
        }
        uris = log_to_sparktrack(self.client, scenario, run_ids, experiments)
        return experiments, uris

    def search(
        self, experiment_ids: list[str], filter_string: str | None, order_by: list[str] | None
    ) -> list[str]:
        frame = self.client.search_runs(experiment_ids, filter_string, order_by=order_by)
        return list(frame["run_id"])


# --------------------------------------------------------------------------- comparing


Search = Callable[[list[str], str | None, list[str] | None], list[str]]


def _outcome(
    search: Search, experiment_ids: list[str], filter_string: str | None, order: list[str] | None
) -> list[str] | str:
    """The run ids a search returns, or "rejected: <why>" when it raises."""
    try:
        return search(experiment_ids, filter_string, order)
    except Exception as error:  # each tool raises its own error type for bad input
        return f"rejected: {type(error).__name__}: {str(error)[:160]}"


def compare_scenario(
    scenario: Scenario, mlflow: MlflowSide, ours: SparktrackSide, tally: Tally, verbose: bool
) -> None:
    run_ids, ml_experiments, ml_uris = mlflow.log(scenario)
    experiments, uris = ours.log(scenario, run_ids)
    labels = {run_id: label for label, run_id in run_ids.items()}
    for index, case in enumerate(scenario.cases):
        chosen = case.experiments or scenario.experiments
        order = None if case.order_by is None else list(case.order_by)
        theirs = _outcome(
            mlflow.search,
            [ml_experiments[x] for x in chosen],
            render(case.filter, run_ids, ml_uris),
            order,
        )
        mine = _outcome(
            ours.search, [experiments[x] for x in chosen], render(case.filter, run_ids, uris), order
        )
        name = f"{scenario.name}[{index}] ({case.source})"
        if not _agree(case, theirs, mine):
            tally.problem(
                f"{name}: filter {case.filter!r}, order_by {order}\n"
                f"      MLflow:     {_named(theirs, labels)}\n"
                f"      sparktrack: {_named(mine, labels)}\n"
                f"      expected:   {list(case.expected)}"
            )
            continue
        tally.agreed += 1
        if verbose:
            print(f"  ok    {name}: {case.filter!r} {order or ''}")
            _note_expected(name, case, theirs, labels)


def _agree(case: Case, theirs: list[str] | str, mine: list[str] | str) -> bool:
    if isinstance(theirs, str) or isinstance(mine, str):
        return False  # every ported case is one MLflow's tests run without an error
    return theirs == mine if case.ordered else sorted(theirs) == sorted(mine)


def _named(outcome: list[str] | str, labels: dict[str, str]) -> list[str] | str:
    return outcome if isinstance(outcome, str) else [labels.get(r, r) for r in outcome]


def _note_expected(name: str, case: Case, theirs: list[str] | str, labels: dict[str, str]) -> None:
    """Say where MLflow itself differs from its test's expectation (run ids break ties)."""
    found = _named(theirs, labels)
    expected = list(case.expected)
    if isinstance(found, list) and (found if case.ordered else sorted(found)) != (
        expected if case.ordered else sorted(expected)
    ):
        print(f"  note  {name}: MLflow gave {found}, its test expects {expected}")


def compare_rejections(mlflow: MlflowSide, ours: SparktrackSide, tally: Tally) -> None:
    """Filters and orders MLflow rejects: sparktrack rejects them too, or documents why not."""
    for filter_string in [*REJECTED, *EXTENSIONS]:
        theirs = _outcome(mlflow.search, ["0"], filter_string, None)
        mine = _outcome(ours.search, ["0"], filter_string, None)
        why = EXTENSIONS.get(filter_string)
        _check_rejection(f"filter {filter_string!r}", why, theirs, mine, tally)
    for clause in [*REJECTED_ORDERS, *ORDER_EXTENSIONS]:
        theirs = _outcome(mlflow.search, ["0"], None, [clause])
        mine = _outcome(ours.search, ["0"], None, [clause])
        why = ORDER_EXTENSIONS.get(clause)
        _check_rejection(f"order_by [{clause!r}]", why, theirs, mine, tally)


def _check_rejection(
    what: str,
    extension: str | None,
    theirs: list[str] | str,
    mine: list[str] | str,
    tally: Tally,
) -> None:
    mlflow_rejects = isinstance(theirs, str)
    we_reject = isinstance(mine, str)
    if not mlflow_rejects:
        tally.problem(f"{what}: MLflow accepts it, but its tests say it is rejected")
    elif extension is None and not we_reject:
        tally.problem(f"{what}: MLflow rejects it ({theirs}), sparktrack accepts it")
    elif extension is not None and we_reject:
        tally.problem(f"{what}: documented extension ({extension}) but sparktrack says {mine}")
    else:
        tally.agreed += 1


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every case")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("mlflow") is None:
        print(
            "error: mlflow is not installed in this environment; run this script with the "
            "benchmark environment's Python (make bench-setup, then .venv-bench/bin/python)",
            file=sys.stderr,
        )
        return 2
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {scenario.name for scenario in SCENARIOS}
    if unknown:
        print(f"error: unknown scenario(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="search-compat-") as folder:
        mlflow, ours = MlflowSide(Path(folder)), SparktrackSide(Path(folder))
        for scenario in SCENARIOS:
            if wanted and scenario.name not in wanted:
                continue
            print(f"{scenario.name}: {len(scenario.cases)} cases")
            compare_scenario(scenario, mlflow, ours, tally, args.verbose)
        if not wanted:
            compare_rejections(mlflow, ours, tally)
        ours.client.close()
    for problem in tally.problems or []:
        print(f"DISAGREE {problem}")
    print(f"{tally.agreed} agreed, {len(tally.problems or [])} disagreed")
    return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
