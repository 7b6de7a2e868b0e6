"""What the mock server serves: the mocker of a compiled model, the serve flags, the uuid map and faults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tiro.mock.faults import WITHHELD, FaultInjector
from tiro.reference import read_reference
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import is_row_dp
from tiro_models.series import SeriesTable, series_table
from tiro_models.spec import CATEGORIES


@dataclass(frozen=True, slots=True)
class Listing:
    """The point listing and its HTTP entity tag: a dispatcher that asks every round with the tag it has gets "not
    modified" instead of megabytes (the listing never changes while the server runs)."""

    paths: list[str]
    etag: str

    @classmethod
    def of(cls, paths: list[str]) -> Listing:
        """The listing of `paths`, tagged by a hash of its JSON body."""
        return cls(paths, f'"{hashlib.blake2b(orjson.dumps(paths), digest_size=16).hexdigest()}"')

    def body(self) -> bytes:
        """The JSON body (made when asked: a 10^6-point listing is 90 MB, and a dispatcher reads it once)."""
        return orjson.dumps(self.paths)

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an `If-None-Match` header names this listing (RFC 9110: a list of tags, weak or not, or `*`)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


class MockService:
    """What the routes serve: the mocker, the flags of `tiro mock serve`, the uuid map and optional faults."""

    def __init__(
        self,
        mocker: Mocker,
        *,
        skip_defaults: bool = True,
        use_defaults: bool = True,
        uuid_map: dict[str, str] | None = None,
        faults: FaultInjector | None = None,
    ) -> None:
        self.mocker = mocker
        self.points = mocker.instances.points
        # made now, not on the first batch: 0.7 s for a hall of 10^6 points
        self.series: SeriesTable = series_table(mocker.instances)
        self.skip_defaults = skip_defaults
        self.use_defaults = use_defaults
        self.faults = faults
        self.listed = mocker.data_point_paths(skip_defaults=skip_defaults)
        self.listing = Listing.of(self.listed)
        self.uuids = self._resolve_uuids(uuid_map or {})

    def _resolve_uuids(self, uuid_map: dict[str, str]) -> dict[str, str]:
        """Map each reference uuid (asset path + point name) to the full data-point path with its category."""
        resolved = {}
        for uuid, target in uuid_map.items():
            asset, _, name = str(target).rpartition(".")
            for category in CATEGORIES:
                candidate = f"{asset}.{category}.{name}"
                if candidate in self.points:
                    resolved[str(uuid)] = candidate
                    break
        return resolved

    def point(self, path: str) -> dict[str, Any] | str | None:
        """One data point (possibly corrupted by the fault injector), WITHHELD, or None when unknown."""
        spec = self.points.get(path)
        if spec is None:
            return None
        dp: Any = self.mocker.point(path, use_default=self.use_defaults)
        return self.faults.apply(spec, dp) if self.faults else dp

    def batch(self, paths: list[str]) -> tuple[dict[str, Any], list[str]]:
        """Values for many paths in one call: ({path: DP}, unknown paths); withheld points are left out."""
        known = [p for p in paths if p in self.points]
        unknown = [p for p in paths if p not in self.points] if len(known) != len(paths) else []
        values = self.mocker.values(known)
        out: dict[str, Any] = {}
        faults = self.faults
        dp: Any
        for path, dp in zip(known, values, strict=True):
            if faults is not None:
                dp = faults.apply(self.points[path], dp)
                if dp == WITHHELD:
                    continue
            out[path] = dp
        return out, unknown

    def batch_columns(self, paths: list[str]) -> dict[str, Any]:
        """The batch answer as columns: `{"columns": {path, value, timestamp, unit, series}, "model": fingerprint,
        "other": {path: DP}, "unknown": [paths]}`. "other" holds the points a row cannot (fault injection's odd DPs);
        withheld ones are left out, as in `batch`. `series` holds each point's id in the table `model` names."""
        series = self.series
        if self.faults is None:
            known, values, stamps, units, ids = self.mocker.columns(paths, ids=series.ids)
            unknown = [p for p in paths if p not in self.points] if len(known) != len(paths) else []
            columns = {"path": known, "value": values, "timestamp": stamps, "unit": units, "series": ids}
            return {"columns": columns, "model": series.fingerprint, "other": {}, "unknown": unknown}
        points, unknown = self.batch(paths)
        rows = {p: dp for p, dp in points.items() if is_row_dp(dp)}
        columns = {
            "path": list(rows),
            "value": [dp["value"] for dp in rows.values()],
            "timestamp": [dp["timestamp"] for dp in rows.values()],
            "unit": [dp.get("unit") for dp in rows.values()],
            "series": list(map(series.ids.__getitem__, rows)),
        }
        return {
            "columns": columns,
            "model": series.fingerprint,
            "other": {p: dp for p, dp in points.items() if p not in rows},
            "unknown": unknown,
        }


def build_service(
    scenario: Path | str,
    uses: list[Path] | list[str],
    *,
    reference: Path | None = None,
    seed: int | None = None,
    skip_defaults: bool = True,
    use_defaults: bool = True,
    faulty: float = 0.0,
    per_parent: bool = False,
    warnings: list[str] | None = None,
) -> MockService:
    """Compile the model and build the MockService the routes serve (load warnings appended to `warnings`)."""
    ref = read_reference(reference) if reference else None
    model = load_model(scenario, uses, warnings=warnings)
    instances = instantiate(model, seed=seed, numbering="per_parent" if per_parent else "global", reference=ref)
    mocker = Mocker(instances, seed=seed, reference=ref)
    faults = FaultInjector(faulty, seed=seed) if faulty else None
    return MockService(
        mocker,
        skip_defaults=skip_defaults,
        use_defaults=use_defaults,
        uuid_map=(ref or {}).get("uuid_map"),
        faults=faults,
    )


def example_service(name: str = "datahall", **kwargs: Any) -> MockService:
    """The MockService of a shipped example scenario with all its uses files (for the demo, tests, benchmarks)."""
    from tiro.examples import example_dir, example_files

    return build_service(*example_files(example_dir(name)), **kwargs)
