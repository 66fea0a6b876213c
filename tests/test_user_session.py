"""sparktrack in the session a user builds: no Delta, autolog's real background thread.

Each flow runs in a child process (one SparkContext per process) whose session is a
plain ``SparkSession.builder.master("local[2]").getOrCreate()``; see
``tests/_user_session.py``. The child prints what it recorded and what it saw of the
session; these tests assert on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._processes import child_env, python, readable, result_line, run_child

# Spark (and H2O) start in the child: generous, the machine is shared and slow to start.
CHILD_TIMEOUT_S = 900


def _run_child(flow: str, store: Path) -> dict[str, Any]:
    # The user's conditions: autolog's worker thread, not the suite's synchronous test mode.
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(store.parent / "journal"),
        PYSPARK_PYTHON=sys.executable,
    )
    done = run_child(
        python("-m", "tests._user_session", flow, str(store)),
        cwd=store.parent,
        env=env,
        timeout=CHILD_TIMEOUT_S,
    )
    result = result_line(done.stdout)
    assert result is not None, done.explain(f"the {flow} child printed no RESULT line")
    result["_stderr"] = readable(done.stderr)
    return result


def _explain(result: dict[str, Any]) -> str:
    shown = {k: v for k, v in result.items() if k != "_stderr"}
    return f"{json.dumps(shown, indent=1)[:6000]}\n--- child stderr (tail) ---\n{result['_stderr']}"


@pytest.mark.spark
@pytest.mark.slow
def test_autolog_registry_and_sweep_leave_a_plain_session_as_it_was(tmp_path: Path) -> None:
    result = _run_child("mllib", tmp_path / "store")
    why = _explain(result)
    assert result["changes"] == {}, why
    assert result["next"] == {"fit": "ok", "cache_count": "ok", "sql": "ok"}, why
    assert result["spark_search"] == "ok", why
    assert result["autolog_warnings"] == [], why
    # Two TrainValidationSplit fits and one CrossValidator fit, each with two child runs
    # (param maps), and the sweep with its two trials: 3 + 6 + 3.
    assert result["runs"]["total"] == 12, why
    assert result["runs"]["finished"] == 12, why
    assert result["runs"]["after_next_fit"] == 13, why
    tvs = result["tvs"]
    assert tvs["status"] == "FINISHED" and tvs["name"] == "TrainValidationSplit", why
    assert {"best.LogisticRegression.regParam", "LogisticRegression.maxIter"} <= set(tvs["params"])
    assert "best_avg_areaUnderROC" in tvs["metrics"], why
    assert {"model", "search_results.csv", "estimator_hierarchy.json"} <= set(tvs["artifacts"]), why
    assert result["registry"]["version"] == 1, why
    assert result["registry"]["predictions"] == result["expected_predictions"], why
    assert result["sweep"]["states"] == ["complete", "complete"], why
    assert set(result["sweep"]["best_params"]) == {"LogisticRegression.regParam"}, why


@pytest.mark.spark
@pytest.mark.h2o
@pytest.mark.slow
def test_h2o_autolog_in_a_plain_session_and_h2o_listens_on_loopback_only(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pysparkling")
    result = _run_child("h2o", tmp_path / "store")
    why = _explain(result)
    assert result["changes"] == {}, why
    assert result["next"] == {"fit": "ok", "cache_count": "ok", "sql": "ok"}, why
    assert result["autolog_warnings"] == [], why
    assert result["runs"] == {"total": 3, "finished": 3}, why
    gbm = result["gbm"]
    assert gbm["status"] == "FINISHED" and gbm["name"] == "H2OGBM", why
    assert "training_AUC" in gbm["metrics"] and "ntrees" in gbm["params"], why
    assert {"model", "feature_importances.csv", "model_details.json"} <= set(gbm["artifacts"])
    assert {"h2o_mojo", "spark"} <= set(result["flavors"]), why
    assert result["predictions"] == result["expected_predictions"], why

    reachable = result["reachable"]
    assert str(result["rest_api_port"]) in reachable, why
    assert reachable[str(result["rest_api_port"])]["loopback"], why
    if result["external_address"] is None:
        pytest.skip("this machine has no address besides loopback: nothing to check H2O against")
    for port, reach in reachable.items():
        assert not reach["external"], (
            f"H2O's port {port} (bound to {reach['bound_to']}) accepts connections on "
            f"{result['external_address']}, not only on loopback\n{why}"
        )
