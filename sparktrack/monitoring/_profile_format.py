"""``profile.json``: what a model's training data looked like, kept beside its MLmodel.

Small (a few KB a column) and versioned with the model folder. ``schema_version``
changes when a reader of the old format could misread the new one.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.monitoring._columns import Kind

__all__ = ["PROFILE_FILE", "SCHEMA_VERSION", "ColumnProfile", "Profile"]

PROFILE_FILE = "profile.json"
SCHEMA_VERSION = 1


@dataclass
class ColumnProfile:
    """One column of a profile: its counts, and its distribution as bins.

    Numeric columns keep a quantile sketch and a histogram on ``bin_edges`` (deciles of
    the profiled data: equal mass on it); categorical ones the ``categories`` most
    frequent, their counts, and the rest in ``other_count``.

    Attributes:
        kind: ``numeric`` or ``categorical``.
        type: The Spark type (``double``, ``string``, ...).
        count: Rows profiled.
        missing: Rows where the value is null (or NaN).
        mean: Numeric: the mean of the values present.
        std: Numeric: their sample standard deviation.
        quantiles: Numeric: the values at ``Profile.quantile_probabilities``.
        bin_edges: Numeric: bin i holds ``edges[i-1] < x <= edges[i]`` (first and last
            bins open).
        bin_counts: Numeric: values per bin (one more than edges); a baseline's are read
            off its sketch (within ``2 * BIN_COUNT_ERROR`` of the rows), a pass's are exact.
        categories: Categorical: the most frequent values, most frequent first.
        category_counts: Categorical: their counts.
        other_count: Categorical: values outside ``categories``.
        distinct: Categorical: distinct values present.
        unseen: Monitored data only: values absent from the baseline (when the baseline
            knows all its categories).
        unseen_examples: Monitored data only: some of those values.
    """

    kind: Kind
    type: str
    count: int
    missing: int
    mean: float | None = None
    std: float | None = None
    quantiles: list[float] | None = None
    bin_edges: list[float] | None = None
    bin_counts: list[int] | None = None
    categories: list[str] | None = None
    category_counts: list[int] | None = None
    other_count: int | None = None
    distinct: int | None = None
    unseen: int | None = None
    unseen_examples: list[str] | None = None

    @property
    def missing_rate(self) -> float:
        """The share of rows missing a value."""
        return self.missing / self.count if self.count else 0.0

    @property
    def complete(self) -> bool:
        """Categorical: whether every value present is among ``categories``."""
        return self.distinct is not None and self.distinct <= len(self.categories or [])

    def histogram(self) -> list[int]:
        """Counts per bin: the numeric bins, or the categories then ``other``.

        Returns:
            The counts, in bin order.
        """
        if self.kind == "numeric":
            return list(self.bin_counts or [])
        return [*(self.category_counts or []), int(self.other_count or 0)]

    def bin_labels(self) -> list[str]:
        """Name each ``histogram()`` entry.

        Returns:
            The bins' ranges, or the categories then ``(other)``.
        """
        if self.kind == "categorical":
            return [*(self.categories or []), "(other)"]
        edges = self.bin_edges or []
        if not edges:
            return ["all"]
        labels = [f"<= {edges[0]:.4g}"]
        labels += [f"({a:.4g}, {b:.4g}]" for a, b in itertools.pairwise(edges)]
        return [*labels, f"> {edges[-1]:.4g}"]


@dataclass
class Profile:
    """A model's baseline: its input columns, its predictions and labels, as profiled.

    Attributes:
        row_count: Rows profiled.
        quantile_probabilities: Where the numeric columns' quantiles were taken.
        features: The model's input columns, by name.
        prediction_column: The column the model writes its predictions to.
        prediction: Their profile.
        task: ``classification``, ``regression`` or ``other``.
        label_column: The label column, if the data had one.
        label: The labels' profile.
        metrics: The model's metrics on the profiled data (with labels).
        skipped: Input columns not profiled, with the reason.
        created: When the profile was made (UTC, ISO 8601).
        schema_version: The format's version (``SCHEMA_VERSION``).
    """

    row_count: int
    quantile_probabilities: list[float]
    features: dict[str, ColumnProfile]
    prediction_column: str
    prediction: ColumnProfile
    task: str
    label_column: str | None = None
    label: ColumnProfile | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The profile as ``profile.json`` holds it.

        Returns:
            Indented JSON.
        """
        return json.dumps(asdict(self), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "profile.json") -> Profile:
        """Read a profile written by ``to_json``.

        Args:
            text: The file's contents.
            where: Where it was read from, for error messages.

        Returns:
            The profile.

        Raises:
            InvalidInputError: It is not a profile, or of a newer format.
        """
        try:
            data: dict[str, Any] = json.loads(text)
            version = int(data.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                raise InvalidInputError(
                    f"{where} has schema_version {version}; this sparktrack reads up to "
                    f"{SCHEMA_VERSION}: upgrade sparktrack"
                )
            data["features"] = {k: ColumnProfile(**v) for k, v in data["features"].items()}
            data["prediction"] = ColumnProfile(**data["prediction"])
            if data.get("label") is not None:
                data["label"] = ColumnProfile(**data["label"])
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError(
                f"{where} is not a sparktrack profile ({exc}); profile the model again "
                "with sparktrack.monitoring.profile(model_uri, df)"
            ) from exc
