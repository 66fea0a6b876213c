"""The model a server scores with, and swapping it when its URI points elsewhere.

``ModelSource`` loads the model its URI designates and, every ``refresh_seconds``,
asks ``_current_target`` which model that URI designates now. When the answer
changes it loads the new model next to the old one and then replaces the reference
in one assignment: a request takes the current ``ServedModel`` once and scores
with it to the end, so in-flight requests finish on the model they started with and
no request waits for a load. A failed load keeps the old model serving and is
retried at the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparktrack.models import (
    HadoopLocation,
    LoadedModel,
    load_model_at,
    read_mlmodel,
    resolve_model_uri,
)
from sparktrack.registry import RegistryClient, get_registry_client, parse_models_uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.tracking import TrackingClient

__all__ = ["ModelSource", "ServedModel"]

log = logging.getLogger("sparktrack.serving")

Loader = Callable[[str], LoadedModel]


def _current_target(uri: str, client: TrackingClient | None = None) -> str:
    """The model URI that ``uri`` designates now.

    For a moving registry reference (``models:/name/Production``, ``/latest``,
    ``@alias``) that is the version it points to, as ``models:/name/<version>``; any
    other URI is itself.
    """
    if not uri.startswith("models:"):
        return uri
    if parse_models_uri(uri).is_pinned:
        return uri
    registry = get_registry_client() if client is None else RegistryClient(client)
    return registry.resolve(uri).model_uri


@dataclass(frozen=True)
class ServedModel:
    """One loaded model and where it came from.

    Attributes:
        uri: What the server was asked to serve (``models:/churn/Production``).
        target: What that URI designated when this model was loaded
            (``models:/churn/3``).
        model: The loaded model.
        loaded_at: When it was loaded, in seconds since the epoch.
    """

    uri: str  # what the server was asked to serve
    target: str  # what the URI designated when this model was loaded
    model: LoadedModel
    loaded_at: float  # epoch seconds

    @property
    def accepted_columns(self) -> list[str] | None:
        """The input columns the model reads; None when nothing says.

        From the model's signature, else from the stages the local scorer evaluates;
        None for a model without a signature that only Spark evaluates.
        """
        signature = self.model.signature
        if signature is not None and signature.inputs:
            return signature.input_names
        scorer = self.model.local_scorer
        return scorer.accepted_inputs if scorer is not None else None

    @property
    def engine(self) -> str:
        """``"local"`` when numpy scores the model, else ``"spark"``."""
        return self.model.engine


class ModelSource:
    """The current model of a URI, reloaded when the URI points to another model.

    Call ``load()`` once, then ``start()`` to follow a moving reference
    (``models:/name/Production``, ``/latest``, ``@alias``) and ``stop()`` at the end.

    Args:
        uri: The model to serve: ``runs:/``, ``models:/``, a folder or a Hadoop URI.
        refresh_seconds: How often to ask the registry where ``uri`` points (0: never).
        client: The tracking client whose store holds the runs and the registry
            (default: the fluent API's).
        loader: Loads a model URI (default: ``sparktrack.models.load_model``, with
            ``session`` for the models that need Spark).
        session: Gives the SparkSession of models and inputs only Spark scores; called
            only when one needs it (default: the running session, else a new one).
        load_spark_model: Load every model's Spark model as it loads (a server that
            scores with Spark only), rather than when first needed.

    Attributes:
        last_error: The last failed refresh, as ``"<Exception>: <message>"``, until one
            succeeds; None otherwise.
    """

    def __init__(
        self,
        uri: str,
        *,
        refresh_seconds: float = 10.0,
        client: TrackingClient | None = None,
        loader: Loader | None = None,
        session: Callable[[], SparkSession] | None = None,
        load_spark_model: bool = False,
    ) -> None:
        self.uri = uri
        self.refresh_seconds = refresh_seconds
        self._client = client
        self._loader: Loader = loader or self._load_model
        self._session = session
        self._load_spark_model = load_spark_model
        self._current: ServedModel | None = None
        self._refresh_lock = threading.Lock()  # one load at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None  # the last failed refresh, until one succeeds

    @property
    def current(self) -> ServedModel:
        """The model to score the next request with.

        Raises:
            RuntimeError: ``load()`` was not called yet.
        """
        served = self._current
        if served is None:
            raise RuntimeError("ModelSource.load() has not been called")
        return served

    def _load_model(self, target: str) -> LoadedModel:
        location = resolve_model_uri(target, self._client)
        if self._session is None:
            return load_model_at(location, target)
        return load_model_at(location, target, session=self._session)

    def _load(self, target: str) -> ServedModel:
        started = time.perf_counter()
        model = self._loader(target)
        # Compile the local scorer now, so the first request after a swap is not slower.
        reason = model.local_scoring_unsupported
        if self._load_spark_model:
            model.spark_model  # noqa: B018 (loads it now, not on the first request)
        served = ServedModel(self.uri, target, model, time.time())
        how = "numpy" if reason is None else f"Spark ({reason} needs Spark)"
        log.info(
            "loaded %s in %.1f s; scoring with %s",
            target,
            time.perf_counter() - started,
            how,
        )
        return served

    def check(self) -> bool:
        """Fail fast, before Spark starts, when the URI names no model folder.

        Only where no JVM is needed to look (local folders, runs on a local store);
        Hadoop URIs are checked by the load itself.

        Returns:
            Whether reading the model folder needs Spark (a Hadoop URI).
        """
        target = _current_target(self.uri, self._client)
        location = resolve_model_uri(target, self._client)
        if isinstance(location, HadoopLocation):
            return True
        read_mlmodel(location, target)
        return False

    def load(self) -> ServedModel:
        """Load the model the URI designates now.

        Returns:
            The model, now also ``current``.

        Raises:
            SparktrackError: The model could not be found or loaded (errors propagate:
                there is nothing to serve).
        """
        with self._refresh_lock:
            self._current = self._load(_current_target(self.uri, self._client))
        return self._current

    def refresh(self) -> bool:
        """Swap in the model the URI designates now, if it changed.

        Errors are logged and kept in ``last_error``; the current model stays.

        Returns:
            Whether a new model was swapped in.
        """
        with self._refresh_lock:
            try:
                target = _current_target(self.uri, self._client)
                if self._current is not None and target == self._current.target:
                    self.last_error = None
                    return False
                served = self._load(target)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "could not refresh %s (still serving the loaded model): %s",
                    self.uri,
                    self.last_error,
                )
                return False
            previous = self._current
            self._current = served  # one assignment: requests see the old or the new model
            self.last_error = None
        log.info(
            "%s now points to %s (was %s)",
            self.uri,
            target,
            previous.target if previous else None,
        )
        return True

    def start(self) -> None:
        """Poll every ``refresh_seconds`` in a daemon thread (not when it is 0)."""
        if self.refresh_seconds <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._poll, name="sparktrack-model-refresh", daemon=True
        )
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()

    def stop(self) -> None:
        """Stop polling (waits up to 5 seconds for a load in progress)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
