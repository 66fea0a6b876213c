"""Pure-Python hashing for dataset digests: no Spark, no JVM, easy to test on its own.

A digest must be stable across processes and machines for the same data (so two runs
that read the same table version compare equal), and must change whenever the data
does. That rules out ``semanticHash()`` (it mixes in JVM identity hash codes, e.g. of
``ParquetFileFormat``'s class) in favour of normalised plan text plus per-source data
identities computed here.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DIGEST_LENGTH",
    "FileEntry",
    "bytes_fingerprint",
    "dataset_digest",
    "files_fingerprint",
    "normalize_plan_string",
    "opaque_identity",
    "parse_file_statuses",
    "short_hash",
]

DIGEST_LENGTH = 16  # hex characters: 64 bits, plenty to tell a run's datasets apart

# Hadoop's FileStatus.toString():
#   LocatedFileStatus{path=...; isDirectory=false; length=472; ...; modification_time=...; ...}
# The path is taken lazily up to the next "; isDirectory=" so paths with ";" still parse.
_FILE_STATUS = re.compile(
    r"\{path=(?P<path>.*?); isDirectory=(?:true|false); length=(?P<length>\d+);"
    r".*?; modification_time=(?P<mtime>-?\d+);",
    re.DOTALL,
)
# What makes a plan string differ between two JVMs for the same plan: identity hash codes
# of objects (``Foo@1a2b3c``) and the names the JVM gives lambda classes.
_JVM_IDENTITY = re.compile(r"@[0-9a-f]{4,}\b")
_JVM_LAMBDA = re.compile(r"\$\$Lambda\$\d+/(?:0x)?[0-9a-f]+")
# Mixed into identities of sources whose data cannot be identified, so that their digests
# never match one from another process: a false "same data" is worse than a false "new data".
_PROCESS_SALT = secrets.token_hex(8)


@dataclass(frozen=True)
class FileEntry:
    """One data file as a file index lists it: enough to notice a rewrite."""

    path: str
    size: int
    modification_time: int


def short_hash(*parts: str) -> str:
    """The first DIGEST_LENGTH hex characters of sha256 over the parts, unambiguously joined."""
    hasher = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        # Length-prefix each part so ("ab", "c") and ("a", "bc") hash differently.
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
    return hasher.hexdigest()[:DIGEST_LENGTH]


def normalize_plan_string(plan: str) -> str:
    """Plan text with JVM-instance noise removed, so equal plans give equal text anywhere."""
    return _JVM_LAMBDA.sub("$$Lambda", _JVM_IDENTITY.sub("@", plan)).strip()


def parse_file_statuses(text: str) -> list[FileEntry]:
    """FileEntry for every ``FileStatus.toString()`` in ``text`` (a joined listing)."""
    return [
        FileEntry(m.group("path"), int(m.group("length")), int(m.group("mtime")))
        for m in _FILE_STATUS.finditer(text)
    ]


def files_fingerprint(entries: Iterable[FileEntry]) -> str:
    """A hash of (path, size, modification time) of every file, independent of listing order."""
    lines = sorted(f"{e.path}\t{e.size}\t{e.modification_time}" for e in entries)
    return short_hash(*lines)


def bytes_fingerprint(chunks: Iterable[bytes]) -> str:
    """A hash of a sequence of byte strings, each length-prefixed."""
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(len(chunk).to_bytes(8, "big"))
        hasher.update(chunk)
    return hasher.hexdigest()[:DIGEST_LENGTH]


def opaque_identity(*parts: str) -> str:
    """An identity that is stable for one object in this process and matches nothing else."""
    return "opaque|" + short_hash(_PROCESS_SALT, *parts)


def dataset_digest(plan: str, schema: str, identities: Sequence[str]) -> str:
    """Digest of what a DataFrame computes (plan, schema) over which data (source identities)."""
    return short_hash(
        json.dumps({"plan": plan, "schema": schema, "sources": list(identities)}, sort_keys=True)
    )
