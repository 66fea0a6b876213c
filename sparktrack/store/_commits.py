"""How several writers commit safely to a store on S3: the ``object_store_commits`` setting.

A Delta commit is the creation of the log file of the next version; two writers must
never both create it. Local stores take a file lock (``_locks``); HDFS renames
atomically; Azure and GCS create a file only if it is absent. S3 does too, with
conditional writes (``If-None-Match: *``), but not every S3-compatible server does,
and nothing tells a client which kind it talks to: an S3 store makes the user say
which guarantee they rely on, and refuses to open until they do.

* ``conditional-put``: delta-rs creates each commit file with a conditional put; a
  writer that loses the race reads the new version and commits after it.
* ``single-writer``: plain puts; safe only while one process at a time writes.

(delta-rs no longer offers a DynamoDB-backed log store: see ``sparktrack.config``.)
"""

from __future__ import annotations

import dataclasses

from sparktrack.config import (
    OBJECT_STORE_COMMITS,
    OBJECT_STORE_COMMITS_UNSET,
    Settings,
    spark_conf_name,
)
from sparktrack.errors import ConfigurationError
from sparktrack.store._uri import StoreLocation

__all__ = ["with_commit_options"]

_SETTING = "object_store_commits"
# delta-rs's storage options for each choice (object_store's and delta-rs's AWS keys).
_STORAGE_OPTIONS: dict[str, dict[str, str]] = {
    "conditional-put": {"conditional_put": "etag"},
    "single-writer": {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"},
}
assert set(_STORAGE_OPTIONS) == set(OBJECT_STORE_COMMITS)


def with_commit_options(location: StoreLocation, settings: Settings) -> StoreLocation:
    """The store's location with what delta-rs needs to commit safely there.

    Args:
        location: The store (``parse_store_uri``).
        settings: Its settings; ``object_store_commits`` counts for S3 stores only.

    Returns:
        ``location`` with its ``storage_options`` (unchanged for other stores).

    Raises:
        ConfigurationError: An S3 store with ``object_store_commits`` unset.
    """
    if location.scheme != "s3":
        return location
    mode = settings.object_store_commits
    if mode == OBJECT_STORE_COMMITS_UNSET:
        raise ConfigurationError(
            f"store {location.uri!r} is on S3, where sparktrack cannot tell whether "
            f"several processes may commit safely: set the setting {_SETTING!r} to one "
            f"of {', '.join(OBJECT_STORE_COMMITS)} (environment variable "
            f"SPARKTRACK_{_SETTING.upper()}, Spark conf {spark_conf_name(_SETTING)} or "
            "conf/sparktrack.yaml). conditional-put: the server supports conditional "
            "writes (AWS S3, MinIO, Cloudflare R2); single-writer: only one process "
            "writes to the store at a time."
        )
    options = tuple(sorted(_STORAGE_OPTIONS[mode].items()))
    return dataclasses.replace(location, storage_options=options)
