"""Shared columns (karez.shared_columns): a durable publisher keeps a frame's per-series columns once in a JetStream
bucket, a receiver puts them back, and one that cannot (a foreign, stale or malformed reference) says why."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from test_frames import pairs_frame, uid, with_ids
from test_karez_routing import capture

from karez import frames
from karez.converter.extras.influx_line_protocol import Converter as LineProtocol
from karez.frames import COMPACT, ENCODING_HEADER, SHARED_KEY, FrameError
from karez.shared_columns import BUCKET, SharedColumns, SharedColumnsNotFound


def framed(n: int = 40, model: str = "m1") -> dict[str, Any]:
    frame = pairs_frame(n)
    return with_ids(frame, model, [int(k[1:]) for k in frame["columns"]["k"]])


async def test_a_shared_frame_travels_without_its_per_series_columns_and_comes_back_whole(nc):
    sender, receiver = SharedColumns(nc.jetstream()), SharedColumns(nc.jetstream())
    frame = framed()
    ((subject, shared), (_, again)) = await sender.share([("karez.x", frame), ("karez.y", frame)])
    assert subject == "karez.x" and again is shared  # a frame fanned out stays one object, encoded once
    assert set(shared["columns"]) == {"value", "timestamp", "series"}
    key = shared["_frame"][SHARED_KEY]
    body = frames.encode_frames([shared], COMPACT)
    assert len(body) < len(frames.encode_frames([frame], COMPACT))
    (restored,) = await receiver.restore(frames.decode_body(body, {ENCODING_HEADER: COMPACT}))
    assert restored == frame
    assert frames.expand([restored]) == frames.expand([frame])
    # the same columns again: the same entry, written once; other columns: another entry
    ((_, same),) = await sender.share([("karez.x", framed())])
    assert same["_frame"][SHARED_KEY] == key
    other = framed()
    other["columns"]["k"] = [*other["columns"]["k"][:-1], "s99"]
    ((_, changed),) = await sender.share([("karez.x", other)])
    assert changed["_frame"][SHARED_KEY] != key
    kv = await nc.jetstream().key_value(BUCKET)
    assert key in await kv.keys() and changed["_frame"][SHARED_KEY] in await kv.keys()
    assert (await receiver.restore([changed]))[0] == other


async def test_frames_without_series_ids_or_with_nothing_to_share_are_published_as_they_are(nc):
    sender = SharedColumns(nc.jetstream())
    plain = pairs_frame(5)
    only_samples = framed()
    del only_samples["columns"]["k"]
    assert await sender.share([("s", plain), ("s", only_samples), ("s", {"item": 1})]) == [
        ("s", plain),
        ("s", only_samples),
        ("s", {"item": 1}),
    ]


async def test_a_receiver_refuses_a_frame_its_shared_columns_do_not_describe(nc):
    js = nc.jetstream()
    ((_, shared),) = await SharedColumns(js).share([("s", framed())])
    receiver = SharedColumns(js)
    other_ids = {**shared, "columns": {**shared["columns"], "series": list(reversed(shared["columns"]["series"]))}}
    with pytest.raises(FrameError, match="series ids or model differ from those of shared columns"):
        await receiver.restore([other_ids])
    other_model = {**shared, "_frame": {**shared["_frame"], "model": "m2"}}
    with pytest.raises(FrameError, match="series ids or model differ"):
        await receiver.restore([other_model])
    missing = {**shared, "_frame": {**shared["_frame"], SHARED_KEY: "0" * 32}}
    with pytest.raises(SharedColumnsNotFound, match=f"bucket {BUCKET} holds no shared columns 0000"):
        await receiver.restore([missing])
    kv = await js.key_value(BUCKET)
    await kv.put("1" * 32, b"\x93\x01\x02\x03")
    garbage = {**shared, "_frame": {**shared["_frame"], SHARED_KEY: "1" * 32}}
    with pytest.raises(FrameError, match=f"entry {'1' * 32} is not shared columns"):
        await receiver.restore([garbage])
    with pytest.raises(FrameError, match="still lacks its shared columns"):
        frames.expand([shared])


@pytest.mark.parametrize(
    ("header", "error"),
    [({SHARED_KEY: "../k"}, "not the key of shared columns"), ({SHARED_KEY: 7}, "not the key of shared columns")],
)
def test_a_malformed_shared_header_is_refused_when_the_message_is_decoded(header, error):
    frame = framed()
    del frame["columns"]["k"]
    frame["_frame"].update(header)
    with pytest.raises(FrameError, match=error):
        frames.decode_body(frames.encode_frames([frame], COMPACT), {ENCODING_HEADER: COMPACT})
    del frame["columns"]["series"]
    frame["_frame"][SHARED_KEY] = "a" * 32
    with pytest.raises(FrameError, match="shared columns need the 'series' column"):
        frames.decode_body(frames.encode_frames([frame], COMPACT), {ENCODING_HEADER: COMPACT})


def durable_hop(s: str, **echo: Any) -> dict[str, Any]:
    """echo (frames, durable) → influx_line_protocol (frames, durable) over NATS."""
    return {
        "converters": [
            {"type": "echo", "name": f"e{s}", "frames": True, "durable": True, "next": [f"lp{s}"], **echo},
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", "frames": True, "durable": True},
        ]
    }


@pytest.mark.parametrize("share", [True, False])
async def test_a_durable_hop_carries_shared_columns_and_the_lines_are_the_same(nc, start_runtime, tmp_path, share):
    s = uid()
    await start_runtime(durable_hop(s, share_columns=share), tmp_path, fuse=False)
    hop = await capture(nc, f"karez.converter.lp{s}")
    out = await capture(nc, f"karez.telemetry.lp{s}")
    frame = framed(40)
    await nc.jetstream().publish(
        f"karez.converter.e{s}", frames.encode_frames([frame], COMPACT), headers={ENCODING_HEADER: COMPACT}
    )
    (msg,) = await hop.wait(1)
    (sent,) = frames.decode_body(msg.data, msg.headers)
    if share:
        assert SHARED_KEY in sent["_frame"] and "k" not in sent["columns"]
    else:
        assert sent == frame
    got = sorted(line for m in await out.wait(1) for line in m.data.decode().splitlines())
    direct = LineProtocol({"type": "influx_line_protocol", "measurement": "m", "frames": True}, None)
    assert got == sorted(line for block in direct.convert_batch([frame], "s") for line in block["_as_is"].split("\n"))
    assert len(got) == 40 and got[0] == "m,k=s0 value=0 1700000000000000000"


async def test_a_durable_role_dead_letters_a_frame_whose_shared_columns_are_gone(nc, start_runtime, tmp_path):
    s = uid()
    config = {
        "converters": [
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", "frames": True, "durable": True}
        ]
    }
    config["converters"][0]["max_deliver"] = 2
    await start_runtime(config, tmp_path)
    dlq = await capture(nc, f"karez.dlq.converter.lp{s}")
    out = await capture(nc, f"karez.telemetry.lp{s}")
    ((_, shared),) = await SharedColumns(nc.jetstream()).share([("s", framed(5))])
    gone = {**shared, "_frame": {**shared["_frame"], SHARED_KEY: "2" * 32}}
    js = nc.jetstream()
    for frame in (gone, shared):
        await js.publish(
            f"karez.converter.lp{s}", frames.encode_frames([frame], COMPACT), headers={ENCODING_HEADER: COMPACT}
        )
    assert len((await out.wait(1))[0].data.decode().splitlines()) == 5  # the readable frame goes on
    (letter,) = [json.loads(m.data) for m in await dlq.wait(1)]
    assert letter["error"] == f"SharedColumnsNotFound: bucket {BUCKET} holds no shared columns {'2' * 32}"
    assert frames.decode_body(base64.b64decode(letter["data_base64"]), {ENCODING_HEADER: COMPACT}) == [gone]


async def test_a_shared_frame_too_big_for_one_message_is_cut_whole_so_each_part_carries_its_columns(nc):
    from karez.converter.extras.echo import Converter as Echo

    echo = Echo({"type": "echo", "frames": True}, None)
    echo._shared_columns = SharedColumns(nc.jetstream())
    frame = framed(3000)
    frame["columns"]["value"] = [f"{i:0>400}" for i in range(3000)]  # long text values: 1.2 MB of samples
    ((subject, shared),) = await echo.shared_columns.share([("karez.x", frame)])
    assert SHARED_KEY in shared["_frame"]
    bodies = echo.encode_outputs([(subject, shared)])
    assert len(bodies) > 1 and all(len(body) < 1_000_000 for _, body, _, _ in bodies)
    parts = [part for _, body, _, headers in bodies for part in frames.decode_body(body, headers)]
    assert all(SHARED_KEY not in part["_frame"] for part in parts)
    assert frames.expand(parts) == frames.expand([frame])


async def test_a_receiver_never_creates_the_bucket_it_reads_from():
    import nats
    from nats.js.errors import BucketNotFoundError

    from karez.embedded_nats import EmbeddedNats

    with EmbeddedNats() as server:
        client = await nats.connect(server.url)
        try:
            js = client.jetstream()
            ((_, shared),) = await SharedColumns(js).share([("s", framed())])
            body = frames.encode_frames([shared], COMPACT)
            assert (await SharedColumns(js).decode(body, {ENCODING_HEADER: COMPACT}))[0]["columns"]["k"]
            await js.delete_key_value(BUCKET)
            with pytest.raises(SharedColumnsNotFound, match=f"bucket {BUCKET} does not exist"):
                await SharedColumns(js).decode(body, {ENCODING_HEADER: COMPACT})
            with pytest.raises(BucketNotFoundError):
                await js.key_value(BUCKET)  # the receiver left it to a publisher (and its replica count)
        finally:
            await client.close()
