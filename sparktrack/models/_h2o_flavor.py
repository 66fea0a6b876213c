"""The ``h2o_mojo`` flavor: the H2O MOJO inside a Sparkling Water model folder.

Sparkling Water's MOJO models are MLWritable: Spark ML's save of the model (under
``sparkml/``) already holds the MOJO file (``stages/<i>_<uid>/mojo_model``). The
flavor points at it instead of copying it, and says which H2O built it, so tools
that score MOJOs without Spark (h2o-genmodel) find it::

    h2o_mojo:
      h2o_version: 3.46.0.6
      sparkling_water_version: 3.46.0.6-1-3.5
      model_class: ai.h2o.sparkling.ml.models.H2OGBMMOJOModel.H2OGBMMOJOModel
      mojo_path: sparkml/stages/0_GBM_2ee26a625b70/mojo_model

Loading goes through the ``spark`` flavor; the jar must be on the JVM's classpath,
which importing ``pysparkling`` does.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sparktrack.h2o import check_h2o_available
from sparktrack.models._uri import ModelLocation

__all__ = ["FLAVOR_NAME", "h2o_mojo_flavor", "prepare_load"]

FLAVOR_NAME = "h2o_mojo"
_MOJO_FILE = "mojo_model"


def _is_mojo_model(stage: Any) -> bool:
    return type(stage).__module__.startswith("ai.h2o.sparkling.") and hasattr(
        stage, "getMojoFileName"
    )


def _versions() -> dict[str, str]:
    try:
        sparkling = version("h2o-pysparkling-3-5")
    except PackageNotFoundError:
        return {}
    try:
        import pysparkling  # loaded already when a Sparkling Water model is being saved

        sparkling = str(pysparkling.__version__)  # 3.46.0.6-1-3.5
    except Exception:
        pass
    return {"h2o_version": sparkling.split("-")[0], "sparkling_water_version": sparkling}


def h2o_mojo_flavor(
    pipeline: Any, location: ModelLocation, sparkml_dir: str
) -> dict[str, Any] | None:
    """The flavor for the H2O MOJO stages of a saved PipelineModel; None if it has none."""
    entries: list[dict[str, str]] = []
    files = None
    for index, stage in enumerate(pipeline.stages):
        if not _is_mojo_model(stage):
            continue
        if files is None:
            files = location.list_files(sparkml_dir)
        pattern = re.compile(
            rf"^{re.escape(sparkml_dir)}/stages/{index}_{re.escape(stage.uid)}/{_MOJO_FILE}$"
        )
        path = next((f for f in files if pattern.match(f)), None)
        if path is not None:
            cls = type(stage)
            entries.append(
                {"model_class": f"{cls.__module__}.{cls.__qualname__}", "mojo_path": path}
            )
    if not entries:
        return None
    # The last MOJO stage is the predictor of a pipeline; all are listed when several.
    flavor: dict[str, Any] = {**_versions(), **entries[-1]}
    if len(entries) > 1:
        flavor["mojos"] = entries
    return flavor


def prepare_load() -> None:
    """Put Sparkling Water's jar on the JVM's classpath before Spark loads the model.

    Raises:
        ConfigurationError: Sparkling Water is not installed, or does not fit pyspark.
    """
    check_h2o_available()
    # Imported only here: its import attaches a 240 MB jar to the running JVM.
    import pysparkling  # noqa: F401
