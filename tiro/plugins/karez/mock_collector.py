"""Collecting from a Tiro mock server: the dispatcher lists the points, the connector fetches their values."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from karez.codec import dumps, loads
from karez.config import ConfigEntity, OptionalConfigEntity
from karez.connector.restful import RestfulConnectorBase
from karez.dispatcher.base import DispatcherBase
from karez.errors import RetryableError
from karez.frames import SERIES_COLUMN, are_series_ids
from karez.utils import unlinked
from tiro.frames import column_frames, points_frames
from tiro_models.series import SeriesMemory

BY_CHOICES = ("path", "uuid")
_CATEGORY_CACHE_LIMIT = 1 << 20  # remembered path categories (a 10^6-point hall fits)
# Answers that say "not now" rather than "not this": 429 and 5xx; other 4xx answers are about the request itself.
_UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class MockServerUnavailable(RetryableError, ConnectionError):
    """The mock server could not answer (unreachable, timed out, 5xx): the task is fine and worth retrying later."""


def _check_by(role: Any) -> str:
    by = str(role.config.by or "path").lower()
    if by not in BY_CHOICES:
        raise ValueError(f"{role!r}: 'by' must be one of {', '.join(BY_CHOICES)}, got {role.config.by!r}")
    return by


@dataclass(frozen=True, slots=True)
class _Listing:
    """The last listing a dispatcher read: its body, the server's ETag for it (None without one) and its entities."""

    body: bytes
    etag: str | None
    entities: list[Any]


class DispatcherForMockServer(DispatcherBase):
    """Lists the mock server's data-point paths (by: path) or uuids (by: uuid) and dispatches them as tasks."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Mock server address and which route family to use."""
        yield from super().config_entities()
        yield OptionalConfigEntity("base_url", "http://localhost:8000", "Base URL of the mock server")
        yield OptionalConfigEntity("by", "path", "Collect by data-point path or by uuid")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Dispatch the data points of a Tiro mock server."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._route = "/points/" if _check_by(self) == "path" else "/values/"

    def _client(self) -> httpx.AsyncClient:
        """The role's HTTP client for this event loop, kept between rounds: building one (its TLS context) took 8% of
        the CPU of a per-item pipeline dispatching every second."""
        loop = asyncio.get_running_loop()
        kept = self.__dict__.get("_http")
        if kept is None or kept[0] is not loop or kept[1].is_closed:
            kept = self.__dict__["_http"] = (loop, httpx.AsyncClient(base_url=self.config.base_url, timeout=30))
        return kept[1]

    async def load_entities(self) -> list[Any]:
        """The mock server's listing, fetched every round (one async request; the event loop is never blocked)."""
        # A 10^5-point listing is megabytes of JSON and rarely changes: asked with its ETag, the server answers 304
        # (Tiro 0.13's mock has no ETag: then the body is compared, and parsed again only when it changed).
        last: _Listing | None = self.__dict__.get("_listing")
        headers = {"If-None-Match": last.etag} if last is not None and last.etag else None
        response = await unlinked(self._client().get(self._route, headers=headers))
        if response.status_code == 304 and last is not None:
            return list(last.entities)
        response.raise_for_status()
        body = response.content
        if last is not None and last.body == body:
            return list(last.entities)
        entities = loads(body)
        if not isinstance(entities, list):
            raise ValueError(f"GET {self._route} returned a {type(entities).__name__}, not a list of points")
        self.__dict__["_listing"] = _Listing(body, response.headers.get("etag"), entities)
        return list(entities)

    async def close(self) -> None:
        """Close the HTTP client (if this loop made it) and the NATS connection."""
        kept = self.__dict__.pop("_http", None)
        if kept is not None and kept[0] is asyncio.get_running_loop():
            await kept[1].aclose()
        await super().close()


class ConnectorForMockServer(RestfulConnectorBase):
    """Fetches the values of dispatched paths: one POST /points/batch per task, or concurrent per-point GETs.

    With `frames` a batch answer becomes `tiro.points` frames (tiro.frames), one per category.

    `batch_fetch` is about HTTP only (NATS messages stay per item unless `batch: true`): `auto` uses the batch route
    and falls back to per-point GETs for good when the server has no such route (Tiro 0.13's mock), `false` always
    GETs each point as Tiro 0.13's connector did, `true` always posts."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Route family on top of the REST connector keys; connection defaults suited to one local mock server."""
        yield from super().config_entities()
        yield OptionalConfigEntity("by", "path", "Collect by data-point path or by uuid")
        # Per-point GETs come ten or more at a time: with the generic defaults (100 connections, 10 kept alive) most
        # requests opened and closed a TCP connection, which cost more CPU than the request itself.
        yield OptionalConfigEntity("max_connections", 4, "Maximum concurrent HTTP connections")
        yield OptionalConfigEntity("max_keepalive_connections", None, "HTTP keep-alive connections (null: all)")
        yield OptionalConfigEntity("batch_fetch", "auto", "POST /points/batch per task: auto, true or false")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Fetch data-point values from a Tiro mock server."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by = _check_by(self)
        self._batch_fetch = _check_batch_fetch(self)

    FRAMES = True

    async def fetch_data(self, client: httpx.AsyncClient, entities: list[Any]) -> list[dict]:
        """Items `{path, result, _karez.category}` (by path) or `{name, value}` (by uuid).

        A path the server refuses (4xx) or answers with garbage is logged and skipped. A server that cannot answer
        (unreachable, timeout, 5xx) counts one error per task batch; in durable mode it raises MockServerUnavailable
        so that the task is redelivered once the server is back (in core mode the batch is lost, as core mode is)."""
        if self._by == "uuid":
            outcomes = await asyncio.gather(*(self._by_uuid(client, e) for e in entities))
        elif len(entities) > 1 and self._batch_fetch is not False:
            outcomes = await self._by_batch(client, entities)
            if outcomes is _NO_BATCH_ROUTE:
                outcomes = await asyncio.gather(*(self._by_path(client, e) for e in entities))
        else:
            outcomes = await asyncio.gather(*(self._by_path(client, e) for e in entities))
        down = [o for o in outcomes if o.__class__ is MockServerUnavailable]
        if down:
            self._unavailable(down[0], len(down), len(entities))
            outcomes = [o for o in outcomes if o.__class__ is not MockServerUnavailable]
        return [o for o in outcomes if o is not None]

    def _unavailable(self, first: MockServerUnavailable, failed: int, asked: int) -> None:
        """Raise (durable mode: the task is redelivered later) or log and count the lost batch (core mode)."""
        error = first if failed == 1 else MockServerUnavailable(f"{failed} of {asked} requests failed, e.g. {first}")
        if self.delivery.redelivers:
            raise error  # PullConnectorBase.process counts and logs it before the durable consumer sees it
        self.stats.errors += 1
        self.log("error", f"{error} (core mode: those tasks are not retried)")

    async def _get(self, client: httpx.AsyncClient, url: str) -> Any:
        """The JSON answer of GET `url`; None (logged) for a refused or malformed answer; MockServerUnavailable."""
        async with self.semaphore:
            try:
                response = await unlinked(client.get(url))
            except httpx.HTTPError as e:
                return MockServerUnavailable(f"GET {url} failed: {type(e).__name__}: {e}")
        if response.status_code in _UNAVAILABLE_STATUSES:
            return MockServerUnavailable(f"GET {url} returned {response.status_code}: {response.text[:200]}")
        if response.status_code != 200:
            self._data_error(f"GET {url} returned {response.status_code}: {response.text[:200]}")
            return None
        try:
            return loads(response.content)
        except ValueError as e:
            self._data_error(f"GET {url} returned a body that is not JSON: {e}")
            return None

    def _data_error(self, text: str) -> None:
        """A path the server cannot answer (not worth retrying): logged, counted, and the rest goes on."""
        self.stats.errors += 1
        self.log("error", text)

    async def _by_path(self, client: httpx.AsyncClient, path: str) -> Any:
        result = await self._get(client, f"/points/{path}")
        if result is None or result.__class__ is MockServerUnavailable:
            return result
        return self.update_meta({"path": path, "result": result}, category=_category_of(path))

    async def _by_uuid(self, client: httpx.AsyncClient, uuid: str) -> Any:
        value = await self._get(client, f"/values/{uuid}")
        if value is None or value.__class__ is MockServerUnavailable:
            return value
        return {"name": uuid, "value": value}

    async def _by_batch(self, client: httpx.AsyncClient, paths: list[str]) -> list[Any]:
        # with frames the answer is asked for as columns (a mock without that form answers {path: DP} as before)
        route = "/points/batch?form=columns" if self.frames_encoding is not None else "/points/batch"
        async with self.semaphore:
            try:
                response = await unlinked(client.post(route, content=dumps(paths), headers=_JSON))
            except httpx.HTTPError as e:
                return [
                    MockServerUnavailable(f"POST /points/batch ({len(paths)} paths) failed: {type(e).__name__}: {e}")
                ]
        if response.status_code in _UNAVAILABLE_STATUSES:
            text = f"POST /points/batch ({len(paths)} paths) returned {response.status_code}: {response.text[:200]}"
            return [MockServerUnavailable(text)]
        if response.status_code in (404, 405) and self._batch_fetch == "auto":
            self._batch_fetch = False  # a mock without the batch route (Tiro 0.13): per-point GETs from now on
            self.log("info", "mock server has no POST /points/batch: fetching each point with GET")
            return _NO_BATCH_ROUTE
        if response.status_code != 200:
            self._data_error(
                f"POST /points/batch ({len(paths)} paths) returned {response.status_code}: {response.text[:200]}"
            )
            return []
        try:
            body = loads(response.content)  # orjson: the stdlib decoder was a hot spot at 10^5 points/s
            columns = _checked_columns(body.get("columns"), body.get("model"))
            points = body.get("other" if columns is not None else "points", {})
            unknown = body.get("unknown")
            if not isinstance(points, dict):
                raise ValueError(f"'points' is a {type(points).__name__}, not an object")
        except (ValueError, AttributeError) as e:
            self._data_error(f"POST /points/batch ({len(paths)} paths) returned a body that is not a batch answer: {e}")
            return []
        if unknown:
            self._data_error(f"mock server does not know {len(unknown)} paths, e.g. {unknown[0]}")
        categories = self.__dict__.get("_categories")
        if categories is None or len(categories) > _CATEGORY_CACHE_LIMIT:
            categories = self.__dict__["_categories"] = _Categories()
        if self.frames_encoding is not None:
            model = body.get("model") if columns and SERIES_COLUMN in columns else None
            framed = column_frames(columns, categories.of_rows(columns, model), model) if columns else []
            return framed + points_frames(points, categories.__getitem__)
        return [{"path": p, "result": dp, "_karez": {"category": categories[p]}} for p, dp in points.items()]


_NO_BATCH_ROUTE: list[Any] = []  # identity sentinel: the server has no batch route
_JSON = {"content-type": "application/json"}
_COLUMNS = ("path", "value", "timestamp", "unit")


def _checked_columns(columns: Any, model: Any = None) -> dict[str, list[Any]] | None:
    """The columns of a batch answer in column form (None: the {path: DP} form), with its series ids when it names
    their model; ValueError naming what is wrong."""
    if columns is None:
        return None
    if not isinstance(columns, dict) or any(not isinstance(columns.get(name), list) for name in _COLUMNS):
        raise ValueError(f"'columns' must hold the arrays {', '.join(_COLUMNS)}")
    if len({len(columns[name]) for name in _COLUMNS}) != 1:
        raise ValueError("its columns differ in length")
    if columns["path"] and set(map(type, columns["path"])) != {str}:
        raise ValueError("a path in its 'path' column is not a string")
    checked = {name: columns[name] for name in _COLUMNS}
    ids = columns.get("series")
    if ids is not None and isinstance(model, str) and model:
        if not isinstance(ids, list) or len(ids) != len(checked["path"]) or not are_series_ids(ids):
            raise ValueError("its 'series' column is not an integer id per path")
        checked[SERIES_COLUMN] = ids  # the answer's ids become the frame's series column
    return checked


def _check_batch_fetch(role: Any) -> bool | str:
    """`auto`, True or False from the `batch_fetch` key (`batch: true` on NATS implies posting, as before)."""
    value = role.config.batch_fetch
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "auto"):
        value = {"true": True, "false": False, "auto": "auto"}[value.strip().lower()]
    if value not in (True, False, "auto"):
        raise ValueError(f"{role.name}: batch_fetch must be auto, true or false, not {value!r}")
    if value == "auto" and role.config.batch:
        return True
    return value


class _Categories(dict[str, str]):
    """`_category_of` of each path asked for, remembered (the same paths come back every round; a hit is one
    C-level lookup), and by series id within a model once its ids came with their paths."""

    def __init__(self) -> None:
        super().__init__()
        self.by_model: SeriesMemory[str] = SeriesMemory(_CATEGORY_CACHE_LIMIT)

    def __missing__(self, path: str) -> str:
        category = self[path] = _category_of(path)
        return category

    def of_rows(self, columns: dict[str, list[Any]], model: str | None) -> list[str]:
        """The category of each row of checked columns; by id when every id is known (no path string hashed)."""
        ids = columns.get(SERIES_COLUMN) if model else None
        if ids is None or model is None:
            return list(map(self.__getitem__, columns["path"]))
        found = self.by_model.lookup(model, ids)
        if found is not None:
            return found
        categories = list(map(self.__getitem__, columns["path"]))
        self.by_model.learn(model, zip(ids, categories, strict=True))
        return categories


def _category_of(path: str) -> str:
    """`telemetry` or `attribute`: the lower-cased second-to-last path segment, as upstream."""
    parts = path.rsplit(".", 2)
    return parts[-2].lower() if len(parts) == 3 else "telemetry"
