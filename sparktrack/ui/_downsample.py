"""Downsampling long metric series on the server, so a 100,000-point curve draws fast.

Largest-Triangle-Three-Buckets (Steinarsson, 2013): keeps the first and last points
and, from each of ``limit - 2`` equal buckets between them, the point that makes the
largest triangle with the point kept before it and the mean of the next bucket. Spikes
and the shape of the curve survive; a min/max bucketing would double the points.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lttb"]


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
    edges = np.linspace(1, count - 1, limit - 1).astype(int)
    chosen = np.empty(limit, dtype=int)
    chosen[0] = 0
    chosen[-1] = count - 1
    previous = 0
    for bucket in range(limit - 2):
        start, stop = edges[bucket], edges[bucket + 1]
        if bucket + 2 < len(edges):
            next_start, next_stop = edges[bucket + 1], edges[bucket + 2]
        else:
            next_start, next_stop = count - 1, count
        mean_x = xf[next_start:next_stop].mean()
        mean_y = yf[next_start:next_stop].mean()
        px, py = xf[previous], yf[previous]
        areas = np.abs(
            (px - mean_x) * (yf[start:stop] - py) - (px - xf[start:stop]) * (mean_y - py)
        )
        previous = start + int(np.argmax(areas)) if stop > start else start
        chosen[bucket + 1] = previous
    return np.unique(chosen)
