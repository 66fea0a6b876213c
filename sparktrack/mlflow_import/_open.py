"""``open_source``: the reader for an MLflow tracking URI."""

from __future__ import annotations

from sparktrack.mlflow_import._file_source import FileSource
from sparktrack.mlflow_import._source import MlflowSource, local_path_of, refuse
from sparktrack.mlflow_import._sqlite_source import SqliteSource

__all__ = ["open_source"]

_SQL_SCHEMES = ("postgresql", "mysql", "mssql", "oracle", "sqlite+", "databricks")


def open_source(uri: str) -> MlflowSource:
    """Open the MLflow store at ``uri`` for reading.

    Args:
        uri: ``sqlite:///path.db``, a FileStore folder (``./mlruns``) or ``file:`` URI,
            or ``http(s)://host:port``.

    Returns:
        Its reader.

    Raises:
        InvalidInputError: No reader takes ``uri`` (other SQL databases among them).
        NotFoundError: Nothing is there.
    """
    if uri.startswith("sqlite:///"):
        return SqliteSource(uri)
    if uri.startswith(("http://", "https://")):
        # httpx is an optional dependency (the mlflow-import extra): imported only
        # when a server is the source.
        from sparktrack.mlflow_import._rest_source import RestSource

        return RestSource(uri)
    if uri.startswith(_SQL_SCHEMES) or ("://" in uri and not uri.startswith("file:")):
        raise refuse(uri)
    path = local_path_of(uri)
    if path is None:
        raise refuse(uri)
    return FileSource(path, uri)
