"""`sparktrack serve`: a real server process answering MLflow's scoring protocol."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest

import sparktrack
from sparktrack import ConfigurationError, TrackingClient
from sparktrack.models import load_model, log_model, save_model, signature_for_spark_model
from sparktrack.registry import RegistryClient
from tests._processes import Child, child_env, python, start, wait_for

COLUMNS = ["a", "b", "c", "d"]
STARTUP_TIMEOUT_S = 240  # a loaded shared machine can take minutes to start a JVM


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))) * 3, columns=COLUMNS)
    frame.loc[::7, "b"] = 0.0
    return frame


@dataclass
class Logged:
    store: str
    uri: str  # runs:/<run_id>/model: the pipeline the server serves
    folder: Path  # the same pipeline, saved as a folder
    model: Any


@dataclass
class Models:
    uri: str
    folder_a: Path  # the served pipeline as a folder
    folder_b: Path  # another pipeline: predictions differ
    test: pd.DataFrame  # rows to score
    expected: list[float]  # the served pipeline's transform of them
    expected_b: list[float]


def _pipeline(spark: Any, seed: int) -> tuple[Any, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    train = _frame(80, seed)
    weights = [1.0, -2.0, 0.5, 0.0] if seed == 1 else [-1.0, 0.3, 0.0, 2.0]
    train["label"] = (train[COLUMNS].to_numpy() @ weights > 0).astype(float)
    df = spark.createDataFrame(train)
    model = Pipeline(
        stages=[
            VectorAssembler(inputCols=COLUMNS, outputCol="features"),
            StandardScaler(inputCol="features", outputCol="scaled"),
            LogisticRegression(featuresCol="scaled", maxIter=5),
        ]
    ).fit(df)
    return model, signature_for_spark_model(model, df.schema, ["label"])


def _transform(spark: Any, model: Any, frame: pd.DataFrame) -> list[float]:
    rows = model.transform(spark.createDataFrame(frame)).select("prediction").collect()
    return [row.prediction for row in rows]


@pytest.fixture(scope="module")
def logged(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """The served pipeline, logged to a run (and saved as a folder)."""
    return log_served_pipeline(spark, tmp_path_factory.mktemp("serving"))


def log_served_pipeline(spark: Any, root: Path) -> Logged:
    """The served pipeline logged to a run in ``root``, registered as Production, and saved."""
    model, signature = _pipeline(spark, 1)
    store = str(root / "store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        client = TrackingClient(store)
        run_id = client.create_run(run_name="serving").info.run_id
        info = log_model(model, "model", run_id=run_id, signature=signature, client=client)
        # The server serves the registry's Production version of this model.
        RegistryClient(client).register_model(info.model_uri, SERVED)
        RegistryClient(client).transition_model_version_stage(SERVED, 1, "Production")
        client.close()
    save_model(model, str(root / "a"), signature=signature)
    return Logged(store, info.model_uri, root / "a", model)


@pytest.fixture(scope="module")
def models(spark: Any, logged: Logged) -> Models:
    """Expected predictions and a second model; built while the server process starts."""
    model_b, signature_b = _pipeline(spark, 2)
    folder_b = logged.folder.parent / "b"
    save_model(model_b, str(folder_b), signature=signature_b)
    test = _frame(30, 3)
    return Models(
        uri=logged.uri,
        folder_a=logged.folder,
        folder_b=folder_b,
        test=test,
        expected=_transform(spark, logged.model, test),
        expected_b=_transform(spark, model_b, test),
    )


@dataclass
class Server:
    child: Child
    _url: str | None = None
    _lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The server's URL once /ping answers (the process starts in the background)."""
        if self._url is None:
            self._url = self._wait_until_ready()
        return self._url

    def _wait_until_ready(self) -> str:
        stdout = self.child.process.stdout
        reader = threading.Thread(target=lambda: self._lines.extend(stdout or []), daemon=True)
        reader.start()
        wait_for(
            self._answers_ping,
            "the server to answer /ping",
            timeout=STARTUP_TIMEOUT_S,
            interval=0.2,
            child=self.child,
        )
        assert self._url is not None
        return self._url

    def _answers_ping(self) -> bool:
        found = [m for line in self._lines if (m := re.search(r"http://\S+", line))]
        if not found:
            return False
        try:
            answered = httpx.get(f"{found[0].group(0)}/ping", timeout=5).status_code == 200
        except httpx.TransportError:
            return False
        if answered:
            self._url = found[0].group(0)
        return answered


MAX_BODY_MB = 0.05
SERVED = "served"


@pytest.fixture(scope="module")
def server(logged: Logged, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`sparktrack --store S serve models:/served/Production` in its own process, on a
    free port, looking for a new Production version every second."""
    workdir = tmp_path_factory.mktemp("server")
    command = python(
        "-m",
        "sparktrack.cli",
        "--store",
        logged.store,
        "serve",
        f"models:/{SERVED}/Production",
        "--port",
        "0",
        "--refresh-seconds",
        "1",
        "--max-body-mb",
        str(MAX_BODY_MB),
    )
    env = child_env(SPARKTRACK_JOURNAL_DIR=str(workdir / "journal"))
    with start(command, stderr_dir=workdir, env=env, cwd=workdir, name="server") as child:
        yield Server(child)


def _post(server: Server, body: bytes | str, content_type: str = "application/json") -> Any:
    return httpx.post(
        f"{server.url}/invocations",
        content=body.encode() if isinstance(body, str) else body,
        headers={"Content-Type": content_type},
        timeout=60,
    )


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}


# -- endpoints ------------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
def test_ping_health_version(server: Server, models: Models) -> None:
    for path in ("/ping", "/health"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200
        status = response.json()
        assert status["status"] == "ok"
        assert status["model_uri"] == f"models:/{SERVED}/Production"
        assert status["target"] == f"models:/{SERVED}/1"
        assert status["engine"] == "local"
        assert status["spark_loaded"] is False
    version = httpx.get(f"{server.url}/version")
    assert version.status_code == 200 and version.text == sparktrack.__version__
    assert server.url.startswith("http://127.0.0.1:")


@pytest.mark.spark
@pytest.mark.slow
def test_a_covered_model_is_served_without_a_jvm(server: Server, models: Models) -> None:
    """The pipeline is compiled from its Spark ML save: no Java process ever starts."""
    response = _post(server, json.dumps({"dataframe_split": _split(models.test)}))
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == models.expected
    server_process = psutil.Process(server.child.process.pid)
    processes = [server_process, *server_process.children(recursive=True)]
    names = [p.name() for p in processes]
    assert not any("java" in name for name in names), names
    assert httpx.get(f"{server.url}/health").json()["spark_loaded"] is False


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    "form",
    [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs_columns",
        "inputs_rows",
        "csv",
        "json_with_charset",
    ],
)
def test_every_input_format_predicts_like_transform(
    server: Server, models: Models, form: str
) -> None:
    frame = models.test
    records = frame.to_dict(orient="records")
    bodies = {
        "dataframe_split": {"dataframe_split": _split(frame)},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs_columns": {"inputs": {c: frame[c].tolist() for c in COLUMNS}},
        "inputs_rows": {"inputs": frame.to_numpy().tolist()},  # in the signature's order
        "json_with_charset": {"dataframe_split": _split(frame)},
    }
    if form == "csv":
        response = _post(server, frame.to_csv(index=False), "text/csv")
    elif form == "json_with_charset":
        response = _post(server, json.dumps(bodies[form]), "application/json; charset=utf-8")
    else:
        response = _post(server, json.dumps(bodies[form]))
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": models.expected}


@pytest.mark.spark
@pytest.mark.slow
def test_one_row_and_integers(server: Server, models: Models) -> None:
    row = models.test.iloc[:1]
    response = _post(server, json.dumps({"dataframe_split": _split(row)}))
    assert response.json() == {"predictions": models.expected[:1]}
    ints = {"dataframe_records": [{"a": 1, "b": 0, "c": -2, "d": 3}]}
    assert _post(server, json.dumps(ints)).status_code == 200


# -- bad input ---------------------------------------------------------------------------------
def _row(**changes: Any) -> dict[str, Any]:
    return {**{c: 1.5 for c in COLUMNS}, **changes}


BAD_REQUESTS = {
    "malformed_json": ('{"dataframe_split": {"columns": ["a"', r"not valid JSON.*line 1"),
    "not_an_object": ("[1, 2]", r"must be an object with one of the keys"),
    "unknown_key": (json.dumps({"dataframes": []}), r"unknown key\(s\) \['dataframes'\]"),
    "two_keys": (
        json.dumps({"instances": [_row()], "inputs": [_row()]}),
        r"exactly one of the keys.*\['instances', 'inputs'\]",
    ),
    "unknown_column": (
        json.dumps({"dataframe_records": [_row(e=1.0)]}),
        r"unknown input column\(s\) \['e'\].*--ignore-extra-columns",
    ),
    "missing_column": (
        json.dumps({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.0, 2.0, 3.0]]}}),
        r"input column 'd' \(double\) is required.*missing",
    ),
    "wrong_type": (
        json.dumps({"dataframe_records": [_row(c="high")]}),
        r"input column 'c' must be double",
    ),
    "boolean_for_double": (
        json.dumps({"dataframe_records": [_row(a=True)]}),
        r"input column 'a' must be double",
    ),
    "boolean_among_numbers": (
        json.dumps({"dataframe_records": [_row(a=True), _row(a=1.5)]}),
        r"input column 'a' must be double.*bool",
    ),
    "null_value": (
        json.dumps({"dataframe_records": [_row(), _row(b=None)]}),
        r"input column 'b' is null or NaN in row 1.*handleInvalid='error'",
    ),
    "ragged_rows": (
        json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0]]}}),
        r"data\[0\]' has 2 values but there are 4 columns",
    ),
    "no_rows": (json.dumps({"dataframe_records": []}), r"no rows"),
    "params": (json.dumps({"inputs": [_row()], "params": {"k": 1}}), r"'params' is not supported"),
    "empty_body": ("", r"request body is empty"),
    "oversized_body": (
        json.dumps({"dataframe_records": [_row()] * 2000}),  # ~150 KB > 0.05 MB
        r"larger than this server's limit of 0.05 MB \(--max-body-mb\)",
    ),
}


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_input_is_a_400_with_an_mlflow_error(server: Server, case: str) -> None:
    body, message = BAD_REQUESTS[case]
    response = _post(server, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert error["error_code"] == "BAD_REQUEST"
    assert re.search(message, error["message"]), error["message"]


@pytest.mark.spark
@pytest.mark.slow
def test_bad_csv_and_other_content_types(server: Server) -> None:
    response = _post(server, "a,b,c,d\n1,2,3\n4,5,6,7,8,9\n", "text/csv")
    assert response.status_code == 400
    assert "CSV body could not be parsed" in response.json()["message"]
    for headerless in ("1.0,2.0,3.0,4.0\n", "1.0,2.0,3.0,4.0\n5,6,7,8\n"):
        response = _post(server, headerless, "text/csv")
        assert response.status_code == 400
        assert "needs a header row naming the columns: a,b,c,d" in response.json()["message"]
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = _post(server, "a=1", content_type)
        assert response.status_code == 415
        assert response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert content_type in response.json()["message"]
    response = _post(server, "{}", "application/json; charset=latin-1")
    assert response.status_code == 415 and "charset 'latin-1'" in response.json()["message"]
    # The server keeps serving after every bad request.
    assert httpx.get(f"{server.url}/ping").status_code == 200


# -- swapping models without a restart -------------------------------------------------------
class _InProcess:
    """Requests to an ASGI app in this process."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str) -> httpx.Response:
        return self._call("GET", path)

    def post(self, path: str, json: Any) -> httpx.Response:
        return self._call("POST", path, json=json)


@pytest.mark.spark
def test_source_swaps_model_when_the_uri_points_elsewhere(
    models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparktrack.serving import ModelSource, _source, create_app

    targets = {"models:/churn/Production": str(models.folder_a)}
    monkeypatch.setattr(_source, "_current_target", lambda uri, client=None: targets[uri])
    source = ModelSource("models:/churn/Production", refresh_seconds=0.2)
    first = source.load()
    assert first.target == str(models.folder_a)
    client = _InProcess(create_app(source))
    body = {"dataframe_split": _split(models.test)}
    assert client.post("/invocations", json=body).json() == {"predictions": models.expected}
    assert source.refresh() is False  # same target: nothing loaded

    # A target that fails to load: the loaded model keeps serving.
    targets["models:/churn/Production"] = str(models.folder_a.parent / "missing")
    assert source.refresh() is False
    assert source.current is first and "no model" in str(source.last_error)
    assert client.get("/health").json()["refresh_error"] == source.last_error

    # The polling thread picks up a new target on its own.
    targets["models:/churn/Production"] = str(models.folder_b)
    source.start()
    try:
        wait_for(lambda: source.current is not first, "the new target loaded", timeout=120)
    finally:
        source.stop()
    assert source.current.target == str(models.folder_b) and source.last_error is None
    assert client.post("/invocations", json=body).json() == {"predictions": models.expected_b}
    assert client.get("/health").json()["target"] == str(models.folder_b)
    # A request that took the first model before the swap finishes on it.
    assert first.model.predict(models.test).tolist() == models.expected


@pytest.mark.spark
def test_model_without_signature_refuses_booleans_and_takes_nulls_as_missing(
    logged: Logged, tmp_path: Path
) -> None:
    from sparktrack.serving import ModelSource, create_app

    save_model(logged.model, str(tmp_path / "unsigned"))  # no signature: the stages decide
    source = ModelSource(str(tmp_path / "unsigned"), refresh_seconds=0)
    source.load()
    client = _InProcess(create_app(source))
    # A JSON null is a missing number, which this model's assembler refuses.
    response = client.post("/invocations", json={"dataframe_records": [_row(b=None)]})
    assert response.status_code == 400, response.text
    assert re.search(r"column 'b' is null or NaN in row 0", response.json()["message"])
    # true/false are not numbers: no silent 1/0.
    response = client.post("/invocations", json={"dataframe_records": [_row(c=True)]})
    assert response.status_code == 400, response.text
    assert re.search(r"column 'c' as a number, but it holds booleans", response.json()["message"])
    response = client.post("/invocations", json={"dataframe_records": [_row()]})
    assert response.status_code == 200, response.text


def test_missing_serve_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from sparktrack.serving import require_serving_extra

    monkeypatch.setitem(sys.modules, "fastapi", None)  # makes `import fastapi` fail
    with pytest.raises(ConfigurationError, match=r"pip install 'sparktrack\[serve\]'"):
        require_serving_extra()


def test_serve_fails_fast_without_a_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sparktrack.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "has no MLmodel file" in result.output
    assert "Traceback" not in result.output


@pytest.mark.spark
def test_worker_threads_score_with_the_running_session(spark: Any, models: Models) -> None:
    """A thread without an active session uses the running one as it is: building a
    session there re-applied sparktrack's Delta confs to the server's own session."""
    from sparktrack.session import spark_session

    model = load_model(str(models.folder_a))
    spark.conf.set("spark.sql.shuffle.partitions", "3")  # the builder would set 4
    found: dict[str, Any] = {}

    def score() -> None:
        found["session"] = spark_session()
        found["predictions"] = model.predict(models.test, engine="spark").tolist()

    try:
        worker = threading.Thread(target=score)
        worker.start()
        worker.join()
        assert found["session"]._jsparkSession.equals(spark._jsparkSession)
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert found["predictions"] == models.expected
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "4")


@pytest.mark.spark
@pytest.mark.slow
def test_serving_production_picks_up_a_new_production_version(
    server: Server, models: Models, logged: Logged
) -> None:
    # Runs after the other server tests (file order): it changes what the server serves.
    body = json.dumps({"dataframe_split": _split(models.test)})
    assert _post(server, body).json() == {"predictions": models.expected}
    client = TrackingClient(logged.store)
    version = RegistryClient(client).register_model(str(models.folder_b), SERVED)
    RegistryClient(client).transition_model_version_stage(SERVED, version.version, "Production")
    client.close()
    wanted = f"models:/{SERVED}/{version.version}"
    wait_for(
        lambda: httpx.get(f"{server.url}/health").json()["target"] == wanted,
        f"the server to serve {wanted}",
        interval=0.5,
        child=server.child,
    )
    assert _post(server, body).json() == {"predictions": models.expected_b}
