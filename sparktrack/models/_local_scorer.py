"""Scoring fitted Spark ML models with numpy, without Spark.

A Spark job costs hundreds of milliseconds even for one row, and loading a model
needs a JVM; the arithmetic of a pipeline over a few features costs microseconds.
:func:`compile_saved_model` reads a model's Spark ML save (``sparkml/``: each stage's
JSON metadata and Parquet data, see :mod:`sparktrack.models._sparkml_reader`) and
builds one numpy stage per fitted stage, using Spark's own formulas so the results
match ``transform``.

The frame of columns stages work on is in :mod:`sparktrack.models._local_frame`; the
stages and their compilers by family in ``_local_stages`` (numeric feature
transformers), ``_local_categorical`` (indexers, one-hot, buckets),
``_local_interaction``, ``_local_projections`` (PCA, ElementwiseProduct, SQL selections),
``_local_predictors`` (linear and logistic regression, LinearSVC), ``_local_glm``
(GeneralizedLinearRegression), ``_local_bayes`` (NaiveBayes), ``_local_clustering``
(KMeans) and ``_local_trees`` (trees and ensembles).
Anything else raises :class:`LocalScoringUnsupported` (at compile time for a stage,
at scoring time for an input, e.g. a null vector): the caller then uses Spark, which
decides. Inputs Spark would reject the same way (a null under
``handleInvalid="error"``, an unseen label) raise InvalidInputError naming the column
and row.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparktrack.models import (
    _local_bayes,
    _local_categorical,
    _local_clustering,
    _local_glm,
    _local_interaction,
    _local_predictors,
    _local_projections,
    _local_stages,
    _local_trees,
)
from sparktrack.models._local_categorical import StringIndexer
from sparktrack.models._local_frame import Frame, LocalScoringUnsupported, Stage
from sparktrack.models._sparkml_reader import SavedStage, read_saved_model
from sparktrack.models._uri import LocalLocation, ModelLocation

__all__ = [
    "LocalScorer",
    "LocalScoringUnsupported",
    "compile_local_scorer",
    "compile_saved_model",
    "compile_stages",
    "covered_stages",
]

_COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    **_local_stages.COMPILERS,
    **_local_categorical.COMPILERS,
    **_local_interaction.COMPILERS,
    **_local_projections.COMPILERS,
    **_local_predictors.COMPILERS,
    **_local_glm.COMPILERS,
    **_local_bayes.COMPILERS,
    **_local_clustering.COMPILERS,
    **_local_trees.COMPILERS,
}


def covered_stages() -> list[str]:
    """The JVM classes of the stages the local scorer evaluates, sorted."""
    return sorted(_COMPILERS)


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


def compile_stages(saved: Sequence[SavedStage]) -> LocalScorer:
    """Compile saved stages (``read_saved_model``) into a scorer.

    Raises:
        LocalScoringUnsupported: A stage numpy does not evaluate (named in the message),
            an unsupported ``handleInvalid`` mode, or a model without stages.
    """
    stages = []
    for stage in saved:
        compiler = _COMPILERS.get(stage.class_name)
        if compiler is None:
            raise LocalScoringUnsupported(f"stage {stage.label}")
        stages.append(compiler(stage))
    if not stages:
        raise LocalScoringUnsupported("a model without stages")
    return LocalScorer(tuple(stages))


def compile_saved_model(location: ModelLocation, folder: str) -> LocalScorer:
    """Compile the Spark ML save in ``folder`` of ``location``, without Spark.

    Args:
        location: The model folder.
        folder: The save's path in it (``sparkml`` in a model folder).

    Returns:
        The scorer, holding one numpy stage per fitted stage (pipelines flattened).

    Raises:
        LocalScoringUnsupported: A stage numpy does not evaluate (named in the
            message), an unsupported ``handleInvalid`` mode, or a model without
            stages; score the model with Spark instead.
        InvalidInputError: The save is damaged.
    """
    return compile_stages(read_saved_model(location, folder))


def compile_local_scorer(model: Any) -> LocalScorer:
    """Compile a fitted pyspark.ml model held in memory.

    The model is saved with Spark ML's writer into a temporary folder and compiled
    from there, so a model in memory and the same model loaded from a folder score
    through the same code.

    Args:
        model: A fitted ``pyspark.ml`` model: a PipelineModel or a single stage.

    Raises:
        LocalScoringUnsupported: As :func:`compile_saved_model`.
    """
    with tempfile.TemporaryDirectory(prefix="sparktrack-compile-") as tmp:
        model.write().save(str(Path(tmp) / "model"))
        return compile_saved_model(LocalLocation(Path(tmp)), "model")
