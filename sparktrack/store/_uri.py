"""Store URIs: local folders and Hadoop-style cluster URIs, one mapping for both engines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from sparktrack.errors import ConfigurationError

__all__ = ["StoreLocation", "parse_store_uri"]

# Hadoop names some schemes differently from delta-rs / Arrow; both point at the same bytes.
_DELTA_RS_SCHEME = {
    "s3a": "s3",
    "s3n": "s3",
    "s3": "s3",
    "abfss": "abfss",
    "abfs": "abfs",
    "gs": "gs",
    "hdfs": "hdfs",
    "viewfs": "viewfs",
    "file": "file",
}


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives, spelled for each engine that touches it.

    Attributes:
        uri: The URI as the user gave it, normalised (an absolute path when local).
        is_local: True for a folder on the local file system.
        local_path: The absolute path of a local store; None otherwise.
        storage_options: What delta-rs is told beside its environment when it opens
            the store's tables (how commits are made safe on S3), as sorted pairs.
    """

    uri: str  # as the user gave it (normalised)
    is_local: bool
    local_path: str | None  # absolute path for local stores
    storage_options: tuple[tuple[str, str], ...] = ()

    @property
    def scheme(self) -> str:
        """The URI's scheme as delta-rs spells it (``s3a`` is ``s3``); ``file`` when local."""
        if self.is_local:
            return "file"
        scheme = self.uri.split("://", 1)[0]
        return _DELTA_RS_SCHEME.get(scheme, scheme)

    def delta_rs_options(self) -> dict[str, str]:
        """Give the options delta-rs opens the store's tables with.

        Returns:
            ``storage_options`` as a dict (empty for local and most cluster stores).
        """
        return dict(self.storage_options)

    def join(self, *parts: str) -> str:
        """Spell a location under the store like the store's URI.

        Args:
            *parts: Path segments under the store (empty ones are skipped).

        Returns:
            A local path for a local store, else a URI.
        """
        base = self.local_path if self.is_local and self.local_path else self.uri.rstrip("/")
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])

    def for_delta_rs(self, *parts: str) -> str:
        """Spell a location under the store for delta-rs and Arrow.

        Args:
            *parts: Path segments under the store (empty ones are skipped).

        Returns:
            The location with the scheme delta-rs knows (``s3a://`` becomes ``s3://``).
        """
        target = self.join(*parts)
        if self.is_local:
            return target
        scheme, rest = target.split("://", 1)
        return f"{_DELTA_RS_SCHEME.get(scheme, scheme)}://{rest}"

    def for_spark(self, *parts: str) -> str:
        """Spell a location under the store for Spark and Hadoop file systems.

        Args:
            *parts: Path segments under the store (empty ones are skipped).

        Returns:
            The location as Hadoop reads it (``file://`` + path for a local store).
        """
        target = self.join(*parts)
        return "file://" + target if self.is_local else target


def parse_store_uri(uri: str) -> StoreLocation:
    """Read a store URI: a local folder or a Hadoop-style cluster URI.

    Args:
        uri: A folder path (``~`` expanded), ``file://``, ``hdfs://``, ``viewfs://``,
            ``s3a://``, ``s3n://``, ``s3://``, ``abfss://``, ``abfs://`` or ``gs://``.

    Returns:
        The store's location.

    Raises:
        ConfigurationError: The URI is empty or its scheme is not one of those.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigurationError(
            f"store URI {uri!r} is empty; give a folder path or an hdfs://, s3a://, abfss:// URI"
        )
    uri = uri.strip()
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = parsed.path if parsed.scheme == "file" else uri
        absolute = os.path.abspath(os.path.expanduser(path))
        return StoreLocation(uri=absolute, is_local=True, local_path=absolute)
    if parsed.scheme not in _DELTA_RS_SCHEME:
        raise ConfigurationError(
            f"store URI {uri!r} has scheme {parsed.scheme!r}, which sparktrack cannot store to; "
            f"use a local path or one of {sorted(set(_DELTA_RS_SCHEME) - {'file'})}"
        )
    return StoreLocation(uri=uri.rstrip("/"), is_local=False, local_path=None)
