"""Hyperparameter sweeps on Spark: every trial a run, Optuna choosing the next one.

    result = sparktrack.sweep(
        pipeline,                                   # a pyspark.ml Estimator, H2O ones too
        {"LogisticRegression.regParam": loguniform(1e-4, 1.0), "elasticNetParam": [0.0, 0.5]},
        train=train, num_folds=3, evaluator=BinaryClassificationEvaluator(),
        max_trials=20, parallelism=4, name="churn-lr",
    )
    result.best_params, result.best_metric, result.best_model, result.trials

or a plain function, run as Spark tasks on the executors:

    def train_one(params, trial):                   # (params) alone works too
        model = GradientBoostingClassifier(**params).fit(X, y)
        return {"auc": roc_auc_score(y_valid, model.predict_proba(X_valid)[:, 1])}

    sparktrack.sweep(train_one, {"max_depth": int_range(2, 8)}, metric="auc", mode="max",
                     max_trials=64)
"""

from __future__ import annotations

from sparktrack.errors import SweepFailedError
from sparktrack.sweeps._api import sweep
from sparktrack.sweeps._function import FunctionTrial
from sparktrack.sweeps._options import EarlyStopping, Mode, Strategy, SweepOptions
from sparktrack.sweeps._records import Tags as SweepTags
from sparktrack.sweeps._result import SweepResult
from sparktrack.sweeps._space import (
    Distribution,
    choice,
    int_range,
    loguniform,
    uniform,
)

__all__ = [
    "Distribution",
    "EarlyStopping",
    "FunctionTrial",
    "Mode",
    "Strategy",
    "SweepFailedError",
    "SweepOptions",
    "SweepResult",
    "SweepTags",
    "choice",
    "int_range",
    "loguniform",
    "sweep",
    "uniform",
]
