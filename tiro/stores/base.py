"""The two store interfaces every backend implements, and the small value types they exchange."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tiro_models.spec import Instances, Model

AGGREGATIONS = ("mean", "last", "max", "min", "sum")


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored value of a data point: value, epoch-seconds timestamp and unit."""

    value: Any
    timestamp: float
    unit: str | None = None


@dataclass(slots=True)
class BootstrapReport:
    """What a bootstrap created, changed or removed (empty lists: it was already in place)."""

    store: str  # a URL with any secret removed
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output and Prefect artifacts."""
        return {"store": self.store, "created": self.created, "changed": self.changed, "removed": self.removed}


class StoreError(RuntimeError):
    """A store could not be reached or used; the text names the store (without secrets) and the cause."""


class TelemetryStore(ABC):
    """Time series of data-point values (InfluxDB in production, sqlite embedded)."""

    @abstractmethod
    def bootstrap(self) -> BootstrapReport:
        """Create the bucket/tables (with retention) if missing; idempotent."""

    @abstractmethod
    def write_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Write flat records (tiro_models.records shape, epoch-second timestamps); returns how many were written.

        Writing the same record twice stores it once (same series and timestamp)."""

    @abstractmethod
    def write_lines(self, lines: Iterable[str]) -> int:
        """Write influx line-protocol lines (as `influx_line_protocol` produces them); returns how many."""

    @abstractmethod
    def latest(self, pattern: str | None = None) -> dict[str, Sample]:
        """The newest sample per data-point path whose type path matches the %-pattern (all when None)."""

    @abstractmethod
    def history(
        self,
        pattern: str,
        *,
        since: float,
        until: float | None = None,
        step: float | None = None,
        agg: str = "mean",
    ) -> dict[str, list[tuple[float, Any]]]:
        """Samples per data-point path in [since, until), aggregated into `step`-second buckets when given."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and files."""


class GraphStore(ABC):
    """Assets, their relationships and the latest value of every data point (ArangoDB, or sqlite embedded)."""

    @abstractmethod
    def bootstrap(self, model: Model, instances: Instances | None = None) -> BootstrapReport:
        """Create collections/graph/indexes from the model; remove topology no longer in it; idempotent."""

    @abstractmethod
    def upsert_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Upsert asset vertices, edges and data-point documents for flat records; replaying is harmless."""

    @abstractmethod
    def latest(self, pattern: str | None = None, *, max_age: float | None = None) -> dict[str, Sample]:
        """The latest value per data-point path whose type path matches the %-pattern (fresh only with max_age)."""

    @abstractmethod
    def query_qpath(self, qpath: Mapping[str, Any], *, max_age: float | None = None) -> dict[str, Any]:
        """A nested snapshot filtered by the qpath DSL (tiro-upstream §5.4, with `$lt` fixed)."""

    @abstractmethod
    def attributes_and_missing(self, model: Model, *, max_age: float = 300) -> dict[str, Sample | None]:
        """Every required data-point path of stored assets: attributes always, telemetry when fresh, else None."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and files."""
