"""KMeans for the local scorer: the nearest center, found exactly as Spark finds it.

Spark's KMeansModel.predict (mllib) does not simply take the smallest distance: it
skips centers through bounds and may stop early (DistanceMeasure.findClosest with the
triangle-inequality statistics of the centers, computed when k < 1000 and
k * k * features < 1,000,000; else the plain scan), and its Euclidean distance takes a
shortcut (MLUtils.fastSquaredDistance: ``|a|^2 + |b|^2 - 2 a.b`` when that is precise
enough and a vector is sparse). On near-ties those choices decide the cluster, so they
are reproduced step by step, with the first center winning exact ties.

Whether Spark holds the point as a sparse vector matters to the shortcut. The local
frame keeps vectors dense, so a point counts as sparse when Spark's
``Vector.compressed`` would make it so (fewer than ``size / 1.5 - 1`` non-zeros),
which is what VectorAssembler hands on. Centers keep the form of the save.

Exactness (tests/test_local_predictors.py): ``prediction`` equal. Sums run in feature
order, which is Spark's order for the norms, ``sqdist`` and a sparse dot product.

Spark fails the job when a point holds NaN (a NaN norm fails fastSquaredDistance's
check) or, with the cosine measure, when a point is all zeros; those rows raise
InvalidInputError here, naming the column and the row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    first_row,
    read_vectors,
)
from sparktrack.models._sparkml_reader import SavedStage

__all__ = ["COMPILERS", "KMeans"]

_PRECISION = 1e-6  # fastSquaredDistance's default precision
_EPSILON = float(np.finfo(np.float64).eps)  # MLUtils.EPSILON: 2.220446049250313e-16


def _sequential_sum(terms: np.ndarray) -> np.ndarray:
    """Row sums of a 2-D array, added left to right as Spark's loops add them."""
    total = np.zeros(terms.shape[0])
    for j in range(terms.shape[1]):
        total += terms[:, j]
    return total


def _norms(values: np.ndarray) -> np.ndarray:
    """Row norms as mllib Vectors.norm(v, 2) computes them (squares summed in order)."""
    return np.sqrt(_sequential_sum(values * values))


def _upper_index(i: int, j: np.ndarray | int) -> np.ndarray:
    """ml.impl.Utils.indexUpperTriangular for a row's current best center ``j``."""
    j = np.asarray(j)
    return np.where(i <= j, j * (j + 1) // 2 + i, i * (i + 1) // 2 + j)


@dataclass(frozen=True)
class KMeans:
    name: str
    features: str
    prediction: str
    cosine: bool
    centers: np.ndarray  # k x features
    center_sparse: tuple[bool, ...]  # the form each center was saved in
    center_norms: np.ndarray
    statistics: np.ndarray | None  # the packed upper triangle Spark computes, if it does

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.prediction,) if self.prediction else ()

    def _squared_distance(
        self, i: int, points: np.ndarray, norms: np.ndarray, sparse: np.ndarray
    ) -> np.ndarray:
        """MLUtils.fastSquaredDistance(center i, point) for every row."""
        center = self.centers[i]
        exact = _sequential_sum((center - points) ** 2)  # Vectors.sqdist
        if not (self.center_sparse[i] or sparse.any()):
            return exact  # both dense: sqdist
        with np.errstate(all="ignore"):
            squared_norms = self.center_norms[i] * self.center_norms[i] + norms * norms
            difference = self.center_norms[i] - norms
            bound = 2.0 * _EPSILON * squared_norms / (difference * difference + _EPSILON)
            dot = _sequential_sum(points * center)
            fast = squared_norms - 2.0 * dot
            kept = np.maximum(fast, 0.0)
            bound2 = _EPSILON * (squared_norms + 2.0 * np.abs(dot)) / (kept + _EPSILON)
            shortcut = np.where(
                bound < _PRECISION, fast, np.where(bound2 > _PRECISION, exact, kept)
            )
        return np.where(sparse | self.center_sparse[i], shortcut, exact)

    def _cosine_distance(self, i: int, points: np.ndarray, norms: np.ndarray) -> np.ndarray:
        dot = _sequential_sum(points * self.centers[i])
        return 1 - dot / self.center_norms[i] / norms

    def _distance(
        self, i: int, points: np.ndarray, norms: np.ndarray, sparse: np.ndarray
    ) -> np.ndarray:
        """The measure findClosest compares: squared Euclidean, or cosine distance."""
        if self.cosine:
            return self._cosine_distance(i, points, norms)
        return self._squared_distance(i, points, norms, sparse)

    def _closest(self, points: np.ndarray, norms: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        rows, k = points.shape[0], self.centers.shape[0]
        best_index = np.zeros(rows, dtype=np.int64)
        if self.statistics is None:  # the plain scan
            best = np.full(rows, math.inf)
            for i in range(k):
                candidate = np.ones(rows, dtype=bool)
                if not self.cosine:  # Euclidean skips centers by |norm difference|^2
                    gap = self.center_norms[i] - norms
                    candidate = gap * gap < best
                distance = self._distance(i, points, norms, sparse)
                better = candidate & (distance < best)
                best = np.where(better, distance, best)
                best_index[better] = i
            return best_index
        stats = self.statistics
        best = self._distance(0, points, norms, sparse)
        done = best < stats[0]
        for i in range(1, k):
            candidate = ~done & (stats[_upper_index(i, best_index)] < best)
            if not self.cosine:
                gap = self.center_norms[i] - norms
                candidate &= gap * gap < best
            if not candidate.any():
                continue
            distance = self._distance(i, points, norms, sparse)
            stop = candidate & (distance < stats[_upper_index(i, i)])
            better = candidate & (stop | (distance < best))
            best = np.where(better, distance, best)
            best_index[better] = i
            done |= stop
        return best_index

    def apply(self, frame: Frame, rows: int) -> None:
        if not self.prediction:
            return
        points = read_vectors(frame, self.features, self.name, self.centers.shape[1])
        norms = _norms(points)
        invalid = np.isnan(norms) | ((norms <= 0) if self.cosine else False)
        if invalid.any():
            row = first_row(invalid)
            what = "NaN" if np.isnan(norms[row]) else "only zeros"
            raise InvalidInputError(
                f"{self.name} cannot place row {row} (counting from 0): its vector in column "
                f"{self.features!r} holds {what}, which Spark's "
                f"{'cosine' if self.cosine else 'euclidean'} distance rejects by failing the "
                "whole job; fix or drop the row before scoring"
            )
        nonzeros = np.count_nonzero(points, axis=1)
        sparse = 1.5 * (nonzeros + 1.0) < points.shape[1]  # Vector.compressed's rule
        frame[self.prediction] = self._closest(points, norms, sparse).astype(np.float64)


def _statistics(
    centers: np.ndarray, sparse: tuple[bool, ...], norms: np.ndarray, cosine: bool
) -> np.ndarray:
    """DistanceMeasure.computeStatistics: bounds between centers, packed upper triangle."""
    k = centers.shape[0]
    if k == 1:
        return np.array([math.nan])
    probe = KMeans("", "", "", cosine, centers, sparse, norms, None)
    packed = np.zeros(k * (k + 1) // 2)
    diagonal = np.full(k, math.inf)
    for i in range(k):
        for j in range(i + 1, k):
            # distance(centers(i), centers(j)): the center j plays the point.
            point = centers[[j]]
            if cosine:
                d = float(probe._cosine_distance(i, point, norms[[j]])[0])
                s = 1 - math.sqrt(1 - d / 2)
            else:
                squared = probe._squared_distance(i, point, norms[[j]], np.array([sparse[j]]))
                d = math.sqrt(float(squared[0]))
                s = 0.25 * d * d
            packed[j * (j + 1) // 2 + i] = s
            diagonal[i] = min(diagonal[i], s)
            diagonal[j] = min(diagonal[j], s)
    for i in range(k):
        packed[i * (i + 1) // 2 + i] = diagonal[i]
    return packed


def _kmeans(saved: SavedStage) -> Stage:
    table = saved.table()
    if "clusterIdx" not in table.column_names:  # Spark 1.x's layout
        raise LocalScoringUnsupported(f"{saved.label} saved by Spark {saved.spark_version}")
    rows = sorted(saved.rows(), key=lambda r: int(r["clusterIdx"]))
    centers, sparse = [], []
    for row in rows:
        stored = row["clusterCenter"]
        sparse.append(stored["type"] == 0)
        values = np.asarray(stored["values"], dtype=np.float64)
        if stored["type"] == 0:
            dense = np.zeros(int(stored["size"]))
            dense[np.asarray(stored["indices"], dtype=np.int64)] = values
            values = dense
        centers.append(values)
    measure = saved.param("distanceMeasure", "euclidean")
    if measure not in ("euclidean", "cosine"):
        raise LocalScoringUnsupported(f"{saved.label} with distanceMeasure {measure!r}")
    matrix = np.vstack(centers)
    norms = _norms(matrix)
    cosine = measure == "cosine"
    k, size = matrix.shape
    # KMeansModel.statistics: DistanceMeasure.shouldComputeStatistics(Locally).
    use_statistics = k < 1000 and k * k * size < 1_000_000
    return KMeans(
        name=saved.label,
        features=saved.param("featuresCol"),
        prediction=saved.param("predictionCol") or "",
        cosine=cosine,
        centers=matrix,
        center_sparse=tuple(sparse),
        center_norms=norms,
        statistics=_statistics(matrix, tuple(sparse), norms, cosine) if use_statistics else None,
    )


COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    "org.apache.spark.ml.clustering.KMeansModel": _kmeans,
}
"""The stages compiled here, by the JVM class Spark ML saves them under."""
