"""Sparkling Water MOJO models in ``sparkml/``: written lean, completed when loaded.

Sparkling Water's writer for its MOJO models (``H2OMOJOWriter``) stores every param of
the model in the stage's metadata, among them views that Sparkling Water derives from
the MOJO whenever it creates a model (``H2OMOJOModel.createFromMojo``): the metrics
objects, the model summary, the scoring history, the feature importances, the
cross-validation summary and histories, the coefficients. Those params hold DataFrames;
encoding them collects each one, and the metadata line goes through a Spark job. On
a 20-tree GBM (10 features) that took 0.5 to 0.8 s, and seconds with kept
cross-validation models, while the MOJO, which they are all made from, is 85 KB.

So sparktrack writes Sparkling Water's layout itself::

    <stage>/metadata/part-00000     Spark ML metadata: every param except those views
    <stage>/mojo_model              the MOJO
    <stage>/cross_validation_models/<i>/...     the same for each kept CV model

Sparkling Water's reader (``H2OMOJOModel.load``, which ``PipelineModel.load`` and
``mlflow.spark.load_model`` use) loads that folder: it sets the params the metadata
holds and reads the MOJO, so the model scores exactly as the fitted one and keeps its
metrics maps (``getTrainingMetrics()`` ...), model details and training params; the
derived views are None there. ``complete_derived_params`` (sparktrack's loader calls
it) sets them from the MOJO through ``createFromMojo``, so a model that sparktrack
loads has every param of the fitted model, views included.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparktrack.models._sparkml_metadata import write_metadata
from sparktrack.models._uri import spark_folder

__all__ = ["complete_derived_params", "is_mojo_model", "save_mojo_model"]

MOJO_FILE = "mojo_model"
CV_MODELS_DIR = "cross_validation_models"
# Param classes of the views Sparkling Water derives from the MOJO (DataFrames, metrics
# objects holding DataFrames, arrays of DataFrames).
DERIVED_PARAM_CLASSES = frozenset(
    {
        "ai.h2o.sparkling.ml.params.NullableDataFrameParam",
        "ai.h2o.sparkling.ml.params.NullableDataFrameArrayParam",
        "ai.h2o.sparkling.ml.params.NullableMetricsParam",
    }
)
# Param classes whose value is a string, encoded as a JSON string (null when None): the
# value crosses py4j once, instead of three times through ``jsonEncode``. Model details
# are a few hundred KB of JSON text.
STRING_PARAM_CLASSES = frozenset(
    {"org.apache.spark.ml.param.Param", "ai.h2o.sparkling.ml.params.NullableStringParam"}
)
_PARAMS_MODULE = "ai.h2o.sparkling.ml.params.H2OMOJOModelParams"


@dataclass(frozen=True)
class _Layout:
    """What every model of one Java class shares: its params and their defaults.

    Params as (name, param class); defaults as the class sets them when it is
    constructed. Asking py4j costs a round trip per param and fact, so it is asked once
    per class.
    """

    params: tuple[tuple[str, str], ...]
    defaults: dict[str, str]

    @property
    def derived(self) -> list[str]:
        return [name for name, kind in self.params if kind in DERIVED_PARAM_CLASSES]


_layouts: dict[str, _Layout] = {}
_layouts_lock = threading.Lock()


def is_mojo_model(stage: Any) -> bool:
    """Whether ``stage`` is a Sparkling Water algorithm (or feature) MOJO model.

    Those are saved and read by ``H2OMOJOWriter`` / ``H2OMOJOReader``. Other Sparkling
    Water models (MOJO pipelines, target encoders) keep their own writers.
    """
    if not type(stage).__module__.startswith("ai.h2o.sparkling."):
        return False
    # Imported late: only when a Sparkling Water model is at hand, so pysparkling is.
    params = importlib.import_module(_PARAMS_MODULE).H2OMOJOModelParams
    return isinstance(stage, params)


def _layout(java_model: Any) -> _Layout:
    class_name = str(java_model.getClass().getName())
    with _layouts_lock:
        layout = _layouts.get(class_name)
    if layout is not None:
        return layout
    params: list[tuple[str, str]] = []
    defaults: dict[str, str] = {}
    for param in java_model.params():
        name = str(param.name())
        params.append((name, str(param.getClass().getName())))
        if java_model.hasDefault(param):
            defaults[name] = str(param.jsonEncode(java_model.getDefault(param).get()))
    layout = _Layout(tuple(params), defaults)
    with _layouts_lock:
        _layouts[class_name] = layout
    return layout


def _encoded(param: Any, kind: str, value: Any) -> str:
    if kind in STRING_PARAM_CLASSES and (value is None or isinstance(value, str)):
        return json.dumps(value, ensure_ascii=False)
    return str(param.jsonEncode(value))


def _encoded_params(java_model: Any, layout: _Layout) -> dict[str, str]:
    """The set params, as Spark's writer encodes them, but the views derived from the MOJO."""
    params: dict[str, str] = {}
    for name, kind in layout.params:
        if kind in DERIVED_PARAM_CLASSES:
            continue
        param = java_model.getParam(name)
        if java_model.isSet(param):
            params[name] = _encoded(param, kind, java_model.getOrDefault(param))
    return params


def _local_mojo(stage: Any) -> str:
    """The driver-local file of the stage's MOJO.

    Sparkling Water keeps it among the SparkContext's files, where its own writer
    copies it from.
    """
    from pyspark import SparkFiles  # late: importing sparktrack.models imports no pyspark

    return str(SparkFiles.get(stage.getMojoFileName()))


def save_mojo_model(stage: Any, uri: str, spark_version: str) -> None:
    """Save a MOJO model at ``uri`` in Sparkling Water's layout (see the module docstring).

    The metadata goes last: a folder with metadata has its MOJO and its CV models.
    """
    folder = spark_folder(uri)
    folder.upload(_local_mojo(stage), MOJO_FILE)
    for index, cv_model in enumerate(stage.getCrossValidationModels() or []):
        save_mojo_model(cv_model, f"{uri.rstrip('/')}/{CV_MODELS_DIR}/{index}", spark_version)
    java_model = stage._java_obj
    layout = _layout(java_model)
    write_metadata(
        folder,
        class_name=str(java_model.getClass().getName()),
        uid=stage.uid,
        spark_version=spark_version,
        params=_encoded_params(java_model, layout),
        defaults=layout.defaults,
    )


def complete_derived_params(model: Any) -> None:
    """Set the MOJO-derived views on the MOJO models in ``model`` loaded from lean folders.

    ``model`` is such a model or a PipelineModel of them (their CV models included).
    A model whose folder Sparkling Water's own writer wrote has them already and is
    left as it is.
    """
    from pyspark.ml import PipelineModel  # late: importing sparktrack.models imports no pyspark

    stages = model.stages if isinstance(model, PipelineModel) else [model]
    for stage in stages:
        if isinstance(stage, PipelineModel):
            complete_derived_params(stage)
        elif is_mojo_model(stage):
            _complete(stage)


def _complete(stage: Any) -> None:
    # Imported late: the optional dependency, present when its model was loaded.
    from pysparkling.ml import H2OMOJOModel, H2OMOJOSettings

    java_model = stage._java_obj
    derived = _layout(java_model).derived
    if not derived or any(java_model.isSet(java_model.getParam(name)) for name in derived):
        return
    # The views depend on the MOJO and, for metrics objects, on the serializer of
    # their DataFrames: the rest of the settings only concern scoring.
    settings = H2OMOJOSettings(dataFrameSerializer=java_model.getDataFrameSerializer())
    fresh = H2OMOJOModel.createFromMojo(_file_uri(_local_mojo(stage)), settings)._java_obj
    for name in derived:
        fresh_param = fresh.getParam(name)
        if fresh.isSet(fresh_param):
            # As pyspark sets a Java model's params: a ParamPair through ``set``.
            param = java_model.getParam(name)
            java_model.set(param.w(fresh.getOrDefault(fresh_param)))
    for cv_model in stage.getCrossValidationModels() or []:
        _complete(cv_model)


def _file_uri(path: str) -> str:
    return Path(path).absolute().as_uri()
