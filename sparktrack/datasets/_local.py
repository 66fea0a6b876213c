"""Local data: rows the driver holds (``createDataFrame``), ranges and one-row relations.

Local rows are hashed inside the JVM (no bytes cross py4j, which moves a few MB/s) up
to a size limit; beyond it a LocalRelation falls back to its 32-bit content hash code
and a pickled RDD to an identity of its own (hashing a GB on every fit would not be
cheap). Hashes are cached: local data never changes.
"""

from __future__ import annotations

import pickletools

from sparktrack.datasets._digest import bytes_fingerprint
from sparktrack.datasets._py4j import JavaObject, as_int, private_field
from sparktrack.datasets._source import Memo, SourceInfo

__all__ = ["local_relation", "logical_rdd", "one_row", "range_relation"]

_MAX_HASHED_LOCAL_ROWS = 1_000_000
_MAX_HASHED_BYTES = 256 * 1024 * 1024
_MAX_RDD_CHAIN = 10
# The JVM steps pyspark's createDataFrame puts between the parallelized bytes and the rows.
_PYSPARK_CONVERSIONS = ("SerDeUtil.scala", "applySchemaToPythonRDD")
# The only nested functions in the command of pyspark's own re-serialising map: any user
# function adds a pipelined stage (``PipelinedRDD.__init__.<locals>.pipeline_func``).
_IDENTITY_MAP_FUNCTIONS = frozenset({"RDD.map.<locals>.func", "RDD._reserialize.<locals>.<lambda>"})

_CONTENT = Memo(256)  # hashes of local data, which never changes


def local_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``LocalRelation`` (rows made on the driver, e.g. from Arrow): hashed, counted."""
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


def logical_rdd(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``LogicalRDD``: hashed when it holds parallelized Python data, else unique."""
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
                return _content_of(private_field(node, "data"), commands, jvm)
            if kind == "PythonRDD":
                commands.append(bytes(private_field(node, "func").command().array()))
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


def range_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``Range`` (``spark.range``): identified by the plan text, counted for free."""
    rows = as_int(leaf.numElements())
    source = {"kind": "range", "start": int(leaf.start()), "end": int(leaf.end())}
    # The plan text holds start, end and step: the data needs no other identity.
    return SourceInfo("memory", {**source, "rows": rows}, "range", None, lambda: rows)


def one_row(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``OneRowRelation`` (``SELECT 1``): one row, nothing to identify."""
    return SourceInfo("memory", {"kind": "one_row", "rows": 1}, "one_row", None, lambda: 1)
