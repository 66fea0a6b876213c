"""Watch models in production: data drift, prediction drift and performance decay.

    sparktrack.monitoring.profile("models:/churn/1", train_df)     # the baseline, once
    result = sparktrack.monitor("models:/churn/1", new_df, label_col="churned")
    result.status, result.columns

A model's baseline is ``profile.json`` beside its MLmodel: its training data's columns,
predictions and metrics, written when a model is logged with its data (autolog,
``log_model(training_data=df)``) or by ``profile``. ``monitor`` scores new data, counts
it in the baseline's bins in one Spark pass, and logs each pass as a run of the
``monitoring`` experiment. The statistics and thresholds are described in
``DEFAULT_THRESHOLDS``'s module and in the README ("Monitoring drift").
"""

from __future__ import annotations

from sparktrack.models import connect_profiler as _connect_profiler
from sparktrack.monitoring._baseline import (
    ProfileWarning,
    profile,
    read_profile,
)
from sparktrack.monitoring._baseline import profile_at_log_time as _profile_at_log_time
from sparktrack.monitoring._monitor import MonitorResult, monitor
from sparktrack.monitoring._profile_format import ColumnProfile, Profile
from sparktrack.monitoring._thresholds import DEFAULT_THRESHOLDS, Status

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ColumnProfile",
    "MonitorResult",
    "Profile",
    "ProfileWarning",
    "Status",
    "monitor",
    "profile",
    "read_profile",
]

# log_model(training_data=...) and autolog profile through this hook (models cannot
# import monitoring, which builds on them).
_connect_profiler(_profile_at_log_time)
