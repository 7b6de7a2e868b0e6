"""Built-in converters/dispatcher and the converter base's handling of sync/async/generator plugins."""

from __future__ import annotations

import json
import os

from karez.converter.base import ConverterBase
from karez.converter.extras.filter_and_update_meta import Converter as FilterMeta
from karez.converter.extras.fix_timestamp import Converter as FixTimestamp
from karez.converter.extras.influx_json_format import Converter as InfluxJson
from karez.converter.extras.update_info import Converter as UpdateInfo
from karez.dispatcher.extras.default import Dispatcher


def make(cls, **cfg):
    return cls({"type": "t", **cfg}, nats_addr=None)


def test_fix_timestamp_parses_with_tz_abbreviations_and_warns_once_on_unknown_zone(caplog):
    conv = make(FixTimestamp, tz_infos={"SGT": "Asia/Singapore", "XXX": "Nowhere/Land"})
    out = list(conv.convert({"timestamp": "2022-09-27 10:32:38 SGT"}))
    assert out[0]["timestamp"] == 1664245958.0
    assert next(iter(conv.convert({"timestamp": 5})))["timestamp"] == 5
    list(conv.convert({"timestamp": "2022-09-27 10:32:38 SGT"}))
    assert caplog.text.count("Unknown time zone 'Nowhere/Land'") == 1


def test_update_info_reloads_on_mtime_and_accepts_list_remove(tmp_path):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"d1": {"unit": "C", "junk": 1}}))
    conv = make(UpdateInfo, info_file=str(info), key="dev", remove=["junk", "dev"])
    assert list(conv.convert({"dev": "d1", "value": 1})) == [{"value": 1, "unit": "C"}]
    info.write_text(json.dumps({"d1": {"unit": "F"}}))
    os.utime(info, ns=(1, 10**18))
    assert next(iter(conv.convert({"dev": "d1"})))["unit"] == "F"
    assert make(UpdateInfo, info_file="x", key="k", remove="a, b").removed_keys() == ["a", "b"]


def test_influx_json_format_keeps_value_when_field_name_equals_value_key():
    conv = make(InfluxJson, measurement="m", field_name="field", field_value="value")
    assert list(conv.convert({"field": "value", "value": 3})) == [{"_measurement": "m", "value": 3}]
    assert list(conv.convert({"field": "temp", "value": 3})) == [{"_measurement": "m", "temp": 3}]


def test_filter_and_update_meta_filters_and_renames_category():
    conv = make(FilterMeta, key="category", filter="telemetry,attribute", rename={"telemetry": "graph"})
    assert list(conv.convert({"_karez": {"category": "telemetry"}})) == [{"_karez": {"category": "graph"}}]
    assert list(conv.convert({"_karez": {"category": "other"}})) == []
    assert list(conv.convert({"_karez": {"category": "attribute"}})) == [{"_karez": {"category": "attribute"}}]


async def test_default_dispatcher_batches_inline_entities_and_files(tmp_path):
    d = make(Dispatcher, interval=1, connector="c", batch_size=2, entities=[1, 2, 3])
    assert await d.process(None) == [{"tasks": [1, 2]}, {"tasks": [3]}]
    f = tmp_path / "e.json"
    f.write_text("[4]")
    d = make(Dispatcher, interval=1, connector="c", entity_file=str(f))
    assert await d.process(None) == [{"tasks": [4]}]


class FailingGenerator(ConverterBase):
    def convert(self, payload):
        yield {"ok": 1}
        raise KeyError("missing-key")


class AsyncConvert(ConverterBase):
    async def convert(self, payload):
        return [{"x": payload["x"] + 1}]


class AsyncGenConvert(ConverterBase):
    async def convert(self, payload):
        yield {"x": payload["x"] * 2}


async def test_generator_errors_are_logged_with_role_subject_and_text(caplog):
    conv = make(FailingGenerator, name="gen")
    assert await conv.handle_items([{"a": 1}], "karez.converter.gen") == []
    assert "FailingGenerator[gen]" in caplog.text
    assert "karez.converter.gen" in caplog.text and "missing-key" in caplog.text
    assert conv.stats.errors == 1


async def test_async_convert_and_async_generators_are_awaited_and_meta_merged():
    src = {"x": 1, "_karez": {"category": "attr", "k": "v"}}
    outs = await make(AsyncConvert, name="a", next="b").handle_items([src], "s")
    assert outs == [("karez.converter.b", {"x": 2, "_karez": {"category": "attr", "k": "v"}})]
    outs = await make(AsyncGenConvert, name="g").handle_items([src], "s")
    assert outs == [("karez.attr.g", {"x": 2, "_karez": {"category": "attr", "k": "v"}})]


async def test_next_with_null_entry_fans_out_to_converter_and_aggregator():
    outs = await make(AsyncConvert, name="a", next=["b", None]).handle_items([{"x": 0}], "s")
    assert [s for s, _ in outs] == ["karez.converter.b", "karez.telemetry.a"]


def test_dispatch_modes_spread_batches_over_the_interval():
    d = make(Dispatcher, interval=10, connector="c", entities=[], mode="even_mixed")
    assert [d._decide_wait_time(i, 4) for i in range(4)] == [0, 0, 0, 0]  # first round of *_mixed: burst
    d._round = 1
    assert [d._decide_wait_time(i, 4) for i in range(4)] == [0, 2.5, 5.0, 7.5]
    rand = make(Dispatcher, interval=10, connector="c", entities=[], mode="RAND")
    assert all(0 <= rand._decide_wait_time(i, 3) <= 10 for i in range(3))
