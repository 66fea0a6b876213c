"""The environment files of a model folder: requirements.txt, python_env.yaml, conda.yaml.

Versions come from ``importlib.metadata`` of this process only. MLflow instead reloads
the model in a subprocess with a second Spark JVM to see what it imports (mlflow
#6905), which costs tens of seconds per logged model; a Spark ML model needs pyspark
and what pyspark's Python side imports, which we know without looking.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import yaml

__all__ = [
    "CONDA_FILE",
    "PYTHON_ENV_FILE",
    "REQUIREMENTS_FILE",
    "conda_env",
    "environment_files",
    "pinned",
    "pip_requirements",
    "python_env",
]

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"

# What loading and scoring a Spark ML model imports: pyspark, and pyspark's pandas
# conversion (pandas, numpy, pyarrow); sparktrack for its loader.
_BASE_PACKAGES = ("pyspark", "sparktrack", "pandas", "pyarrow", "numpy")
# Sparkling Water models need its Python package (its jars come with it).
_H2O_PACKAGE = "h2o-pysparkling-3-5"
_BUILD_PACKAGES = ("pip", "setuptools", "wheel")


def _installed(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def pinned(distribution: str) -> str | None:
    """``name==version`` of an installed distribution; None if it is not installed.

    Like MLflow, drop a ``dev`` suffix and a local label (``+cu121``): such builds are
    not on PyPI, and the release they come from is what a fresh environment can get.
    """
    installed = _installed(distribution)
    if installed is None:
        return None
    release = re.sub(r"(\.?)dev.*$", "", installed.split("+", 1)[0])
    return f"{distribution}=={release}"


def pip_requirements(model_class: str | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Pinned requirements of a Spark ML model of ``model_class``, sorted by name."""
    names = list(_BASE_PACKAGES)
    if model_class and model_class.startswith("ai.h2o.sparkling"):
        names.append(_H2O_PACKAGE)
    requirements = {name: pinned(name) or name for name in names}
    for requirement in extra:
        requirements[re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]] = requirement
    return [requirements[name] for name in sorted(requirements)]


def python_env(python_version: str | None = None) -> dict[str, Any]:
    """MLflow's ``python_env.yaml``: python, build tools, then ``-r requirements.txt``."""
    build = [pinned(name) or name for name in _BUILD_PACKAGES]
    return {
        "python": python_version or platform.python_version(),
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }


def conda_env(requirements: list[str], python_version: str | None = None) -> dict[str, Any]:
    """MLflow's ``conda.yaml``: python and pip from conda-forge, the rest from pip."""
    pip_version = _installed("pip")
    # MLflow pins pip with <= since conda-forge lags PyPI by a few days.
    pip_dep = f"pip<={pip_version}" if pip_version else "pip"
    return {
        "name": "mlflow-env",  # MLflow's env name; tools that build the env expect it
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python_version or platform.python_version()}",
            pip_dep,
            {"pip": list(requirements)},
        ],
    }


def environment_files(model_class: str | None = None) -> dict[str, bytes]:
    """The three environment files of a model folder, by file name."""
    requirements = pip_requirements(model_class)
    return {
        REQUIREMENTS_FILE: ("\n".join(requirements) + "\n").encode(),
        PYTHON_ENV_FILE: yaml.safe_dump(python_env(), sort_keys=False).encode(),
        CONDA_FILE: yaml.safe_dump(conda_env(requirements), sort_keys=False).encode(),
    }
