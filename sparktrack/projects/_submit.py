"""How an entry point's command is launched: through ``spark-submit``, or as it is.

The rule, decided from the command and the Spark settings that apply to it:

1. A command starting with ``spark-submit`` runs with the ``spark-submit`` of the
   installed pyspark (``pyspark/bin/spark-submit``), given the Spark settings.
2. A command ``python SCRIPT.py ARGS...`` (or ``python3``) to which Spark settings
   apply (a ``spark:`` section of the project or of the entry point, ``--master`` or
   ``--conf``) runs as ``spark-submit OPTIONS SCRIPT.py ARGS...``: a Python script meant
   for Spark, submitted the way Spark jobs are.
3. Anything else runs as it is, in a shell (``bash -c``), as MLflow runs commands.
   Spark settings for such a command are an error rather than silently unused.

Options, from weakest to strongest (spark-submit keeps the last of a repeated option):
the project's ``spark:`` section, the entry point's, the options written in the
command itself, then ``--master``/``--conf`` given to ``sparktrack run``.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from sparktrack.errors import ConfigurationError, InvalidInputError
from sparktrack.projects._spark import SparkSettings

__all__ = ["SPARK_SUBMIT", "LaunchPlan", "plan_launch", "spark_submit_path"]

SPARK_SUBMIT = "spark-submit"
_PYTHONS = ("python", "python3")
# spark-submit's options that take a value; every other option is a flag. The first
# token that is neither an option nor an option's value is the application.
_VALUED = frozenset(
    {
        *("--master", "--deploy-mode", "--class", "--name", "--jars", "--packages"),
        *("--exclude-packages", "--repositories", "--py-files", "--files", "--archives"),
        *("--conf", "-c", "--properties-file", "--driver-memory", "--driver-java-options"),
        *("--driver-library-path", "--driver-class-path", "--executor-memory", "--proxy-user"),
        *("--driver-cores", "--total-executor-cores", "--executor-cores", "--num-executors"),
        *("--principal", "--keytab", "--queue", "--kill", "--status"),
    }
)


@dataclass(frozen=True)
class LaunchPlan:
    """The process to start for an entry point.

    Attributes:
        argv: The command and its arguments.
        spark_submit: Whether it runs through ``spark-submit``.
    """

    argv: list[str]
    spark_submit: bool


def spark_submit_path() -> str:
    """The ``spark-submit`` script of the installed pyspark, found without importing it.

    Returns:
        Its path.

    Raises:
        ConfigurationError: pyspark is not installed, or has no ``bin/spark-submit``.
    """
    spec = importlib.util.find_spec("pyspark")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        script = Path(location) / "bin" / SPARK_SUBMIT
        if script.is_file():
            return str(script)
    raise ConfigurationError(
        "this entry point runs through spark-submit, but no pyspark with bin/spark-submit is "
        "installed in this Python; pip install pyspark"
    )


def plan_launch(
    entry_name: str,
    command: str,
    settings: SparkSettings | None,
    overrides: SparkSettings,
) -> LaunchPlan:
    """Decide how to launch ``command`` (the rule in the module docstring).

    Args:
        entry_name: The entry point, for messages.
        command: The command with its parameters substituted.
        settings: The MLproject's Spark settings for this entry point (None: none).
        overrides: ``--master``/``--conf`` of ``sparktrack run``.

    Returns:
        The process to start.

    Raises:
        InvalidInputError: The command cannot be split into words, names no script
            after ``spark-submit``, or Spark settings apply to a command that does not
            run through spark-submit.
        ConfigurationError: spark-submit is needed but pyspark is not installed.
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise InvalidInputError(f"entry point {entry_name!r}: command {command!r}: {exc}") from None
    if not words:
        raise InvalidInputError(f"entry point {entry_name!r} has an empty command")
    program = os.path.basename(words[0])
    spark_given = settings is not None or not overrides.is_empty()
    file_options = (settings or SparkSettings()).submit_options()
    if program == SPARK_SUBMIT:
        at = _application_index(words)
        if at is None:
            raise InvalidInputError(
                f"entry point {entry_name!r}: command {command!r} names no application "
                "after spark-submit's options"
            )
        argv = [
            spark_submit_path(),
            *file_options,
            *words[1:at],
            *overrides.submit_options(),
            *words[at:],
        ]
        return LaunchPlan(argv, spark_submit=True)
    if program in _PYTHONS and spark_given:
        if len(words) < 2 or not words[1].endswith(".py"):
            raise InvalidInputError(
                f"entry point {entry_name!r} has Spark settings, but its command {command!r} "
                "does not run a script: spark-submit runs `python SCRIPT.py ARGS...` "
                "commands; write the command that way, or set `spark: false` on the entry point"
            )
        argv = [spark_submit_path(), *file_options, *overrides.submit_options(), *words[1:]]
        return LaunchPlan(argv, spark_submit=True)
    if spark_given:
        where = "--master/--conf were given" if settings is None else "it has a spark: section"
        raise InvalidInputError(
            f"entry point {entry_name!r}: {where}, but its command {command!r} is neither "
            "`spark-submit ...` nor `python SCRIPT.py ...`, so nothing would use them; "
            "drop them, or set `spark: false` on the entry point"
        )
    shell = shutil.which("bash") or "/bin/sh"
    return LaunchPlan([shell, "-c", command], spark_submit=False)


def _application_index(words: list[str]) -> int | None:
    """Where the application starts in ``spark-submit OPTIONS APP ARGS...``."""
    index = 1
    while index < len(words):
        word = words[index]
        if not word.startswith("-"):
            return index
        index += 2 if word in _VALUED else 1  # `--conf=k=v` and flags are one word
    return None
