"""Scoring fitted Spark ML models with numpy, without a Spark job.

A Spark job costs hundreds of milliseconds even for one row; the arithmetic of a
linear model over a few features costs microseconds. For pipelines made only of the
stages below, :func:`compile_local_scorer` reads the fitted coefficients from the
loaded pyspark.ml objects (never from pickles) and evaluates them with numpy, using
Spark's own formulas so the results match ``transform``:

* VectorAssembler (handleInvalid ``error`` and ``keep``)
* StandardScalerModel, MinMaxScalerModel
* StringIndexerModel (string inputs; handleInvalid ``error`` and ``keep``)
* OneHotEncoderModel (handleInvalid ``error`` and ``keep``)
* LogisticRegressionModel (binomial and multinomial; prediction, probability,
  rawPrediction, threshold/thresholds)
* LinearRegressionModel

The frame of columns they work on is in :mod:`sparktrack.models._local_frame`, the
feature stages in :mod:`sparktrack.models._local_stages` and the predictors in
:mod:`sparktrack.models._local_predictors`. Anything else raises
:class:`LocalScoringUnsupported` (at compile time for a stage, at scoring time for an
input, e.g. a null vector): the caller then uses Spark, which decides. Inputs Spark
would reject the same way (a null under ``handleInvalid="error"``, an unseen label)
raise InvalidInputError naming the column and row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparktrack.models._inference import stages as _stages
from sparktrack.models._local_frame import Frame, LocalScoringUnsupported, Stage
from sparktrack.models._local_predictors import LinearRegression, LogisticRegression
from sparktrack.models._local_stages import (
    Assembler,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
)

__all__ = [
    "LocalScorer",
    "LocalScoringUnsupported",
    "compile_local_scorer",
]


def _param(stage: Any, name: str) -> Any:
    """A stage's param value (set or default); None when it has no value."""
    if not stage.hasParam(name):
        return None
    param = stage.getParam(name)
    return stage.getOrDefault(param) if stage.isDefined(param) else None


# -- compiling a fitted model --------------------------------------------------------------
def _label(stage: Any) -> str:
    return f"{type(stage).__name__} ({stage.uid})"


def _array(vector: Any) -> np.ndarray:
    return np.asarray(vector.toArray(), dtype=np.float64)


def _columns_of(stage: Any, single: str, multi: str) -> tuple[str, ...]:
    many = _param(stage, multi)
    if many:
        return tuple(many)
    one = _param(stage, single)
    return (one,) if one else ()


def _handle_invalid(stage: Any, supported: Sequence[str]) -> bool:
    """Whether invalid values are kept; LocalScoringUnsupported for other modes (skip)."""
    mode = _param(stage, "handleInvalid") or "error"
    if mode not in supported:
        # "skip" drops rows: the output would no longer line up with the request.
        raise LocalScoringUnsupported(f"{_label(stage)} with handleInvalid={mode!r}")
    return bool(mode == "keep")


def _assembler(stage: Any) -> Stage:
    return Assembler(
        name=_label(stage),
        inputs=tuple(_param(stage, "inputCols") or ()),
        output=_param(stage, "outputCol"),
        keep_invalid=_handle_invalid(stage, ("error", "keep")),
    )


def _standard_scaler(stage: Any) -> Stage:
    std = _array(stage.std)
    return StandardScaler(
        name=_label(stage),
        input=_param(stage, "inputCol"),
        output=_param(stage, "outputCol"),
        shift=_array(stage.mean) if _param(stage, "withMean") else None,
        scale=np.array([0.0 if v == 0 else 1.0 / v for v in std])
        if _param(stage, "withStd")
        else None,
        size=std.shape[0],
    )


def _min_max_scaler(stage: Any) -> Stage:
    low, high = float(_param(stage, "min")), float(_param(stage, "max"))
    original_min, original_max = _array(stage.originalMin), _array(stage.originalMax)
    spread = original_max - original_min
    scale = np.array([(high - low) / r if r != 0 else 0.0 for r in spread])
    return MinMaxScaler(
        name=_label(stage),
        input=_param(stage, "inputCol"),
        output=_param(stage, "outputCol"),
        original_min=original_min,
        scale=scale,
        low=low,
        constant=(low + high) / 2,
    )


def _string_indexer(stage: Any) -> Stage:
    inputs = _columns_of(stage, "inputCol", "inputCols")
    outputs = _columns_of(stage, "outputCol", "outputCols")
    labels = stage.labelsArray
    return StringIndexer(
        name=_label(stage),
        inputs=inputs,
        outputs=outputs,
        indexes=tuple({label: float(i) for i, label in enumerate(ls)} for ls in labels),
        keep_invalid=_handle_invalid(stage, ("error", "keep")),
    )


def _one_hot_encoder(stage: Any) -> Stage:
    keep = _handle_invalid(stage, ("error", "keep"))
    drop_last = bool(_param(stage, "dropLast"))
    sizes = tuple(int(s) for s in stage.categorySizes)
    # Spark's configured sizes: an extra slot for invalid values when kept, minus the
    # last slot when dropLast.
    output_sizes = tuple(s + (1 if keep else 0) - (1 if drop_last else 0) for s in sizes)
    return OneHotEncoder(
        name=_label(stage),
        inputs=_columns_of(stage, "inputCol", "inputCols"),
        outputs=_columns_of(stage, "outputCol", "outputCols"),
        category_sizes=sizes,
        output_sizes=output_sizes,
        keep_invalid=keep,
    )


def _linear_regression(stage: Any) -> Stage:
    return LinearRegression(
        name=_label(stage),
        features=_param(stage, "featuresCol"),
        prediction=_param(stage, "predictionCol") or "",
        coefficients=_array(stage.coefficients),
        intercept=float(stage.intercept),
    )


def _logistic_regression(stage: Any) -> Stage:
    coefficients = np.asarray(stage.coefficientMatrix.toArray(), dtype=np.float64)
    intercepts = _array(stage.interceptVector)
    # A binomial model has one row of coefficients; a multinomial one a row per class
    # (also for two classes when fitted with family="multinomial").
    multinomial = coefficients.shape[0] > 1
    if coefficients.shape[0] != intercepts.shape[0]:
        raise LocalScoringUnsupported(f"{_label(stage)} with an unexpected coefficient shape")
    thresholds = _param(stage, "thresholds")
    return LogisticRegression(
        name=_label(stage),
        features=_param(stage, "featuresCol"),
        prediction=_param(stage, "predictionCol") or "",
        probability=_param(stage, "probabilityCol") or "",
        raw_prediction=_param(stage, "rawPredictionCol") or "",
        coefficients=coefficients,
        intercepts=intercepts,
        multinomial=bool(multinomial),
        threshold=float(stage.getThreshold()) if not multinomial else 0.5,
        thresholds=np.asarray(thresholds, dtype=np.float64) if multinomial and thresholds else None,
    )


def _compilers() -> dict[type, Callable[[Any], Stage]]:
    # pyspark loads late: importing sparktrack.models must not import it (a model is
    # compiled only once pyspark has loaded it anyway).
    from pyspark.ml.classification import LogisticRegressionModel
    from pyspark.ml.feature import (
        MinMaxScalerModel,
        OneHotEncoderModel,
        StandardScalerModel,
        StringIndexerModel,
        VectorAssembler,
    )
    from pyspark.ml.regression import LinearRegressionModel

    return {
        VectorAssembler: _assembler,
        StandardScalerModel: _standard_scaler,
        MinMaxScalerModel: _min_max_scaler,
        StringIndexerModel: _string_indexer,
        OneHotEncoderModel: _one_hot_encoder,
        LinearRegressionModel: _linear_regression,
        LogisticRegressionModel: _logistic_regression,
    }


@dataclass(frozen=True)
class LocalScorer:
    """A fitted model's stages, evaluated with numpy (built by ``compile_local_scorer``).

    Attributes:
        stages: The compiled stages, in the model's order.
    """

    stages: tuple[Stage, ...]

    @property
    def accepted_inputs(self) -> list[str]:
        """Every column a stage reads from the input, in the order stages first read them."""
        produced: set[str] = set()
        read: list[str] = []
        for stage in self.stages:
            for column in stage.reads:
                if column not in produced and column not in read:
                    read.append(column)
            produced.update(stage.writes)
        return read

    @property
    def inputs(self) -> list[str]:
        """The input columns scoring needs.

        A StringIndexer's input counts only if a later stage reads its output, as
        Spark skips the indexer when the column is absent (the label column at
        scoring).
        """
        return [c for c in self.accepted_inputs if self._needed(c)]

    def _needed(self, column: str) -> bool:
        for i, stage in enumerate(self.stages):
            if column in stage.reads and not isinstance(stage, StringIndexer):
                return True
            if isinstance(stage, StringIndexer) and column in stage.inputs:
                output = stage.outputs[stage.inputs.index(column)]
                if any(output in later.reads for later in self.stages[i + 1 :]):
                    return True
        return False

    @property
    def outputs(self) -> list[str]:
        """Every column the stages write, in the order they write them."""
        return [c for stage in self.stages for c in stage.writes]

    def transform(self, columns: Frame, rows: int) -> Frame:
        """Apply every stage, as the model's ``transform`` would.

        Args:
            columns: The input, one array per column: 1-D float64 for numbers (NaN
                for null), 1-D object for strings (None for null), 2-D float64 for
                vectors (rows x size).
            rows: How many rows the input has (columns may be absent).

        Returns:
            A new frame: the input columns plus every column the stages write.

        Raises:
            InvalidInputError: The input lacks a column a stage reads, holds the wrong
                kind of value, or holds a value the model rejects (a null or unseen
                label under ``handleInvalid="error"``), naming the column and row.
            LocalScoringUnsupported: An input only Spark can judge (e.g. a missing
                value going into a OneHotEncoder); score with Spark instead.
        """
        frame = dict(columns)
        for stage in self.stages:
            stage.apply(frame, rows)
        return frame


def compile_local_scorer(model: Any) -> LocalScorer:
    """Compile a fitted Spark ML model into a scorer that evaluates it with numpy.

    Reads the fitted coefficients off the loaded pyspark.ml objects (never from
    pickles). Pipelines are flattened; every stage must be one of the supported
    classes exactly (a subclass may transform differently).

    Args:
        model: A fitted ``pyspark.ml`` model: a PipelineModel or a single stage.

    Returns:
        The scorer, holding one numpy stage per model stage.

    Raises:
        LocalScoringUnsupported: A stage numpy does not evaluate (named in the
            message), an unsupported ``handleInvalid`` mode, or a model without
            stages; score the model with Spark instead.
    """
    compilers = _compilers()
    stages = []
    for stage in _stages(model):
        # Exact classes only: a subclass may transform differently.
        compiler = compilers.get(type(stage))
        if compiler is None:
            raise LocalScoringUnsupported(f"stage {_label(stage)}")
        stages.append(compiler(stage))
    if not stages:
        raise LocalScoringUnsupported("a model without stages")
    return LocalScorer(tuple(stages))
