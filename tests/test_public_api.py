"""The public surface: what the facades export, and that importing it stays light."""

from __future__ import annotations

import sys

import sparktrack
import sparktrack.models
import sparktrack.monitoring
import sparktrack.projects
import sparktrack.registry
import sparktrack.search
import sparktrack.serving
import sparktrack.store
import sparktrack.sweeps
import sparktrack.tracking
import sparktrack.ui
from tests._processes import python, run_child


def test_facades_export_exactly_their_public_names() -> None:
    for module in (
        sparktrack,
        sparktrack.tracking,
        sparktrack.store,
        sparktrack.search,
        sparktrack.models,
        sparktrack.monitoring,
        sparktrack.registry,
        sparktrack.sweeps,
        sparktrack.projects,
        sparktrack.serving,
        sparktrack.ui,
    ):
        public = {
            n
            for n in vars(module)
            if not n.startswith("_") and not isinstance(getattr(module, n), type(sys))
        }
        exported = set(module.__all__)
        assert exported <= set(vars(module)), module.__name__
        assert len(module.__all__) == len(exported), f"duplicates in {module.__name__}.__all__"
        assert public - exported - {"annotations"} <= {"Any", "TYPE_CHECKING"}, (
            module.__name__,
            sorted(public - exported),
        )


def test_the_mlflow_names_users_expect_are_there() -> None:
    for name in (
        "set_experiment",
        "start_run",
        "active_run",
        "end_run",
        "log_param",
        "log_params",
        "log_metric",
        "log_metrics",
        "set_tag",
        "set_tags",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_text",
        "log_figure",
        "log_input",
        "get_run",
        "get_metric_history",
        "search_runs",
        "flush",
        "autolog",
        "log_model",
        "load_model",
        "last_active_run",
        "register_model",
        "set_model_stage",
        "set_model_alias",
        "get_model_version",
        "search_model_versions",
    ):
        assert callable(getattr(sparktrack, name)), name


def test_import_and_search_never_start_a_jvm_or_import_pyspark(tmp_path: object) -> None:
    code = (
        "import sys, sparktrack\n"
        f"sparktrack.set_store({str(tmp_path)!r} + '/store')\n"
        "with sparktrack.start_run():\n"
        "    sparktrack.log_metric('m', 1.0)\n"
        "sparktrack.search_runs(filter_string='metrics.m > 0')\n"
        "print('pyspark' in sys.modules, 'optuna' in sys.modules)\n"
    )
    assert run_child(python("-c", code)).stdout.strip() == "False False"


def test_the_cli_and_the_serving_package_import_without_fastapi() -> None:
    # The `serve` extra is optional: only starting a server needs fastapi and uvicorn.
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "sys.modules['uvicorn'] = None\n"
        "import sparktrack.cli, sparktrack.serving\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'pyspark') if sys.modules.get(m)))\n"
    )
    assert run_child(python("-c", code)).stdout.strip() == "[]"
