"""Which Spark jobs are a run's: job tags on the thread that runs it.

A Spark job tag (``SparkContext.addJobTag``, Spark 3.5) is a local property of the
thread that submits jobs, like a job group, but a thread holds several at once and
each job records its tags (the driver's status store keeps them, see
``_spark_status``). Threads pyspark starts with ``InheritableThread`` take their
creator's tags; pools that do not (CrossValidator's) are tagged by autolog per task.
Failures here are one warning per process: tagging never stands in the user's way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sparktrack.session import running_session

__all__ = [
    "RUN_TAG_PREFIX",
    "Tagged",
    "context_of",
    "run_job_tag",
    "running_context",
    "spark_jobs_tagged",
    "tag_thread",
    "thread_job_tags",
    "warn_once",
]

_log = logging.getLogger("sparktrack")
RUN_TAG_PREFIX = "sparktrack-run-"


def run_job_tag(run_id: str) -> str:
    """The Spark job tag of a run's jobs (internal use: autolog and sweeps).

    Args:
        run_id: The run.

    Returns:
        ``sparktrack-run-<run_id>``.
    """
    return RUN_TAG_PREFIX + run_id


def running_context() -> Any:
    """The running SparkContext (internal use).

    Returns:
        The context; None without one, or on Spark Connect.
    """
    session = running_session()
    if session is None:
        return None
    try:
        return session.sparkContext
    except Exception:  # Spark Connect: no SparkContext, no status store to read
        return None


_warned = threading.Event()


def warn_once(what: str, exc: BaseException) -> None:
    """Warn that measuring failed: once per process, later failures only at debug level."""
    if _warned.is_set():
        _log.debug("sparktrack: %s failed: %s: %s", what, type(exc).__name__, exc)
        return
    _warned.set()
    _log.warning(
        "sparktrack could not %s: %s: %s. Runs get no spark.* metrics where this happens "
        "(further failures are not reported); set spark_cost to false "
        "(SPARKTRACK_SPARK_COST=false) to stop measuring.",
        what,
        type(exc).__name__,
        exc,
    )


def context_of(session: Any) -> Any:
    """The SparkContext of ``session`` (internal use).

    Cheaper than ``running_context()`` when the caller holds the session.

    Args:
        session: A SparkSession, or None.

    Returns:
        Its context; None for None or a Spark Connect session (which has none).
    """
    try:
        return session.sparkContext if session is not None else None
    except Exception:
        return None


# java.lang.String of each gateway: py4j resolves a class name by reflection, a call
# each time; the resolved class is a name, not a JVM object held.
_java_strings: dict[int, Any] = {}


def _job_tags(context: Any) -> set[str]:
    # Two py4j calls for the whole set: pyspark's getJobTags() hands back a Java set that
    # costs a py4j call per element to read (~15 ms measured on a busy machine).
    gateway = context._gateway
    java_string = _java_strings.get(id(gateway))
    if java_string is None:
        java_string = _java_strings[id(gateway)] = gateway.jvm.java.lang.String
    joined = java_string.join(",", context._jsc.getJobTags())
    return {tag for tag in str(joined).split(",") if tag}


def thread_job_tags(context: Any = None) -> list[str]:
    """The sparktrack job tags this thread's Spark jobs carry now (internal use).

    Args:
        context: The SparkContext, when the caller has it (else looked up).

    Returns:
        The tags (none without a running SparkContext, or on failure).
    """
    context = context if context is not None else running_context()
    if context is None:
        return []
    try:
        return sorted(t for t in _job_tags(context) if t.startswith(RUN_TAG_PREFIX))
    except Exception as exc:
        warn_once("read the Spark job tags of this thread", exc)
        return []


@contextmanager
def spark_jobs_tagged(
    tags: Sequence[str], *, enabled: bool = True, context: Any = None
) -> Iterator[list[str]]:
    """Tag the Spark jobs this thread submits inside the block (internal use).

    Tags the thread already carries stay after the block; those added are removed.

    Args:
        tags: Job tags, e.g. ``run_job_tag(run_id)``.
        enabled: False does nothing (the ``spark_cost`` setting).
        context: The SparkContext, when the caller has it: looking it up costs a few
            py4j calls, more in a thread without an active session (a pool's).

    Yields:
        The tags added (empty without a running SparkContext, or on failure).
    """
    tagged = tag_thread(tags, context) if enabled and tags else Tagged(None, [])
    try:
        yield tagged.added
    finally:
        tagged.remove()


@dataclass
class Tagged:
    """Tags added to a thread's jobs; ``remove()`` takes them off again."""

    context: Any
    added: list[str]

    def remove(self) -> None:
        if self.context is None:
            return
        try:
            for tag in self.added:
                self.context.removeJobTag(tag)
        except Exception as exc:
            warn_once("remove a Spark job tag", exc)


def tag_thread(tags: Iterable[str], context: Any = None) -> Tagged:
    """Add job tags to this thread; ``remove()`` on the result takes them off again."""
    context = context if context is not None else running_context()
    if context is None:
        return Tagged(None, [])
    try:
        present = _job_tags(context)
        added = [t for t in dict.fromkeys(tags) if t not in present]
        for tag in added:
            context.addJobTag(tag)
        return Tagged(context, added)
    except Exception as exc:
        warn_once("tag this thread's Spark jobs", exc)
        return Tagged(None, [])
