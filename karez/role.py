"""`RoleBase`: config, meta helpers, subjects, NATS connection, receiving and publishing (core or durable)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from karez import codec, frames
from karez.config import ConfigEntity, ConfigurableBase, OptionalConfigEntity, switch
from karez.delivery import CORE, Delivery
from karez.fusion import fused_outputs
from karez.nats_options import NatsOptions, connect, server_address
from karez.routing import META_KEY, merged_meta
from karez.stats import RoleStats
from karez.subjects import DEFAULT_CATEGORY, category_subject, connector_subject, converter_subject, role_subject
from karez.utils import unlinked

if TYPE_CHECKING:
    from karez.shared_columns import SharedColumns

logger = logging.getLogger("karez")

MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 900_000  # below NATS' default max_payload of 1 MiB
_first, _second = itemgetter(0), itemgetter(1)
FLUSH_BYTES = 1 << 20  # bytes a subscriber publishes before it waits for a PING/PONG round trip


class LeaseGate(Protocol):
    """What a singleton role may ask of the lease it runs under (karez.leader.Lease)."""

    async def confirm(self, state: dict[str, Any] | None) -> bool:
        """Renew the lease and leave `state` for a successor; False: another instance is active, do not act."""
        ...

    def valid(self) -> bool:
        """Held, and certainly not yet expired on the server."""
        ...


Body = tuple[str, bytes, int, "dict[str, str] | None"]
"""What a role publishes: subject, encoded body, items it carries (a frame counts its rows), NATS headers."""


def _sized_batches(subject: str, items: list[Any]) -> list[Body]:
    """Encode a batch, halving it until each body fits under MAX_BATCH_BYTES."""
    body = codec.encode_batch(items)
    if len(body) <= MAX_BATCH_BYTES or len(items) == 1:
        return [(subject, body, len(items), None)]
    half = len(items) // 2
    return _sized_batches(subject, items[:half]) + _sized_batches(subject, items[half:])


def _sized_frames(
    subject: str, items: list[dict[str, Any]], encoding: str, whole: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[Body]:
    """Encode frames in one message, halving the list (or a lone frame's rows) until each body fits; a frame whose
    columns are shared is made `whole` before it is cut (a part cannot name the entry)."""
    body, used = frames.frame_body(items, encoding)
    rows = sum(map(frames.frame_length, items))
    if len(body) <= MAX_BATCH_BYTES or rows <= 1:
        return [(subject, body, rows, {frames.ENCODING_HEADER: used})]
    if len(items) == 1:
        frame = whole(items[0]) if frames.SHARED_KEY in items[0][frames.FRAME_KEY] else items[0]
        half_rows = rows // 2
        halves = [frames.slice_frame(frame, 0, half_rows), frames.slice_frame(frame, half_rows, rows)]
        return _sized_frames(subject, halves[:1], encoding, whole) + _sized_frames(subject, halves[1:], encoding, whole)
    half = len(items) // 2
    return _sized_frames(subject, items[:half], encoding, whole) + _sized_frames(subject, items[half:], encoding, whole)


def _frames_encoding(role: RoleBase) -> str | None:
    """The wire encoding of the frames a role publishes (`frames: true` compact, `frames: json` readable), or None
    when the role does not speak frames; a ValueError for a role whose kind cannot."""
    value = role.config.frames
    if isinstance(value, str) and value.strip().lower() in ("false", "true", "json"):
        value = value.strip().lower()
    if value in (False, None, "false"):
        return None
    if value not in (True, "true", "json"):
        raise ValueError(f"{role.name}: frames must be true, false or json, not {value!r}")
    if not role.FRAMES:
        raise ValueError(f"{role.name}: frames is set, but {type(role).__name__} neither reads nor writes frames")
    return frames.READABLE if value == "json" else frames.COMPACT


class RoleBase(ConfigurableBase):
    """Base of dispatchers, connectors, converters and aggregators (upstream `karez.role.RoleBase`)."""

    TYPE = "role"
    CHECKING_STATUS_INTERVAL = 10
    # True for a role whose state must see every message of its subject (windowed validation): with
    # `karez deploy --workers N` it runs in the first process only instead of sharing its queue group
    ONE_WORKER = False
    # True for a kind whose `handle_items` takes frames (karez.frames) and that makes frames of its outputs when
    # configured with `frames`; every other role gets a frame's rows as per-item objects
    FRAMES = False

    def __init__(self, role_config: Any, nats_addr: str | None = "nats://localhost:4222") -> None:
        super().__init__(role_config)
        self.name: str = self.config.name
        self.nc_addr = nats_addr
        self.nats_options: NatsOptions | None = None
        self.nc: Client | None = None
        self.sub: Subscription | None = None
        self.stats = RoleStats()
        self.delivery: Delivery = CORE  # the runtime gives durable roles a JetStream delivery before they start
        # converter subject -> the converter of this process that gets items in memory (karez.fusion; runtime-set)
        self.fused: dict[str, RoleBase] = {}
        self.owns_connection = True
        self.frames_encoding = _frames_encoding(self)  # None: this role reads rows and writes items, as upstream
        self._batch = bool(self.config.batch) or self.frames_encoding is not None
        self.decode_error = ""  # why the last message could not be decoded (for its dead letter)
        self._handled = 0
        self._unflushed_bytes = 0
        self._closing = False
        self._log_name = f"{type(self).__name__}[{self.name}]"
        self._shared_columns: SharedColumns | None = None
        # set by a durable link while it hands a fetched batch's messages over: the work a message leaves for
        # `end_of_batch` (a write gathered with other messages') adds a future here, which that message's ack awaits
        self.deferred: list[asyncio.Future[Any]] | None = None
        self._check_switches()
        self._shares_columns = switch(self.config.share_columns, f"{self.name}: share_columns")

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """`type` (required) and `name` (defaults to `type`), plus runtime options."""
        yield from super().config_entities()
        type_entity = ConfigEntity("type", "Type of the role")
        yield type_entity
        yield OptionalConfigEntity("name", type_entity, "Name of the role instance")
        yield OptionalConfigEntity("batch", False, "Publish a JSON array of items per message")
        yield OptionalConfigEntity("durable", None, "Consume through a JetStream durable consumer")
        yield OptionalConfigEntity("max_deliver", 5, "Durable mode: deliveries before dead-lettering")
        yield OptionalConfigEntity("ack_wait", 30, "Durable mode: seconds before an unacked message is redelivered")
        yield OptionalConfigEntity("fuse", True, "Pass items to converters of this process in memory (karez.fusion)")
        yield OptionalConfigEntity("frames", False, "Read and publish frames of many items (true, json; karez.frames)")
        yield OptionalConfigEntity(
            "share_columns", True, "Durable compact frames: per-series columns once in a bucket (karez.shared_columns)"
        )

    SWITCHES: tuple[str, ...] = ("fuse", "share_columns")  # yes/no keys, refused at start when neither

    def _check_switches(self) -> None:
        for key in self.SWITCHES:
            switch(self.config[key], f"{self.name}: {key}")

    @classmethod
    def role_description(cls) -> str:
        """One line shown by `karez plugins`."""
        doc = inspect.getdoc(cls) or ""
        return doc.splitlines()[0] if doc else cls.__name__

    def __repr__(self) -> str:
        return self._log_name

    # ----- meta helpers (upstream semantics, pop_meta fixed) -----
    @staticmethod
    def get_meta(d: dict[str, Any], key: str, default: Any = None) -> Any:
        """`d._karez[key]` or default."""
        return d.get(META_KEY, {}).get(key, default)

    @staticmethod
    def update_meta(d: dict[str, Any], **kv: Any) -> dict[str, Any]:
        """Update `d._karez` in place (creating it) and return `d`."""
        meta = d.get(META_KEY)
        if meta is None:
            meta = d[META_KEY] = {}
        meta.update(kv)
        return d

    @staticmethod
    def copy_meta(new: dict[str, Any], old: dict[str, Any], clear_old: bool = False) -> dict[str, Any]:
        """Shallow copy of `new` whose meta is `old` meta overridden by `new` meta; `new` is not mutated."""
        out = dict(new)
        out[META_KEY] = merged_meta(old.get(META_KEY), new.get(META_KEY))
        if clear_old:
            old.pop(META_KEY, None)
        return out

    @staticmethod
    def clear_meta(d: dict[str, Any]) -> dict[str, Any]:
        """Remove `_karez` from `d` and return `d`."""
        d.pop(META_KEY, None)
        return d

    @staticmethod
    def pop_meta(d: dict[str, Any], key: str, default: Any = None) -> Any:
        """Remove and return `d._karez[key]` (upstream popped the top-level key)."""
        return d.get(META_KEY, {}).pop(key, default)

    # ----- subjects -----
    @property
    def subscribe_topic(self) -> str:
        """Subject this role listens on."""
        return role_subject(self.TYPE, self.name)

    @property
    def subscribe_queue(self) -> str:
        """Queue group shared by instances with the same name."""
        return f"{self.TYPE}.{self.name}"

    @staticmethod
    def connector_topic(name: str) -> str:
        """Subject of a connector."""
        return connector_subject(name)

    @staticmethod
    def converter_topic(name: str) -> str:
        """Subject of a converter."""
        return converter_subject(name)

    def aggregator_topic(self, data: Any, default_category: str = DEFAULT_CATEGORY) -> str:
        """`karez.<category>.<this role's name>`."""
        category = self.get_meta(data, "category", default_category) if isinstance(data, dict) else None
        return category_subject(category or default_category, self.name)

    # ----- logging -----
    def log(self, level: str | int, msg: str, retry_idx: int | None = None) -> None:
        """Log with the `Class[name]:` prefix."""
        if retry_idx is not None:
            msg = f"{msg} (retrying {retry_idx})"
        lvl = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
        logger.log(lvl if isinstance(lvl, int) else logging.INFO, "%s:%s", self._log_name, msg)

    def log_exception(self, e: BaseException, msg: str | None = None) -> None:
        """Log an exception with its type and text (and re-raise it in durable mode, for retries)."""
        self.stats.errors += 1
        text = f"{type(e).__name__}: {e}"
        logger.error("%s:%s%s", self._log_name, f"{msg}: " if msg else "", text)
        if self.delivery.redelivers:
            raise e

    # ----- NATS -----
    async def error_cb(self, e: Exception) -> None:
        """nats-py error callback."""
        self.log("warning", f"NATS error: {type(e).__name__}: {e}")

    async def disconnected_cb(self) -> None:
        """nats-py disconnect callback; subscriptions are restored by the library on reconnect."""
        if not self._closing:
            self.log("warning", "Disconnected from NATS.")

    async def reconnected_cb(self) -> None:
        """nats-py reconnect callback."""
        where = server_address(self.nc)
        self.log("warning", f"Reconnected to NATS at {where}.")

    async def closed_cb(self) -> None:
        """The client was closed; the next `async_ensure_init` builds a new one."""
        self.log("info", "NATS connection closed.")

    async def async_ensure_init(self) -> bool:
        """Connect once; afterwards nats-py reconnects by itself (forever)."""
        if self.nc is not None and not self.nc.is_closed:
            return True
        options = self.nats_options or NatsOptions.from_address(self.nc_addr)
        try:
            self.nc = await connect(
                options,
                name=self.name,
                error_cb=self.error_cb,
                disconnected_cb=self.disconnected_cb,
                reconnected_cb=self.reconnected_cb,
                closed_cb=self.closed_cb,
            )
            self.owns_connection = True
            return True
        except Exception as e:
            self.log_exception(e, "Error in connecting to NATS")
            return False

    @property
    def connection(self) -> Client:
        """The NATS connection (RuntimeError before the role connected)."""
        if self.nc is None:
            raise RuntimeError(f"{self._log_name}: not connected to NATS yet")
        return self.nc

    async def subscribe(self) -> None:
        """Subscribe to `subscribe_topic` in queue group `subscribe_queue` (once: no leak on reconnect)."""
        if self.sub is not None:
            return
        self.sub = await self.connection.subscribe(
            self.subscribe_topic, queue=self.subscribe_queue, cb=self._on_message
        )

    async def start(self) -> None:
        """Connect and, for subscribing kinds, register the subscription (flushed so it is active)."""
        if not await self.async_ensure_init():
            raise ConnectionError(f"{self._log_name}: cannot connect to NATS")
        if self.listens:
            await self.delivery.start(self)

    @property
    def listens(self) -> bool:
        """Whether this role consumes messages from NATS."""
        return False

    async def run(self) -> None:
        """Long-running part of the role; subscribers just wait, their work happens in callbacks."""
        await self.start()
        await asyncio.Event().wait()

    async def drain(self) -> None:
        """Stop receiving, finish what was received, publish its results."""
        await self.delivery.stop(self)
        await self.flush()

    async def close(self) -> None:
        """Close this role's own connection and clients."""
        self._closing = True
        if self.owns_connection and self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    def resume_from(self, state: dict[str, Any] | None, lease: LeaseGate) -> None:
        """After winning the lease of a singleton role (karez.leader): continue from the state the predecessor left
        (None when it left none), acting only while `lease` allows. Default: nothing to continue."""

    def abandon(self) -> None:
        """After losing the lease (karez.leader): drop work scheduled but not yet done. Default: nothing scheduled."""

    def linger_s(self) -> float:
        """Seconds a durable link may wait for more messages before `end_of_batch`, to gather them into fewer writes
        (0: none; the default)."""
        return 0.0

    async def end_of_batch(self) -> None:
        """After a durable link handed over a fetched batch: finish the work its messages deferred (their futures in
        `deferred`). Default: nothing is deferred."""

    async def flush(self) -> None:
        """Make sure everything published so far reached the server."""
        if self.nc is not None and self.nc.is_connected:
            try:
                await self.nc.flush(timeout=5)
            except Exception as e:
                self.log("warning", f"flush failed: {type(e).__name__}: {e}")

    async def publish(self, topic: str, payload: Any, **kw: Any) -> None:
        """Publish one payload (`_as_is` honoured) on `topic`."""
        await self.connection.publish(topic, codec.encode_payload(payload), **kw)
        self.stats.published += 1

    def encode_outputs(self, outputs: list[tuple[str, Any]]) -> list[Body]:
        """One body per item, or one array per subject with `batch: true`, or one frame message per subject with
        `frames` (when the subject's items are all frames)."""
        if not outputs:
            return []
        if self._batch:
            subjects = list(map(_first, outputs))
            if subjects.count(subjects[0]) == len(subjects):  # the usual case, checked at C speed
                grouped = {subjects[0]: list(map(_second, outputs))}
            else:
                grouped = {}
                for subject, payload in outputs:
                    grouped.setdefault(subject, []).append(payload)
            bodies: list[Body] = []
            # `next` fans the same items out to several converters: encode them once and send the bytes to each
            encoded: list[tuple[list[Any], list[Body]]] = []
            for subject, items in grouped.items():
                for earlier, earlier_bodies in encoded:
                    if len(earlier) == len(items) and all(map(is_, earlier, items)):
                        bodies.extend((subject, *rest) for _, *rest in earlier_bodies)
                        break
                else:
                    own: list[Body] = []
                    if self.frames_encoding is not None and all(map(frames.is_frame, items)):
                        own = _sized_frames(subject, items, self.frames_encoding, self._whole_frame)
                        encoded.append((items, own))
                        bodies.extend(own)
                        continue
                    for start in range(0, len(items), MAX_BATCH_ITEMS):
                        own.extend(_sized_batches(subject, items[start : start + MAX_BATCH_ITEMS]))
                    encoded.append((items, own))
                    bodies.extend(own)
            return bodies
        encode = codec.encode_payload
        return [(s, encode(p), 1, None) for s, p in outputs]

    @property
    def shared_columns(self) -> SharedColumns:
        """This role's use of the shared-columns bucket (karez.shared_columns), made on first use."""
        if self._shared_columns is None:
            # JetStream imports only where frames are shared
            from karez.cluster import stream_replicas
            from karez.durable import jetstream_of
            from karez.shared_columns import SharedColumns

            replicas = stream_replicas(self.connection, getattr(self.delivery, "replicas", None))
            self._shared_columns = SharedColumns(jetstream_of(self), replicas)
        return self._shared_columns

    async def share_columns(self, outputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Outputs to publish, their frames' per-series columns shared when this role publishes compact frames
        durably (and `share_columns` is not off)."""
        if (
            self.frames_encoding != frames.COMPACT
            or not self.delivery.stores_publishes
            or not outputs
            or not self._shares_columns
        ):
            return outputs
        return await self.shared_columns.share(outputs)

    def _whole_frame(self, frame: dict[str, Any]) -> dict[str, Any]:
        return self.shared_columns.unshared(frame)

    async def restore_columns(self, items: list[Any]) -> list[Any]:
        """Decoded items with the shared columns of their frames put back (fetched from the bucket when new)."""
        return await self.shared_columns.restore(items) if frames.has_shared_columns(items) else items

    async def emit(
        self, outputs: list[tuple[str, Any]], msg_id: str | None = None, ack_timeout: float | None = None
    ) -> None:
        """Publish routed outputs (JetStream with dedupe ids when durable, each PubAck awaited for `ack_timeout` s,
        None: karez.durable's default)."""
        outputs = await self.share_columns(await fused_outputs(self, outputs))
        if not outputs:
            return
        bodies = self.encode_outputs(outputs)
        if self.delivery.stores_publishes or msg_id is not None:
            from karez.durable import PUBACK_TIMEOUT, publish_bodies

            await publish_bodies(self, bodies, msg_id, ack_timeout=ack_timeout or PUBACK_TIMEOUT)
            return
        publish = self.connection.publish
        for subject, body, count, headers in bodies:
            await publish(subject, body, headers=headers)
            self.stats.published += count
            self._unflushed_bytes += len(body)

    # ----- receiving -----
    async def _on_message(self, msg: Msg) -> None:
        """Core subscription callback: never lets an exception escape (a bad message must not kill the role)."""
        try:
            await self._subscribe_handler(msg)
        except Exception as e:
            self.log_exception(e, f"Error handling message on {msg.subject}")
        self._handled += 1
        if self._unflushed_bytes > FLUSH_BYTES:
            # Core NATS has no flow control: when every role shares a process, what they publish comes back to the
            # same socket, and the server cuts a client off once 64 MiB wait for it. A PING/PONG round trip after
            # each MiB published lets the reader catch up with everything queued before the PONG (backpressure).
            self._unflushed_bytes = 0
            await self.flush()
        elif not self._handled & 31:
            # nats-py hands queued messages over without suspending; yield so that the socket reader and
            # flusher run, otherwise a backlog starves them and the server cuts us off as a slow consumer
            await asyncio.sleep(0)

    def decode(self, msg: Msg) -> list[Any] | None:
        """Items carried by a message (a frame's rows for a role that does not take frames), or None (counted as
        dropped, the reason in `decode_error`) when it cannot be read."""
        try:
            items = frames.decode_body(msg.data, msg.headers)
            return items if self.frames_encoding is not None else frames.expand(items)
        except ValueError as e:
            self.decode_error = str(e)
            self.stats.dropped += 1
            self.log("error", f"Dropped an unreadable message on {msg.subject}: {self.decode_error}")
            return None

    async def _subscribe_handler(self, msg: Msg) -> None:
        """Decode, handle, publish; durable consumers call `handle_items` themselves."""
        items = self.decode(msg)
        if items is None:
            return
        self.stats.received += frames.count_items(items)
        try:
            items = await self.restore_columns(items)
        except (ValueError, LookupError) as e:
            self.stats.dropped += 1
            self.log("error", f"Dropped a message on {msg.subject} whose shared columns cannot be read: {e}")
            return
        await self.emit(await self.handle_items(items, msg.subject))

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Process received items and return `(subject, payload)` outputs (kinds override)."""
        raise NotImplementedError

    async def process(self, payload: Any) -> Any:
        """Kind-specific processing hook."""
        raise NotImplementedError


class RestfulRoleMixin(ConfigurableBase):
    """REST settings and one reused `httpx.AsyncClient` per role."""

    log: Callable[..., None]  # RoleBase's, in the roles this mixes into

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """REST keys of upstream Karez."""
        yield from super().config_entities()
        yield ConfigEntity("base_url", "Base URL of the REST API")
        yield OptionalConfigEntity("security", None, "Security settings, only {type: basic, username, password}")
        yield OptionalConfigEntity("connection_args", {}, "Extra keyword arguments for httpx.AsyncClient")
        yield OptionalConfigEntity("retry", 3, "Attempts of try_request")
        yield OptionalConfigEntity("max_keepalive_connections", 10, "HTTP keep-alive connections")
        yield OptionalConfigEntity("max_connections", 100, "Maximum concurrent HTTP connections")

    _http_client: httpx.AsyncClient | None = None
    _semaphore: asyncio.Semaphore | None = None

    def build_http_client(self) -> httpx.AsyncClient:
        """A new client with base_url, basic auth, limits and `connection_args`."""
        security = self.config.security
        auth = None
        if security:
            if str(security.get("type", "")).lower() != "basic":
                raise NotImplementedError(f"Unsupported security type: {security.get('type')}")
            auth = httpx.BasicAuth(security.get("username"), security.get("password"))
        limits = httpx.Limits(
            max_keepalive_connections=self.config.max_keepalive_connections,
            max_connections=self.config.max_connections,
        )
        args = dict(self.config.connection_args or {})
        return httpx.AsyncClient(base_url=self.config.base_url, auth=auth, limits=limits, **args)

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The role's shared HTTP client, created on first use."""
        if self._http_client is None or self._http_client.is_closed:
            self._http_client = self.build_http_client()
        return self._http_client

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """Bounds concurrent `try_request` calls to `max_connections`."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.max_connections)
        return self._semaphore

    async def try_request(self, client: httpx.AsyncClient, url: str, **kwargs: Any) -> Any:
        """GET `url` with up to `retry` attempts; the JSON body on 200, else None."""
        attempts = max(1, int(self.config.retry or 1))
        for i in range(attempts):
            last = i == attempts - 1
            try:
                async with self.semaphore:
                    r = await unlinked(client.get(url, **kwargs))
                if r.status_code == 200:
                    return r.json()
                self.log("error" if last else "warning", f"GET {url} returned {r.status_code}", i)
            except Exception as e:
                self.log("error" if last else "warning", f"GET {url} failed: {type(e).__name__}: {e}", i)
            if not last:
                await asyncio.sleep(1)
        return None

    async def close_http_client(self) -> None:
        """Close the shared HTTP client."""
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None
