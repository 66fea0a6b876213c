"""Relations over files: plain file sources, catalog tables, and the dispatch to Delta.

A file source is identified by a fingerprint of the listing its index cached when the
DataFrame was made (path, size and modification time of every file) plus a hash of
the reader options; a catalog table without a cheap listing by its metadata. Nothing
here lists files again: an index that would list on demand yields no fingerprint.
"""

from __future__ import annotations

from typing import Any

from sparktrack.datasets._delta import (
    delta_counter,
    delta_index_source,
    delta_source,
    is_delta_index,
    table_id_of,
)
from sparktrack.datasets._digest import (
    FileEntry,
    files_fingerprint,
    opaque_identity,
    parse_file_statuses,
    short_hash,
)
from sparktrack.datasets._py4j import JavaObject, option, qualified_name, seq
from sparktrack.datasets._source import SourceInfo, last_component

__all__ = ["hive_table", "logical_relation", "v2_relation"]

# Listings bigger than this are not fingerprinted (one string of ~350 bytes per file).
_MAX_FINGERPRINTED_FILES = 100_000
_MAX_FILES_ONE_BY_ONE = 2_000
_FILE_INDEXES = frozenset({"InMemoryFileIndex", "MetadataLogFileIndex"})


def logical_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A v1 ``LogicalRelation``: a Delta table, a catalog table or plain files."""
    relation = leaf.relation()
    catalog = option(leaf.catalogTable())
    index = relation.location()  # raises for non-file relations (JDBC, ...): unknown
    if is_delta_index(index):
        return delta_index_source(index, catalog)
    if catalog is not None:
        return _catalog_table_source(catalog, index, relation)
    return _files_source(index, relation)


def v2_relation(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``DataSourceV2Relation``: a Delta table, v2 files, or another catalog's table."""
    table = leaf.table()
    kind = str(table.getClass().getSimpleName())
    if kind == "DeltaTableV2":
        snapshot = table.initialSnapshot()
        catalog = option(table.catalogTable())
        path = str(table.path().toString())
        name = qualified_name(catalog) if catalog is not None else None
        count = delta_counter(path, snapshot, table.deltaLog())
        version = int(snapshot.version())
        return delta_source(path, version, table_id_of(snapshot), name, catalog, count)
    try:
        # File tables of the v2 file sources (when configured instead of v1) keep an index.
        return _files_source(table.fileIndex(), None, str(table.formatName()).lower())
    except Exception:
        pass
    # Another catalog's table (Iceberg, JDBC, ...): named, but its data not identified.
    name = str(table.name())
    token = f"{jvm.java.lang.System.identityHashCode(leaf)}"
    return SourceInfo("table", {"table": name}, opaque_identity("v2", name, token), name)


def hive_table(leaf: JavaObject, jvm: JavaObject) -> SourceInfo:
    """A ``HiveTableRelation``: a catalog table known by its metadata only."""
    return _catalog_table_source(leaf.tableMeta(), None, None)


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
    name = last_component(roots[0]) if roots else None
    return SourceInfo("files", source, identity, name)


def _catalog_table_source(
    catalog: JavaObject, index: JavaObject | None, relation: JavaObject | None
) -> SourceInfo:
    table = qualified_name(catalog)
    location = str(option(catalog.storage().locationUri()) or "")
    listing = (
        _file_listing(index)
        if index is not None
        else {"files": None, "bytes": None, "fingerprint": None}
    )
    provider = option(catalog.provider())
    source = {"table": table, "location": location, "format": provider, **listing}
    # Without a cheap listing only the metadata can stand for the data (statistics and
    # properties such as transient_lastDdlTime move on writes that update them).
    metadata = short_hash(str(catalog.properties().toString()), str(catalog.stats().toString()))
    identity = (
        f"table|{table}|{location}|{listing['fingerprint'] or ''}|{metadata}"
        f"|{_options_hash(relation)}"
    )
    return SourceInfo("table", source, identity, str(catalog.identifier().table()))


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
        for s in seq(statuses)
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
