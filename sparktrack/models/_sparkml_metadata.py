"""The metadata file of a Spark ML stage folder, written without a Spark job.

Spark ML's ``DefaultParamsWriter`` writes one JSON line, ``metadata/part-00000``, through
``saveAsTextFile``: a Spark job for one line. Every reader (``DefaultParamsReader``,
Sparkling Water's, MLflow's through them) reads the same line written directly through
the Hadoop file system, which is what sparktrack does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from sparktrack.models._uri import SparkFolder

__all__ = ["METADATA_FILE", "write_metadata"]

METADATA_FILE = "metadata/part-00000"


def _json_object(encoded: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in encoded.items()) + "}"


def write_metadata(
    folder: SparkFolder,
    *,
    class_name: str,
    uid: str,
    spark_version: str,
    params: Mapping[str, str],
    defaults: Mapping[str, str],
) -> None:
    """Write ``metadata/part-00000`` and ``_SUCCESS`` into ``folder`` as Spark ML does.

    The same keys in the same order (class, timestamp, sparkVersion, uid, paramMap,
    defaultParamMap).

    ``params`` and ``defaults`` map param names to their values *encoded* as JSON, as
    each param's ``jsonEncode`` gives them: embedded verbatim, so the reader decodes
    exactly what the param encoded (NaN, nested maps, DataFrames as the param spells them).
    """
    head = json.dumps(
        {
            "class": class_name,
            "timestamp": int(time.time() * 1000),
            "sparkVersion": spark_version,
            "uid": uid,
        },
        separators=(",", ":"),
    )
    tail = f'"paramMap":{_json_object(params)},"defaultParamMap":{_json_object(defaults)}'
    line = f"{head[:-1]},{tail}}}"
    folder.write_bytes(METADATA_FILE, line.encode("utf-8"))
    folder.write_bytes("metadata/_SUCCESS", b"")
