"""`sparktrack serve --log-to`: a real server process appends what it scores to a Delta
table in the background; a failing write never fails a response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from deltalake import DeltaTable

from sparktrack.models import (
    MODEL_NAME_COLUMN,
    MODEL_URI_COLUMN,
    MODEL_VERSION_COLUMN,
    REQUEST_ID_COLUMN,
    SCORED_AT_COLUMN,
    ScoringLogWriter,
    scoring_context,
)
from sparktrack.models import _scoring_log as scoring_log_module
from sparktrack.serving import ModelSource, create_app
from tests._processes import child_env, python, start, wait_for
from tests.test_serving import COLUMNS, Logged, Server, _frame, _split, log_served_pipeline

pytestmark = pytest.mark.spark

SERVED = "served"


@pytest.fixture(scope="module")
def served(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Logged:
    return log_served_pipeline(spark, tmp_path_factory.mktemp("serve-log"))


@pytest.fixture
def server(served: Logged, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    table = tmp_path / "scoring-log"
    command = python(
        "-m",
        "sparktrack.cli",
        "--store",
        served.store,
        "serve",
        f"models:/{SERVED}/Production",
        "--port",
        "0",
        "--refresh-seconds",
        "0",
        "--log-to",
        str(table),
        "--log-sample",
        "1",
    )
    env = child_env(SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"))
    with start(command, stderr_dir=tmp_path, env=env, cwd=tmp_path, name="server") as child:
        yield Server(child), table


def _post(url: str, frame: pd.DataFrame, request_id: str | None = None) -> httpx.Response:
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = httpx.post(
        f"{url}/invocations", json={"dataframe_split": _split(frame)}, headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.slow
def test_server_logs_scored_rows_and_writes_what_it_holds_on_shutdown(
    server: tuple[Server, Path],
) -> None:
    process, table = server
    first, second, last = _frame(20, 5), _frame(7, 6), _frame(5, 7)
    answers = [
        _post(process.url, first, "req-1"),
        _post(process.url, second),
        # Integers for double columns: logged as the model read them, as doubles.
        _post(process.url, pd.DataFrame([[1, 2, 3, 4]], columns=COLUMNS), "ints"),
    ]
    assert answers[0].headers["X-Request-ID"] == "req-1"
    generated = answers[1].headers["X-Request-ID"]
    assert generated and generated != "req-1"

    def health() -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{process.url}/health", timeout=10).json()
        return found["scoring_log"]

    try:
        wait_for(lambda: health()["rows_written"] == 28, "28 rows written", timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{health()}\n{process.child.stderr()}") from None
    stats = health()
    assert stats["write_failures"] == 0 and stats["rows_lost"] == 0 and stats["sample"] == 1.0
    # Scored just before SIGTERM: still waiting for its batch, written on the way out.
    answers.append(_post(process.url, last, "req-last"))
    process.child.process.terminate()
    assert process.child.process.wait(timeout=60) == 143, process.child.stderr()

    rows = DeltaTable(str(table)).to_pandas()
    assert len(rows) == 33
    assert set(rows[MODEL_VERSION_COLUMN]) == {1} and set(rows[MODEL_NAME_COLUMN]) == {SERVED}
    assert set(rows[MODEL_URI_COLUMN]) == {f"models:/{SERVED}/Production"}
    assert rows[SCORED_AT_COLUMN].notna().all()
    assert set(rows[REQUEST_ID_COLUMN]) == {"req-1", generated, "ints", "req-last"}
    for request_id, frame, answer in zip(
        ["req-1", generated, "ints", "req-last"],
        [first, second, pd.DataFrame([[1.0, 2.0, 3.0, 4.0]], columns=COLUMNS), last],
        answers,
        strict=True,
    ):
        mine = rows[rows[REQUEST_ID_COLUMN] == request_id].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[COLUMNS], frame.reset_index(drop=True))
        assert mine["prediction"].tolist() == answer.json()["predictions"]


def _call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(call())


def test_a_failing_write_is_counted_and_the_server_keeps_answering(
    spark: Any,
    served: Logged,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("the object store is down")

    monkeypatch.setattr(scoring_log_module, "_warned", {})
    monkeypatch.setattr(scoring_log_module, "write_deltalake", broken)
    source = ModelSource(str(served.folder), refresh_seconds=0)
    source.load()
    writer = ScoringLogWriter(str(tmp_path / "log"), batch_rows=1, batch_seconds=60)
    app = create_app(source, scoring_log=writer, spark=spark)
    frame = _frame(4, 8)
    with caplog.at_level(logging.WARNING, logger="sparktrack.models"):
        for attempt in range(1, 4):
            response = _call(app, "POST", "/invocations", json={"dataframe_split": _split(frame)})
            assert response.status_code == 200 and len(response.json()["predictions"]) == 4

            def failed(count: int = attempt) -> bool:
                return bool(writer.stats()["write_failures"] == count)

            wait_for(failed, f"{attempt} failed writes", timeout=30, interval=0.05)
    health = _call(app, "GET", "/health").json()["scoring_log"]
    assert health["rows_lost"] == 12 and health["rows_written"] == 0
    assert "the object store is down" in health["last_error"]
    warned = [r for r in caplog.records if "the object store is down" in r.getMessage()]
    assert len(warned) == 1  # once per kind of failure

    monkeypatch.undo()  # the store is back: the next batch is written
    _call(app, "POST", "/invocations", json={"dataframe_split": _split(frame)})
    writer.close()
    assert writer.stats()["rows_written"] == 4
    assert len(DeltaTable(str(tmp_path / "log")).to_pandas()) == 4


def test_the_writer_samples_the_same_rows_and_writes_them_on_close(tmp_path: Path) -> None:
    writer = ScoringLogWriter(str(tmp_path / "log"), sample=0.5, batch_seconds=3600)
    frame = _frame(400, 9)
    predictions = pd.Series(range(400), name="prediction", dtype="float64")
    context = scoring_context("runs:/abc/model")
    writer.submit(frame, predictions, context)
    writer.submit(frame, predictions, context)
    assert writer.stats()["pending_rows"] == 800
    writer.close()
    rows = DeltaTable(str(tmp_path / "log")).to_pandas()
    assert 0.4 < len(rows) / 800 < 0.6
    first, again = rows.iloc[: len(rows) // 2], rows.iloc[len(rows) // 2 :]
    assert first["prediction"].tolist() == again["prediction"].tolist()
    assert rows[MODEL_VERSION_COLUMN].isna().all() and rows[MODEL_NAME_COLUMN].isna().all()
    assert REQUEST_ID_COLUMN not in rows.columns
