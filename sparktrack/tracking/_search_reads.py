"""What a search reads beside the folded runs: the keys it names, the returned runs' rows.

A search needs every run's value of the few keys its filter and order name, and every
key only of the runs it returns. Reading just that keeps a search of a million runs
within a gigabyte: the params table alone holds twenty million rows there, and an
encoded copy of it several hundred megabytes.

* Keys: each kind's keys not cached yet are read in one scan (a scan decodes every
  row group whatever the keys, so two keys in one scan cost about what one does),
  metrics folded to their latest point per run a row group at a time. Each key is
  kept in the ``TableCache`` while its table stays at the same version.
* Returned runs: their rows of the three tables, read beside each other (the reads let
  go of the GIL) and kept for the same runs at the same versions, so a page shown
  again costs no read; and the run columns a search shows but did not decide on
  (names, users, artifact paths, parents), folded from their events, kept likewise.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store import Store
from sparktrack.tracking._cache import Slot, TableCache, Versions
from sparktrack.tracking._columns import one_array
from sparktrack.tracking._latest_metrics import latest_of_keys, latest_points
from sparktrack.tracking._search import KINDS, EncodedTable, LongTable
from sparktrack.tracking._state import event_columns, run_states

__all__ = ["SearchReads"]


def _key_slot(kind: str, key: str) -> Slot[EncodedTable]:
    return Slot((kind, key, "rows of the key"))


def _by_run_slot(kind: str, key: str) -> Slot[LongTable]:
    return Slot((kind, key, "by folded run"))


class SearchReads:
    """A store's key and returned-run reads for searches (thread-safe)."""

    def __init__(self, store: Store, cache: TableCache) -> None:
        self._store = store
        self._cache = cache
        self._lock = threading.Lock()
        # Per kind: the table version and run ids of the last returned runs, their rows.
        self._returned: dict[str, tuple[Versions, tuple[str, ...], EncodedTable]] = {}
        # The last returned runs' run columns: (version, run ids, columns), the folded rows.
        self._details: tuple[tuple[Versions, tuple[str, ...], tuple[str, ...]], pa.Table] | None
        self._details = None

    def read_keys(self, keys: Mapping[str, Collection[str]]) -> None:
        """Read the ``keys`` (per kind) that are not cached at their table's version."""
        for kind, names in keys.items():
            self._key_tables(kind, names)

    def keyed(self, kind: str, key: str, run_ids: pa.Array, runs_versions: Versions) -> LongTable:
        """The kind's rows of ``key``, each knowing its run's position in ``run_ids``.

        ``run_ids`` are the folded runs, made at ``runs_versions``.
        """
        versions, table = self._key_tables(kind, [key])[key]
        make = lambda: LongTable.of(table, run_ids)  # noqa: E731
        return self._cache.get(_by_run_slot(kind, key), (*versions, *runs_versions), make)

    def _key_tables(
        self, kind: str, keys: Collection[str]
    ) -> dict[str, tuple[Versions, EncodedTable]]:
        versions = (self._store.version(kind),)
        missing = [k for k in sorted(keys) if not self._cache.holds(_key_slot(kind, k), versions)]
        read = self._read_keys(kind, missing) if missing else {}

        def encoded(key: str) -> EncodedTable:
            # Read above, unless another thread replaced the entry meanwhile.
            rows = read[key] if key in read else self._read_keys(kind, [key])[key]
            return EncodedTable.of(rows, kind)

        return {
            key: (versions, self._cache.get(_key_slot(kind, key), versions, partial(encoded, key)))
            for key in keys
        }

    def _read_keys(self, kind: str, keys: list[str]) -> dict[str, pa.Table]:
        if kind == "metrics":
            rows = latest_of_keys(self._store, keys)
        else:
            rows = self._store.scan(kind, keys=keys, dictionary=True)
        if len(keys) == 1:
            return {keys[0]: rows}
        # The keys' rows share one dictionary of run ids (a filter keeps the dictionary):
        # each key's encoded table would otherwise hold its own copy of every run's id,
        # 40 MB per key at a million runs.
        run_ids = one_array(rows["run_id"])
        if not pa.types.is_dictionary(run_ids.type):
            run_ids = pc.dictionary_encode(run_ids)
        rows = rows.set_column(rows.schema.get_field_index("run_id"), "run_id", run_ids)
        return {key: rows.filter(pc.equal(rows["key"], key)) for key in keys}

    def of_runs(self, run_ids: pa.Array) -> dict[str, EncodedTable]:
        """Every row of each kind of the runs ``run_ids``, encoded.

        Metrics are folded to their latest point per key.
        """
        wanted = tuple(run_ids.to_pylist())
        versions = {kind: (self._store.version(kind),) for kind in KINDS}
        found: dict[str, EncodedTable] = {}
        with self._lock:
            for kind, (seen_versions, seen_ids, rows) in self._returned.items():
                if (
                    seen_versions == versions[kind]
                    and seen_ids == wanted
                    and None not in seen_versions
                ):
                    found[kind] = rows
        missing = [kind for kind in KINDS if kind not in found]
        with ThreadPoolExecutor(max_workers=2) as pool:
            found.update(
                zip(missing, pool.map(lambda k: self._rows_of(k, wanted), missing), strict=True)
            )
        with self._lock:
            for kind in missing:
                self._returned[kind] = (versions[kind], wanted, found[kind])
        return found

    def run_details(self, run_ids: pa.Array, fields: Collection[str]) -> pa.Table:
        """The runs ``run_ids`` folded from their own events, ``fields`` only (``run_states``).

        Not judged by the heartbeat rule: these columns are not the ones it changes.
        """
        versions = (self._store.version("runs"),)
        wanted = (versions, tuple(run_ids.to_pylist()), tuple(sorted(fields)))
        with self._lock:
            if self._details is not None and self._details[0] == wanted and None not in versions:
                return self._details[1]
        events = self._store.scan("runs", run_ids=wanted[1], columns=event_columns(fields))
        details = run_states(events, None, fields)
        with self._lock:
            self._details = (wanted, details)
        return details

    def _rows_of(self, kind: str, run_ids: tuple[str, ...]) -> EncodedTable:
        # Plain strings: the few rows read come from many row groups, each with its own
        # dictionary, which would have to be unified to take rows from them.
        rows = self._store.scan(kind, run_ids=run_ids)
        return EncodedTable.of(latest_points(rows) if kind == "metrics" else rows, kind)
