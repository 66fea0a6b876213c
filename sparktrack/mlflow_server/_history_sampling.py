"""Which steps ``metrics/get-history-bulk-interval`` returns: MLflow's sampling, restated.

MLflow's UI draws curves of many runs from at most ``max_results`` steps per request.
The steps are chosen over the union of the runs' logged steps inside the range (a step
no run logged is never chosen): every one when they are few, else ``max_results``
evenly spaced ones plus the last; each run's first and last step in the range are
always added, so every curve keeps its ends. Every value logged at a chosen step is
returned, by step then timestamp.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

__all__ = ["sampled_steps"]


def sampled_steps(
    runs_steps: Iterable[Sequence[int]], max_results: int, start: int | None, end: int | None
) -> set[int]:
    """The steps to return, given each run's logged steps and the range (inclusive).

    Without a range, it runs from step 0 to the greatest step logged.
    """
    per_run = [list(steps) for steps in runs_steps]
    every = sorted({step for steps in per_run for step in steps})
    if start is None or end is None:
        start, end = 0, every[-1] if every else 0
    ends = {
        step
        for steps in per_run
        if steps
        for step in (min(steps), max(steps))
        if start <= step <= end
    }
    low, high = bisect.bisect_left(every, start), bisect.bisect_right(every, end)
    count = high - low
    if count <= max_results:
        chosen = set(every[low:high])
    else:
        spacing = count / max_results
        chosen = {every[low + int(i * spacing)] for i in range(max_results)}
        chosen.add(every[high - 1])
    return chosen | ends
