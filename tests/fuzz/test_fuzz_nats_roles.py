"""Fuzz NATS messages into running roles (a converter, tiro_validate, tiro_store) on a real nats-server.

Every bad message is counted as dropped or as an error, no role crashes or restarts, and a valid message sent
afterwards is processed (messages of one connection arrive in order, so it comes after every bad one).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from fuzz_support import draw_cases
from hypothesis import strategies as st

from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsOptions
from karez.plugins import all_plugins
from karez.runtime import Runtime, build_roles
from karez.settings import load_settings
from tiro.examples import example_dir, example_files
from tiro.stores.urls import open_telemetry_store
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import decompose

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stores"))
from http_double import influx_double

STUBS = {
    "converter/tiro_preprocess.py": "from tiro.plugins.karez import TiroPreprocessConverter as Converter\n",
    "aggregator/tiro_validate.py": "from tiro.plugins.karez import ValidationAggregator as Aggregator\n",
    "aggregator/tiro_store.py": "from tiro.plugins.karez import TiroStoreAggregator as Aggregator\n",
    "aggregator/influx_writer.py": "from tiro.plugins.karez import InfluxWriterAggregator as Aggregator\n",
}
SCENARIO, USES = example_files(example_dir("datahall"))
FLAT = Mocker(instantiate(load_model(SCENARIO, USES), seed=2), seed=2).flat()
SOME_PATH, SOME_DP = next(iter(FLAT.items()))

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=15,
)
path_like = st.one_of(
    st.sampled_from([SOME_PATH, SOME_PATH + ".x", "No.Such.Telemetry.Point", "", ".", "a..b", SOME_PATH.upper()]),
    st.text(max_size=40),
    json_values,
)
result_like = st.one_of(
    st.just(SOME_DP),
    st.fixed_dictionaries({"value": json_values, "timestamp": json_values}),
    st.fixed_dictionaries({"value": st.sampled_from([math.nan, math.inf, -math.inf, 1e308])}),
    json_values,
)
shaped_items = st.fixed_dictionaries({"path": path_like, "result": result_like})
record_like = st.fixed_dictionaries(
    {"asset_path": path_like, "type": json_values, "field": json_values},
    optional={"value": json_values, "timestamp": json_values, "unit": json_values, "path": json_values},
)


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # Python's json writes NaN/Infinity literals


messages = st.one_of(
    st.binary(max_size=100),  # non-JSON and invalid UTF-8
    st.sampled_from([b"\xff\xfe\xfd", b'{"path": "\xff"}', b"NaN", b"[Infinity, -Infinity]", b"", b"{", b"[]"]),
    json_values.map(_dumps),  # wrong shapes
    shaped_items.map(_dumps),  # unknown paths, wrong types, NaN values
    record_like.map(_dumps),
    st.lists(st.one_of(shaped_items, record_like, json_values), max_size=5).map(_dumps),  # arrays of items
)
HUGE = [
    _dumps({"path": "x" * 800_000, "result": {"value": 1}}),
    _dumps([{"path": SOME_PATH, "result": {"value": "y" * 1000}}] * 700),
    _dumps({"asset_path": "a" * 600_000, "type": "T", "field": "f", "value": 1, "timestamp": 1}),
]


@pytest.fixture(scope="module")
def nats_server() -> AsyncIterator[EmbeddedNats]:
    """A real JetStream nats-server on loopback for this module."""
    with EmbeddedNats() as server:
        yield server


def _runtime(tmp_path: Path, nats_url: str, config: dict, **options: bool) -> Runtime:
    """A Runtime of `config`'s roles (Tiro's plugins as a plugin folder), as `karez deploy` builds it."""
    for rel, text in STUBS.items():
        (tmp_path / "plugins" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "plugins" / rel).write_text(text)
    (tmp_path / "karez.yaml").write_text(yaml.safe_dump(config))
    settings = load_settings([str(tmp_path / "karez.yaml")], environ={})
    roles = build_roles(settings, all_plugins(tmp_path / "plugins"))
    return Runtime(roles, NatsOptions.from_address(nats_url), metrics_interval=0, **options)


@pytest.fixture
async def runtime(nats_server: EmbeddedNats, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The three roles in-process, as `karez deploy` runs them."""
    uses = ",".join(map(str, USES))
    config = {
        "converters": [{"type": "tiro_preprocess", "name": "pre"}],
        "aggregators": [
            {"type": "tiro_validate", "name": "val", "category": "validation_data", "scenario": str(SCENARIO),
             "uses": uses, "retention": 3600, "log_file": str(tmp_path / "validation.log")},
            {"type": "tiro_store", "name": "store", "category": "graph_data", "store": f"sqlite:///{tmp_path}/t.db",
             "scenario": str(SCENARIO), "uses": uses, "batch_size": 1, "flush_interval": 0.05},
        ],
    }  # fmt: skip
    rt = _runtime(tmp_path, nats_server.url, config)
    await rt.start()
    yield rt
    await rt.shutdown()


async def _until(condition, what: str, timeout: float = 30) -> None:
    """Poll what the roles update as they work (the bound only stops a hung test; nothing is timed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _role(rt: Runtime, kind: str, name: str):
    return next(r for r in rt.roles[kind] if r.name == name)


def _assert_alive(rt: Runtime) -> None:
    assert all(not task.done() for task in rt._supervisors), "a role task ended"
    assert all(role.stats.restarts == 0 for _, role in rt.all_roles()), "a role crashed and was restarted"


async def test_nats_messages_into_running_roles(runtime: Runtime, nats_server: EmbeddedNats, tally, tmp_path) -> None:
    cases = draw_cases(messages, max_examples=200) + HUGE
    pre, val = _role(runtime, "converter", "pre"), _role(runtime, "aggregator", "val")
    store = _role(runtime, "aggregator", "store")
    client = await nats.connect(nats_server.url)
    outputs: list[bytes] = []

    async def keep(msg) -> None:
        outputs.append(msg.data)

    await client.subscribe("karez.*.pre", cb=keep)
    try:
        for body in cases:
            for subject in ("karez.converter.pre", "karez.validation_data.fuzz", "karez.graph_data.fuzz"):
                await client.publish(subject, body)
            tally.count("sent to 3 roles")
        await client.flush()

        # valid traffic afterwards is processed by each role
        marker = "fuzz-marker"
        await client.publish("karez.converter.pre", _dumps({"path": SOME_PATH, "result": {**SOME_DP, "m": marker}}))
        await client.publish("karez.validation_data.fuzz", _dumps({"path": SOME_PATH, "result": SOME_DP}))
        record = {**next(decompose(SOME_PATH, SOME_DP)), "timestamp": 1_800_000_123.0}
        await client.publish("karez.graph_data.fuzz", _dumps(record))
        await client.flush()
        await _until(lambda: any(marker.encode() in o for o in outputs), "the converter's valid output")
        await _until(lambda: SOME_PATH in val.windows.collector.snapshot(), "the validator collecting the point")
        await _until(lambda: not store._buffer and store.written >= 1, "the store writing the valid record")
    finally:
        await client.close()

    _assert_alive(runtime)
    for role in (pre, val, store):
        assert role.stats.dropped + role.stats.errors > 0, f"{role.name} counted no bad message"
    report = val.windows.close()  # the window holding whatever the fuzz left must still validate
    assert report.to_dict()["valid"] in (True, False)
    telemetry = open_telemetry_store(f"sqlite:///{tmp_path}/t.db")
    try:
        stored = telemetry.history("%%", since=0)
    finally:
        telemetry.close()
    assert stored, "the valid record is not in the store"
    tally.boundary = "NATS messages into tiro_preprocess, tiro_validate, tiro_store"
    for role in (pre, val, store):
        tally.outcomes[f"{role.name}.dropped"] = role.stats.dropped
        tally.outcomes[f"{role.name}.errors"] = role.stats.errors


# ----- frames (karez.frames): malformed, truncated and foreign-model frames into roles that take frames -----
_COLUMN_NAMES = ["path", "value", "timestamp", "unit", "other", "series"]
_two = {"min_size": 2, "max_size": 2}
frame_columns = st.one_of(
    st.dictionaries(st.sampled_from(_COLUMN_NAMES), st.lists(json_values, max_size=4)),
    st.fixed_dictionaries(
        {
            "path": st.lists(path_like, **_two),
            "value": st.lists(json_values, **_two),
            "timestamp": st.lists(json_values, **_two),
            "unit": st.lists(json_values, **_two),
        },
        optional={"series": st.lists(st.integers(-1, 3), **_two)},
    ),
    json_values,
)
_SCHEMAS = ["tiro.points", "tiro.records", "other.model", "", "tiro.points/2"]
_SHARED_KEYS = st.one_of(st.sampled_from(["0" * 32, "../k", ""]), json_values)
frame_headers = st.one_of(
    st.fixed_dictionaries(
        {"v": st.sampled_from([1, 2, 0, "1"]), "schema": st.sampled_from(_SCHEMAS)},
        # series ids of a model, and shared columns (karez.shared_columns) the bucket does not hold, or not a key
        optional={"model": st.sampled_from(["tiro.series/1:0", "", 3]), "shared": _SHARED_KEYS},
    ),
    json_values,
)
fuzz_frames = st.fixed_dictionaries(
    {"_frame": frame_headers, "columns": frame_columns}, optional={"_karez": st.one_of(st.just({}), json_values)}
)
VALID_POINTS = {
    "_karez": {"category": "telemetry"},
    "_frame": {"v": 1, "schema": "tiro.points"},
    "columns": {"path": [SOME_PATH], "value": [SOME_DP["value"]], "timestamp": [SOME_DP["timestamp"]],
                "unit": [SOME_DP.get("unit")]},
}  # fmt: skip


def _framed(frames_list: list, encoding: str) -> tuple[bytes, dict[str, str]]:
    from karez.frames import ENCODING_HEADER, frame_body

    body, used = frame_body(frames_list, encoding)  # an integer beyond 64 bits goes as JSON, as a role sends it
    return body, {ENCODING_HEADER: used}


frame_messages = st.one_of(
    st.tuples(st.lists(fuzz_frames, min_size=1, max_size=3), st.sampled_from(["frames/1+msgpack", "frames/1+json"])),
    st.tuples(st.binary(max_size=60), st.sampled_from(["frames/1+msgpack", "frames/1+json", "frames/9+cbor"])),
    st.integers(1, 200),  # a valid frame message cut short by this many bytes
)


@pytest.fixture
def influx_sink() -> Iterator[Any]:
    """An InfluxDB stand-in that takes every write (tests/stores/http_double.py)."""
    with influx_double() as double:
        yield double


@pytest.fixture
async def frame_runtime(nats_server: EmbeddedNats, tmp_path: Path, influx_sink: Any) -> AsyncIterator[Runtime]:
    """tiro_preprocess, line protocol, tiro_validate, tiro_store and influx_writer with `frames: true`, in-process."""
    uses = ",".join(map(str, USES))
    config = {
        "converters": [
            {"type": "tiro_preprocess", "name": "fpre", "frames": True, "next": "flp"},
            {"type": "influx_line_protocol", "name": "flp", "measurement": "m", "field_name": "field", "frames": True},
        ],
        "aggregators": [
            {"type": "tiro_validate", "name": "fval", "category": "fvalidation", "scenario": str(SCENARIO),
             "uses": uses, "retention": 3600, "log_file": str(tmp_path / "validation.log"), "frames": True},
            {"type": "tiro_store", "name": "fstore", "category": "fgraph", "store": f"sqlite:///{tmp_path}/t.db",
             "scenario": str(SCENARIO), "uses": uses, "batch_size": 1, "flush_interval": 0.05, "frames": True},
            # its own copy of the store's frames, written to an InfluxDB stand-in
            {"type": "influx_writer", "name": "finflux", "category": "fgraph", "url": influx_sink.url,
             "token": "fuzz", "batch_size": 1, "flush_interval": 0.05, "frames": True},
        ],
    }  # fmt: skip
    rt = _runtime(tmp_path, nats_server.url, config, fuse=False)
    await rt.start()
    yield rt
    await rt.shutdown()


async def test_frames_into_running_roles(frame_runtime: Runtime, nats_server: EmbeddedNats, tally) -> None:
    from karez.frames import COMPACT, READABLE

    valid_body, _ = _framed([VALID_POINTS], COMPACT)
    cases = []
    for drawn in draw_cases(frame_messages, max_examples=150):
        if isinstance(drawn, int):
            cases.append((valid_body[: max(0, len(valid_body) - drawn)], {"Karez-Encoding": COMPACT}))
        elif isinstance(drawn[0], list):
            cases.append(_framed(drawn[0], drawn[1]))
        else:
            cases.append((drawn[0], {"Karez-Encoding": drawn[1]}))
    subjects = ("karez.converter.fpre", "karez.converter.flp", "karez.fvalidation.fuzz", "karez.fgraph.fuzz")
    rt = frame_runtime
    pre, lp = _role(rt, "converter", "fpre"), _role(rt, "converter", "flp")
    val, store = _role(rt, "aggregator", "fval"), _role(rt, "aggregator", "fstore")
    influx = _role(rt, "aggregator", "finflux")
    client = await nats.connect(nats_server.url)
    lines: list[bytes] = []

    async def keep(msg) -> None:
        lines.append(msg.data)

    await client.subscribe("karez.telemetry.flp", cb=keep)
    try:
        for body, headers in cases:
            for subject in subjects:
                await client.publish(subject, body, headers=headers)
            tally.count("sent to 5 roles")
        await client.flush()
        # a valid frame afterwards is processed by each role
        for subject in ("karez.converter.fpre", "karez.fvalidation.fuzz"):
            body, headers = _framed([VALID_POINTS], READABLE)
            await client.publish(subject, body, headers=headers)
        record = {**next(decompose(SOME_PATH, SOME_DP)), "timestamp": 1_800_000_321.0}
        await client.publish("karez.fgraph.fuzz", _dumps(record))
        records = {**VALID_POINTS, "_frame": {"v": 1, "schema": "tiro.records"}}
        records["columns"] = {**VALID_POINTS["columns"], "timestamp": [1_800_000_321.0], "value": [1.5]}
        body, headers = _framed([records], COMPACT)
        await client.publish("karez.fgraph.fuzz", body, headers=headers)
        await client.flush()
        await _until(lambda: any(SOME_PATH.rsplit(".", 1)[-1].encode() in line for line in lines), "a line of it")
        await _until(lambda: SOME_PATH in val.windows.collector.snapshot(), "the validator collecting the point")
        await _until(lambda: not store._buffer and store.written >= 1, "the store writing the valid record")
        await _until(lambda: influx.lines_written >= 1, "influx_writer writing the valid frame's line")
    finally:
        await client.close()
    _assert_alive(rt)
    for role in (pre, lp, val, store, influx):
        assert role.stats.dropped + role.stats.errors > 0, f"{role.name} counted no bad frame"
    tally.boundary = (
        "frame messages into tiro_preprocess, influx_line_protocol, tiro_validate, tiro_store, influx_writer"
    )
    for role in (pre, lp, val, store, influx):
        tally.outcomes[f"{role.name}.dropped"] = role.stats.dropped
        tally.outcomes[f"{role.name}.errors"] = role.stats.errors
