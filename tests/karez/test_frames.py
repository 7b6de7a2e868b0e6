"""Frames (karez.frames): the wire forms, the checks a receiver makes, and frames through a chain on a real
nats-server, fused and over NATS, next to roles that take per-item objects."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import msgspec
import orjson
import pytest
from test_fusion import lines, outputs_of
from test_karez_routing import capture

from karez import frames
from karez.converter.base import ConverterBase
from karez.converter.extras.influx_line_protocol import Converter as LineProtocol
from karez.frames import COMPACT, ENCODING_HEADER, READABLE, FrameError, FrameSchema, make_frame, register_schema


def uid() -> str:
    return uuid.uuid4().hex[:8]


def _pairs(frame: dict[str, Any], indices: Any) -> list[dict[str, Any]]:
    columns = frame["columns"]
    rows = range(len(columns["k"])) if indices is None else indices
    return [{"k": columns["k"][i], "value": columns["value"][i], "timestamp": columns["timestamp"][i]} for i in rows]


PAIRS = register_schema(FrameSchema("test.pairs", ("k", "value", "timestamp"), _pairs))


def pairs_frame(n: int, category: str = "telemetry") -> dict[str, Any]:
    columns = {
        "k": [f"s{i % 7}" for i in range(n)],
        "value": [i / 3 for i in range(n)],
        "timestamp": [1.7e9 + i for i in range(n)],
    }
    return make_frame(PAIRS.name, columns, {"category": category})


# ----- the wire forms and the checks -----
@pytest.mark.parametrize("encoding", [COMPACT, READABLE])
def test_a_frame_message_decodes_to_the_frames_it_was_encoded_from(encoding):
    sent = [pairs_frame(5), pairs_frame(3, "attribute")]
    got = frames.decode_body(frames.encode_frames(sent, encoding), {ENCODING_HEADER: encoding})
    assert got == sent
    assert frames.count_items(got) == 8
    assert [row["k"] for row in frames.expand(got)] == [f"s{i % 7}" for i in range(5)] + ["s0", "s1", "s2"]
    assert frames.expand(got)[6]["_karez"] == {"category": "attribute"}


def test_a_message_without_the_header_is_json_items_as_before_and_a_json_frame_first_in_it_is_checked():
    assert frames.decode_body(b'[{"a": 1}, {"b": 2}]', None) == [{"a": 1}, {"b": 2}]
    assert frames.decode_body(orjson.dumps(pairs_frame(2)), None) == [pairs_frame(2)]
    with pytest.raises(FrameError, match="columns differ in length"):
        bad = pairs_frame(2)
        bad["columns"]["k"].append("extra")
        frames.decode_body(orjson.dumps(bad), None)
    with pytest.raises(ValueError, match=r"message is not JSON \("):
        frames.decode_body(b"garbage", None)


def broken(change) -> dict[str, Any]:
    frame = pairs_frame(3)
    change(frame)
    return frame


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (broken(lambda f: f.update(_frame={"v": 2, "schema": "test.pairs"})), "frame version 2 is not supported"),
        (broken(lambda f: f.update(_frame=[1])), "frame header '_frame' is a list, not an object"),
        (broken(lambda f: f["_frame"].update(schema=7)), "frame schema is 7, not a name"),
        (broken(lambda f: f["_frame"].update(schema="other.model")), "frame schema 'other.model' is not known"),
        (broken(lambda f: f.pop("columns")), "frame of test.pairs has no 'columns' object"),
        (broken(lambda f: f["columns"].update(value=5)), "column 'value' is a int, not an array"),
        (broken(lambda f: f["columns"].pop("timestamp")), "lacks column(s) 'timestamp'"),
        (broken(lambda f: f.update(_karez="x")), "meta '_karez' is a str, not an object"),
        (broken(lambda f: f["columns"].update(series=[0, 1, 2])), "a 'series' column needs the 'model' it is of"),
        (
            broken(lambda f: (f["columns"].update(series=[0, "1", 2]), f["_frame"].update(model="m1"))),
            "column 'series' holds something else than integer ids",
        ),
    ],
)
@pytest.mark.parametrize("encoding", [COMPACT, READABLE])
def test_a_receiver_refuses_a_frame_it_cannot_read_saying_why(frame, error, encoding):
    with pytest.raises(FrameError, match=error.replace("(", r"\(").replace(")", r"\)")):
        frames.decode_body(frames.encode_frames([frame], encoding), {ENCODING_HEADER: encoding})


def test_an_unknown_encoding_a_truncated_body_and_a_non_frame_are_refused_by_name():
    body = frames.encode_frames([pairs_frame(50)], COMPACT)
    with pytest.raises(FrameError, match=r"Karez-Encoding 'frames/9\+cbor' is not one this karez reads"):
        frames.decode_body(body, {ENCODING_HEADER: "frames/9+cbor"})
    with pytest.raises(FrameError, match=r"body is not frames/1\+msgpack"):
        frames.decode_body(body[: len(body) // 2], {ENCODING_HEADER: COMPACT})
    with pytest.raises(FrameError, match="holds a dict that is not a frame"):
        frames.decode_body(msgspec.msgpack.encode([{"a": 1}]), {ENCODING_HEADER: COMPACT})


def test_frames_is_refused_on_a_role_that_cannot_read_or_write_them_and_takes_true_false_or_json():
    class PerItem(ConverterBase):
        def convert(self, payload):
            yield payload

    with pytest.raises(ValueError, match="frames is set, but PerItem neither reads nor writes frames"):
        PerItem({"type": "per_item", "name": "e", "frames": True}, nats_addr=None)
    with pytest.raises(ValueError, match="frames must be true, false or json, not 'yes'"):
        LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": "yes"}, nats_addr=None)
    assert (
        LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": "json"}, None).frames_encoding
        == READABLE
    )
    assert (
        LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": True}, None).frames_encoding
        == COMPACT
    )
    assert LineProtocol({"type": "influx_line_protocol", "measurement": "m"}, None).frames_encoding is None


def test_a_frame_too_big_for_one_message_is_split_by_rows_and_every_part_carries_the_header():
    lp = LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": True}, None)
    frame = pairs_frame(60_000)
    frame["columns"]["k"] = [f"series-{i:08d}-" + "x" * 20 for i in range(60_000)]
    bodies = lp.encode_outputs([("karez.converter.x", frame)])
    assert len(bodies) > 1 and all(len(body) < 1_000_000 for _, body, _, _ in bodies)
    assert {headers[ENCODING_HEADER] for _, _, _, headers in bodies} == {COMPACT}
    parts = [f for _, body, _, headers in bodies for f in frames.decode_body(body, headers)]
    assert sum(n for _, _, n, _ in bodies) == 60_000
    assert [k for part in parts for k in part["columns"]["k"]] == frame["columns"]["k"]


def test_line_protocol_of_a_frame_is_the_lines_of_its_rows():
    config = {"type": "influx_line_protocol", "measurement": "m", "field_name": "k"}
    frame = pairs_frame(40)
    frame["columns"]["value"][3] = None  # no line, as for an item
    frame["columns"]["value"][4] = 7  # an int: `7i`, the column's other rows stay floats
    per_item = LineProtocol(config, None).convert_batch(frames.expand([frame]), "s")
    block = LineProtocol({**config, "frames": True}, None).convert_batch([frame], "s")
    assert len(block) == 1 and block[0]["_karez"] == {"category": "telemetry"}
    assert block[0]["_as_is"].split("\n") == [line["_as_is"] for line in per_item if line["_as_is"]]
    assert "s4=7i 1700000004000000000" in block[0]["_as_is"]


def with_ids(frame: dict[str, Any], model: str, ids: list[int]) -> dict[str, Any]:
    return make_frame(frame["_frame"]["schema"], {**frame["columns"], "series": ids}, frame["_karez"], model)


def test_line_protocol_keys_its_series_heads_by_id_within_a_model_and_writes_the_same_lines():
    config = {"type": "influx_line_protocol", "measurement": "m", "field_name": "k", "frames": True}
    frame = pairs_frame(40)
    by_path = LineProtocol(config, None).convert_batch([frame], "s")
    ids = [int(k[1:]) for k in frame["columns"]["k"]]  # s0..s6 -> 0..6
    converter = LineProtocol(config, None)
    assert converter.convert_batch([with_ids(frame, "m1", ids)], "s") == by_path
    assert converter.convert_batch([with_ids(frame, "m1", ids)], "s") == by_path  # from the remembered heads
    # another model numbers its series otherwise: its ids name other series, so they are never mixed up
    reversed_ids = [6 - i for i in ids]
    assert converter.convert_batch([with_ids(frame, "m2", reversed_ids)], "s") == by_path
    assert frames.model_of(with_ids(frame, "m2", reversed_ids)) == "m2" and frames.model_of(frame) is None


def test_a_frame_whose_ids_begin_like_a_remembered_column_gets_its_own_rows_heads():
    config = {"type": "influx_line_protocol", "measurement": "m", "field_name": "k", "frames": True}
    frame = pairs_frame(200)  # long enough for the numpy timestamp column
    ids = [int(k[1:]) for k in frame["columns"]["k"]]
    converter = LineProtocol(config, None)
    expected = LineProtocol(config, None).convert_batch([frame], "s")
    for _ in range(2):  # the second time from the remembered column
        assert converter.convert_batch([with_ids(frame, "m1", ids)], "s") == expected
    # the same rows, first id and model, other series after the first row: not the remembered column's heads
    shuffled = {**frame["columns"], "k": [frame["columns"]["k"][0], *frame["columns"]["k"][:0:-1]]}
    other = make_frame(PAIRS.name, shuffled, {"category": "telemetry"})
    other_ids = [int(k[1:]) for k in shuffled["k"]]
    assert other_ids[0] == ids[0] and other_ids != ids
    got = converter.convert_batch([with_ids(other, "m1", other_ids)], "s")
    assert got == LineProtocol(config, None).convert_batch([other], "s") != expected


# ----- a chain on a real nats-server -----
def frame_chain(s: str, frames_on: Any = True) -> dict[str, Any]:
    """number_frames → [echo (per-item objects), line protocol (frames)] and the aggregators."""
    lp_frames = {"frames": frames_on} if frames_on else {}
    return {
        "dispatchers": [
            {"type": "numbers", "name": f"d{s}", "connector": f"src{s}", "interval": 3600, "count": 4, "batch_size": 4}
        ],
        "connectors": [
            {"type": "number_frames", "name": f"src{s}", "converter": [f"e{s}", f"lp{s}"], "batch": True, **lp_frames}
        ],
        "converters": [
            {"type": "echo", "name": f"e{s}", "batch": True},
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", **lp_frames},
        ],
    }


@pytest.mark.parametrize("fuse", [True, False])
async def test_frames_give_the_lines_and_items_per_item_objects_give(nc, start_runtime, tmp_path, fuse):
    s, t = uid(), uid()
    framed = await outputs_of(nc, start_runtime, tmp_path / "f", frame_chain(s), expected=4, fuse=fuse)
    plain = await outputs_of(nc, start_runtime, tmp_path / "p", frame_chain(t, False), expected=4, fuse=fuse)
    assert lines(framed, f"karez.telemetry.lp{s}") == lines(plain, f"karez.telemetry.lp{t}")
    assert len(lines(framed, f"karez.telemetry.lp{s}")) == 4
    # echo does not take frames: it got the frame's rows, and publishes them as per-item objects
    assert json.loads(framed.on(f"karez.telemetry.e{s}")[0].data) == json.loads(
        plain.on(f"karez.telemetry.e{t}")[0].data
    )
    if not fuse:  # over NATS, the frame message says what it is
        (msg,) = framed.on(f"karez.converter.lp{s}")
        assert msg.headers[ENCODING_HEADER] == COMPACT
        assert frames.count_items(frames.decode_body(msg.data, msg.headers)) == 4


async def test_frames_json_publishes_frames_a_person_can_read(nc, start_runtime, tmp_path):
    s = uid()
    cap = await outputs_of(nc, start_runtime, tmp_path, frame_chain(s, "json"), expected=4, fuse=False)
    (msg,) = cap.on(f"karez.converter.lp{s}")
    assert msg.headers[ENCODING_HEADER] == READABLE
    (frame,) = json.loads(msg.data)
    assert frame["_frame"] == {"v": 1, "schema": "test.numbers"} and frame["columns"]["n"] == [0, 1, 2, 3]


async def test_counters_count_a_frames_rows(nc, start_runtime, tmp_path):
    s = uid()
    cap = await capture(nc, f"karez.telemetry.lp{s}")
    runtime = await start_runtime(frame_chain(s), tmp_path)
    await cap.wait(1)
    (connector,) = [r for r in runtime.roles["connector"] if r.name == f"src{s}"]
    (lp,) = [r for r in runtime.roles["converter"] if r.name == f"lp{s}"]
    assert lp.stats.received == 4
    assert connector.stats.published >= 4


async def test_a_frame_a_durable_role_cannot_read_is_dead_lettered_with_the_reason_and_the_rest_goes_on(
    nc, start_runtime, tmp_path
):
    s = uid()
    config = {
        "converters": [
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", "frames": True, "durable": True}
        ]
    }
    await start_runtime(config, tmp_path)
    dlq = await capture(nc, f"karez.dlq.converter.lp{s}")
    out = await capture(nc, f"karez.telemetry.lp{s}")
    js = nc.jetstream()
    subject = f"karez.converter.lp{s}"
    truncated = frames.encode_frames([pairs_frame(100)], COMPACT)[:-40]
    foreign = pairs_frame(2)
    foreign["_frame"]["schema"] = "other.model"
    await js.publish(subject, truncated, headers={ENCODING_HEADER: COMPACT})
    await js.publish(subject, frames.encode_frames([foreign], READABLE), headers={ENCODING_HEADER: READABLE})
    await js.publish(subject, frames.encode_frames([pairs_frame(3)], COMPACT), headers={ENCODING_HEADER: COMPACT})
    letters = sorted((json.loads(m.data) for m in await dlq.wait(2)), key=lambda b: b["stream_sequence"])
    assert letters[0]["error"].startswith("body is not frames/1+msgpack")
    assert base64.b64decode(letters[0]["data_base64"]) == truncated and letters[0]["encoding"] == COMPACT
    assert letters[1]["error"].startswith("frame schema 'other.model' is not known in this process")
    assert json.loads(letters[1]["data"])[0]["_frame"]["schema"] == "other.model"
    assert len((await out.wait(1))[0].data.decode().splitlines()) == 3


async def test_a_core_role_drops_a_frame_it_cannot_read_and_keeps_working(nc, start_runtime, tmp_path, caplog):
    s = uid()
    config = {"converters": [{"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", "frames": True}]}
    runtime = await start_runtime(config, tmp_path)
    out = await capture(nc, f"karez.telemetry.lp{s}")
    subject = f"karez.converter.lp{s}"
    await nc.publish(subject, b"\x93\x01", headers={ENCODING_HEADER: COMPACT})
    await nc.publish(subject, frames.encode_frames([pairs_frame(3)], COMPACT), headers={ENCODING_HEADER: COMPACT})
    assert len((await out.wait(1))[0].data.decode().splitlines()) == 3
    (lp,) = runtime.roles["converter"]
    assert lp.stats.dropped == 1
    assert f"Dropped an unreadable message on {subject}: body is not frames/1+msgpack" in caplog.text


def test_the_lines_of_a_big_frame_come_in_texts_a_message_can_carry():
    config = {"type": "influx_line_protocol", "measurement": "m" * 100, "field_name": "k", "frames": True}
    frame = pairs_frame(20_000)
    blocks = LineProtocol(config, None).convert_batch([frame], "s")
    assert len(blocks) > 1 and all(len(b["_as_is"]) < 2 * 256 * 1024 for b in blocks)
    lines = [line for b in blocks for line in b["_as_is"].split("\n")]
    assert len(lines) == 20_000 and lines[-1].endswith(f" {int((1.7e9 + 19_999) * 1e9)}")
    bodies = LineProtocol(config, None).encode_outputs([("karez.telemetry.x", b) for b in blocks])
    assert all(len(body) < 1_000_000 for _, body, _, _ in bodies)


def test_a_frame_holding_an_integer_beyond_64_bits_is_published_in_the_readable_form():
    frame = pairs_frame(2)
    frame["columns"]["value"][1] = 2**70
    lp = LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": True}, None)
    ((_, body, rows, headers),) = lp.encode_outputs([("karez.converter.x", frame)])
    assert headers == {ENCODING_HEADER: READABLE} and rows == 2
    assert frames.decode_body(body, headers) == [frame]


async def test_karez_deploy_names_the_roles_with_frames(deploy, tmp_path):
    s = uid()
    started = await deploy(frame_chain(s), tmp_path, name="frames.yaml")
    assert f"[KAREZ] Frames (karez.frames): lp{s}, src{s}." in started.lines
    plain = await deploy(frame_chain(uid(), False), tmp_path, name="plain.yaml")
    assert not any("Frames" in line for line in plain.lines)
