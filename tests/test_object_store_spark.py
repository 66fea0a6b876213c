"""The Spark side of a store on S3: delta-spark through ``s3a://`` on the test server.

A Spark job on an S3 store runs as a child process (``tests/_s3_spark_job.py``): the
session sparktrack starts for it must bring hadoop-aws and the s3a confs itself, and the
suite's ``spark`` fixture (one SparkContext per process) has neither. One run of that job
serves the tests below, each checking its part: views and SQL over what delta-rs wrote,
``search_runs(output_format="spark")``, Spark appends racing a delta-rs writer with
nothing lost and no commit written by a plain put, ``optimize`` refused, and a model
saved by Spark straight to ``s3a://``. A user's own session without s3a gets an error
naming what to add (in this process, with the ``spark`` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import sparktrack.spark as sts
from sparktrack.errors import ConfigurationError
from sparktrack.session import hadoop_aws_package, s3a_confs
from tests._processes import child_env, python, result_line, run_child
from tests._s3_server import S3Server
from tests._s3_spark_job import DELTA_RS_BATCHES, ROWS_PER_APPEND, SPARK_APPENDS

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@dataclass(frozen=True)
class S3JobRun:
    """What the job on ``store`` reported, and its output for failure messages."""

    store: str
    result: dict[str, Any]
    output: str


@pytest.fixture(scope="module")
def job(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> S3JobRun:
    """One run of the Spark job on a fresh S3 store, with no Spark session to start
    from and no SPARKTRACK_* setting but the commits choice (a user's shell)."""
    store = s3_server.new_prefix("s3a")
    journal = tmp_path_factory.mktemp("s3-spark-journal")
    env = child_env(
        {**child_env(sparktrack_settings=False), **s3_server.env},
        SPARKTRACK_OBJECT_STORE_COMMITS="conditional-put",
        SPARKTRACK_JOURNAL_DIR=str(journal),
        SPARKTRACK_SPARK_MASTER="local[2]",
    )
    done = run_child(python("-m", "tests._s3_spark_job", store), env=env, timeout=600)
    result = result_line(done.stdout)
    assert result is not None, f"the job printed no RESULT line:\n{done.explain()}"
    return S3JobRun(store, result, done.explain())


def test_a_session_sparktrack_starts_brings_hadoop_aws(job: S3JobRun) -> None:
    assert hadoop_aws_package() in job.result["packages"], job.output
    assert hadoop_aws_package() == "org.apache.hadoop:hadoop-aws:3.3.4"


def test_views_and_spark_search_read_what_delta_rs_wrote_on_s3(job: S3JobRun) -> None:
    assert "sparktrack_runs" in job.result["views"], job.output
    assert job.result["runs"] == [["first", "FINISHED"], ["second", "FINISHED"]], job.output
    assert job.result["spark_search_type"] == "DataFrame"
    assert job.result["spark_search"] == ["first"], job.output


def test_spark_appends_beside_a_delta_rs_writer_lose_nothing(
    job: S3JobRun, s3_server: S3Server
) -> None:
    steps = list(range(SPARK_APPENDS * ROWS_PER_APPEND))
    assert job.result["spark_steps"] == steps, job.output
    assert job.result["rs_steps"] == list(range(DELTA_RS_BATCHES)), job.output
    # A commit written with a plain put replaces one another writer made in between: every
    # commit to the store, Spark's appends included, must be a conditional put.
    assert s3_server.unconditional_commits(job.store) == [], job.output


def test_optimize_on_s3_is_refused_and_points_to_gc(job: S3JobRun) -> None:
    error = job.result["optimize_error"]
    assert error is not None and error.startswith("ConfigurationError"), job.output
    assert "sparktrack gc" in error


def test_a_session_with_s3a_saves_a_model_straight_to_s3(
    job: S3JobRun, s3_server: S3Server
) -> None:
    # The job closed the local-folder path (upload/download through Arrow) before logging.
    assert job.result["spark_predictions"] == [1.0, 3.0], job.output
    assert job.result["predictions"] == [1.0, 21.0], job.output
    prefix = job.result["model_uri"].split("://", 1)[1].split("/", 1)[1] + "/sparkml/"
    listed = s3_server.client("s3").list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    assert any(o["Key"].endswith("metadata/part-00000") for o in listed.get("Contents", []))


def test_a_users_session_without_s3a_is_told_the_package_and_confs(
    s3_server: S3Server, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        **s3_server.env,
        "SPARKTRACK_OBJECT_STORE_COMMITS": "conditional-put",
    }.items():
        monkeypatch.setenv(name, value)
    store = s3_server.new_prefix("s3a")
    packages = spark.sparkContext.getConf().get("spark.jars.packages")
    for call in (
        lambda: sts.read_table("runs", spark, store=store),
        lambda: sts.register_views(spark, store=store),
        lambda: sts.append_rows("metrics", spark.range(1).toDF("step"), store=store),
    ):
        with pytest.raises(ConfigurationError) as raised:
            call()
        message = str(raised.value)
        assert f"--packages {hadoop_aws_package()}" in message
        assert f"--conf spark.hadoop.fs.s3a.endpoint={s3_server.endpoint}" in message
        assert "--conf spark.hadoop.fs.s3a.path.style.access=true" in message
        assert "--conf spark.hadoop.fs.s3a.connection.ssl.enabled=false" in message
        # Secrets are named by their variables, never printed.
        assert "--conf spark.hadoop.fs.s3a.secret.key=$AWS_SECRET_ACCESS_KEY" in message
        assert f"secret.key={s3_server.env['AWS_SECRET_ACCESS_KEY']}" not in message
    # The user's session is unchanged: no package, no s3a conf was added.
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.jars.packages") == packages
    assert not [key for key, _ in conf.getAll() if "fs.s3a" in key]
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("fs.s3a.endpoint") != s3_server.endpoint


def test_s3a_confs_follow_the_aws_variables() -> None:
    assert s3a_confs({}) == {}
    assert s3a_confs(
        {
            "AWS_ENDPOINT_URL": "https://minio.example:9000",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_SESSION_TOKEN": "token",
        }
    ) == {
        "spark.hadoop.fs.s3a.endpoint": "https://minio.example:9000",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.access.key": "id",
        "spark.hadoop.fs.s3a.secret.key": "secret",
        "spark.hadoop.fs.s3a.session.token": "token",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        ),
    }
