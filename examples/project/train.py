"""Train a logistic regression on the breast-cancer data: a project's Spark job.

Plain pyspark with sparktrack's autolog. Launched by `sparktrack run examples/project -e
train`, its logging joins the run the launcher created (SPARKTRACK_RUN_ID); run as
`python train.py` it makes a run of its own.
"""

from __future__ import annotations

import argparse

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession
from sklearn.datasets import load_breast_cancer

import sparktrack

parser = argparse.ArgumentParser()
parser.add_argument("--reg-param", type=float, default=0.01)
parser.add_argument("--max-iter", type=int, default=50)
args = parser.parse_args()

spark = SparkSession.builder.appName("breast-cancer-project").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
sparktrack.autolog(log_models=False)

frame = load_breast_cancer(as_frame=True).frame
frame.columns = [c.replace(" ", "_") for c in frame.columns]
features = [c for c in frame.columns if c != "target"]
data = spark.createDataFrame(frame).withColumnRenamed("target", "label").coalesce(1)
train, test = data.randomSplit([0.75, 0.25], seed=42)
pipeline = Pipeline(
    stages=[
        VectorAssembler(inputCols=features, outputCol="features"),
        LogisticRegression(regParam=args.reg_param, maxIter=args.max_iter),
    ]
)
with sparktrack.start_run():  # the launcher's run (or a new one when run directly)
    model = pipeline.fit(train)  # autolog: params, training metrics
    test_auc = BinaryClassificationEvaluator().evaluate(model.transform(test))
    sparktrack.log_metric("test_auc", test_auc)
spark.stop()
