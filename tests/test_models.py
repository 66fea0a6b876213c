"""The Spark model format: MLflow's folder layout, signatures, safe loading, scoring."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sparktrack import InvalidInputError, NotFoundError, TrackingClient
from sparktrack.models import (
    ColSpec,
    LoadedModel,
    Model,
    ModelSignature,
    infer_signature,
    load_model,
    log_model,
    save_model,
    signature_for_spark_model,
)
from sparktrack.registry import RegistryClient
from tests._processes import child_env, python, result_line, run_child

ROWS = 50


@dataclass
class Fitted:
    df: Any  # training DataFrame: id, a, b, c, label
    pipeline: Any  # VectorAssembler -> StandardScaler -> LogisticRegression
    vectors: Any  # DataFrame: features (vector), label
    linear: Any  # LinearRegressionModel on the vector column


@dataclass
class Logged:
    client: TrackingClient
    run_id: str
    folder: Path  # the pipeline's model folder in the run's artifacts
    uri: str  # runs:/<run_id>/model
    linear_uri: str  # runs:/<run_id>/linear


def _pandas(rows: int = ROWS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(rows)],
            "a": [float(i % 7) for i in range(rows)],
            "b": [float((i * 3) % 11) / 2 for i in range(rows)],
            "c": [float(i) / rows for i in range(rows)],
            "label": [float((i % 7) + (i * 3 % 11) / 2 > 5) for i in range(rows)],
        }
    )


@pytest.fixture(scope="module")
def fitted(spark: Any) -> Fitted:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    df = spark.createDataFrame(_pandas())
    assembler = VectorAssembler(inputCols=["a", "b", "c"], outputCol="features")
    pipeline = Pipeline(
        stages=[
            assembler,
            StandardScaler(inputCol="features", outputCol="scaled"),
            LogisticRegression(featuresCol="scaled", maxIter=3),
        ]
    ).fit(df)
    vectors = assembler.transform(df).select("features", "label")
    linear = LinearRegression(maxIter=3).fit(vectors)
    return Fitted(df, pipeline, vectors, linear)


@pytest.fixture(scope="module")
def logged(fitted: Fitted, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        client = TrackingClient(str(root / "store"))
    run_id = client.create_run(run_name="models").info.run_id
    signature = signature_for_spark_model(fitted.pipeline, fitted.df.schema, ["label"])
    info = log_model(
        fitted.pipeline,
        "model",
        run_id=run_id,
        signature=signature,
        input_example=_pandas(3).drop(columns=["label", "id"]),
        client=client,
    )
    linear_signature = signature_for_spark_model(fitted.linear, fitted.vectors.schema)
    linear = log_model(
        fitted.linear, "linear", run_id=run_id, signature=linear_signature, client=client
    )
    experiment_id = client.experiment_of(run_id)
    local = client.artifacts.local_path_for(experiment_id, run_id, "model")
    assert local is not None
    yield Logged(client, run_id, Path(local), info.model_uri, linear.model_uri)
    client.close()


@pytest.fixture(scope="module")
def loaded(logged: Logged) -> LoadedModel:
    return load_model(logged.uri, client=logged.client)


def _predictions(df: Any) -> list[float]:
    return [row.prediction for row in df.select("prediction").collect()]


# -- the folder --------------------------------------------------------------------------
@pytest.mark.spark
def test_log_model_writes_mlflows_spark_layout(logged: Logged) -> None:
    import pyspark

    files = {p.relative_to(logged.folder).as_posix() for p in logged.folder.rglob("*")}
    assert {
        "MLmodel",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
        "sparkml/metadata/part-00000",
        "sparkml/stages",
    } <= files

    mlmodel = yaml.safe_load((logged.folder / "MLmodel").read_text())
    assert mlmodel["artifact_path"] == "model"
    assert mlmodel["run_id"] == logged.run_id
    assert mlmodel["utc_time_created"] and len(mlmodel["model_uuid"]) == 32
    assert "mlflow_version" not in mlmodel and mlmodel["sparktrack_version"]
    assert mlmodel["flavors"]["spark"] == {
        "pyspark_version": pyspark.__version__,
        "model_data": "sparkml",
        "model_class": "pyspark.ml.pipeline.PipelineModel",
        "code": None,
    }
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.spark"
    assert pyfunc["data"] == "sparkml"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"].count(".") == 2

    signature = mlmodel["signature"]
    assert json.loads(signature["inputs"]) == [
        {"type": "double", "name": name, "required": True} for name in ("a", "b", "c")
    ]
    assert json.loads(signature["outputs"]) == [
        {"type": "double", "name": "prediction", "required": True}
    ]
    assert signature["params"] is None

    assert mlmodel["saved_input_example_info"]["artifact_path"] == "input_example.json"
    assert mlmodel["saved_input_example_info"]["type"] == "dataframe"
    assert mlmodel["saved_input_example_info"]["pandas_orient"] == "split"
    example = json.loads((logged.folder / "input_example.json").read_text())
    assert example["columns"] == ["a", "b", "c"] and len(example["data"]) == 3

    requirements = (logged.folder / "requirements.txt").read_text().split()
    assert f"pyspark=={pyspark.__version__}" in requirements
    assert any(r.startswith("sparktrack==") for r in requirements)
    assert {r.split("==")[0] for r in requirements} >= {"pandas", "pyarrow", "numpy"}
    python_env = yaml.safe_load((logged.folder / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((logged.folder / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": requirements}


@pytest.mark.spark
def test_log_model_history_tag_lists_every_logged_model(logged: Logged) -> None:
    tag = logged.client.get_run(logged.run_id).data.tags["mlflow.log-model.history"]
    entries = json.loads(tag)
    assert [e["artifact_path"] for e in entries] == ["model", "linear"]
    assert {e["run_id"] for e in entries} == {logged.run_id}
    assert set(entries[0]["flavors"]) == {"spark", "python_function"}
    assert all(e["model_uuid"] and e["utc_time_created"] for e in entries)


# -- loading and scoring -----------------------------------------------------------------
@pytest.mark.spark
def test_load_runs_uri_predicts_like_transform(loaded: LoadedModel, fitted: Fitted) -> None:
    from pyspark.ml import PipelineModel

    assert isinstance(loaded.spark_model, PipelineModel)
    assert loaded.signature is not None and loaded.signature.input_names == ["a", "b", "c"]
    expected = _predictions(fitted.pipeline.transform(fitted.df))
    data = _pandas()
    predicted = loaded.predict(data)
    assert isinstance(predicted, pd.Series) and predicted.name == "prediction"
    assert predicted.tolist() == expected

    # Integers widen to double when no value is lost (int64 included, unlike MLflow).
    ints = data.assign(a=data["a"].astype("int64"), c=(data["c"] * ROWS).astype("int32"))
    fitted_ints = fitted.pipeline.transform(
        fitted.df.withColumn("a", fitted.df["a"].cast("long")).withColumn(
            "c", (fitted.df["c"] * ROWS).cast("int")
        )
    )
    assert loaded.predict(ints).tolist() == _predictions(fitted_ints)


@pytest.mark.spark
def test_models_uris_load_the_registered_versions(logged: Logged, fitted: Fitted) -> None:
    registry = RegistryClient(logged.client)
    pipeline = registry.register_model(logged.uri, "scorer")
    linear = registry.register_model(logged.linear_uri, "scorer")
    registry.transition_model_version_stage("scorer", pipeline.version, "Production")
    registry.set_registered_model_alias("scorer", "champion", pipeline.version)
    expected = _predictions(fitted.pipeline.transform(fitted.df))
    for uri in ["models:/scorer/1", "models:/scorer/Production", "models:/scorer@champion"]:
        assert load_model(uri, client=logged.client).predict(_pandas()).tolist() == expected
    latest = load_model("models:/scorer/latest", client=logged.client)
    assert type(latest.spark_model).__name__ == "LinearRegressionModel"
    assert linear.version == 2 and linear.run_id == logged.run_id
    # A registered version can itself be registered under another name: same source.
    copy = registry.register_model("models:/scorer/Production", "scorer-copy")
    assert (copy.version, copy.source) == (1, pipeline.source)


@pytest.mark.spark
def test_spark_udf_scores_like_transform(logged: Logged, fitted: Fitted, spark: Any) -> None:
    from chispa import assert_df_equality
    from pyspark.sql import functions as F

    from sparktrack.models import spark_udf

    predict = spark_udf(spark, logged.uri, client=logged.client)
    expected = fitted.pipeline.transform(fitted.df)
    by_signature = fitted.df.select("id", predict().alias("prediction"))
    assert_df_equality(
        by_signature,
        expected.select("id", "prediction"),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_metadata=True,  # transform adds ML attributes to its prediction column
    )
    renamed = fitted.df.select("id", F.col("a").alias("x"), "b", "c")
    by_position = renamed.select("id", predict("x", F.col("b"), "c").alias("prediction"))
    assert_df_equality(
        by_position,
        expected.select("id", "prediction"),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_metadata=True,  # transform adds ML attributes to its prediction column
    )
    probability = spark_udf(spark, logged.uri, output="probability", client=logged.client)
    got = fitted.df.select("id", probability().alias("p")).orderBy("id").collect()
    want = expected.select("id", "probability").orderBy("id").collect()
    flat_got = [x for r in got for x in r.p]
    assert flat_got == pytest.approx([x for r in want for x in r.probability], abs=1e-12)
    assert all(len(r.p) == 2 for r in got)
    with pytest.raises(InvalidInputError, match="reads 3 columns"):
        predict("a")


# An executor's Python without sparktrack (nor the compiled dependencies importing it
# loads): the scoring task's pickled function, loaded and called there.
_EXECUTOR_WITHOUT_SPARKTRACK = """
import importlib.abc, json, pickle, sys

class Lacking(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("sparktrack", "deltalake", "yaml", "filelock"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Lacking())
score, frame = pickle.loads(open(sys.argv[1], "rb").read())
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sparktrack", "deltalake"))
print("RESULT " + json.dumps({"scores": score(frame).tolist(), "loaded": loaded}))
"""


@pytest.mark.spark
def test_spark_udf_tasks_need_no_sparktrack_on_the_executor(
    logged: Logged, fitted: Fitted, spark: Any, tmp_path: Path
) -> None:
    from pyspark import cloudpickle

    from sparktrack.models import spark_udf

    # With a scoring log: the task also stages the rows it scored.
    predict = spark_udf(spark, logged.uri, client=logged.client, log_to=str(tmp_path / "log"))
    # What Spark pickles into each task: the pandas UDF's function.
    udf = next(
        c.cell_contents for c in predict.__closure__ or () if hasattr(c.cell_contents, "func")
    )
    frame = fitted.df.select("a", "b", "c").limit(20).toPandas()
    expected = udf.func(frame).tolist()
    task = tmp_path / "task.pickle"
    task.write_bytes(cloudpickle.dumps((udf.func, frame)))
    done = run_child(
        python("-c", _EXECUTOR_WITHOUT_SPARKTRACK, task), env=child_env(), cwd=tmp_path
    )
    result = result_line(done.stdout)
    assert result is not None, done.explain("the executor's task")
    assert result == {"scores": expected, "loaded": []}


@pytest.mark.spark
@pytest.mark.parametrize("with_signature", [True, False], ids=["signature", "no-signature"])
def test_spark_udf_scores_vector_columns_like_transform(
    fitted: Fitted, spark: Any, store_uri: str, with_signature: bool
) -> None:
    """A model reading an ML vector column: the vectors reach the UDF as Spark's struct
    form, dense and sparse rows alike."""
    from chispa import assert_df_equality
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import functions as F

    from sparktrack.models import spark_udf

    model = LogisticRegression(maxIter=5).fit(fitted.vectors)
    rows = [
        (
            i,
            Vectors.sparse(3, [0, 2], [float(i % 5), 0.5])
            if i % 3
            else Vectors.dense([float(i % 7), float(i % 4) / 2, float(i) / 40]),
        )
        for i in range(40)
    ]
    scored = spark.createDataFrame(rows, ["id", "features"]).repartition(3)
    client = TrackingClient(store_uri)
    run_id = client.create_run(run_name="vectors").info.run_id
    # What autolog logs: the signature of the fit (features: sparkml_vector).
    signature = signature_for_spark_model(model, fitted.vectors.schema) if with_signature else None
    info = log_model(model, "model", run_id=run_id, signature=signature, client=client)
    expected = model.transform(scored)
    for output in ("prediction", "probability"):
        # Without a signature only the prediction's type is known: give the others.
        kind = None if with_signature or output == "prediction" else "array<double>"
        predict = spark_udf(spark, info.model_uri, output=output, result_type=kind, client=client)
        got = scored.select("id", predict("features").alias(output))
        want = expected.select(
            "id",
            F.col(output) if output == "prediction" else vector_to_array(output).alias(output),
        )
        if output == "probability":  # numpy and the JVM may differ in the last bit
            got = got.select("id", F.transform(output, lambda x: F.round(x, 12)).alias(output))
            want = want.select("id", F.transform(output, lambda x: F.round(x, 12)).alias(output))
        assert_df_equality(
            got, want, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
        )
    client.close()


@pytest.mark.spark
@pytest.mark.parametrize("ensemble", ["forest", "boosted"])
def test_spark_udf_scores_tree_ensembles_like_transform(
    spark: Any, tmp_path: Path, ensemble: str
) -> None:
    """StringIndexer -> VectorAssembler -> a forest or GBT: the tasks score with numpy
    (the model is read from its save; no JVM model in the tasks) what transform gives."""
    from chispa import assert_df_equality
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier, RandomForestClassifier
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.ml.functions import vector_to_array

    from sparktrack.models import spark_udf

    frame = _pandas(120)
    frame["segment"] = [("north", "south", "east")[i % 3] for i in range(120)]
    df = spark.createDataFrame(frame).repartition(3)
    trees = (
        RandomForestClassifier(numTrees=15, maxDepth=4, seed=3)
        if ensemble == "forest"
        else GBTClassifier(maxIter=8, maxDepth=3, seed=3)
    )
    model = Pipeline(
        stages=[
            StringIndexer(inputCol="segment", outputCol="segment_index"),
            VectorAssembler(inputCols=["a", "b", "c", "segment_index"], outputCol="features"),
            trees,
        ]
    ).fit(df)
    signature = signature_for_spark_model(model, df.schema, ["id", "label"])
    save_model(model, str(tmp_path / ensemble), signature=signature)
    loaded = load_model(str(tmp_path / ensemble))
    assert loaded.engine == "local" and not loaded.spark_loaded
    predict = spark_udf(spark, str(tmp_path / ensemble))
    probability = spark_udf(spark, str(tmp_path / ensemble), output="probability")
    expected = model.transform(df)
    assert_df_equality(
        df.select("id", predict().alias("prediction")),
        expected.select("id", "prediction"),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_metadata=True,  # transform adds ML attributes to its prediction column
    )
    # GBT probabilities go through exp, whose last bit the JVM and numpy may round apart.
    got = df.select("id", probability().alias("p")).orderBy("id").collect()
    want = expected.select("id", vector_to_array("probability").alias("p")).orderBy("id")
    flat_want = [x for row in want.collect() for x in row.p]
    assert [x for row in got for x in row.p] == pytest.approx(flat_want, rel=1e-9, abs=1e-12)


@pytest.mark.spark
def test_a_covered_model_loads_without_spark_until_an_input_needs_it(
    spark: Any, tmp_path: Path
) -> None:
    """load_model compiles the save with numpy and leaves the Spark model unloaded; the
    first input only Spark can judge (a null into a Bucketizer: Spark keeps NaN in the
    extra bucket but a null stays null, numpy holds both as NaN) loads it, and Spark's
    answer comes back."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import types as T

    bucketizer = Bucketizer(
        splits=[-float("inf"), 0.0, float("inf")],
        inputCol="a",
        outputCol="bucket",
        handleInvalid="keep",
    )
    schema = T.StructType([T.StructField("a", T.DoubleType())])
    signature = signature_for_spark_model(bucketizer, schema)
    save_model(bucketizer, str(tmp_path / "buckets"), signature=signature)
    loaded = load_model(str(tmp_path / "buckets"))
    assert loaded.engine == "local" and not loaded.spark_loaded
    assert loaded.predict(pd.DataFrame({"a": [-1.0, 2.0]})).tolist() == [0.0, 1.0]
    assert not loaded.spark_loaded
    with_null = loaded.predict(pd.DataFrame({"a": [-1.0, None, 2.0]})).tolist()
    assert with_null[0] == 0.0 and with_null[2] == 1.0
    assert math.isnan(with_null[1])  # Spark's null; numpy would have said bucket 2.0
    assert loaded.spark_loaded


@pytest.mark.spark
def test_spark_udf_refuses_models_only_spark_evaluates(
    fitted: Fitted, spark: Any, tmp_path: Path
) -> None:
    from pyspark.ml.feature import Binarizer

    from sparktrack.models import spark_udf

    target = tmp_path / "binarizer"
    save_model(Binarizer(threshold=0.5, inputCol="a", outputCol="flag"), str(target))
    with pytest.raises(InvalidInputError, match=r"Binarizer.*transform"):
        spark_udf(spark, str(target))


@pytest.mark.spark
def test_log_model_registers_when_given_a_name(fitted: Fitted, store_uri: str) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run(run_name="register").info.run_id
    info = log_model(
        fitted.linear, "model", run_id=run_id, client=client, registered_model_name="linear"
    )
    assert info.registered_model_version == 1
    version = RegistryClient(client).get_model_version("linear", 1)
    assert version.source == f"runs:/{run_id}/model" and version.run_id == run_id
    client.close()


@pytest.mark.spark
def test_predict_rejects_missing_and_mistyped_columns(loaded: LoadedModel) -> None:
    model = loaded
    data = _pandas(5)
    with pytest.raises(InvalidInputError, match=r"'b'.*required.*missing"):
        model.predict(data.drop(columns=["b"]))
    with pytest.raises(InvalidInputError, match=r"'c' must be double"):
        model.predict(data.assign(c=[str(v) for v in data["c"]]))
    with pytest.raises(InvalidInputError, match=r"'a' must be double"):
        model.predict(data.assign(a=[2**60 + i for i in range(5)]))


@pytest.mark.spark
def test_single_model_round_trips_with_a_vector_input(logged: Logged, fitted: Fitted) -> None:
    from pyspark.ml.regression import LinearRegressionModel

    model = load_model(logged.linear_uri, client=logged.client)
    assert isinstance(model.spark_model, LinearRegressionModel)
    assert model.metadata.flavors["spark"]["model_class"] == "pyspark.ml.pipeline.PipelineModel"
    assert model.signature == ModelSignature(
        inputs=[ColSpec("features", "sparkml_vector")],
        outputs=[ColSpec("prediction", "double")],
    )
    rows = fitted.vectors.collect()
    data = pd.DataFrame({"features": [row.features.toArray().tolist() for row in rows]})
    assert model.predict(data).tolist() == pytest.approx(
        _predictions(fitted.linear.transform(fitted.vectors))
    )
    with pytest.raises(InvalidInputError, match=r"'features' must be sparkml_vector"):
        model.predict(pd.DataFrame({"features": [1.0, 2.0]}))


@pytest.mark.spark
def test_input_example_gives_the_signature(fitted: Fitted, tmp_path: Path) -> None:
    # The README's call: a few training rows, label and id included.
    saved = save_model(fitted.pipeline, str(tmp_path / "m"), input_example=_pandas(5))
    expected = ModelSignature(
        inputs=[ColSpec("a", "double"), ColSpec("b", "double"), ColSpec("c", "double")],
        outputs=[ColSpec("prediction", "double")],
    )
    assert saved.signature == expected
    mlmodel = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert json.loads(mlmodel["signature"]["inputs"])[0] == {
        "type": "double",
        "name": "a",
        "required": True,
    }
    loaded = load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidInputError, match=r"'b'.*required.*missing"):
        loaded.predict(_pandas(2).drop(columns=["b"]), engine="spark")
    # A vector model's example: lists of numbers are ML vectors.
    vectors = pd.DataFrame({"features": [[1.0, 2.0, 3.0]], "label": [1.0]})
    linear = save_model(fitted.linear, str(tmp_path / "v"), input_example=vectors)
    assert linear.signature == ModelSignature(
        inputs=[ColSpec("features", "sparkml_vector")], outputs=[ColSpec("prediction", "double")]
    )
    # An example the model cannot take is refused with Spark's reason, naming the column.
    with pytest.raises(InvalidInputError, match=r"input_example does not fit.*features"):
        save_model(fitted.linear, str(tmp_path / "bad"), input_example=_pandas(2))
    assert not (tmp_path / "bad" / "MLmodel").exists()


@pytest.mark.spark
def test_spark_rejecting_the_input_is_an_invalid_input_error(
    logged: Logged, fitted: Fitted, tmp_path: Path
) -> None:
    from pyspark.ml.feature import Binarizer

    # A model only Spark scores, without a signature: Spark's analysis decides.
    target = tmp_path / "binarizer"
    save_model(Binarizer(threshold=0.0, inputCol="a", outputCol="flag"), str(target))
    binarizer = load_model(str(target))
    assert binarizer.engine == "spark"
    assert binarizer.predict(pd.DataFrame({"a": [-1.0, 1.0]})).tolist() == [0.0, 1.0]
    with pytest.raises(InvalidInputError, match=r"cannot score this input: .*\ba\b"):
        binarizer.predict(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InvalidInputError, match=r"cannot score this input: .*StringType"):
        binarizer.predict(pd.DataFrame({"a": ["high"]}))
    # Input that passes the signature but fails the model's own check inside the job.
    linear = load_model(logged.linear_uri, client=logged.client)
    with pytest.raises(InvalidInputError, match=r"cannot score this input: .*sizes"):
        linear.predict(pd.DataFrame({"features": [[1.0, 2.0]]}), engine="spark")


@pytest.mark.spark
def test_remote_store_route_writes_small_files_through_the_repository(
    fitted: Fitted, store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparktrack.store import ArtifactRepository

    # Pretend the store is remote: Spark writes sparkml/ to the artifact URI, the rest
    # goes through ArtifactRepository, and loading reads through it too.
    monkeypatch.setattr(ArtifactRepository, "local_path_for", lambda *args, **kwargs: None)
    writes: list[str] = []
    original = ArtifactRepository.write_bytes

    def recording(self: Any, experiment_id: str, run_id: str, rel: str, data: bytes) -> None:
        writes.append(rel)
        original(self, experiment_id, run_id, rel, data)

    monkeypatch.setattr(ArtifactRepository, "write_bytes", recording)
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    info = log_model(fitted.linear, "remote/model", run_id=run_id, client=client)
    assert info.model_uri == f"runs:/{run_id}/remote/model"
    assert writes[-1] == "remote/model/MLmodel"  # last, so readers see a complete folder
    assert "remote/model/requirements.txt" in writes
    assert not any("sparkml" in w for w in writes)
    listed = {f.path for f in client.list_artifacts(run_id, "remote/model")}
    assert "remote/model/sparkml" in listed

    from pyspark.ml.linalg import Vectors

    model = load_model(info.model_uri, client=client)
    predicted = model.predict(pd.DataFrame({"features": [[1.0, 2.0, 0.5]]}))
    # Model.predict on one vector is a JVM call, not a Spark job.
    assert predicted.tolist() == pytest.approx([fitted.linear.predict(Vectors.dense(1, 2, 0.5))])
    client.close()


@pytest.mark.spark
def test_log_model_defaults_to_the_active_run(fitted: Fitted, fluent_store: str) -> None:
    import sparktrack

    with sparktrack.start_run() as run:
        info = log_model(fitted.linear)
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    tags = sparktrack.get_run(run.info.run_id).data.tags
    assert json.loads(tags["mlflow.log-model.history"])[0]["artifact_path"] == "model"
    with pytest.raises(InvalidInputError, match="run_id"):
        log_model(fitted.linear, client=sparktrack.get_client())


@pytest.mark.spark
def test_save_model_to_a_folder_and_load_it(fitted: Fitted, tmp_path: Path) -> None:
    target = tmp_path / "saved"
    saved = save_model(fitted.linear, str(target))
    assert saved.run_id is None and saved.signature is None
    assert "run_id" not in yaml.safe_load((target / "MLmodel").read_text())
    model = load_model(f"file://{target}")
    predicted = model.predict(fitted.vectors.limit(5).toPandas())
    assert predicted.tolist() == pytest.approx(
        _predictions(fitted.linear.transform(fitted.vectors))[:5]
    )
    with pytest.raises(InvalidInputError, match="already holds a model"):
        save_model(fitted.linear, str(target))


@pytest.mark.spark
def test_loading_refuses_classes_outside_spark_ml(logged: Logged, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(logged.folder, tampered)
    mlmodel = yaml.safe_load((tampered / "MLmodel").read_text())
    mlmodel["flavors"]["spark"]["model_class"] = "os.system"
    (tampered / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(InvalidInputError, match=r"'os\.system'.*refuses"):
        load_model(str(tampered))

    stages = tmp_path / "stages"
    shutil.copytree(logged.folder, stages)
    metadata = next((stages / "sparkml" / "stages").glob("*/metadata/part-00000"))
    line = json.loads(metadata.read_text())
    line["class"] = "builtins.eval"
    metadata.write_text(json.dumps(line))
    with pytest.raises(InvalidInputError, match=r"'builtins\.eval'.*refuses"):
        load_model(str(stages))


@pytest.mark.spark
def test_load_model_errors_name_what_is_missing(logged: Logged, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no MLmodel"):
        load_model(f"runs:/{logged.run_id}/nothing-here", client=logged.client)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model("runs:/0123456789abcdef0123456789abcdef/model", client=logged.client)
    with pytest.raises(NotFoundError, match="registered model 'churn' does not exist"):
        load_model("models:/churn/1", client=logged.client)


# -- signatures --------------------------------------------------------------------------
@pytest.mark.spark
def test_signature_inputs_skip_label_indexing_and_unused_columns(fitted: Fitted) -> None:
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.sql import functions as F

    indexer = StringIndexerModel.from_labels(["no", "yes"], inputCol="answer", outputCol="label")
    pipeline = PipelineModel([indexer, *fitted.pipeline.stages])
    schema = fitted.df.drop("label").withColumn("answer", F.lit("yes")).schema
    signature = signature_for_spark_model(pipeline, schema)
    assert signature.input_names == ["a", "b", "c"]
    assert signature.outputs == [ColSpec("prediction", "double")]
    # Spark skips the label indexer when its column is absent (analysis only, no job).
    assert "prediction" in pipeline.transform(fitted.df.select("a", "b", "c")).columns


@pytest.mark.spark
def test_infer_signature_from_schemas() -> None:
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("n", T.IntegerType()),
            T.StructField("big", T.LongType()),
            T.StructField("name", T.StringType()),
            T.StructField("when", T.TimestampType()),
            T.StructField("v", VectorUDT()),
            T.StructField("xs", T.ArrayType(T.DoubleType())),
            T.StructField("m", T.MapType(T.StringType(), T.DoubleType())),
        ]
    )
    signature = infer_signature(schema, input_cols=["n", "big", "name", "when", "v", "xs"])
    assert [s.to_dict() for s in signature.inputs] == [
        {"type": "integer", "name": "n", "required": True},
        {"type": "long", "name": "big", "required": True},
        {"type": "string", "name": "name", "required": True},
        {"type": "datetime", "name": "when", "required": True},
        {"type": "sparkml_vector", "name": "v", "required": True},
        {"type": "array", "items": {"type": "double"}, "name": "xs", "required": True},
    ]
    assert signature.outputs is None
    assert ModelSignature.from_dict(signature.to_dict()) == signature
    with pytest.raises(InvalidInputError, match=r"'m'.*map<string,double>"):
        infer_signature(schema)
    with pytest.raises(InvalidInputError, match=r"\['nope'\]"):
        infer_signature(schema, input_cols=["nope"])
    with pytest.raises(InvalidInputError, match=r"Spark DataFrame, a StructType.*pandas.*dict"):
        infer_signature({"a": 1.0})


@pytest.mark.spark
def test_infer_signature_from_spark_and_pandas_dataframes(fitted: Fitted) -> None:
    from_spark = infer_signature(
        fitted.df, fitted.pipeline.transform(fitted.df), output_cols=["prediction"]
    )
    assert from_spark == infer_signature(
        fitted.df.schema,
        fitted.pipeline.transform(fitted.df).schema,
        output_cols=["prediction"],
    )
    assert [(s.name, s.type) for s in from_spark.inputs] == [
        ("id", "string"),
        ("a", "double"),
        ("b", "double"),
        ("c", "double"),
        ("label", "double"),
    ]
    frame = pd.DataFrame(
        {
            "n": pd.Series([1, 2], dtype="int32"),
            "big": [1, 2**40],
            "x": [0.5, None],
            "name": ["a", None],
            "flag": [True, False],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "v": [[1.0, 2.0], [3.0, 4.0]],
        }
    )
    from_pandas = infer_signature(frame, pd.Series([1.0, 0.0]))
    assert [(s.name, s.type) for s in from_pandas.inputs] == [
        ("n", "integer"),
        ("big", "long"),
        ("x", "double"),
        ("name", "string"),
        ("flag", "boolean"),
        ("when", "datetime"),
        ("v", "sparkml_vector"),
    ]
    assert from_pandas.outputs == [ColSpec("prediction", "double")]
    with pytest.raises(InvalidInputError, match=r"'empty' holds only missing values"):
        infer_signature(pd.DataFrame({"empty": [None, None]}))


def test_mlmodel_yaml_round_trip_keeps_unknown_keys() -> None:
    model = Model(
        flavors={"spark": {"model_class": "pyspark.ml.pipeline.PipelineModel"}},
        signature=ModelSignature([ColSpec("x", "double")], [ColSpec(None, "double")]),
        extra={"mlflow_version": "2.9.0", "model_size_bytes": 10},
    )
    text = model.to_yaml()
    again = Model.from_yaml(text)
    assert again == model
    assert yaml.safe_load(text)["mlflow_version"] == "2.9.0"
    with pytest.raises(InvalidInputError, match="flavors"):
        Model.from_yaml("artifact_path: model\n")
    with pytest.raises(InvalidInputError, match="YAML"):
        Model.from_yaml("!!python/object/apply:os.system ['true']")


def test_save_model_rejects_what_is_not_a_spark_model(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="MLWritable"):
        save_model(object(), str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


@pytest.mark.spark
def test_hadoop_location_reads_and_writes_through_the_jvm(spark: Any, tmp_path: Path) -> None:
    from sparktrack.models._uri import HadoopLocation

    location = HadoopLocation(f"file://{tmp_path}/remote")
    location.write_bytes("sub/file.txt", b"hello")
    assert location.exists("sub/file.txt") and not location.exists("other")
    assert location.read_bytes("sub/file.txt") == b"hello"
    assert location.list_files("") == ["sub/file.txt"]
    with pytest.raises(NotFoundError):
        location.read_bytes("other")
