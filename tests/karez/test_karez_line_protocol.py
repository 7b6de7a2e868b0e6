"""The line-protocol encoder matches influxdb-client byte for byte."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point

from karez.converter.base import ConverterBase
from karez.converter.extras.influx_line_protocol import Converter, item_to_line
from line_protocol_text import ItemLineEncoder, column_lines, column_text, encode_line

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
tag_values = st.one_of(st.none(), text, st.integers(-1000, 1000), st.floats(allow_nan=False), st.booleans())
field_values = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**63), 2**63 - 1), st.booleans(), text
)


def reference(measurement, tags, field_key, value, time_ns):
    point = Point(measurement)
    for k, v in tags.items():
        point.tag(k, None if v is None else str(v))
    point.field(field_key, value)
    point.time(time_ns)
    return point.to_line_protocol()


@settings(max_examples=400, deadline=None)
@given(
    measurement=text.filter(lambda m: m and not m.startswith("#")),
    tags=st.dictionaries(text, tag_values, max_size=5),
    field_key=text,
    value=field_values,
    time_ns=st.integers(0, 2**62),
)
def test_matches_influxdb_client(measurement, tags, field_key, value, time_ns):
    assert encode_line(measurement, tags, field_key, value, time_ns) == reference(
        measurement, tags, field_key, value, time_ns
    )


def test_spec_example_is_byte_exact():
    item = {
        "path": "DataHall.CRAC.ReturnTemperature",
        "asset_path": "DataHall.data_hall_0.CRAC.crac_0",
        "DataHall": "data_hall_0",
        "CRAC": "crac_0",
        "type": "Telemetry",
        "field": "ReturnTemperature",
        "value": 23.84,
        "timestamp": 1664251882.666721,
        "_karez": {"category": "telemetry"},
    }
    assert item_to_line(item, "tiro_telemetry", "field", "value") == (
        "tiro_telemetry,CRAC=crac_0,DataHall=data_hall_0,asset_path=DataHall.data_hall_0.CRAC.crac_0,"
        "path=DataHall.CRAC.ReturnTemperature,type=Telemetry ReturnTemperature=23.84 1664251882666721024"
    )


def test_dropped_field_gives_empty_line_and_default_field_key():
    assert item_to_line({"value": math.nan, "timestamp": 1.0}, "m", None, "value") == ""
    assert item_to_line({"value": 42.0, "timestamp": 1.0, "a": "x"}, "m", None, "value") == "m,a=x value=42 1000000000"


def test_converter_yields_as_is():
    conv = Converter({"type": "influx_line_protocol", "measurement": "m"}, nats_addr=None)
    assert list(conv.convert({"value": 1, "timestamp": 2})) == [{"_as_is": "m value=1i 2000000000"}]


def test_equal_but_differently_written_tag_values_do_not_share_a_cached_head():
    # 1 == 1.0 == True as dict keys, yet influxdb-client writes "1", "1.0" and "True"
    for value in (1, 1.0, True, "1", 1, True):
        tags = {"a": value}
        assert encode_line("m", tags, "f", 2.5, 7) == reference("m", tags, "f", 2.5, 7)


def test_converter_batch_gives_the_per_item_outputs_and_skips_bad_items_alone():
    config = {"type": "influx_line_protocol", "measurement": "m", "field_name": "field", "next": [None, "other"]}

    def items():
        return [
            {"field": "t", "value": 1.5, "timestamp": 2.0, "asset_path": "A.a", "_karez": {"category": "telemetry"}},
            "not an object",
            {"field": "t", "timestamp": 3.0},  # no value: logged and skipped
            {"field": "u", "value": math.nan, "timestamp": 4.0, "_karez": {"category": "x", "extra": 1}},
            {"field": "v", "value": "on", "timestamp": 5.0, "_hidden": 1},
        ]

    batch = asyncio.run(Converter(config, nats_addr=None).handle_items(items(), "karez.converter.lp"))
    per_item_role = Converter(config, nats_addr=None)
    per_item = asyncio.run(ConverterBase.handle_items(per_item_role, items(), "karez.converter.lp"))
    assert batch == per_item
    assert [item["_as_is"] for subject, item in batch if subject.startswith("karez.converter.")] == [
        "m,asset_path=A.a t=1.5 2000000000",
        "",
        'm v="on" 5000000000',
    ]
    assert {subject for subject, _ in batch} == {
        "karez.telemetry.influx_line_protocol",
        "karez.x.influx_line_protocol",
        "karez.converter.other",
    }


items = st.dictionaries(
    st.one_of(text, st.sampled_from(["_karez", "_x", "", "asset_path", "type"])),
    st.one_of(tag_values, st.dictionaries(text, text, max_size=2)),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(
    extra=st.lists(items, min_size=1, max_size=6),
    value=field_values,
    field=st.one_of(text, st.integers(0, 3)),
    timestamp=st.floats(0, 4e9),
)
def test_item_line_encoder_writes_what_item_to_line_writes(extra, value, field, timestamp):
    encoder = ItemLineEncoder("m", "field", "value")
    for tags in [*extra, extra[0]]:  # the repeat takes the cached head
        item = {**tags, "field": field, "value": value, "timestamp": timestamp}
        expected_item, got_item = dict(item), dict(item)
        try:
            expected = item_to_line(expected_item, "m", "field", "value")
        except Exception as e:
            with pytest.raises(type(e)):
                encoder.line(got_item)
            continue
        assert encoder.line(got_item) == expected
        assert got_item == expected_item


_any_float = st.floats(allow_nan=True, allow_infinity=True)
_plain_float = st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.integers(-(10**6), 10**6).map(float), _any_float)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(_plain_float, st.integers(-5, 5), st.booleans(), st.text(max_size=3)), max_size=30),
    stamps=st.lists(st.one_of(st.floats(0, 4e9), st.integers(0, 4 * 10**9), _any_float), min_size=30, max_size=30),
)
def test_column_text_is_the_joined_column_lines_or_leaves_the_columns_to_it(values, stamps):
    heads = [f"m,k=s{i} value=" for i in range(len(values))]
    stamps = stamps[: len(values)]
    text = column_text(heads, values, stamps)
    lines, failed = column_lines(heads, values, stamps)
    if text is not None:
        assert not failed and text == "\n".join(lines)


@settings(max_examples=100, deadline=None)
@given(
    stamps=st.lists(
        st.one_of(
            st.floats(0, 4e9),
            st.integers(-(10**10), 10**10),
            st.sampled_from([9.223372036854775e9, -9.223372036854775e9, 9.3e9, 2**63, 1e300]),
        ),
        min_size=64,
        max_size=300,
    ),
    odd=st.one_of(st.none(), st.just(math.nan), st.just(math.inf), st.booleans(), st.text(max_size=2), st.just([1])),
    odd_at=st.one_of(st.none(), st.integers(0, 63)),
)
def test_column_text_of_a_long_column_is_the_joined_column_lines(stamps, odd, odd_at):
    """Columns long enough for numpy's timestamps: the same text as row by row, or left to `column_lines`."""
    if odd_at is not None:
        stamps[odd_at] = odd
    values = [i / 7 for i in range(len(stamps))]
    heads = [f"m,k=s{i} value=" for i in range(len(stamps))]
    text = column_text(heads, values, stamps)
    lines, failed = column_lines(heads, values, stamps)
    if text is not None:
        assert not failed and text == "\n".join(lines)
    elif odd_at is None:  # declined only for a timestamp beyond 64-bit nanoseconds (`column_lines` writes a big int)
        assert failed or any(abs(ts * 1e9) >= 2**63 for ts in stamps)


def test_column_text_writes_the_floats_line_protocol_writes_and_leaves_what_it_cannot_to_column_lines():
    values = [2.0, 0.1, -0.0, 1e15, 123456789.125, 20.5]
    stamps = [1.7e9 + i / 7 for i in range(len(values))]
    heads = ["m f="] * len(values)
    assert column_text(heads, values, stamps) == "\n".join(column_lines(heads, values, stamps)[0])
    assert column_text(heads, values, stamps).startswith("m f=2 1700000000000000000\nm f=0.1 ")  # type: ignore[union-attr]
    for odd in (1e16, 1e-05, 1.00001, math.nan, math.inf, 3, True):  # exponents, zeros after the point, not floats
        assert column_text(["m f="], [odd], [1.7e9]) is None
    assert column_text(["m f="], [1.5], ["soon"]) is None
    assert column_text(["m f="], [1.5], [1e12]) is None  # beyond 64-bit nanoseconds
