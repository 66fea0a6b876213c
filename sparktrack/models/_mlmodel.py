"""The ``MLmodel`` file: the YAML that says what a model folder holds and how to load it.

Same keys and shapes as MLflow's, so MLflow (``mlflow.spark.load_model``,
``mlflow.pyfunc.load_model``) reads folders sparktrack writes and the reverse. We write
``sparktrack_version`` instead of ``mlflow_version``; keys we do not know (MLflow's
``mlflow_version``, ``model_size_bytes``, ...) are kept as they are on a round trip.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models._signature import ModelSignature

__all__ = ["MLMODEL_FILE", "Model", "utc_now_string"]

MLMODEL_FILE = "MLmodel"
_KNOWN_KEYS = (
    "artifact_path",
    "run_id",
    "utc_time_created",
    "model_uuid",
    "flavors",
    "signature",
    "saved_input_example_info",
    "sparktrack_version",
)


def utc_now_string() -> str:
    """MLflow's ``utc_time_created`` spelling: ``str()`` of a naive UTC datetime."""
    return str(datetime.now(UTC).replace(tzinfo=None))


def _sparktrack_version() -> str:
    try:
        return version("sparktrack")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Model:
    """The contents of an ``MLmodel`` file (``Model.load(folder)`` reads one).

    Attributes:
        flavors: How to load the model, by flavor (``spark``, ``python_function``...).
        artifact_path: Where the model is in its run's artifacts, if logged.
        run_id: The run it was logged to, if any.
        utc_time_created: When it was saved.
        model_uuid: Its unique id.
        signature: What it reads and writes, if known.
    """

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifact_path: str | None = None
    run_id: str | None = None
    utc_time_created: str = field(default_factory=utc_now_string)
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    sparktrack_version: str | None = field(default_factory=_sparktrack_version)
    extra: dict[str, Any] = field(default_factory=dict)  # keys other writers put there

    def to_dict(self) -> dict[str, Any]:
        """Give the ``MLmodel`` file's contents as MLflow writes them.

        Returns:
            The mapping to write as YAML: the known keys, with a null ``artifact_path``
            or ``run_id`` left out as MLflow does, and every unknown key read from the
            file kept as it was.
        """
        data: dict[str, Any] = dict(self.extra)
        # MLflow leaves out a null artifact_path / run_id (consumers choke on nulls).
        if self.artifact_path is not None:
            data["artifact_path"] = self.artifact_path
        if self.run_id is not None:
            data["run_id"] = self.run_id
        data["utc_time_created"] = self.utc_time_created
        data["model_uuid"] = self.model_uuid
        data["flavors"] = self.flavors
        if self.signature is not None:
            data["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            data["saved_input_example_info"] = self.saved_input_example_info
        if self.sparktrack_version is not None:
            data["sparktrack_version"] = self.sparktrack_version
        return data

    def to_yaml(self) -> str:
        """Give the ``MLmodel`` file's text.

        Returns:
            ``to_dict()`` as block-style YAML with sorted keys, as MLflow writes it.
        """
        # MLflow dumps with sorted keys in block style; keep the same look.
        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "MLmodel") -> Model:
        """Read a model's description from an ``MLmodel`` file's parsed YAML.

        Args:
            data: The file's mapping, as MLflow or sparktrack wrote it. Keys this
                class does not know are kept in ``extra`` and written back.
            source: Where ``data`` was read from, for error messages.

        Returns:
            The model's description.

        Raises:
            InvalidInputError: ``data`` has no ``flavors`` mapping, or its signature
                is malformed.
        """
        flavors = data.get("flavors")
        if not isinstance(flavors, dict) or not flavors:
            raise InvalidInputError(
                f"{source} has no 'flavors' mapping, so nothing says how to load the model; "
                "is this an MLflow/sparktrack model folder?"
            )
        signature = data.get("signature")
        created = data.get("utc_time_created")
        return cls(
            flavors={str(k): dict(v or {}) for k, v in flavors.items()},
            artifact_path=data.get("artifact_path"),
            run_id=data.get("run_id"),
            utc_time_created=str(created) if created is not None else "",
            model_uuid=str(data.get("model_uuid") or ""),
            signature=ModelSignature.from_dict(signature) if isinstance(signature, dict) else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            sparktrack_version=data.get("sparktrack_version"),
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )

    @classmethod
    def from_yaml(cls, text: str | bytes, *, source: str = "MLmodel") -> Model:
        """Read a model's description from an ``MLmodel`` file's text.

        The YAML is read with ``yaml.safe_load``: a file cannot build Python objects.

        Args:
            text: The file's contents.
            source: Where ``text`` was read from, for error messages.

        Returns:
            The model's description.

        Raises:
            InvalidInputError: ``text`` is not valid YAML, does not hold a mapping, or
                does not describe a model (see ``from_dict``).
        """
        try:
            # safe_load only: an MLmodel file must never be able to build Python objects.
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"{source} must hold a YAML mapping, got {type(data).__name__}")
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read a local ``MLmodel`` file, or the one in a local model folder.

        For a model in a run or at a Hadoop URI, use ``read_mlmodel``.

        Args:
            path: A local model folder, or its ``MLmodel`` file.

        Returns:
            The model's description.

        Raises:
            NotFoundError: There is no ``MLmodel`` file at ``path``.
            InvalidInputError: The file does not describe a model (see ``from_yaml``).
        """
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        if not target.is_file():
            raise NotFoundError(
                f"no MLmodel file at {str(target)!r}; give a model folder or its MLmodel file"
            )
        return cls.from_yaml(target.read_text(encoding="utf-8"), source=str(target))

    def flavor(self, name: str) -> dict[str, Any]:
        """Give the configuration of one flavor.

        Args:
            name: The flavor, e.g. ``spark`` or ``python_function``.

        Returns:
            Its mapping in the ``MLmodel`` file (the live one: changes to it change
            this model).

        Raises:
            InvalidInputError: The model has no such flavor.
        """
        conf = self.flavors.get(name)
        if conf is None:
            raise InvalidInputError(
                f"the model has no {name!r} flavor (it has {sorted(self.flavors)}); "
                f"it was not saved as a {name} model"
            )
        return conf

    def history_entry(self) -> dict[str, Any]:
        """Give this model's entry in its run's ``mlflow.log-model.history`` tag.

        Returns:
            MLflow's shape: ``run_id``, ``artifact_path``, ``utc_time_created``,
            ``model_uuid`` and ``flavors`` (each flavor's ``config`` left out), the
            first two only when set.
        """
        entry = {
            k: v
            for k, v in self.to_dict().items()
            if k in ("run_id", "utc_time_created", "artifact_path", "model_uuid")
        }
        entry["flavors"] = {
            name: {k: v for k, v in conf.items() if k != "config"}
            for name, conf in self.flavors.items()
        }
        return entry
