# Databricks notebook source
# MAGIC %md
# MAGIC # sparktrack quickstart
# MAGIC Track an MLlib model on Spark, then query the runs with pandas and with Spark SQL.
# MAGIC Runs as a Databricks notebook (import this file) or as a plain script
# MAGIC (`python notebooks/quickstart.py`); CI executes it. For Jupyter: `quickstart.ipynb`.

# COMMAND ----------

import os

import sparktrack
import sparktrack.spark as sts

# On Databricks the cluster session is used as it is; locally a session with Delta is built.
spark = sparktrack.spark_session("sparktrack-quickstart")
sparktrack.set_store(os.environ.get("SPARKTRACK_STORE", "./sparktrack-store"))
sparktrack.set_experiment("quickstart")

# COMMAND ----------

from pyspark.ml.feature import VectorAssembler  # noqa: E402
from pyspark.ml.regression import LinearRegression  # noqa: E402

rows = [(float(x), float(x % 7), 3.0 * x + 2.0 * (x % 7) + 1.0) for x in range(200)]
data = spark.createDataFrame(rows, "x double, weekday double, y double")
features = VectorAssembler(inputCols=["x", "weekday"], outputCol="features").transform(data)

# COMMAND ----------

for reg in (0.0, 0.5):
    with sparktrack.start_run(run_name=f"linreg-reg{reg}"):
        sparktrack.log_param("regParam", reg)
        model = LinearRegression(labelCol="y", regParam=reg, maxIter=20).fit(features)
        for step, loss in enumerate(model.summary.objectiveHistory):
            sparktrack.log_metric("loss", loss, step=step)
        sparktrack.log_metrics({"rmse": model.summary.rootMeanSquaredError, "r2": model.summary.r2})

# COMMAND ----------

runs = sparktrack.search_runs(order_by=["metrics.rmse ASC"])
print(runs[["run_name", "params.regParam", "metrics.rmse", "metrics.r2"]].to_string(index=False))

# COMMAND ----------

sts.register_views(spark)
spark.sql(
    "SELECT run_name, status FROM sparktrack_runs r "
    "JOIN (SELECT experiment_id FROM sparktrack_experiments WHERE name = 'quickstart') e "
    "USING (experiment_id) ORDER BY run_name"
).show()
