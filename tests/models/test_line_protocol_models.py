"""Line protocol: byte-identical to Karez influx_line_protocol (influxdb_client.Point), and parse round trips."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point

from tiro_models.errors import SnapshotError
from tiro_models.line_protocol import encode, encode_lines, encode_many, parse, parse_many, timestamp_ns
from tiro_models.records import decompose

EXACT = (
    "tiro_telemetry,CRAC=crac_0,DataHall=data_hall_0,asset_path=DataHall.data_hall_0.CRAC.crac_0,"
    "path=DataHall.CRAC.ReturnTemperature,type=Telemetry ReturnTemperature=23.84 1664251882666721024"
)
RECORD = {
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


def karez_line(record, measurement="tiro_telemetry", field_name="field", field_value="value") -> str:
    """What Karez 0.11 influx_line_protocol writes: influxdb_client.Point filled the way karez-upstream §4.2 says."""
    payload = dict(record)
    point = Point(measurement)
    timestamp = payload.pop("timestamp", None)
    if timestamp is not None:
        point.time(int(timestamp * 1e9))
    if field_name is not None:
        point.field(payload.pop(field_name), payload[field_value])
    else:
        point.field("value", payload[field_value])
    del payload[field_value]
    for key, value in payload.items():
        if not key.startswith("_"):
            point.tag(key, None if value is None else str(value))
    return point.to_line_protocol()


def test_exact_upstream_line():
    # tiro-upstream §6 and §8 check 8; karez-upstream §4.2 example
    assert encode(RECORD) == EXACT
    assert karez_line(RECORD) == EXACT
    (record,) = decompose(
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature",
        {"value": 23.84, "timestamp": 1664251882.666721},
    )
    assert encode(record) == EXACT


def test_upstream_escaping_examples():
    record = {"DataHall": "data hall 0", "field": "Model Name", "value": "X 1", "timestamp": 1.5}
    assert encode(record) == 'tiro_telemetry,DataHall=data\\ hall\\ 0 Model\\ Name="X 1" 1500000000'
    assert encode({"field": "CPUTemperature", "value": 20}) == "tiro_telemetry CPUTemperature=20i"
    assert encode({"field": "On", "value": True, "unit": None, "type": ""}) == "tiro_telemetry On=true"
    assert encode({"field": "F", "value": 42.0}) == "tiro_telemetry F=42"
    assert encode({"field": "F", "value": 'say "hi" \\o/'}) == 'tiro_telemetry F="say \\"hi\\" \\\\o/"'
    assert encode({"field": "F", "value": 1.0, "t": "ends\\"}) == "tiro_telemetry,t=ends\\  F=1"
    assert encode({"field": "F", "value": 1.0, "a,b=c": "x\ny"}) == "tiro_telemetry,a\\,b\\=c=x\\ny F=1"
    assert encode({"field": "F", "value": 1.0}, measurement="m 1,=") == "m\\ 1\\,= F=1"


def test_field_name_none_uses_the_literal_value_key_and_other_field_value_keys():
    record = {"field": "ActivePower", "value": 1.5, "reading": 7, "timestamp": 2}
    assert encode(record, field_name=None) == "tiro_telemetry,field=ActivePower,reading=7 value=1.5 2000000000"
    assert encode(record, field_value="reading") == "tiro_telemetry,value=1.5 ActivePower=7i 2000000000"
    assert encode(record, measurement="m", field_name=None) == karez_line(record, "m", None)


@pytest.mark.parametrize("dropped", [None, math.nan, math.inf, -math.inf])
def test_dropped_field_gives_the_empty_line(dropped):
    assert encode({"field": "F", "value": dropped, "timestamp": 1.0}) == ""
    assert encode_many([{"field": "F", "value": dropped}, {"field": "G", "value": 1}]) == "tiro_telemetry G=1i"


def test_encode_many_joins_lines():
    records = [dict(RECORD), {**RECORD, "value": 1, "timestamp": 1664251883.0}]
    text = encode_many(records)
    assert text.split("\n") == [EXACT, EXACT.replace("23.84 1664251882666721024", "1i 1664251883000000000")]


def test_timestamps_in_other_forms():
    assert timestamp_ns(1664251882.666721) == 1664251882666721024
    assert timestamp_ns(1664251882) == 1664251882000000000
    aware = datetime(2022, 9, 27, 4, 11, 22, tzinfo=UTC)
    assert timestamp_ns(aware) == int(aware.timestamp() * 1e9)
    assert timestamp_ns("2022-09-27T04:11:22Z") == timestamp_ns(aware)
    assert timestamp_ns("2022-09-27T04:11:22") == timestamp_ns(aware)  # naive means UTC, not the host zone
    assert encode({"field": "F", "value": 1, "timestamp": "2022-09-27T04:11:22+00:00"}).endswith(
        f" {timestamp_ns(aware)}"
    )


def test_bad_records_name_the_data_point():
    dp = "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature"
    with pytest.raises(SnapshotError, match=f"{dp}: field value of type dict"):
        encode({**RECORD, "value": {"a": 1}})
    with pytest.raises(SnapshotError, match=f"{dp}: timestamp 'yesterday'"):
        encode({**RECORD, "timestamp": "yesterday"})
    with pytest.raises(SnapshotError, match="no 'field' key"):
        encode({"value": 1})


@pytest.mark.parametrize(
    "line",
    [
        "",
        ",a=b f=1",
        "m",
        "m,a f=1",
        "m f",
        "m f=",
        "m f=abc",
        'm f="open',
        "m f=1 notatime",
        "m f=1\nm g=2",
        'm f="a"x',
    ],
)
def test_parse_rejects_malformed_lines(line):
    with pytest.raises(ValueError):
        parse(line)


def test_parse_reads_influx_field_types():
    assert parse('m,t=1 a=1,b=2i,c=true,d="x y",e=-3.5e-07,f=F 12') == (
        "m",
        {"t": "1"},
        {"a": 1.0, "b": 2, "c": True, "d": "x y", "e": -3.5e-07, "f": False},
        12,
    )


# --- property tests --------------------------------------------------------------------------------------------

any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
# Keys and tag values without backslashes: influxdb-client does not escape "\" there, so those are ambiguous.
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\\"), max_size=12)
tag_key = plain_text.filter(lambda k: k and not k.startswith("_") and k not in ("field", "value", "timestamp"))
field_value = st.one_of(
    st.floats(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    any_text,
    st.none(),
)
tag_value = st.one_of(plain_text, st.none(), st.integers(), st.floats(allow_nan=False))
records = st.fixed_dictionaries(
    {
        "field": plain_text.filter(bool),
        "value": field_value,
        "timestamp": st.one_of(st.none(), st.floats(min_value=0, max_value=4e9), st.integers(0, 4_000_000_000)),
    },
    optional={"_karez": st.just({"category": "telemetry"})},
).flatmap(lambda base: st.dictionaries(tag_key, tag_value, max_size=6).map(lambda tags: {**tags, **base}))
measurements = plain_text.filter(lambda m: m and not m.startswith("#"))


@settings(max_examples=300)
@given(records, measurements)
def test_encode_equals_influxdb_client_point(record, measurement):
    assert encode(record, measurement=measurement) == karez_line(record, measurement)


@settings(max_examples=300)
@given(records, measurements)
def test_encode_then_parse_round_trips(record, measurement):
    line = encode(record, measurement=measurement)
    value = record["value"]
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        assert line == ""
        return
    parsed_measurement, tags, fields, ns = parse(line)
    assert parsed_measurement == measurement
    expected_tags = {
        k: str(v)
        for k, v in record.items()
        if k not in ("field", "value", "timestamp") and not k.startswith("_") and v is not None and str(v) != ""
    }
    assert tags == expected_tags
    assert fields == {record["field"]: value}
    assert type(fields[record["field"]]) is type(value)
    timestamp = record["timestamp"]
    assert ns == (None if timestamp is None else int(timestamp * 1e9))


def test_equal_numbers_of_different_types_write_different_tags():
    lines = [encode({"field": "F", "value": 1, "q": q}) for q in (1, 1.0, True, "1", 1, True)]
    assert lines == [f"tiro_telemetry,q={t} F=1i" for t in ("1", "1.0", "True", "1", "1", "True")]


def test_parse_many_reads_a_batch_with_newlines_inside_strings():
    records = [
        {"field": "Note", "value": 'line one\nline two, "quoted"', "a": "x y", "timestamp": 1.5},
        {"field": "F", "value": math.nan},
        {"field": "G", "value": 7, "a": "z"},
    ]
    text = encode_many(records)
    assert parse_many("# a comment\n\n" + text + "\n") == [
        ("tiro_telemetry", {"a": "x y"}, {"Note": 'line one\nline two, "quoted"'}, 1500000000),
        ("tiro_telemetry", {"a": "z"}, {"G": 7}, None),
    ]
    with pytest.raises(ValueError, match="'m g=oops'"):
        parse_many("m f=1\nm g=oops\n")


@settings(max_examples=100)
@given(st.lists(records, max_size=5))
def test_encode_many_then_parse_many(batch):
    lines = [line for line in (encode(r) for r in batch) if line]
    assert parse_many(encode_many(batch)) == [parse(line) for line in lines]


@settings(max_examples=100)
@given(st.lists(records, max_size=8), measurements)
def test_encode_lines_equals_influxdb_client_point_record_by_record(batch, measurement):
    # repeated records exercise the batch loop's reuse of the previous record's plan
    batch = batch + batch[:3]
    assert encode_lines(batch, measurement=measurement) == [karez_line(r, measurement) for r in batch]
    literal = encode_lines(batch, measurement=measurement, field_name=None, field_value="field")
    assert literal == [encode(r, measurement=measurement, field_name=None, field_value="field") for r in batch]


def test_the_record_encoder_and_the_item_encoder_write_the_same_line():
    from line_protocol_text import encode_line

    record = {"asset_path": "Hall 1,A=b", "type": "te\\mp", "field": "Active Power", "value": 1.5, "timestamp": 2.25}
    tags = {"asset_path": "Hall 1,A=b", "type": "te\\mp"}
    assert encode(record) == encode_line("tiro_telemetry", tags, "Active Power", 1.5, int(2.25 * 1e9))
    for value in (3, True, 'say "hi"', 0.1):
        expected = encode_line("tiro_telemetry", tags, "Active Power", value, int(2.25 * 1e9))
        assert encode({**record, "value": value}) == expected
