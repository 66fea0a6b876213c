"""sparktrack in the session a user builds, run as a child process (one JVM per process).

    python -m tests._user_session mllib STORE     # autolog, registry and a sweep
    python -m tests._user_session h2o STORE       # H2O autolog and the REST API's address

The session is ``SparkSession.builder.master("local[2]").getOrCreate()`` with no Delta
jars or confs (for H2O only the Java 17 options our H2O docs ask for), and autolog runs
for real: ``SPARKTRACK_AUTOLOG_TESTING`` is unset, so logging happens on autolog's
background thread. Prints one JSON line (``RESULT {...}``) for the test to read.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from typing import Any

H2O_JAVA_OPTIONS = (
    "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED "
    "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED"
)


def _user_session(java_options: str | None = None) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("user-job")
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _confs(spark: Any) -> dict[str, Any]:
    """Everything a change to the session would show: the SparkContext's conf and the
    session's runtime SQL confs."""
    runtime = {row[0]: row[1] for row in spark.sql("SET").collect()}
    for key in ("spark.sql.catalog.spark_catalog", "spark.sql.extensions"):
        runtime[key] = spark.conf.get(key, None)
    return {"context": dict(spark.sparkContext.getConf().getAll()), "runtime": runtime}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for scope in ("context", "runtime"):
        old, new = before[scope], after[scope]
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes[f"{scope}:{key}"] = [old.get(key), new.get(key)]
    return changes


def _attempt(step: Callable[[], Any]) -> str:
    """'ok', or the error the user would see (their own next step failing)."""
    try:
        step()
        return "ok"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:400]}"


def _users_next_steps(spark: Any, df: Any, fit: Callable[[], Any]) -> dict[str, str]:
    return {
        "fit": _attempt(fit),
        "cache_count": _attempt(lambda: df.cache().count()),
        "sql": _attempt(lambda: spark.sql("select 1 as one").collect()),
    }


def _autolog_warnings(caught: list[Any]) -> list[str]:
    """The AutologWarnings among what was caught: each is a piece logging failed to write."""
    return [f"{w.message}" for w in caught if w.category.__name__ == "AutologWarning"]


def _run_summary(client: Any, run_id: str) -> dict[str, Any]:
    run = client.get_run(run_id)
    return {
        "name": run.info.run_name,
        "status": run.info.status,
        "params": sorted(run.data.params),
        "metrics": {k: v for k, v in run.data.metrics.items() if isinstance(v, float)},
        "artifacts": sorted(a.path for a in client.list_artifacts(run_id)),
    }


def mllib(store: str) -> dict[str, Any]:
    import warnings

    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

    import sparktrack

    spark = _user_session()
    rows = [(float(i % 7), float((i * 3) % 5), float((i % 7) + (i * 3) % 5 > 5)) for i in range(60)]
    df = spark.createDataFrame(rows, "a double, b double, label double")
    df.count()  # Spark's own lazy set-up (warehouse dir, shared state) happens here
    before = _confs(spark)

    sparktrack.set_store(store)
    sparktrack.set_experiment("plain-session")
    assembler = VectorAssembler(inputCols=["a", "b"], outputCol="features")
    lr = LogisticRegression(maxIter=5)
    pipeline = Pipeline(stages=[assembler, lr])
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1]).build()
    evaluator = BinaryClassificationEvaluator()
    tvs = TrainValidationSplit(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator)
    cv = CrossValidator(
        estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator, numFolds=2
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparktrack.autolog()
        tvs.fit(df)
        first = sparktrack.last_active_run()
        tvs.fit(df)  # the fit that failed once autolog had changed the session
        cv.fit(df)
        sparktrack.flush()
        client = sparktrack.get_client()
        tvs_run = first.info.run_id if first is not None else ""

        version = sparktrack.register_model(f"runs:/{tvs_run}/model", "plain-session-model")
        sparktrack.set_model_stage("plain-session-model", version.version, "Production")
        production = sparktrack.load_model("models:/plain-session-model/Production")
        sample = df.select("a", "b").limit(10).toPandas()
        predicted = [float(p) for p in production.predict(sample)]

        from sparktrack.sweeps import sweep

        result = sweep(
            pipeline,
            {lr.regParam: [0.0, 0.3]},
            train=df,
            num_folds=2,
            evaluator=evaluator,
            strategy="grid",
            parallelism=2,
            progress=False,
        )
        sparktrack.flush()
    runs = client.search_runs(None)
    # A Spark DataFrame of runs in a session without Delta (local mode): the driver
    # searches and the session only receives the result (compared just below).
    spark_search = _attempt(
        lambda: sparktrack.search_runs(output_format="spark", search_all_experiments=True)
    )
    after = _confs(spark)
    # Autolog stays on: the user's next fit is logged and must work too.
    next_steps = _users_next_steps(spark, df, lambda: pipeline.fit(df))
    sparktrack.flush()
    return {
        "changes": _changes(before, after),
        "next": next_steps,
        "spark_search": spark_search,
        "autolog_warnings": _autolog_warnings(caught),
        "runs": {
            "total": len(runs),
            "finished": int((runs["status"] == "FINISHED").sum()),
            "after_next_fit": len(client.search_runs(None)),
        },
        "tvs": _run_summary(client, tvs_run),
        "registry": {"version": version.version, "predictions": predicted},
        "expected_predictions": [
            float(r.prediction)
            for r in production.spark_model.transform(df.limit(10)).select("prediction").collect()
        ],
        "sweep": {
            "states": sorted(result.trials["state"]),
            "best_params": {k: float(v) for k, v in result.best_params.items()},
            "best_metric": result.best_metric,
        },
    }


def _external_address() -> str | None:
    """This machine's address on its default route (what another host would connect
    to); None when it has only loopback. A UDP connect sends nothing."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routable address works
        address = str(probe.getsockname()[0])
    except OSError:
        address = ""
    finally:
        probe.close()
    if address and not address.startswith("127."):
        return address
    by_name = socket.gethostbyname(socket.gethostname())
    return None if by_name.startswith("127.") else by_name


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False


def _jvm_listening() -> dict[int, str]:
    """port -> bound address of every TCP socket the driver JVM (our child) listens on."""
    import psutil

    listening: dict[int, str] = {}
    for process in psutil.Process().children(recursive=True):
        for conn in process.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                listening[conn.laddr.port] = conn.laddr.ip
    return listening


def h2o(store: str) -> dict[str, Any]:
    import warnings

    from pysparkling.ml import H2OGBM

    import sparktrack
    from sparktrack.h2o import h2o_context

    spark = _user_session(H2O_JAVA_OPTIONS)
    rows = [
        (float(i % 7), float((i * 3) % 5), "yes" if (i % 7) + (i * 3) % 5 > 5 else "no")
        for i in range(200)
    ]
    df = spark.createDataFrame(rows, "a double, b double, label string")
    df.count()
    before = _confs(spark)

    spark_ports = _jvm_listening()
    hc = h2o_context(spark)
    # What H2O opened: the node's REST API and internal port, and whatever Sparkling
    # Water adds in the driver (its Flow proxy).
    h2o_ports = {p: ip for p, ip in _jvm_listening().items() if p not in spark_ports}
    external = _external_address()
    rest_api = int(str(hc.getConf().h2oCluster()).rsplit(":", 1)[1])
    reachable = {
        str(port): {
            "bound_to": ip,
            "loopback": _accepts("127.0.0.1", port),
            "external": _accepts(external, port) if external else None,
        }
        for port, ip in h2o_ports.items()
    }
    started = _confs(spark)  # Sparkling Water's own changes at start, not ours

    sparktrack.set_store(store)
    sparktrack.set_experiment("plain-session-h2o")
    gbm = H2OGBM(labelCol="label", ntrees=3, maxDepth=3, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparktrack.autolog()
        model = gbm.fit(df)
        first = sparktrack.last_active_run()
        gbm.fit(df)
        sparktrack.flush()
    client = sparktrack.get_client()
    run_id = first.info.run_id if first is not None else ""
    loaded = sparktrack.load_model(f"runs:/{run_id}/model")
    sample = df.select("a", "b").limit(10).toPandas()
    after = _confs(spark)
    next_steps = _users_next_steps(spark, df, lambda: gbm.fit(df))
    sparktrack.flush()
    runs = client.search_runs(None)
    return {
        "external_address": external,
        "rest_api_port": rest_api,
        "reachable": reachable,
        "changes": _changes(started, after),
        "changes_at_h2o_start": _changes(before, started),
        "next": next_steps,
        "autolog_warnings": _autolog_warnings(caught),
        "runs": {"total": len(runs), "finished": int((runs["status"] == "FINISHED").sum())},
        "gbm": _run_summary(client, run_id),
        "flavors": sorted(loaded.metadata.flavors),
        "predictions": [str(p) for p in loaded.predict(sample)],
        "expected_predictions": [
            str(r.prediction) for r in model.transform(df.limit(10)).select("prediction").collect()
        ],
    }


if __name__ == "__main__":
    flows: dict[str, Callable[[str], dict[str, Any]]] = {"mllib": mllib, "h2o": h2o}
    print("RESULT " + json.dumps(flows[sys.argv[1]](sys.argv[2])), flush=True)
