"""MLflow's own run-search test cases, run against sparktrack on the same runs.

The runs, queries and expected results are MLflow's (``_mlflow_search_cases`` names the
test each comes from). All scenarios are written to one Delta store, each in its own
experiments, and searched through ``TrackingClient.search_runs`` as a user would.
``bench/search_compat.py`` logs the same runs to MLflow and compares both tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sparktrack import SearchSyntaxError, TrackingClient
from sparktrack.search import parse_filter, parse_order_by
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
    sparktrack_run_ids,
)


@dataclass(frozen=True)
class Logged:
    """One scenario as written to the store: ids of its runs and experiments, and URIs."""

    run_ids: dict[str, str]
    experiment_ids: dict[str, str]
    uris: dict[str, str]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackingClient, dict]]:
    root = tmp_path_factory.mktemp("mlflow-cases")
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped: set the journal folder the per-test fixture would set.
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        client = TrackingClient(str(root / "store"))
        scenarios = {}
        for scenario in SCENARIOS:
            experiment_ids = {
                label: client.create_experiment(f"{scenario.name}-{label}")
                for label in scenario.experiments
            }
            run_ids = sparktrack_run_ids(scenario)
            uris = log_to_sparktrack(client, scenario, run_ids, experiment_ids)
            scenarios[scenario.name] = Logged(run_ids, experiment_ids, uris)
        yield client, scenarios
        client.close()


def _params() -> list[object]:
    return [
        pytest.param(scenario, case, id=f"{scenario.name}[{index}]")
        for scenario in SCENARIOS
        for index, case in enumerate(scenario.cases)
    ]


@pytest.mark.parametrize(("scenario", "case"), _params())
def test_mlflow_case(
    logged: tuple[TrackingClient, dict[str, Logged]], scenario: Scenario, case: Case
) -> None:
    client, scenarios = logged
    written = scenarios[scenario.name]
    experiments = case.experiments or scenario.experiments
    frame = client.search_runs(
        [written.experiment_ids[label] for label in experiments],
        render(case.filter, written.run_ids, written.uris),
        order_by=None if case.order_by is None else list(case.order_by),
    )
    labels = {run_id: label for label, run_id in written.run_ids.items()}
    found = [labels[run_id] for run_id in frame["run_id"]]
    context = f"{case.source}: filter {case.filter!r}, order_by {case.order_by!r}"
    if case.ordered:
        assert found == list(case.expected), context
    else:
        assert sorted(found) == sorted(case.expected), context


def test_every_scenario_has_distinct_labels_and_cases() -> None:
    for scenario in SCENARIOS:
        labels = [run.label for run in scenario.runs]
        assert len(set(labels)) == len(labels), scenario.name
        for case in scenario.cases:
            assert set(case.expected) <= set(labels), (scenario.name, case)


@pytest.mark.parametrize("filter_string", REJECTED)
def test_filters_mlflow_rejects_are_rejected(filter_string: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse_filter(filter_string)


@pytest.mark.parametrize("filter_string", sorted(EXTENSIONS))
def test_documented_extensions_parse(filter_string: str) -> None:
    assert parse_filter(filter_string) is not None


@pytest.mark.parametrize("clause", REJECTED_ORDERS)
def test_orders_mlflow_rejects_are_rejected(clause: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse_order_by([clause])


@pytest.mark.parametrize("clause", sorted(ORDER_EXTENSIONS))
def test_documented_order_extensions_parse(clause: str) -> None:
    assert len(parse_order_by([clause])) == 1


def test_the_cases_run_on_a_store_in_a_folder(tmp_path: Path) -> None:
    """Writing a scenario through the helper gives the runs MLflow's test describes."""
    scenario = SCENARIOS[0]
    client = TrackingClient(str(tmp_path / "store"))
    experiment_ids = {label: client.create_experiment(label) for label in scenario.experiments}
    run_ids = sparktrack_run_ids(scenario)
    log_to_sparktrack(client, scenario, run_ids, experiment_ids)
    run = client.get_run(run_ids["0"])
    assert (run.info.status, run.info.start_time, run.info.end_time) == ("FAILED", 0, 1)
    assert run.data.metrics == {"key1": 121.0}
    assert run.data.params == {"my_param": "A"}
    assert [(i.name, i.digest, i.context) for i in client.get_inputs(run_ids["0"])] == [
        ("name1", "digest1", "train")
    ]
    client.close()
