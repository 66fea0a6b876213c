"""How several writers commit safely to a store on S3: the ``object_store_commits`` setting.

A Delta commit is the creation of the log file of the next version; two writers must
never both create it. Local stores take a file lock (``_locks``); HDFS renames
atomically; Azure and GCS create a file only if it is absent. S3 does too, with
conditional writes (``If-None-Match: *``), but not every S3-compatible server does,
and nothing tells a client which kind it talks to: an S3 store makes the user say
which guarantee they rely on, and refuses to open until they do.

* ``conditional-put``: delta-rs creates each commit file with a conditional put; a
  writer that loses the race reads the new version and commits after it. A server
  that ignores the condition would let the loser replace the winner's commit, losing
  its records without an error, so the first open of the store in a process checks
  that the server refuses a second create of one object (``check_conditional_writes``).
* ``single-writer``: plain puts; safe only while one process at a time writes.

(delta-rs no longer offers a DynamoDB-backed log store: see ``sparktrack.config``.)
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

from sparktrack.config import (
    OBJECT_STORE_COMMITS,
    OBJECT_STORE_COMMITS_UNSET,
    Settings,
    spark_conf_name,
)
from sparktrack.errors import ConfigurationError, StoreError
from sparktrack.store._open_failure import open_failure_message
from sparktrack.store._uri import StoreLocation

__all__ = ["check_conditional_writes", "with_commit_options"]

_SETTING = "object_store_commits"
_CONDITIONAL_PUT = "conditional-put"
# Hidden from both Delta engines (they skip names starting with '.'); deleted at once.
_PROBE_FOLDER = ".sparktrack-probe"
# Stores whose server was seen refusing a second create, in this process.
_checked: set[str] = set()
_checked_lock = threading.Lock()
# delta-rs's storage options for each choice (object_store's and delta-rs's AWS keys).
_STORAGE_OPTIONS: dict[str, dict[str, str]] = {
    _CONDITIONAL_PUT: {"conditional_put": "etag"},
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


def check_conditional_writes(location: StoreLocation) -> None:
    """Refuse a ``conditional-put`` store whose server does not honour conditional writes.

    Creates one empty object under the store's hidden ``.sparktrack-probe/`` folder,
    creates it again (which the server must refuse) and deletes it: three requests,
    once per store and process. Other stores and choices are not checked.

    Args:
        location: The store, with its storage options (``with_commit_options``).

    Raises:
        ConfigurationError: The server replaced the object (it ignores ``If-None-Match``),
            or obstore, which makes the check, is not installed.
        StoreError: The server could not be reached (credentials, endpoint, bucket).
    """
    if "conditional_put" not in location.delta_rs_options():
        return
    with _checked_lock:
        if location.uri in _checked:
            return
    # obstore is needed by S3 stores only (the s3 extra): imported when one opens. It
    # speaks to S3 through object_store, the Rust crate delta-rs commits with, and reads
    # the same AWS_* environment.
    try:
        import obstore
        from obstore.exceptions import AlreadyExistsError, BaseError
        from obstore.store import S3Store
    except ImportError as exc:
        raise ConfigurationError(
            f"store {location.uri!r} relies on conditional writes ({_SETTING}: "
            f"{_CONDITIONAL_PUT}), which sparktrack checks with the obstore package: "
            "pip install 'sparktrack[s3]'"
        ) from exc
    probe = f"{_PROBE_FOLDER}/{uuid.uuid4().hex}"
    try:
        store = S3Store.from_url(location.for_delta_rs())
        obstore.put(store, probe, b"", mode="create")
        try:
            obstore.put(store, probe, b"", mode="create")
            refused = False
        except AlreadyExistsError:
            refused = True
        finally:
            obstore.delete(store, probe)
    except BaseError as exc:
        raise StoreError(open_failure_message(location.uri, exc)) from exc
    if not refused:
        raise ConfigurationError(
            f"store {location.uri!r} is set to rely on conditional writes ({_SETTING}: "
            f"{_CONDITIONAL_PUT}), but its server replaced an object that existed instead "
            "of refusing the second create (it ignores If-None-Match): two processes "
            "committing at once would lose records there. Use a server that supports "
            f"conditional writes, or set {_SETTING} to single-writer and let one process "
            "at a time write to the store."
        )
    with _checked_lock:
        _checked.add(location.uri)
