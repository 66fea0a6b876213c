"""What autolog logs about a fit's DataFrame, read while the fit trains.

None of it depends on the fitted model: the schema, the first rows (the input
example; all columns, since which ones the model reads is known after the fit) and
the dataset's description (no Spark job). ``read_on_worker`` has them read on the
autolog worker as soon as the fit starts, so it is done when the fit returns instead
of adding to the work after it. It costs the fit little: one job that reads a few
rows, while H2O trains in its own threads and MLlib runs jobs of its own. What could
not be read then is read after the fit, as it was before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sparktrack import datasets
from sparktrack.autologging import _worker
from sparktrack.autologging._config import AutologConfig
from sparktrack.autologging._safety import is_testing, logging_errors_handled
from sparktrack.session import using_session
from sparktrack.tracking import DatasetInput

__all__ = ["EXAMPLE_ROWS", "TrainingData"]

# Rows of the training data in a logged model's input example.
EXAMPLE_ROWS = 5


class TrainingData:
    """The schema, first rows and description of one fit's training DataFrame.

    ``read`` keeps what it reads; the accessors give what was kept, else read it now.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self._schema: Any = None
        self._rows: Any = None  # pandas, every column
        self._description: DatasetInput | None = None

    def read(self, config: AutologConfig) -> None:
        """Read what ``config`` will log, and keep it.

        The schema always, the first rows for the model's input example, the
        description for the dataset input.
        """
        self._schema = self.dataset.schema
        if config.log_models:
            self._rows = self.dataset.limit(EXAMPLE_ROWS).toPandas()
        if config.log_datasets:
            self._description = datasets.describe_dataframe(self.dataset, context="training")

    def read_on_worker(
        self,
        config: AutologConfig,
        session: Any,
        integration: str,
        cancelled: Callable[[], bool],
    ) -> None:
        """Queue ``read`` on the autolog worker (run it here in test mode).

        It runs in the fit's ``session``, unless ``cancelled()`` says by then that
        nothing is to be logged. A failure is one AutologWarning of ``integration``;
        the accessors then read what they need after the fit.
        """

        def job() -> None:
            if cancelled():
                return
            with (
                logging_errors_handled(integration, "reading the training data"),
                using_session(session),
            ):
                self.read(config)

        _worker.submit(job, synchronous=is_testing())

    def schema(self) -> Any:
        """The DataFrame's schema."""
        return self._schema if self._schema is not None else self.dataset.schema

    def description(self) -> DatasetInput:
        """The dataset input to log for the fit (context "training")."""
        if self._description is not None:
            return self._description
        return datasets.describe_dataframe(self.dataset, context="training")

    def example(self, inputs: list[str]) -> Any:
        """The first rows' ``inputs`` columns as pandas: the model's input example.

        As ``dataset.select(*inputs).limit(EXAMPLE_ROWS).toPandas()`` gives them (a
        projection keeps the rows), from the rows read during the fit when it has them.
        """
        rows = self._rows
        if rows is None or not set(inputs) <= set(rows.columns) or rows.columns.has_duplicates:
            return self.dataset.select(*inputs).limit(EXAMPLE_ROWS).toPandas()
        return rows[inputs].reset_index(drop=True)
