"""Downsampling long metric series on the server, so a 100,000-point curve draws fast.

Largest-Triangle-Three-Buckets (Steinarsson, 2013): keeps the first and last points
and, from each of ``limit - 2`` equal buckets between them, the point that makes the
largest triangle with the point kept before it and the mean of the next bucket. Spikes
and the shape of the curve survive; a min/max bucketing would double the points.

Each bucket's choice depends on the point chosen in the bucket before it, so the
choices are a loop over the buckets; everything else is computed for all buckets at
once: the buckets as rows of two matrices and the mean of each bucket (numpy's
per-call cost, paid twice per bucket for slicing and averaging, was most of the time).
The loop is left with a few array operations on one row per bucket.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["lttb"]

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


def lttb(x: np.ndarray, y: np.ndarray, limit: int) -> np.ndarray:
    """The indices of at most ``limit`` points of (x, y) to draw, in order.

    ``x`` must be sorted. Points whose ``y`` is not finite (a logged NaN or infinity)
    are always kept: they are facts a chart shows as gaps, and they cannot be ranked.

    Args:
        x: The x values, ascending.
        y: The y values.
        limit: How many points at most (3 or more).

    Returns:
        Ascending indices into ``x`` and ``y``.
    """
    count = len(x)
    if count <= limit or limit < 3:
        return np.arange(count)
    finite = np.isfinite(y)
    if not finite.all():
        kept = lttb(x[finite], y[finite], max(3, limit - int((~finite).sum())))
        return np.sort(np.concatenate([np.flatnonzero(finite)[kept], np.flatnonzero(~finite)]))
    xf = x.astype(float)
    yf = y.astype(float)
    # count > limit: every bucket between these edges holds one point or more.
    edges = np.linspace(1, count - 1, limit - 1).astype(int)
    starts, lengths = edges[:-1], np.diff(edges)
    rows = _rows(starts, lengths)
    bucket_x, bucket_y = xf[rows], yf[rows]
    # The mean of the next bucket; after the last bucket, the last point.
    mean_x = np.append(_means(bucket_x, lengths)[1:], xf[-1]).tolist()
    mean_y = np.append(_means(bucket_y, lengths)[1:], yf[-1]).tolist()
    # Python floats and ints in the loop: numpy scalars cost more per operation, and
    # float arithmetic rounds as numpy's float64 does.
    xs, ys, first = xf.tolist(), yf.tolist(), starts.tolist()
    chosen = [0]
    px, py = xs[0], ys[0]
    for bucket in range(limit - 2):
        mx, my = mean_x[bucket], mean_y[bucket]
        areas = np.abs((px - mx) * (bucket_y[bucket] - py) - (px - bucket_x[bucket]) * (my - py))
        # The padding never wins, so the position is within the bucket.
        best = first[bucket] + int(areas.argmax())
        chosen.append(best)
        px, py = xs[best], ys[best]
    chosen.append(count - 1)
    return np.unique(np.array(chosen, dtype=np.intp))


def _rows(starts: Indices, lengths: Indices) -> Indices:
    """Each bucket's indices as a row, padded with its first index.

    A copy of a bucket's first point never beats it: ``argmax`` keeps the first of
    equal areas, so the padding changes no choice.
    """
    width = np.arange(int(lengths.max()))
    return np.where(width < lengths[:, None], starts[:, None] + width, starts[:, None])


def _means(values: Floats, lengths: Indices) -> Floats:
    """The mean of each row's first ``length`` values, as numpy's mean of that slice.

    Rows of one length are averaged together: a mean over a row adds up its values
    in the order a mean over the same slice does, so the roundings agree.
    """
    means = np.empty(len(lengths))
    for length in np.unique(lengths):
        same = lengths == length
        means[same] = values[same, :length].mean(axis=1)
    return means
