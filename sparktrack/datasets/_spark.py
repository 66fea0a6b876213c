"""Where a DataFrame's data comes from, read off its analyzed logical plan through py4j.

Autolog calls this on every fit, so nothing here may start a Spark job: it reads only
what the plan already holds (the file listing an index cached when the DataFrame was
made, the Delta snapshot resolved at analysis, local rows kept by the driver, hashed
inside the JVM) plus the Delta log through delta-rs, which needs no JVM. Row counts are
given only where they are free. pyspark is never imported: the DataFrame's own py4j
handles are enough.

Every leaf is described on its own and a failure there makes that leaf "unknown"; a
failure of the plan walk itself propagates to the caller, which degrades the whole
description to "unknown".
"""

from __future__ import annotations

import json
import pickletools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sparktrack.datasets._digest import (
    FileEntry,
    bytes_fingerprint,
    files_fingerprint,
    normalize_plan_string,
    opaque_identity,
    parse_file_statuses,
    short_hash,
)

__all__ = ["PlanInfo", "SourceInfo", "inspect_dataframe"]

JavaObject = Any  # py4j proxies carry no static types
T = TypeVar("T")

# Unary operators that keep every row of their child: a source's row count is the
# DataFrame's only when nothing else sits between the two.
ROW_PRESERVING = frozenset(
    {
        "Project",
        "SubqueryAlias",
        "View",
        "ResolvedHint",
        "Repartition",
        "RepartitionByExpression",
        "RebalancePartitions",
        "Sort",
        "Window",
    }
)
_MAX_PLAN_DEPTH = 500
# Local data is hashed in the JVM (no bytes cross py4j) up to these sizes; beyond, a
# LocalRelation falls back to its 32-bit content hash code and a pickled RDD to an
# identity of its own (hashing a GB on every fit would not be cheap).
_MAX_HASHED_LOCAL_ROWS = 1_000_000
_MAX_HASHED_BYTES = 256 * 1024 * 1024
_MAX_RDD_CHAIN = 10
# Listings bigger than this are not fingerprinted (one string of ~350 bytes per file).
_MAX_FINGERPRINTED_FILES = 100_000
_MAX_FILES_ONE_BY_ONE = 2_000
_FILE_INDEXES = frozenset({"InMemoryFileIndex", "MetadataLogFileIndex"})
# The JVM steps pyspark's createDataFrame puts between the parallelized bytes and the rows.
_PYSPARK_CONVERSIONS = ("SerDeUtil.scala", "applySchemaToPythonRDD")
# The only nested functions in the command of pyspark's own re-serialising map: any user
# function adds a pipelined stage (``PipelinedRDD.__init__.<locals>.pipeline_func``).
_IDENTITY_MAP_FUNCTIONS = frozenset({"RDD.map.<locals>.func", "RDD._reserialize.<locals>.<lambda>"})
_DELTA_INDEX = re.compile(r"Delta\[version=(?P<version>-?\d+), (?P<path>.*)\]", re.DOTALL)


@dataclass(frozen=True)
class SourceInfo:
    """One leaf of the plan: what to record, and what identifies its data for the digest."""

    source_type: str  # delta / files / table / memory / unknown
    source: dict[str, Any]
    identity: str
    name: str | None = None
    # Rows of the whole source, computed only when asked (it may read the Delta log).
    count: Callable[[], int | None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PlanInfo:
    plan: str  # normalised plan text, equal for equal plans in any JVM
    sources: list[SourceInfo]
    row_preserving: bool  # one leaf, and only row-preserving operators above it


class _Memo:
    """A small thread-safe LRU: the same DataFrame is described on every fit."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_CONTENT = _Memo(256)  # hashes of local data, which never changes
_DELTA_COUNTS = _Memo(256)


# -- the plan ----------------------------------------------------------------------------
def inspect_dataframe(df: Any) -> PlanInfo:
    """Describe ``df``'s sources and plan shape; raises if the plan cannot be read at all."""
    analyzed = df._jdf.queryExecution().analyzed()
    jvm = df.sparkSession.sparkContext._jvm
    subqueries = _seq(analyzed.subqueriesAll())
    leaves = _seq(analyzed.collectLeaves())
    for subquery in subqueries:
        leaves.extend(_seq(subquery.collectLeaves()))
    sources = _unique([_describe_leaf(leaf, jvm) for leaf in leaves])
    row_preserving = len(leaves) == 1 and not subqueries and _is_row_preserving(analyzed)
    return PlanInfo(_plan_text(analyzed), sources, row_preserving)


def _plan_text(plan: JavaObject) -> str:
    try:
        # Canonicalisation numbers expression ids by position, so two reads of the
        # same data with the same transformations give the same text.
        text = str(plan.canonicalized().toString())
    except Exception:
        text = re.sub(r"#\d+", "#", str(plan.toString()))
    return normalize_plan_string(text)


def _is_row_preserving(plan: JavaObject) -> bool:
    node = plan
    for _ in range(_MAX_PLAN_DEPTH):
        children = node.children()
        if children.isEmpty():
            return True
        if children.size() != 1 or node.nodeName() not in ROW_PRESERVING:
            return False
        node = children.head()
    return False


def _unique(sources: list[SourceInfo]) -> list[SourceInfo]:
    """Sources in plan order, each once (a self-join reads one table)."""
    unique: dict[str, SourceInfo] = {}
    for source in sources:
        unique.setdefault(source.identity, source)
    return list(unique.values())


def _describe_leaf(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    node = "?"
    try:
        node = str(leaf.nodeName())
        describe = _LEAF_HANDLERS.get(node)
        if describe is not None:
            return describe(leaf, jvm)
    except Exception:
        pass  # a leaf we cannot read is reported as unknown, like one we do not know
    return _unknown_leaf(leaf, jvm, node)


def _unknown_leaf(leaf: JavaObject, jvm: JavaObject, node: str) -> SourceInfo:
    try:
        # Unique to this leaf object: its DataFrame keeps one digest, nothing else shares it.
        token = f"{jvm.java.lang.System.identityHashCode(leaf)}|{leaf.toString()}"
    except Exception:
        token = str(id(leaf))
    return SourceInfo("unknown", {"plan": node}, opaque_identity(node, token))


# -- relations over files: Delta, plain files, catalog tables ---------------------------
def _logical_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    relation = leaf.relation()
    catalog = _option(leaf.catalogTable())
    index = relation.location()  # raises for non-file relations (JDBC, ...): unknown
    if _is_delta_index(index):
        return _delta_index_source(index, catalog)
    if catalog is not None:
        return _catalog_table_source(catalog, index, relation)
    return _files_source(index, relation)


def _is_delta_index(index: JavaObject) -> bool:
    name = str(index.getClass().getName())
    return name.startswith("org.apache.spark.sql.delta.") or "Tahoe" in name


def _delta_index_source(index: JavaObject, catalog: JavaObject | None) -> SourceInfo:
    table = _qualified_name(catalog) if catalog is not None else None
    try:
        snapshot = _snapshot_read(index)
        partition_filtered = not index.partitionFilters().isEmpty()
    except Exception:
        # Other Tahoe indexes (CDC, streaming batches) only say "Delta[version=N, path]".
        match = _DELTA_INDEX.fullmatch(str(index.toString()))
        if match is None:
            raise
        path, version = match["path"], int(match["version"])
        return _delta_source(path, version, None, table, catalog, count=None)
    path = str(index.path().toString())
    count = None if partition_filtered else _delta_counter(path, snapshot, index.deltaLog())
    return _delta_source(path, int(snapshot.version()), _table_id(snapshot), table, catalog, count)


def _snapshot_read(index: JavaObject) -> JavaObject:
    """The snapshot a TahoeLogFileIndex's DataFrame reads when it runs next."""
    snapshot = index.snapshotAtAnalysis()
    if index.isTimeTravelQuery():
        return snapshot
    # A latest-version read is resolved again every time the DataFrame runs, so report the
    # newest snapshot this JVM has seen (a field read, no I/O): after an append by this
    # process that is what the fit will read, not the version at analysis.
    latest = index.deltaLog().unsafeVolatileSnapshot()
    if latest.version() > snapshot.version() and _table_id(latest) == _table_id(snapshot):
        return latest
    return snapshot


def _v2_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    table = leaf.table()
    kind = str(table.getClass().getSimpleName())
    if kind == "DeltaTableV2":
        snapshot = table.initialSnapshot()
        catalog = _option(table.catalogTable())
        path = str(table.path().toString())
        name = _qualified_name(catalog) if catalog is not None else None
        count = _delta_counter(path, snapshot, table.deltaLog())
        version = int(snapshot.version())
        return _delta_source(path, version, _table_id(snapshot), name, catalog, count)
    try:
        # File tables of the v2 file sources (when configured instead of v1) keep an index.
        return _files_source(table.fileIndex(), None, str(table.formatName()).lower())
    except Exception:
        pass
    # Another catalog's table (Iceberg, JDBC, ...): named, but its data not identified.
    name = str(table.name())
    token = f"{jvm.java.lang.System.identityHashCode(leaf)}"
    return SourceInfo("table", {"table": name}, opaque_identity("v2", name, token), name)


def _delta_source(
    path: str,
    version: int,
    table_id: str | None,
    table: str | None,
    catalog: JavaObject | None,
    count: Callable[[], int | None] | None,
) -> SourceInfo:
    source = {"path": path, "version": version, "table": table}
    # The table id tells a re-created table at the same path apart from the old one.
    identity = f"delta|{path}|{version}|{table_id or ''}"
    name = str(catalog.identifier().table()) if catalog is not None else _last_component(path)
    return SourceInfo("delta", source, identity, name, count)


def _table_id(snapshot: JavaObject) -> str | None:
    try:
        return str(snapshot.metadata().id())
    except Exception:
        return None


def _delta_counter(
    path: str, snapshot: JavaObject, delta_log: JavaObject
) -> Callable[[], int | None]:
    version, table_id = int(snapshot.version()), _table_id(snapshot)

    def count() -> int | None:
        def deleted() -> int | None:
            return _deleted_rows(path, version, delta_log)

        key = (path, version, table_id)
        return _DELTA_COUNTS.get(key, lambda: delta_log_rows(path, version, deleted))

    return count


def delta_log_rows(path: str, version: int, deleted_rows: Callable[[], int | None]) -> int | None:
    """Sum of ``numRecords`` over the version's files, from the Delta log via delta-rs."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    table = DeltaTable(_delta_rs_location(path), version=version)
    records = pa.table(table.get_add_actions(flatten=True)).column("num_records")
    if records.null_count:
        return None  # some file was written without stats: the sum would undercount
    total = int(pc.sum(records).as_py() or 0)
    if "deletionVectors" in (table.protocol().reader_features or []):
        # delta-rs's add actions do not show rows hidden by deletion vectors.
        deleted = deleted_rows()
        if deleted is None:
            return None
        total -= deleted
    return total


def _deleted_rows(path: str, version: int, delta_log: JavaObject) -> int | None:
    """Rows deletion vectors hide in ``version``, from its checksum file (no job)."""
    try:
        # The snapshot a DataFrame holds is a bare descriptor; the log's latest full
        # snapshot has the checksum, when it is the same version.
        latest = delta_log.unsafeVolatileSnapshot()
        if int(latest.version()) == version:
            checksum = _option(latest.checksumOpt())
            deleted = _option(checksum.numDeletedRecordsOpt()) if checksum is not None else None
            if deleted is not None:
                return int(deleted)
    except Exception:
        pass
    local = _delta_rs_location(path)
    if "://" in local:
        return None
    try:
        with open(f"{local}/_delta_log/{version:020d}.crc", encoding="utf-8") as crc:
            deleted = json.load(crc).get("numDeletedRecordsOpt")
    except (OSError, ValueError):
        return None
    return int(deleted) if isinstance(deleted, int) else None


def _delta_rs_location(path: str) -> str:
    # Hadoop writes local paths as file:/x (or file:///x); delta-rs wants the plain path.
    return re.sub(r"^file:(//)?(?=/)", "", path)


def _files_source(
    index: JavaObject, relation: JavaObject | None, file_format: str | None = None
) -> SourceInfo:
    roots = _root_paths(index)
    fmt = file_format or _format_name(relation)
    listing = _file_listing(index)
    source: dict[str, Any] = {"format": fmt, "paths": roots, **listing}
    if listing["fingerprint"] is None:
        identity = opaque_identity("files", *roots)
    else:
        identity = f"files|{fmt}|{listing['fingerprint']}|{_options_hash(relation)}"
    name = _last_component(roots[0]) if roots else None
    return SourceInfo("files", source, identity, name)


def _catalog_table_source(
    catalog: JavaObject, index: JavaObject | None, relation: JavaObject | None
) -> SourceInfo:
    table = _qualified_name(catalog)
    location = str(_option(catalog.storage().locationUri()) or "")
    listing = (
        _file_listing(index)
        if index is not None
        else {"files": None, "bytes": None, "fingerprint": None}
    )
    provider = _option(catalog.provider())
    source = {"table": table, "location": location, "format": provider, **listing}
    # Without a cheap listing only the metadata can stand for the data (statistics and
    # properties such as transient_lastDdlTime move on writes that update them).
    metadata = short_hash(str(catalog.properties().toString()), str(catalog.stats().toString()))
    identity = (
        f"table|{table}|{location}|{listing['fingerprint'] or ''}|{metadata}"
        f"|{_options_hash(relation)}"
    )
    return SourceInfo("table", source, identity, str(catalog.identifier().table()))


def _hive_table(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    return _catalog_table_source(leaf.tableMeta(), None, None)


def _file_listing(index: JavaObject) -> dict[str, Any]:
    """Files, bytes and fingerprint of an index's cached listing; None where not cheap."""
    if str(index.getClass().getSimpleName()) not in _FILE_INDEXES:
        # CatalogFileIndex & co. list only when asked, maybe with a Spark job: not here.
        return {"files": None, "bytes": None, "fingerprint": None}
    statuses = index.allFiles()
    count = int(statuses.size())
    entries = _file_entries(statuses, count) if count <= _MAX_FINGERPRINTED_FILES else None
    if entries is None:
        return {"files": count, "bytes": int(index.sizeInBytes()), "fingerprint": None}
    return {
        "files": count,
        "bytes": sum(e.size for e in entries),
        "fingerprint": files_fingerprint(entries),
    }


def _file_entries(statuses: JavaObject, count: int) -> list[FileEntry] | None:
    # One py4j call for the whole listing, parsed here; per-file calls cost ~0.2 ms each.
    entries = parse_file_statuses(str(statuses.mkString("\n")))
    if len(entries) == count:
        return entries
    if count > _MAX_FILES_ONE_BY_ONE:
        return None
    return [
        FileEntry(str(s.getPath().toString()), int(s.getLen()), int(s.getModificationTime()))
        for s in _seq(statuses)
    ]


def _root_paths(index: JavaObject) -> list[str]:
    text = str(index.rootPaths().mkString("\n"))
    return [p for p in text.split("\n") if p]


def _format_name(relation: JavaObject | None) -> str | None:
    if relation is None:
        return None
    file_format = relation.fileFormat()
    try:
        return str(file_format.shortName())
    except Exception:
        return str(file_format.toString()).lower()


def _options_hash(relation: JavaObject | None) -> str:
    # Reader options (csv header, schema inference, ...) change the rows read from the
    # same files. Hashed, never recorded: options can carry credentials.
    if relation is None:
        return ""
    try:
        return short_hash(str(relation.options().toString()))
    except Exception:
        return ""


def _qualified_name(catalog: JavaObject) -> str:
    return str(catalog.identifier().unquotedString())


# -- local data --------------------------------------------------------------------------
def _local_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    data = leaf.data()
    rows = int(data.size())
    # Content-based (UnsafeRow hashes its bytes) and cheap, but only 32 bits: it keys the
    # cache and stands in for the sha256 only where that is not computed.
    code = int(data.hashCode())
    key = ("local", int(jvm.java.lang.System.identityHashCode(data)), rows, code)
    content = _CONTENT.get(
        key, lambda: _jvm_sha256(jvm, data) if rows <= _MAX_HASHED_LOCAL_ROWS else None
    )
    identity = f"local|{rows}|{content or code}"
    return SourceInfo("memory", {"kind": "local", "rows": rows}, identity, None, lambda: rows)


def _logical_rdd(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    rdd = leaf.rdd()
    key = (str(rdd.context().applicationId()), int(rdd.id()))
    content = _CONTENT.get(key, lambda: _parallelized_content(rdd, jvm))
    if content is None:
        # Data made by code we cannot see: unique to this RDD, never equal to another.
        return SourceInfo("memory", {"kind": "rdd"}, f"rdd|{key[0]}|{key[1]}")
    identity, rows = content
    return SourceInfo("memory", {"kind": "rdd", "rows": rows}, identity, None, lambda: rows)


def _parallelized_content(rdd: JavaObject, jvm: JavaObject) -> tuple[str, int | None] | None:
    """Identity (and rows) of an RDD of parallelized Python data, held by the driver.

    ``spark.createDataFrame(pandas_or_list)`` (without Arrow) pickles the rows in batches
    into a ParallelCollectionRDD, then converts them with pyspark's own steps; the
    batches are hashed and counted inside the JVM (py4j moves bytes at a few MB/s).
    """
    try:
        commands: list[bytes] = []
        node = rdd
        for _ in range(_MAX_RDD_CHAIN):
            kind = str(node.getClass().getSimpleName())
            if kind == "ParallelCollectionRDD":
                return _content_of(_private_field(node, "data"), commands, jvm)
            if kind == "PythonRDD":
                commands.append(bytes(_private_field(node, "func").command().array()))
            elif kind != "MapPartitionsRDD" or not any(
                step in str(node.getCreationSite()) for step in _PYSPARK_CONVERSIONS
            ):
                return None
            dependencies = node.dependencies()
            if dependencies.size() != 1:
                return None
            node = dependencies.head().rdd()
    except Exception:
        return None
    return None


def _content_of(
    batches: JavaObject, commands: list[bytes], jvm: JavaObject
) -> tuple[str, int | None] | None:
    if int(jvm.org.apache.spark.util.SizeEstimator.estimate(batches)) > _MAX_HASHED_BYTES:
        return None
    content = _jvm_sha256(jvm, batches)
    if content is None:
        return None
    if all(_is_identity_map(c) for c in commands):
        return f"local-rows|{content}", _pickled_rows(batches, jvm)
    # A user function transforms the data: it is part of the identity, rows are unknown.
    return f"local-rdd|{content}|{bytes_fingerprint(commands)}", None


def _is_identity_map(command: bytes) -> bool:
    # Reads the pickle's strings without unpickling it.
    nested = {
        arg
        for _, arg, _ in pickletools.genops(command)
        if isinstance(arg, str) and "<locals>" in arg
    }
    return nested == _IDENTITY_MAP_FUNCTIONS


def _pickled_rows(batches: JavaObject, jvm: JavaObject) -> int | None:
    """Rows in pyspark's pickled batches: all hold the same number of rows but the last."""
    try:
        count = int(batches.size())
        if count == 0:
            return 0
        last = _batch_length(batches, count - 1, jvm)
        return last if count == 1 else (count - 1) * _batch_length(batches, 0, jvm) + last
    except Exception:
        return None


def _batch_length(batches: JavaObject, index: int, jvm: JavaObject) -> int:
    # py4j copies every byte[] it returns, so the batch never leaves the JVM: it is copied
    # into an Object[] there, wrapped in a stream by reflection, and unpickled by the
    # pickle library Spark itself uses for Python data.
    lang = jvm.java.lang
    holder = lang.reflect.Array.newInstance(lang.Class.forName("java.lang.Object"), 1)
    batches.slice(index, index + 1).copyToArray(holder, 0, 1)
    parameter = lang.reflect.Array.newInstance(lang.Class.forName("java.lang.Class"), 1)
    parameter[0] = lang.Class.forName("[B")
    stream_class = lang.Class.forName("java.io.ByteArrayInputStream")
    stream = stream_class.getConstructor(parameter).newInstance(holder)
    batch = jvm.net.razorvine.pickle.Unpickler().load(stream)
    return int(batch.size())


def _jvm_sha256(jvm: JavaObject, obj: JavaObject) -> str | None:
    """sha256 of ``obj``'s Java serialization, computed in the JVM; None if not serializable."""
    try:
        digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
        sink = jvm.java.security.DigestOutputStream(
            jvm.java.io.OutputStream.nullOutputStream(), digest
        )
        out = jvm.java.io.ObjectOutputStream(sink)
        out.writeObject(obj)
        out.flush()
        return bytes(digest.digest()).hex()[:32]
    except Exception:
        return None


def _range(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    rows = _as_int(leaf.numElements())
    source = {"kind": "range", "start": int(leaf.start()), "end": int(leaf.end())}
    # The plan text holds start, end and step: the data needs no other identity.
    return SourceInfo("memory", {**source, "rows": rows}, "range", None, lambda: rows)


def _one_row(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    return SourceInfo("memory", {"kind": "one_row", "rows": 1}, "one_row", None, lambda: 1)


_LEAF_HANDLERS: dict[str, Callable[[JavaObject, JavaObject], SourceInfo]] = {
    "LogicalRelation": _logical_relation,
    "HiveTableRelation": _hive_table,
    "DataSourceV2Relation": _v2_relation,
    "LocalRelation": _local_relation,
    "LogicalRDD": _logical_rdd,
    "Range": _range,
    "OneRowRelation": _one_row,
}


# -- py4j helpers ------------------------------------------------------------------------
def _seq(seq: JavaObject) -> list[JavaObject]:
    return [seq.apply(i) for i in range(int(seq.size()))]


def _option(option: JavaObject) -> JavaObject | None:
    return option.get() if option.isDefined() else None


def _private_field(obj: JavaObject, name: str) -> JavaObject:
    found = obj.getClass().getDeclaredField(name)
    found.setAccessible(True)
    return found.get(obj)


def _as_int(value: JavaObject) -> int:
    # py4j hands some numbers over as Python ints, Scala BigInts as proxies.
    return value if isinstance(value, int) else int(str(value.toString()))


def _last_component(path: str) -> str | None:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last or None
