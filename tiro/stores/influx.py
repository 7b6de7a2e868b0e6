"""The InfluxDB telemetry store: bucket bootstrap, batched line-protocol writes with retry, Flux reads.

Data is what Telegraf wrote for Tiro 0.13 (tiro-upstream §6): measurement `tiro_telemetry`, field = data-point name,
tags `path`, `asset_path`, one per asset type, `type` and `unit`. Writes go through influxdb-client's synchronous
write API, `batch_size` lines per request, so memory stays bounded however long the input is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tiro.stores.base import BootstrapReport, Sample, TelemetryStore
from tiro.stores.influx_errors import (
    RETRY_STATUSES,
    InfluxError,
    InfluxRejectedData,
    InfluxUnavailable,
    backoff_delay,
    describe,
    retry_after_of,
    status_of,
)
from tiro.stores.influx_flux import history_query, latest_query
from tiro.stores.influx_settings import InfluxSettings
from tiro_models.line_protocol import encode_lines
from tiro_models.spec import PATH_SEP, TELEMETRY

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client import InfluxDBClient

__all__ = ["InfluxTelemetryStore", "count_lines"]

_REJECTED_STATUSES = frozenset({400, 413, 422})


def count_lines(body: str) -> int:
    """How many points a line-protocol text holds (blank lines and # comments do not count)."""
    return sum(1 for line in body.split("\n") if line and not line.startswith("#"))


def counted(body: str) -> tuple[str, int]:
    """A line-protocol text without leading and trailing newlines, and how many points it holds."""
    body = body.strip("\n")
    return body, count_lines(body)


def _chunks(texts: Iterable[tuple[str, int]], batch_size: int) -> Iterator[tuple[str, int]]:
    """Join `counted` texts into request bodies of about `batch_size` lines (a text is never split: it may be one
    message)."""
    parts: list[str] = []
    lines = 0
    for body, n in texts:
        if not n:
            continue
        parts.append(body)
        lines += n
        if lines >= batch_size:
            yield "\n".join(parts), lines
            parts, lines = [], 0
    if parts:
        yield "\n".join(parts), lines


class InfluxTelemetryStore(TelemetryStore):
    """Telemetry in an InfluxDB 2 bucket (writes also work against anything serving `/api/v2/write`)."""

    def __init__(self, url: str, **options: Any) -> None:
        self.settings = InfluxSettings.from_url(url, **options)
        self._client: InfluxDBClient | None = None
        self._write_api: Any = None
        self.sleep: Callable[[float], None] = time.sleep  # replaced by callers that must stay interruptible

    def __repr__(self) -> str:
        s = self.settings
        return f"InfluxTelemetryStore({s.public_url!r}, org={s.org!r}, bucket={s.bucket!r})"

    @property
    def client(self) -> InfluxDBClient:
        """The influxdb-client connection, created on first use."""
        if self._client is None:
            from influxdb_client.client.influxdb_client import (
                InfluxDBClient,  # imported on use: `import tiro.plugins.karez` stays light
            )

            s = self.settings
            self._client = InfluxDBClient(
                url=s.url,
                token=s.token,  # type: ignore[arg-type]  # None is accepted: a server without authentication
                org=s.org,
                timeout=int(s.timeout * 1000),
            )
        return self._client

    # ----- bootstrap -----
    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one API call, turning library errors into an InfluxError that names the server but no secret."""
        s = self.settings
        try:
            return fn()
        except Exception as exc:
            status = status_of(exc)
            if status == 401:
                hint = "the token was rejected" if s.token else "no token given (set TIRO_INFLUX_TOKEN or INFLUX_TOKEN)"
                raise InfluxError(f"InfluxDB at {s.public_url}: {what}: {hint} (HTTP 401)", status) from None
            if status == 403:
                raise InfluxError(
                    f"InfluxDB at {s.public_url}: {what}: the token lacks permission (HTTP 403)", status
                ) from None
            cause = s.scrub(describe(exc))
            if status is None:
                raise InfluxError(f"cannot reach InfluxDB at {s.public_url}: {what}: {cause}") from None
            raise InfluxError(f"InfluxDB at {s.public_url}: {what}: {cause}", status) from None

    def _org_id(self) -> str:
        s = self.settings
        api = self.client.organizations_api()
        try:
            orgs = self._call(f"looking up organization {s.org!r}", lambda: api.find_organizations(org=s.org))
        except InfluxError as exc:
            if exc.status != 404:
                raise
            orgs = []
        for org in orgs or []:
            if org.name == s.org:
                return str(org.id)
        raise InfluxError(f"InfluxDB at {s.public_url}: organization {s.org!r} does not exist (create it first)", 404)

    def bootstrap(self) -> BootstrapReport:
        """Check the token and the organization, create the bucket with its retention if missing."""
        s = self.settings
        report = BootstrapReport(store=f"{s.public_url} (org {s.org}, bucket {s.bucket})")
        org_id = self._org_id()
        api = self.client.buckets_api()
        found = self._call(f"looking up bucket {s.bucket!r}", lambda: api.find_buckets(name=s.bucket, org_id=org_id))
        if any(b.name == s.bucket for b in (getattr(found, "buckets", None) or [])):
            return report
        from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules

        rules = [BucketRetentionRules(type="expire", every_seconds=int(s.retention))] if s.retention > 0 else []
        self._call(
            f"creating bucket {s.bucket!r}",
            lambda: api.create_bucket(bucket_name=s.bucket, retention_rules=rules, org=org_id),
        )
        retention = f"{int(s.retention)}s" if s.retention > 0 else "infinite"
        report.created.append(f"bucket {s.bucket} (retention {retention})")
        return report

    # ----- writes -----
    @property
    def write_api(self) -> Any:
        """influxdb-client's synchronous write API (one request per call)."""
        if self._write_api is None:
            from influxdb_client.client.write_api import SYNCHRONOUS

            self._write_api = self.client.write_api(write_options=SYNCHRONOUS)
        return self._write_api

    def _post(self, body: str, lines: int) -> None:
        """POST one body, retrying 429/5xx and connection errors with backoff; raises InfluxError when it gives up."""
        from influxdb_client.domain.write_precision import WritePrecision

        s = self.settings
        attempt = 0
        while True:
            try:
                self.write_api.write(bucket=s.bucket, org=s.org, record=body, write_precision=WritePrecision.NS)
                return
            except Exception as exc:
                status = status_of(exc)
                cause = s.scrub(describe(exc))
                where = f"writing {lines} lines to {s.public_url} (bucket {s.bucket})"
                if status in _REJECTED_STATUSES:
                    raise InfluxRejectedData(f"InfluxDB rejected the data {where}: {cause}", status) from None
                retryable = status is None or status in RETRY_STATUSES
                if not retryable:
                    raise InfluxError(f"InfluxDB refused {where}: {cause}", status) from None
                if attempt >= s.max_retries:
                    raise InfluxUnavailable(
                        f"InfluxDB failed {where} after {attempt + 1} attempts: {cause}", status
                    ) from None
                self.sleep(backoff_delay(attempt, retry_after=retry_after_of(exc)))
                attempt += 1

    def write_lines(self, lines: Iterable[str]) -> int:
        """Write line-protocol texts (one or many lines each), `batch_size` lines per request; returns the count."""
        return self.write_counted(map(counted, lines))

    def write_counted(self, texts: Iterable[tuple[str, int]]) -> int:
        """`write_lines` of texts counted already (`counted`), without counting their lines again."""
        written = 0
        for body, n in _chunks(texts, self.settings.batch_size):
            self._post(body, n)
            written += n
        return written

    def write_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Encode flat records as the §6 line protocol (NaN/None values skipped) and write them."""
        lines = encode_lines(records, measurement=self.settings.measurement)
        return self.write_lines(line for line in lines if line)

    # ----- reads (InfluxDB 2 only: Flux) -----
    def _query(self, flux: str) -> Iterator[dict[str, Any]]:
        s = self.settings
        api = self.client.query_api()
        tables = self._call("running a Flux query", lambda: api.query(flux, org=s.org))
        for table in tables:
            for record in table.records:
                yield record.values

    def latest(self, pattern: str | None = None) -> dict[str, Sample]:
        """The newest sample per data-point path whose type path matches the %-pattern (all when None)."""
        s = self.settings
        return latest_from_rows(self._query(latest_query(s.bucket, s.measurement, pattern)))

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
        s = self.settings
        flux = history_query(s.bucket, s.measurement, pattern, since=since, until=until, step=step, agg=agg)
        return history_from_rows(self._query(flux))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._write_api is not None:
            self._write_api.close()
            self._write_api = None
        if self._client is not None:
            self._client.close()
            self._client = None


def _dp_path(row: Mapping[str, Any]) -> str:
    return PATH_SEP.join((str(row["asset_path"]), str(row.get("type") or TELEMETRY), str(row["_field"])))


def _seconds(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def latest_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Sample]:
    """Flux result rows (`last()` per series) as the newest Sample per data-point path."""
    out: dict[str, Sample] = {}
    for row in rows:
        if row.get("asset_path") is None or row.get("_field") is None:
            continue
        path = _dp_path(row)
        sample = Sample(row.get("_value"), _seconds(row["_time"]), row.get("unit") or None)
        previous = out.get(path)
        if previous is None or sample.timestamp >= previous.timestamp:  # a unit change makes a second series
            out[path] = sample
    return out


def history_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[float, Any]]]:
    """Flux result rows as time-sorted (seconds, value) pairs per data-point path."""
    out: dict[str, list[tuple[float, Any]]] = {}
    for row in rows:
        if row.get("asset_path") is None or row.get("_field") is None:
            continue
        out.setdefault(_dp_path(row), []).append((_seconds(row["_time"]), row.get("_value")))
    for series in out.values():
        series.sort(key=lambda pair: pair[0])
    return out
