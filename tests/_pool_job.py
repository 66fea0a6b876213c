"""A training script that fans work out to a multiprocessing pool, as users write them.

    python -m tests._pool_job STORE START_METHOD FLUSH_IN_CHILD

The parent starts a run; each pool task starts a nested run in a worker process and
logs 50 metrics. With the ``fork`` start method the worker inherits the parent's
active run; with ``spawn`` and ``forkserver`` nothing is inherited, so the parent's
run id travels with the task (``start_run(parent_run_id=...)``), as a user would pass
it, after a ``flush()`` so the workers find that run. Prints one JSON line: the
parent's run id, the children's, and whether the children's runs became visible while
the pool was still open.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time

import sparktrack
from sparktrack import TrackingClient

TASKS = 4
METRICS = 50


def log_child_run(task: tuple[int, str | None, bool]) -> tuple[str, int]:
    index, parent_run_id, flush = task
    with sparktrack.start_run(
        run_name=f"child-{index}", nested=True, parent_run_id=parent_run_id
    ) as run:
        for step in range(METRICS):
            sparktrack.log_metric("loss", 1.0 / (step + 1), step=step)
    if flush:
        sparktrack.flush()
    return run.info.run_id, os.getpid()


def main(store: str, method: str, flush: bool) -> None:
    sparktrack.set_store(store)
    context = multiprocessing.get_context(method)
    with sparktrack.start_run(run_name="parent") as parent:
        passed_parent = None if method == "fork" else parent.info.run_id
        if passed_parent is not None:
            # A spawned worker is another process: it finds the parent run once the
            # run is committed. A forked worker knows it already.
            sparktrack.flush()
        tasks = [(i, passed_parent, flush) for i in range(TASKS)]
        with context.Pool(2) as pool:
            results = pool.map_async(log_child_run, tasks).get(timeout=240)
            # The workers commit their runs themselves: another process sees them
            # while the pool is still open.
            started = time.monotonic()
            reader = TrackingClient(store)
            visible = []
            while len(visible) < TASKS and time.monotonic() - started < 120:
                visible = reader.search_runs(None, "tags.`mlflow.runName` LIKE 'child-%'")
                visible = list(visible["run_id"]) if len(visible) else []
                time.sleep(0.1)
            visible_after = time.monotonic() - started
            reader.close()
    sparktrack.flush()
    print(
        json.dumps(
            {
                "parent": parent.info.run_id,
                "children": [run_id for run_id, _ in results],
                "worker_pids": sorted({pid for _, pid in results}),
                "parent_pid": os.getpid(),
                "visible_while_pool_open_after_s": visible_after,
                "visible_while_pool_open": len(visible),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] == "flush")
