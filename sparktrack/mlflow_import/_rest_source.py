"""An MLflow tracking server (``http(s)://``), read through its REST API with httpx.

The routes MLflow's own client calls (``mlflow/server/handlers.py``), every listing
paginated by ``page_token``: experiments and runs by search (a run's params, tags and
dataset inputs come with it), metric histories one key at a time, logged models,
registered models and versions, and artifacts (listed, then downloaded through
``/get-artifact`` and the logged-model files route, whatever store the server keeps
them in).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pyarrow.fs as pafs

from sparktrack.errors import NotFoundError, StoreError
from sparktrack.mlflow_import._records import (
    MlflowDataset,
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowRun,
    MlflowVersion,
)
from sparktrack.mlflow_import._source import ArtifactTree

__all__ = ["RestSource"]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


_API = "/api/2.0/mlflow"
# MLflow's LoggedModelStatus enum as its JSON names it, by the name its stores keep.
_LOGGED_MODEL_STATUS = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": "UNSPECIFIED",
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
}
_PAGE = 1000
# A server answering slowly under load is still answering: generous, not endless.
_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class RestSource:
    """An MLflow tracking server.

    Args:
        uri: Its ``http(s)://host:port`` (a path prefix is kept).

    Raises:
        NotFoundError: Nothing answers there as an MLflow server.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._http = httpx.Client(base_url=uri.rstrip("/"), timeout=_TIMEOUT)
        self._runs: dict[str, dict[str, dict[str, Any]]] = {}  # experiment -> run id -> json
        try:
            self._call("GET", "/experiments/get", params={"experiment_id": "0"}, missing_ok=True)
        except httpx.HTTPError as exc:
            raise NotFoundError(f"no MLflow tracking server answers at {uri!r}: {exc}") from exc

    # -- HTTP -----------------------------------------------------------------------
    def _call(
        self,
        method: str,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        response = self._http.request(method, _API + route, params=params, json=body)
        if response.status_code == 404 and missing_ok:
            return {}
        if response.is_error:
            raise StoreError(
                f"MLflow server {self.uri!r} answered {response.status_code} to {method} "
                f"{route}: {response.text[:300]}"
            )
        result: dict[str, Any] = response.json()
        return result

    def _pages(
        self, method: str, route: str, field: str, request: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            query = {**request, **({"page_token": token} if token else {})}
            if method == "GET":
                page = self._call(method, route, params=query)
            else:
                page = self._call(method, route, body=query)
            yield from page.get(field, [])
            token = page.get("next_page_token")
            if not token:
                return

    # -- tracking -------------------------------------------------------------------
    def experiments(self) -> list[MlflowExperiment]:
        return [
            MlflowExperiment(
                str(e["experiment_id"]),
                e["name"],
                e.get("artifact_location"),
                e.get("lifecycle_stage", "active"),
                int(e["creation_time"]) if "creation_time" in e else None,
                {t["key"]: t.get("value", "") for t in e.get("tags", [])},
            )
            for e in self._pages(
                "POST",
                "/experiments/search",
                "experiments",
                {"max_results": _PAGE, "view_type": "ALL"},
            )
        ]

    def _searched(self, experiment_id: str) -> dict[str, dict[str, Any]]:
        if experiment_id not in self._runs:
            request = {
                "experiment_ids": [experiment_id],
                "run_view_type": "ALL",
                "max_results": _PAGE,
                "order_by": ["attributes.start_time ASC"],
            }
            self._runs[experiment_id] = {
                r["info"]["run_id"]: r for r in self._pages("POST", "/runs/search", "runs", request)
            }
        return self._runs[experiment_id]

    def run_ids(self, experiment_id: str) -> list[str]:
        return list(self._searched(experiment_id))

    def runs(self, experiment_id: str, run_ids: Sequence[str]) -> list[MlflowRun]:
        searched = self._searched(experiment_id)
        return [self._run(searched[run_id]) for run_id in run_ids if run_id in searched]

    def _run(self, found: dict[str, Any]) -> MlflowRun:
        info, data = found["info"], found.get("data", {})
        run = MlflowRun(
            run_id=info["run_id"],
            experiment_id=str(info["experiment_id"]),
            run_name=info.get("run_name"),
            user_id=info.get("user_id"),
            status=info.get("status", "FINISHED"),
            start_time=_int(info.get("start_time")),
            end_time=_int(info.get("end_time")),
            lifecycle_stage=info.get("lifecycle_stage", "active"),
            artifact_uri=info.get("artifact_uri"),
            params={p["key"]: p.get("value", "") for p in data.get("params", [])},
            tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        )
        for key in sorted({m["key"] for m in data.get("metrics", [])}):
            for point in self._pages(
                "GET",
                "/metrics/get-history",
                "metrics",
                {"run_id": run.run_id, "metric_key": key, "max_results": 25000},
            ):
                run.metrics.append(
                    (
                        key,
                        _float(point["value"]),
                        int(point.get("step", 0)),
                        int(point["timestamp"]),
                    )
                )
        for entry in found.get("inputs", {}).get("dataset_inputs", []):
            dataset = entry["dataset"]
            tags = {t["key"]: t.get("value") for t in entry.get("tags", [])}
            run.inputs.append(
                MlflowDataset(
                    name=dataset["name"],
                    digest=dataset["digest"],
                    source_type=dataset["source_type"],
                    source=dataset["source"],
                    schema=dataset.get("schema"),
                    profile=dataset.get("profile"),
                    context=tags.get("mlflow.data.context"),
                )
            )
        return run

    def logged_models(self) -> list[MlflowLoggedModel]:
        ids = [e.experiment_id for e in self.experiments()]
        outputs = self._model_outputs(ids)
        found = []
        for start in range(0, len(ids), 100):
            request = {"experiment_ids": ids[start : start + 100], "max_results": 100}
            for model in self._pages("POST", "/logged-models/search", "models", request):
                info, data = model["info"], model.get("data", {})
                found.append(
                    MlflowLoggedModel(
                        info["model_id"],
                        str(info["experiment_id"]),
                        info["name"],
                        info.get("artifact_uri"),
                        info.get("source_run_id"),
                        status=_LOGGED_MODEL_STATUS.get(str(info.get("status")), "UNSPECIFIED"),
                        model_type=info.get("model_type"),
                        creation_timestamp=_optional_int(info.get("creation_timestamp_ms")),
                        last_updated_timestamp=_optional_int(info.get("last_updated_timestamp_ms")),
                        tags={t["key"]: t.get("value", "") for t in info.get("tags", [])},
                        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
                        outputs=outputs.get(info["model_id"], {}),
                        metrics=len(data.get("metrics", [])),
                    )
                )
        return found

    def _model_outputs(self, experiment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Model id -> run id -> step, from the ``outputs`` of every run searched."""
        found: dict[str, dict[str, int]] = {}
        for experiment_id in experiment_ids:
            for run_id, run in self._searched(experiment_id).items():
                for output in (run.get("outputs") or {}).get("model_outputs", []):
                    steps = found.setdefault(str(output["model_id"]), {})
                    steps[run_id] = int(output.get("step") or 0)
        return found

    def registered_models(self) -> list[MlflowModel]:
        found = []
        for model in self._pages(
            "GET", "/registered-models/search", "registered_models", {"max_results": _PAGE}
        ):
            tags = {t["key"]: t.get("value", "") for t in model.get("tags", [])}
            if tags.get("mlflow.prompt.is_prompt") == "true":
                continue
            name = model["name"]
            escaped = name.replace("'", "\\'")
            versions = [
                MlflowVersion(
                    version=int(v["version"]),
                    stage=v.get("current_stage") or "None",
                    description=v.get("description") or "",
                    tags={t["key"]: t.get("value", "") for t in v.get("tags", [])},
                    run_id=v.get("run_id") or None,
                    source=v.get("source", ""),
                    user_id=v.get("user_id") or None,
                    creation_time=int(v.get("creation_timestamp", 0)),
                    last_updated_time=int(
                        v.get("last_updated_timestamp", v.get("creation_timestamp", 0))
                    ),
                )
                for v in self._pages(
                    "GET",
                    "/model-versions/search",
                    "model_versions",
                    {"filter": f"name='{escaped}'", "max_results": 200},
                )
            ]
            created = int(model.get("creation_timestamp", 0))
            found.append(
                MlflowModel(
                    name=name,
                    description=model.get("description") or "",
                    tags=tags,
                    aliases={a["alias"]: int(a["version"]) for a in model.get("aliases", [])},
                    creation_time=created,
                    last_updated_time=int(model.get("last_updated_timestamp", created)),
                    versions=sorted(versions, key=lambda v: v.version),
                )
            )
        return found

    # -- artifacts ------------------------------------------------------------------
    def run_artifacts(self, run: MlflowRun) -> ArtifactTree | str:
        return _RestTree(
            self, f"{_API}/artifacts/list", "/get-artifact", {"run_id": run.run_id}, "run_uuid"
        )

    def model_artifacts(self, model: MlflowLoggedModel) -> ArtifactTree | str:
        listing = f"{_API}/logged-models/{model.model_id}/artifacts/directories"
        files = f"/ajax-api/2.0/mlflow/logged-models/{model.model_id}/artifacts/files"
        return _RestTree(self, listing, files, {}, None)

    def not_carried(self) -> dict[str, int]:
        ids = [e.experiment_id for e in self.experiments()]
        traces = 0
        for start in range(0, len(ids), 100):
            # The v3 trace search needs a location; a count needs every page of ids.
            request = {
                "locations": [
                    {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": i}}
                    for i in ids[start : start + 100]
                ],
                "max_results": 500,
            }
            try:
                response = self._http.post("/api/3.0/mlflow/traces/search", json=request)
                traces += len(response.json().get("traces", [])) if response.is_success else 0
            except (httpx.HTTPError, ValueError):
                break
        return {"traces": traces} if traces else {}

    def close(self) -> None:
        self._http.close()

    def download(self, route: str, params: dict[str, str]) -> bytes:
        """A file's bytes from a download route (outside ``/api``)."""
        response = self._http.get(route, params=params)
        if response.is_error:
            raise StoreError(
                f"MLflow server {self.uri!r} answered {response.status_code} to GET {route} "
                f"{params}: {response.text[:300]}"
            )
        return response.content

    def listing(self, route: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """One folder's entries from a listing route."""
        response = self._http.get(route, params=params)
        if response.is_error:
            raise StoreError(
                f"MLflow server {self.uri!r} answered {response.status_code} to GET {route}: "
                f"{response.text[:300]}"
            )
        files: list[dict[str, Any]] = response.json().get("files", [])
        return files


class _RestTree:
    """A folder of artifacts the server lists and serves."""

    def __init__(
        self,
        source: RestSource,
        listing: str,
        download: str,
        owner: dict[str, str],
        download_key: str | None,
    ) -> None:
        self._source = source
        self._listing = listing
        self._download = download
        self._owner = owner
        self._download_key = download_key
        self._files: list[tuple[str, int]] | None = None

    def files(self) -> list[tuple[str, int]]:
        if self._files is None:
            found: list[tuple[str, int]] = []
            folders = [""]
            path_key = "path" if self._owner else "artifact_directory_path"
            while folders:
                folder = folders.pop()
                params = {**self._owner, **({path_key: folder} if folder else {})}
                for entry in self._source.listing(self._listing, params):
                    if entry.get("is_dir"):
                        folders.append(entry["path"])
                    else:
                        found.append((entry["path"], int(entry.get("file_size", 0))))
            self._files = sorted(found)
        return self._files

    def copy_to(self, filesystem: pafs.FileSystem, folder: str) -> None:
        for path, _size in self.files():
            if self._download_key is None:
                params = {"artifact_file_path": path}
            else:
                params = {self._download_key: self._owner["run_id"], "path": path}
            data = self._source.download(self._download, params)
            target = f"{folder}/{path}"
            filesystem.create_dir(posixpath.dirname(target), recursive=True)
            with filesystem.open_output_stream(target) as out:
                out.write(data)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float:
    # The REST API spells non-finite values as the strings "NaN", "Infinity", "-Infinity".
    return float(value)
