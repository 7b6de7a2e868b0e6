"""Durable mode: JetStream work-queue streams, durable pull consumers, ack after downstream PubAcks, DLQ."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, PubAck, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from karez import codec
from karez.cluster import stream_replicas
from karez.delivery import Delivery
from karez.errors import is_data_error, is_retryable
from karez.frames import COMPACT, ENCODING_HEADER, count_items
from karez.fusion import fused_outputs
from karez.subjects import DLQ_WILDCARD, category_wildcard, dlq_subject

if TYPE_CHECKING:
    from karez.role import Body, RoleBase

BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
DUPLICATE_WINDOW = 120.0
DLQ_STREAM = "KAREZ_DLQ"
DLQ_MAX_AGE = 14 * 24 * 3600.0  # dead letters are kept two weeks for inspection and replay, then expire
PUBACK_TIMEOUT = 10.0  # a downstream PubAck this late is treated as lost: nak, redeliver, dedupe by Nats-Msg-Id
# A dispatcher's task publish waits less: on a cluster, a publish sent while its stream elects a new leader gets no
# PubAck at all, and a 10 s wait made the round late and the next one skipped (measured); a retry is deduplicated.
TASK_PUBACK_TIMEOUT = 2.0
SCALE_UP_TIMEOUT = 60.0  # seconds a stream given more replicas may take to copy its messages to the new peers
_CAPTURE_TTL = 30.0
_captured: dict[str, tuple[float, bool]] = {}
_contexts: WeakKeyDictionary[Client, JetStreamContext] = WeakKeyDictionary()  # NATS connection -> its JetStream context


def kind_token(role: RoleBase) -> str:
    """`aggregator` for aggregators (upstream's TYPE has a typo), else the role TYPE."""
    return "aggregator" if role.TYPE == "aggregrator" else role.TYPE


def jetstream_name(text: str) -> str:
    """A stream/consumer name: characters JetStream rejects (`.`, `*`, `>`, whitespace, path separators) become `_`."""
    return re.sub(r"[.*>\s/\\]", "_", text)


def stream_for(role: RoleBase) -> tuple[str, str, str]:
    """(stream name, subject filter, durable consumer name) of a role."""
    if kind_token(role) == "aggregator":
        category = role.config.category
        queue = role.subscribe_queue
        return (
            jetstream_name(f"KAREZ_CATEGORY_{category}"),
            category_wildcard(category),
            jetstream_name(f"aggregator_{queue}"),
        )
    kind = kind_token(role)
    return (
        jetstream_name(f"KAREZ_{kind.upper()}_{role.name}"),
        role.subscribe_topic,
        jetstream_name(f"{kind}_{role.name}"),
    )


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    subject: str,
    retention: RetentionPolicy = RetentionPolicy.WORK_QUEUE,
    max_age: float | None = None,
    replicas: int = 1,
) -> None:
    """Create the stream if it does not exist (concurrent creators are fine); scale an existing one up to `replicas`.

    Connector and converter subjects have one consumer (their role name) and use work-queue retention. A category is
    read by every aggregator queue group on it (a DB writer and the Telegraf replacement each need a copy), so
    category streams use interest retention: a message stays until every durable consumer on it has acked it."""
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        info = None
    if info is not None:
        await scale_up(js, name, info, replicas)
        return
    config = StreamConfig(
        name=name,
        subjects=[subject],
        retention=retention,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW,
        max_age=max_age,
        num_replicas=replicas,
    )
    try:
        await once_placed(lambda: js.add_stream(config))
    except BadRequestError as e:
        if e.err_code == NO_PEERS_FOR_PLACEMENT:
            raise
        await js.stream_info(name)  # created meanwhile by another process
    _captured.clear()


async def once_placed(call: Callable[[], Awaitable[Any]]) -> Any:
    """`call()`, again every half second for up to PLACEMENT_WAIT seconds while JetStream has too few nodes online
    to place the stream's replicas (a node of the cluster starting or restarting)."""
    deadline = time.monotonic() + PLACEMENT_WAIT
    while True:
        try:
            return await call()
        except BadRequestError as e:
            if e.err_code != NO_PEERS_FOR_PLACEMENT or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.5)


NO_PEERS_FOR_PLACEMENT = 10005  # JetStream's error code for "no suitable peers for placement"
PLACEMENT_WAIT = 30.0  # seconds a role waits for enough cluster nodes to place a new stream's replicas


async def scale_up(js: JetStreamContext, name: str, info: StreamInfo, replicas: int) -> None:
    """Raise an existing stream's replica count to `replicas` (a site that grew into a cluster); never lower it.

    Lowering is left to an operator: a count detected while a node is down must not shrink a healthy stream."""
    if (info.config.num_replicas or 1) >= replicas:
        return
    config = info.config
    config.num_replicas = replicas
    await once_placed(lambda: js.update_stream(config))
    # consumers cannot be created on the stream until its new peers have caught up ("insufficient resources")
    deadline = time.monotonic() + SCALE_UP_TIMEOUT
    while time.monotonic() < deadline:
        cluster = (await js.stream_info(name)).cluster
        peers = [peer for peer in (cluster.replicas or []) if peer.current] if cluster is not None else []
        if cluster is not None and cluster.leader and len(peers) >= replicas - 1:
            return
        await asyncio.sleep(0.2)


async def is_captured(js: JetStreamContext, subject: str) -> bool:
    """Whether a JetStream stream stores `subject` (cached for 30 s)."""
    now = time.monotonic()
    hit = _captured.get(subject)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        await js.find_stream_name_by_subject(subject)
        found = True
    except NotFoundError:
        found = False
    _captured[subject] = (now + _CAPTURE_TTL, found)
    return found


def jetstream_of(role: RoleBase) -> JetStreamContext:
    """The one JetStream context of the role's connection (a new context per publish would open a new reply
    subscription each time); it goes with the connection."""
    nc = role.connection
    js = _contexts.get(nc)
    if js is None:
        js = _contexts[nc] = nc.jetstream()
    return js


async def publish_bodies(
    role: RoleBase,
    bodies: list[Body],
    msg_id: str | None,
    wait: bool = True,
    ack_timeout: float = PUBACK_TIMEOUT,
) -> list[asyncio.Future[PubAck]]:
    """Publish encoded bodies: JetStream (with `Nats-Msg-Id`) where a stream captures the subject, else core; with
    `wait`, raise when a PubAck fails or does not come within `ack_timeout` seconds."""
    js = jetstream_of(role)
    futures: list[asyncio.Future[PubAck]] = []
    for i, (subject, body, count, encoding) in enumerate(bodies):
        if await is_captured(js, subject):
            headers = {"Nats-Msg-Id": f"{msg_id}:{i}", **(encoding or {})} if msg_id else encoding
            futures.append(await js.publish_async(subject, body, headers=headers))
        else:
            await role.connection.publish(subject, body, headers=encoding)
        role.stats.published += count
    if wait and futures:
        await settle(futures, ack_timeout)
        failure = first_failure(futures, ack_timeout)
        if failure is not None:
            raise failure
    return futures


async def settle(futures: list[asyncio.Future[PubAck]], timeout: float = PUBACK_TIMEOUT) -> None:
    """Wait for PubAcks; one that never comes (lost across a server restart) is cancelled after `timeout`.

    nats-py's publish futures have no timeout of their own: without this a lost PubAck blocks the role forever."""
    if not futures:
        return
    _, pending = await asyncio.wait(futures, timeout=timeout)
    for future in pending:
        future.cancel()  # also frees nats-py's pending-publish slot


def first_failure(futures: list[asyncio.Future[PubAck]], timeout: float = PUBACK_TIMEOUT) -> BaseException | None:
    """The first error among settled publish futures (a cancelled one is a PubAck timeout), or None."""
    for future in futures:
        if future.cancelled():
            return TimeoutError(f"no PubAck within {timeout:g} s")
        if future.exception() is not None:
            return future.exception()
    return None


class DurableLink(Delivery):
    """JetStream delivery of a role that listens: a durable pull consumer, acked only after the outputs are stored."""

    redelivers = True
    stores_publishes = True

    def __init__(self, fetch_batch: int = 64, replicas: int | None = None) -> None:
        self.fetch_batch = fetch_batch
        self.replicas = replicas  # of the streams this link creates; None: detected from the cluster (karez.cluster)
        self.ack_wait = 30.0
        self.role: RoleBase | None = None
        self.psub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self, role: RoleBase) -> None:
        """Create stream and consumer, then start the fetch loop (once: a second call is a no-op)."""
        if self._task is not None and not self._task.done():
            return
        self.role = role
        js = jetstream_of(role)
        stream, subject, durable = stream_for(role)
        shared = kind_token(role) == "aggregator"
        replicas = stream_replicas(role.connection, self.replicas)
        retention = RetentionPolicy.INTEREST if shared else RetentionPolicy.WORK_QUEUE
        await ensure_stream(js, stream, subject, retention, replicas=replicas)
        # Dead letters are stored, not just published: with nobody subscribed a core publish would lose them.
        dead_letters = RetentionPolicy.LIMITS
        await ensure_stream(js, DLQ_STREAM, DLQ_WILDCARD, dead_letters, max_age=DLQ_MAX_AGE, replicas=replicas)
        self.ack_wait = float(role.config.ack_wait or 30)
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # we count deliveries ourselves to dead-letter with the error
            max_ack_pending=max(1024, self.fetch_batch * 4),
        )
        self.psub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=f"durable:{role.name}")

    @property
    def attached(self) -> RoleBase:
        """The role this link delivers for (given to `start`)."""
        if self.role is None:
            raise RuntimeError("DurableLink used before start()")
        return self.role

    async def _loop(self) -> None:
        # nats-py's fetch(n) long-polls until n messages or the timeout when nothing is waiting; so when idle we
        # wait for a single message, and while busy we take batches with a short timeout.
        busy = False
        psub = self.psub
        assert psub is not None, "the loop runs after start() subscribed"
        while not self._stopping:
            try:
                size = self.fetch_batch if busy else 1
                msgs = await psub.fetch(size, timeout=0.5)
                busy = len(msgs) >= size  # fewer than asked: we are caught up
            except (TimeoutError, NatsTimeoutError):
                busy = False
                continue
            except Exception as e:
                if self._stopping:
                    return
                self.attached.log("warning", f"JetStream fetch failed: {type(e).__name__}: {e}")
                await asyncio.sleep(0.5)  # back off while the server is unreachable
                continue
            await self.handle_batch(msgs)

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Process fetched messages (and, while the role lingers, those that follow), let the role finish what they
        deferred, wait for downstream PubAcks, then ack (or nak / dead-letter)."""
        role = self.attached
        pending: list[tuple[Msg, list[asyncio.Future[Any]]]] = []
        loop = asyncio.get_running_loop()
        # a batch can take longer than ack_wait on an overloaded process: its unacked messages are then redelivered
        # while still queued here and done twice, which overloads it further. "In progress" restarts their clocks.
        refresh_every = self.ack_wait / 3
        refresh_at = loop.time() + refresh_every
        linger_until: float | None = None
        while msgs:
            for index, msg in enumerate(msgs):
                if index or pending:
                    # handling a message rarely suspends (publishes are buffered): without this a fetched batch of
                    # big messages holds the loop for seconds and the process's other roles and timers wait
                    await asyncio.sleep(0)
                    if loop.time() > refresh_at:
                        await self._still_working([*(m for m, _ in pending), *msgs[index:]])
                        refresh_at = loop.time() + refresh_every
                handled = await self._hand_over(role, msg)
                if handled is not None:
                    pending.append((msg, handled))
            linger = role.linger_s()
            if linger <= 0 or self._stopping:
                break
            if linger_until is None:  # within ack_wait: the messages held must not be redelivered meanwhile
                linger_until = loop.time() + min(linger, self.ack_wait / 3)
            msgs = await self._fetch_until(linger_until)
        await role.end_of_batch()
        await settle([future for _, futures in pending for future in futures])
        for msg, futures in pending:
            failure = first_failure(futures)
            if failure is None:
                await msg.ack()
            else:
                await self.retry_or_dead_letter(msg, failure)
        await role.flush()

    async def _hand_over(self, role: RoleBase, msg: Msg) -> list[asyncio.Future[Any]] | None:
        """One message through the role and out: the futures its ack waits for (its PubAcks, the work it deferred);
        None when it was dead-lettered or naked instead."""
        items = role.decode(msg)
        if items is None:
            await self.dead_letter(msg, role.decode_error)
            return None
        role.stats.received += count_items(items)
        deferred: list[asyncio.Future[Any]] = []
        role.deferred = deferred
        try:
            items = await role.restore_columns(items)
            outputs = await role.share_columns(await fused_outputs(role, await role.handle_items(items, msg.subject)))
            bodies = role.encode_outputs(outputs)
            seq = msg.metadata.sequence.stream
            futures: list[asyncio.Future[Any]] = await publish_bodies(role, bodies, f"{role.name}:{seq}", wait=False)
        except Exception as e:
            for future in deferred:  # done without this message: its outcome is not wanted
                future.add_done_callback(_outcome_not_wanted)
            await self.retry_or_dead_letter(msg, e)
            return None
        finally:
            role.deferred = None
        return futures + deferred

    async def _fetch_until(self, deadline: float) -> list[Msg]:
        """The messages that come before `deadline` (up to a fetch batch); none when it has passed."""
        psub = self.psub
        left = deadline - asyncio.get_running_loop().time()
        if psub is None or left < 0.001:
            return []
        try:
            return await psub.fetch(self.fetch_batch, timeout=left)
        except (TimeoutError, NatsTimeoutError):
            return []
        except Exception as e:  # the fetch loop reports a server that stays unreachable
            self.attached.log("warning", f"JetStream fetch failed while gathering: {type(e).__name__}: {e}")
            return []

    async def _still_working(self, msgs: list[Msg]) -> None:
        """Tell JetStream these messages are being worked on, so their ack_wait starts again."""
        for msg in msgs:
            try:
                await msg.in_progress()
            except Exception as e:  # a lost connection: the messages may be redelivered, which is safe
                self.attached.log("warning", f"Could not extend ack_wait of {msg.subject}: {type(e).__name__}: {e}")
                return

    async def retry_or_dead_letter(self, msg: Msg, error: BaseException) -> None:
        """Nak with backoff, or dead-letter after `max_deliver` deliveries.

        A retryable error (a store or server that is unreachable, not a bad message) is never dead-lettered: the
        message waits, with the longest backoff, until its destination is back. A data error (the message itself is
        bad) is dead-lettered at once. `karez.errors` says which is which."""
        role = self.attached
        deliveries = msg.metadata.num_delivered
        role.log("warning", f"Failed message on {msg.subject} (delivery {deliveries}): {type(error).__name__}: {error}")
        if is_data_error(error):  # the message itself is bad: another delivery cannot help
            await self.dead_letter(msg, f"{type(error).__name__}: {error}")
            return
        if deliveries >= int(role.config.max_deliver or 1) and not is_retryable(error):
            await self.dead_letter(msg, f"{type(error).__name__}: {error}")
        else:
            await msg.nak(delay=BACKOFF[min(deliveries, len(BACKOFF)) - 1])

    async def dead_letter(self, msg: Msg, error: str) -> None:
        """Store the message and its error on `karez.dlq.<kind>.<name>` (stream KAREZ_DLQ), then ack the original.

        The original is acked only after the dead letter's PubAck; if that fails the message is redelivered later."""
        role = self.attached
        body = {
            "subject": msg.subject,
            "error": error,
            "role": role.name,
            "deliveries": msg.metadata.num_delivered,
            "stream_sequence": msg.metadata.sequence.stream,
            **dead_letter_data(msg),
        }
        subject = dlq_subject(kind_token(role), role.name)
        stream_seq = body["stream_sequence"]
        try:
            letter: list[Body] = [(subject, codec.dumps(body), 0, None)]
            futures = await publish_bodies(role, letter, f"dlq:{subject}:{stream_seq}")
        except Exception as e:
            role.log("warning", f"Dead letter for {msg.subject} not stored ({type(e).__name__}: {e}); retrying later")
            await msg.nak(delay=BACKOFF[-1])
            return
        if not futures:  # the DLQ stream was deleted meanwhile: the letter went out on core NATS only
            role.log("warning", f"Dead letter for {msg.subject} published without a {DLQ_STREAM} stream to keep it")
        role.stats.dropped += 1
        await msg.ack()

    async def stop(self, role: RoleBase | None = None) -> None:
        """Finish the current batch and stop fetching (unacked messages are redelivered later)."""
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self.psub is not None:
            try:
                await self.psub.unsubscribe()
            except Exception:
                pass


def _outcome_not_wanted(future: asyncio.Future[Any]) -> None:
    """Retrieve a future's outcome that nobody awaits, so that asyncio does not report it as never retrieved."""
    if not future.cancelled():
        future.exception()


def dead_letter_data(msg: Msg) -> dict[str, str]:
    """The message body for its dead letter: as text, or base64 with its encoding for a compact frame message."""
    encoding = (msg.headers or {}).get(ENCODING_HEADER)
    if encoding == COMPACT:
        return {"encoding": encoding, "data_base64": base64.b64encode(msg.data).decode()}
    data = {"data": msg.data.decode(errors="replace")}
    return {"encoding": encoding, **data} if encoding else data
