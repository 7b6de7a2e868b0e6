"""The retained validation window: a JetStream stream over `karez.validation_data.>` and reading a time range of it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from karez.frames import split_schema
from karez.shared_columns import SharedColumns
from tiro.frames import POINTS, samples
from tiro_models.errors import SnapshotError
from tiro_models.validate import Collector
from tiro_models.validation.event_time import LatenessEstimate, event_time

RETENTION_STREAM = "TIRO_VALIDATION_DATA"
RETENTION_SUBJECT = "karez.validation_data.>"
FETCH_BATCH = 512


class RetentionError(RuntimeError):
    """The retention stream cannot be created or read (names the stream and the server's reason)."""


@dataclass(slots=True)
class RetainedWindow:
    """The latest value per data-point path of the samples that count in [start, end) by event time."""

    start: datetime
    end: datetime
    snapshot: dict[str, Any] = field(default_factory=dict)
    messages: int = 0  # messages that brought at least one sample of this window
    items: int = 0
    late: int = 0  # samples that arrived after the window's deadline (end + allowed lateness)
    allowed_lateness: float = 0.0
    rejected: list[str] = field(default_factory=list)  # "subject #seq: reason", for items that were not data

    @property
    def empty(self) -> bool:
        """No message brought data of the window."""
        return self.messages == 0


@dataclass(slots=True)
class _Sample:
    arrival: float
    event: float | None
    message: int
    path: str
    result: Any


async def ensure_retention_stream(
    js: Any, retention: float, *, name: str = RETENTION_STREAM, subject: str = RETENTION_SUBJECT, replicas: int = 1
) -> str:
    """Create or adjust the stream (`max_age` = retention seconds, at least `replicas` copies): "created", "updated"
    or "unchanged"."""
    if retention <= 0:
        raise RetentionError(f"stream {name}: retention must be positive seconds, got {retention}")
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        info = None
    if info is not None:
        more_replicas = (info.config.num_replicas or 1) < replicas  # never fewer: see karez.durable.scale_up
        if abs((info.config.max_age or 0) - retention) < 1e-3 and not more_replicas:
            return "unchanged"
        config = info.config
        config.max_age = float(retention)
        config.num_replicas = max(replicas, info.config.num_replicas or 1)
        try:
            await js.update_stream(config)
        except BadRequestError as e:
            raise RetentionError(
                f"stream {name}: cannot change max_age to {retention}s or replicas to {replicas}: {e.description}"
            ) from e
        return "updated"
    config = StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=float(retention),
        num_replicas=replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError as e:
        try:  # another process created it meanwhile
            await js.stream_info(name)
            return "unchanged"
        except NotFoundError:
            pass
        raise RetentionError(
            f"stream {name} over {subject}: {e.description} (a durable validation_data aggregator owns these "
            "subjects? keep the validation aggregator on core NATS)"
        ) from e
    return "created"


async def read_window(
    js: Any,
    start: datetime,
    end: datetime,
    *,
    lateness: float | None = None,
    wait: bool = True,
    stream: str = RETENTION_STREAM,
    fetch_timeout: float = 2.0,
) -> RetainedWindow:
    """The samples that count in [start, end) by event time (tiro_models.validation.event_time), latest per path.

    Messages stored from one window before `start` on are read (a sample may arrive before its timestamp). The
    window is judged at its deadline, end + the allowed lateness (`lateness` seconds, or None for the estimate from
    the samples' ages on arrival): with `wait`, a read before the deadline waits for it, so that data in flight at
    the window's end still counts; samples stored after the deadline count as `late`."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise RetentionError(f"stream {stream}: the window end {end.isoformat()} is not after its start")
    try:
        await js.stream_info(stream)
    except NotFoundError as e:
        raise RetentionError(f"stream {stream} does not exist: run validate_window once to create it") from e
    retention = (end - start).total_seconds()
    first, last = start.timestamp(), end.timestamp()
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start - timedelta(seconds=retention),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    psub = await js.pull_subscribe(RETENTION_SUBJECT, stream=stream, config=config)
    window = RetainedWindow(start=start, end=end)
    samples: list[_Sample] = []
    estimate = LatenessEstimate(retention, lateness)
    shared = SharedColumns(js)
    try:
        horizon = last + 2 * retention  # late samples are accepted until end + retention + lateness ≤ this
        await _read_samples(psub, window, samples, estimate, first, last, horizon, fetch_timeout, shared)
        deadline = last + estimate.value()
        if wait and time.time() < deadline:
            await asyncio.sleep(deadline - time.time())
            await _read_samples(psub, window, samples, estimate, first, last, horizon, fetch_timeout, shared)
    finally:
        try:
            await psub.unsubscribe()
        except Exception:
            pass
    rule = estimate.rule(origin=first)
    window.allowed_lateness = rule.lateness
    collector = Collector()
    counted: set[int] = set()
    for sample in samples:
        counts, late = rule.counts_in(first, sample.event, sample.arrival)
        if not counts:
            continue
        try:
            collector.collect(sample.path, sample.result)
        except SnapshotError as e:
            window.rejected.append(f"#{sample.message}: {sample.path}: {e}")
            continue
        window.items += 1
        window.late += late
        counted.add(sample.message)
    window.messages = len(counted)
    window.snapshot = collector.snapshot()
    return window


async def _read_samples(
    psub: Any,
    window: RetainedWindow,
    samples: list[_Sample],
    estimate: LatenessEstimate,
    first: float,
    last: float,
    horizon: float,
    fetch_timeout: float,
    shared: SharedColumns,
) -> None:
    """Fetch what the consumer has now; keep the samples stamped in [first − retention, last) or stored in [first,
    last) (any of them may count in the window, depending on the lateness), and record every sample's age."""
    info = await psub.consumer_info()
    if info.num_pending == 0:
        return
    while True:
        try:
            msgs = await psub.fetch(FETCH_BATCH, timeout=fetch_timeout)
        except (TimeoutError, NatsTimeoutError):
            return  # the stream has nothing more for us
        for msg in msgs:
            stamp = msg.metadata.timestamp
            arrival = _aware(stamp).timestamp() if stamp is not None else time.time()
            if arrival >= horizon:
                return
            for path, result in await _items(window, msg, shared):
                event = event_time(result)
                if event is not None:
                    estimate.observe(arrival - event)
                if (event is not None and 2 * first - last <= event < last) or first <= arrival < last:
                    samples.append(_Sample(arrival, event, msg.metadata.sequence.stream, path, result))
            if msg.metadata.num_pending == 0:
                return


async def _items(window: RetainedWindow, msg: Any, shared: SharedColumns) -> list[tuple[str, Any]]:
    """The `{path, result}` items of one message (a `tiro.points` frame's samples); anything else is noted, never
    fatal."""
    where = f"{msg.subject} #{msg.metadata.sequence.stream}"
    try:
        framed, items = split_schema(await shared.decode(msg.data, msg.headers), POINTS.name)
        good = [sample for frame in framed for sample in samples(frame)]
    except Exception as e:
        window.rejected.append(f"{where}: unreadable ({type(e).__name__}: {e})")
        return []
    for item in items:
        if not isinstance(item, dict) or "path" not in item or "result" not in item:
            window.rejected.append(f"{where}: an item without 'path' and 'result'")
            continue
        good.append((str(item["path"]), item["result"]))
    return good


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = [
    "RETENTION_STREAM",
    "RETENTION_SUBJECT",
    "RetainedWindow",
    "RetentionError",
    "ensure_retention_stream",
    "read_window",
]
