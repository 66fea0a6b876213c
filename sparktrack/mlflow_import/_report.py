"""What an import carried, found already there, and could not carry (and why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["ImportCounts", "ImportReport", "NotCarried"]


@dataclass
class ImportCounts:
    """How many of each kind of thing (written, or for a dry run: to write)."""

    experiments: int = 0
    runs: int = 0
    params: int = 0
    metric_points: int = 0
    tags: int = 0
    inputs: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    logged_models: int = 0
    models: int = 0
    versions: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return asdict(self)

    def line(self) -> str:
        """The counts on one line, ``name=value`` pairs."""
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass(frozen=True)
class NotCarried:
    """Something in the MLflow store the import left behind.

    Attributes:
        what: What it is ("traces", "experiment tags", ...).
        count: How many.
        reason: Why, and what to do about it if anything can be done.
    """

    what: str
    count: int
    reason: str


@dataclass
class ImportReport:
    """The outcome of ``import_mlflow``.

    Attributes:
        source: The MLflow store's URI.
        store: The sparktrack store's URI.
        dry_run: Nothing was written: ``carried`` counts what would be.
        carried: What was written (new to the store).
        already: Experiments, runs and versions the store already held (kept as they
            are: a second import adds nothing).
        not_carried: What could not be carried, and why.
        notes: Changes made on the way (a version archived to keep one per stage).
    """

    source: str
    store: str
    dry_run: bool
    carried: ImportCounts = field(default_factory=ImportCounts)
    already: ImportCounts = field(default_factory=ImportCounts)
    not_carried: list[NotCarried] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def leave(self, what: str, count: int, reason: str) -> None:
        """Record ``count`` things left behind (nothing when ``count`` is 0)."""
        if count:
            self.not_carried.append(NotCarried(what, count, reason))

    def lines(self) -> list[str]:
        """The report as text lines, for the command line."""
        verb = "would import" if self.dry_run else "imported"
        out = [f"{verb} from {self.source} into {self.store}: {self.carried.line()}"]
        already = {k: v for k, v in self.already.as_dict().items() if v}
        if already:
            listed = ", ".join(f"{k}={v}" for k, v in already.items())
            out.append(f"already in the store (left as they are): {listed}")
        if self.not_carried:
            out.append("not carried:")
            out += [f"  {n.what}: {n.count} ({n.reason})" for n in self.not_carried]
        out += [f"note: {note}" for note in self.notes]
        return out
