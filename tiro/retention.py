"""The retained validation window: a JetStream stream over `karez.validation_data.>` and reading a time range of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from karez import codec
from tiro_models.errors import SnapshotError
from tiro_models.validate import Collector

RETENTION_STREAM = "TIRO_VALIDATION_DATA"
RETENTION_SUBJECT = "karez.validation_data.>"
FETCH_BATCH = 512


class RetentionError(RuntimeError):
    """The retention stream cannot be created or read (names the stream and the server's reason)."""


@dataclass(slots=True)
class RetainedWindow:
    """The latest value per data-point path of the messages retained in [start, end)."""

    start: datetime
    end: datetime
    snapshot: dict[str, Any] = field(default_factory=dict)
    messages: int = 0
    items: int = 0
    rejected: list[str] = field(default_factory=list)  # "subject #seq: reason", for items that were not data

    @property
    def empty(self) -> bool:
        """No message fell into the window."""
        return self.messages == 0


async def ensure_retention_stream(
    js: Any, retention: float, *, name: str = RETENTION_STREAM, subject: str = RETENTION_SUBJECT
) -> str:
    """Create or adjust the stream (`max_age` = retention seconds): "created", "updated" or "unchanged"."""
    if retention <= 0:
        raise RetentionError(f"stream {name}: retention must be positive seconds, got {retention}")
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        info = None
    if info is not None:
        if abs((info.config.max_age or 0) - retention) < 1e-3:
            return "unchanged"
        config = info.config
        config.max_age = float(retention)
        try:
            await js.update_stream(config)
        except BadRequestError as e:
            raise RetentionError(f"stream {name}: cannot change max_age to {retention}s: {e.description}") from e
        return "updated"
    config = StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=float(retention),
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
    js: Any, start: datetime, end: datetime, *, stream: str = RETENTION_STREAM, fetch_timeout: float = 2.0
) -> RetainedWindow:
    """Read the stream's messages stored in [start, end) and keep the latest value per data-point path."""
    start, end = _aware(start), _aware(end)
    window = RetainedWindow(start=start, end=end)
    if end <= start:
        raise RetentionError(f"stream {stream}: the window end {end.isoformat()} is not after its start")
    try:
        await js.stream_info(stream)
    except NotFoundError as e:
        raise RetentionError(f"stream {stream} does not exist: run validate_window once to create it") from e
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    psub = await js.pull_subscribe(RETENTION_SUBJECT, stream=stream, config=config)
    collector = Collector()
    try:
        info = await psub.consumer_info()
        if info.num_pending == 0:
            return window
        while True:
            try:
                msgs = await psub.fetch(FETCH_BATCH, timeout=fetch_timeout)
            except (TimeoutError, NatsTimeoutError):
                break  # the stream has nothing more for us
            done = False
            for msg in msgs:
                stamp = msg.metadata.timestamp
                if stamp is not None and _aware(stamp) >= end:
                    done = True
                    break
                window.messages += 1
                _collect(collector, window, msg)
                if msg.metadata.num_pending == 0:
                    done = True
            if done:
                break
    finally:
        try:
            await psub.unsubscribe()
        except Exception:
            pass
    window.snapshot = collector.snapshot()
    return window


def _collect(collector: Collector, window: RetainedWindow, msg: Any) -> None:
    """Collect each `{path, result}` item of one message; anything else is noted, never fatal."""
    where = f"{msg.subject} #{msg.metadata.sequence.stream}"
    try:
        items = codec.split_items(codec.loads(msg.data))
    except Exception as e:
        window.rejected.append(f"{where}: not JSON ({type(e).__name__})")
        return
    for item in items:
        if not isinstance(item, dict) or "path" not in item or "result" not in item:
            window.rejected.append(f"{where}: an item without 'path' and 'result'")
            continue
        window.items += 1
        try:
            collector.collect(str(item["path"]), item["result"])
        except SnapshotError as e:
            window.rejected.append(f"{where}: {item['path']}: {e}")


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
