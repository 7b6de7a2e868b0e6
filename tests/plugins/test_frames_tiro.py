"""Tiro's stages on frames (tiro.frames): the mock's batch answer as `tiro.points` frames, turned into
`tiro.records` frames by tiro_preprocess and into lines by influx_line_protocol, give what the same items give one
by one: the same records, lines, drops and error messages."""

from __future__ import annotations

import copy
import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from test_store_aggregator import _stored as stored

from karez import frames
from karez.converter.extras.filter_and_update_meta import Converter as FilterAndUpdateMeta
from karez.converter.extras.influx_line_protocol import Converter as LineProtocol
from karez.delivery import delivery_for
from karez.errors import DataError
from karez.frames import COMPACT, ENCODING_HEADER
from tiro.examples import example_dir, example_files
from tiro.frames import POINTS, RECORDS, column_frames, points_frames
from tiro.mock.service import example_service
from tiro.plugins.karez import (
    InfluxWriterAggregator,
    TiroPreprocessConverter,
    TiroStoreAggregator,
    ValidationAggregator,
)
from tiro.plugins.karez.mock_collector import _category_of, _checked_columns
from tiro.plugins.karez.preprocess import ItemDataError
from tiro_models.line_protocol import encode_lines

FLOW = "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate"
NAME = "DataHall.data_hall_0.Rack.rack_0.Attribute.Name"
TS = "2022-09-27T04:11:22+00:00"


def answer() -> dict[str, Any]:
    """A batch answer of the example hall with an attribute and points a row cannot hold."""
    points, _ = example_service(seed=5).batch(example_service(seed=5).listed)
    return {
        **points,
        NAME: {"value": "rack zero", "timestamp": TS},
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.Bare": 3.5,  # not an object
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.Extra": {"value": 1.0, "timestamp": TS, "quality": "good"},
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.NullUnit": {"value": 1.0, "timestamp": TS, "unit": None},
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.NoTime": {"value": 1.0},
        "Not.a.path": {"value": 1.0, "timestamp": TS},
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.BadTime": {"value": 2.0, "timestamp": "not a time at all"},
    }


def items_of(points: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"path": p, "result": dp, "_karez": {"category": _category_of(p)}} for p, dp in points.items()]


def preprocess(frames_on: bool, durable: bool = False) -> TiroPreprocessConverter:
    config = {"type": "tiro_preprocess", "name": "pre", **({"frames": True} if frames_on else {})}
    converter = TiroPreprocessConverter(config, nats_addr=None)
    converter.delivery = delivery_for(listens=True, durable=durable)
    return converter


def by_path(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted, and without the timestamps given "now" (a point that has none)."""
    items = [{k: v for k, v in i.items() if k != "timestamp" or i.get("field") not in _NOW} for i in items]
    return sorted(items, key=lambda r: (r.get("asset_path", ""), r.get("field", ""), str(r.get("path"))))


_NOW = ("Bare", "NoTime")


def test_a_batch_answer_becomes_one_points_frame_per_category_and_the_points_a_row_cannot_hold_follow_as_items():
    points = answer()
    out = points_frames(points, _category_of)
    framed = [item for item in out if frames.is_frame(item)]
    assert [f["_karez"]["category"] for f in framed] == ["telemetry", "attribute", "a"]  # "Not.a.path": upstream's rule
    assert out[: len(framed)] == framed  # frames first
    assert {f["_frame"]["schema"] for f in framed} == {POINTS.name}
    odd = [item["path"].rsplit(".", 1)[-1] for item in out[len(framed) :]]
    assert odd == ["Bare", "Extra", "NullUnit", "NoTime"]
    assert by_path(frames.expand(out)) == by_path(items_of(points))


@pytest.mark.parametrize("rounds", [1, 2])  # the second round runs on remembered tags
def test_preprocess_of_frames_gives_the_records_and_errors_of_the_items(rounds, caplog):
    points = answer()
    framed, plain = preprocess(True), preprocess(False)
    for _ in range(rounds):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="karez"):
            from_frames = framed.convert_batch(points_frames(points, _category_of), "s")
            frame_errors = sorted(r.getMessage().split(":", 1)[1] for r in caplog.records)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="karez"):
            from_items = plain.convert_batch(items_of(points), "s")
            item_errors = sorted(r.getMessage().split(":", 1)[1] for r in caplog.records)
    assert {f["_frame"]["schema"] for f in from_frames if frames.is_frame(f)} == {RECORDS.name}
    assert by_path(frames.expand(from_frames)) == by_path(from_items)
    assert frame_errors == item_errors and len(item_errors) == 2  # Not.a.path, BadTime
    assert framed.stats.errors == plain.stats.errors


def test_a_frame_of_only_bad_rows_is_a_data_error_in_durable_mode():
    bad = points_frames({"Not.a.path": {"value": 1.0, "timestamp": TS}}, _category_of)
    with pytest.raises(ItemDataError, match=r"none of the 1 items on s can be converted: path 'Not.a.path'"):
        preprocess(True, durable=True).convert_batch(bad, "s")
    assert preprocess(True).convert_batch(bad, "s") == []


def test_the_store_branch_renames_a_frames_category_once_and_line_protocol_writes_the_lines_of_its_records():
    points = answer()
    records = preprocess(True).convert_batch(points_frames(points, _category_of), "s")
    rename = {"type": "filter_and_update_meta", "name": "to_store", "key": "category", "frames": True,
              "rename": {"telemetry": "store_data", "attribute": "store_data"}}  # fmt: skip
    renamed = FilterAndUpdateMeta(rename, None).convert_batch(records, "s")
    assert [f["_karez"]["category"] for f in renamed if frames.is_frame(f)] == ["store_data", "store_data"]
    lp = {"type": "influx_line_protocol", "name": "lp", "measurement": "tiro", "field_name": "field"}
    per_item = LineProtocol(lp, None).convert_batch(frames.expand(copy.deepcopy(records)), "s")  # it edits items
    blocks = LineProtocol({**lp, "frames": True}, None).convert_batch(records, "s")
    assert sorted(line for b in blocks for line in b["_as_is"].split("\n")) == sorted(i["_as_is"] for i in per_item)


def test_records_frames_survive_the_compact_wire_form_unchanged():
    records = preprocess(True).convert_batch(points_frames(answer(), _category_of), "s")
    framed = [f for f in records if frames.is_frame(f)]
    body = frames.encode_frames(framed, COMPACT)
    assert frames.decode_body(body, {ENCODING_HEADER: COMPACT}) == framed


# ----- tiro_store on frames -----
def store(url: str, durable: bool = False, frames_on: bool = True) -> TiroStoreAggregator:
    config = {"type": "tiro_store", "name": "store", "category": "store_data", "store": url, "flush_interval": 60}
    role = TiroStoreAggregator({**config, **({"frames": True} if frames_on else {})}, nats_addr=None)
    role.delivery = delivery_for(listens=True, durable=durable)
    return role


def records_frames(seconds: float) -> list[dict[str, Any]]:
    """The example hall's points at `seconds`, as preprocessed frames."""
    points, _ = example_service(seed=5).batch(example_service(seed=5).listed)
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat()
    points = {path: {**dp, "timestamp": stamp} for path, dp in points.items()}
    return preprocess(True).convert_batch(points_frames(points, _category_of), "s")


async def test_frames_are_stored_as_their_records_are_new_series_first_then_straight_from_the_columns(tmp_path):
    framed_url, plain_url = f"sqlite:///{tmp_path / 'f.db'}", f"sqlite:///{tmp_path / 'p.db'}"
    framed, plain = store(framed_url), store(plain_url, frames_on=False)
    for seconds in (1.8e9, 1.8e9 + 10, 1.8e9 + 20):  # the first round creates the series; the others do not
        batch = records_frames(seconds)
        await framed.handle_items(batch, "s")
        await plain.handle_items(frames.expand(copy.deepcopy(batch)), "s")
        await framed.flush_writes()
        await plain.flush_writes()
    assert framed.written == plain.written == 3 * frames.count_items(batch)
    assert stored(framed_url) == stored(plain_url)
    history, latest = stored(framed_url)
    assert {len(samples) for samples in history.values()} == {3} and set(latest) == set(history)
    await framed.close()
    await plain.close()


@pytest.mark.parametrize("durable", [False, True])
async def test_a_row_the_store_refuses_costs_its_frame_only_that_row(tmp_path, durable, caplog):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    role = store(url, durable=durable)
    batch = records_frames(1.8e9)
    await role.handle_items(copy.deepcopy(batch), "s")  # the series exist
    await role.flush_writes()
    bad = copy.deepcopy(records_frames(1.8e9 + 10))
    bad[0]["columns"]["timestamp"][2] = 1e30  # out of range
    if durable:
        with pytest.raises(
            DataError,
            match=r"the store refused 1 of \d+ items \(the others are written\): SnapshotError: .*out of range",
        ):
            await role.handle_items(bad, "s")
    else:
        await role.handle_items(bad, "s")
        await role.flush_writes()
        assert "Dropped 1 item(s) the store refuses" in caplog.text
    history, _ = stored(url)
    rows = frames.count_items(batch)
    assert sum(len(samples) for samples in history.values()) == 2 * rows - 1
    await role.close()


# ----- tiro_validate on frames -----
async def test_validation_of_frames_judges_a_window_as_the_items_do(monkeypatch):
    scenario, uses = example_files(example_dir("datahall"))
    config = {"type": "tiro_validate", "category": "validation_data", "scenario": str(scenario),
              "uses": ",".join(map(str, uses)), "retention": 60}  # fmt: skip
    framed = ValidationAggregator({**config, "frames": True}, nats_addr=None)
    plain = ValidationAggregator(config, nats_addr=None)
    flat = example_service(seed=4).batch(example_service(seed=4).listed)[0]
    broken = next(iter(flat))
    for role in (framed, plain):
        stamp = datetime.fromtimestamp(role.windows.start + 1, UTC).isoformat()
        points = {path: {**dp, "timestamp": stamp} for path, dp in flat.items()}
        points[broken] = {**points[broken], "value": "broken"}
        batch = points_frames(points, _category_of)
        monkeypatch.setattr(time, "time", lambda start=role.windows.start: start + 2)
        assert await role.handle_items(batch if role is framed else frames.expand(batch), "s") == []
    reports = []
    for role in (framed, plain):
        role.windows.partial = False
        reports.append(role.windows.close())
    assert reports[0].collected == reports[1].collected == len(flat)
    assert reports[0].result.errors == reports[1].result.errors and not reports[0].result.valid


def test_rows_with_values_of_any_json_type_in_the_path_or_timestamp_column_are_reported_not_fatal(caplog):
    (frame,) = points_frames({FLOW: {"value": 1.0, "timestamp": TS}}, _category_of)
    listed, numbered, odd_stamp = copy.deepcopy(frame), copy.deepcopy(frame), copy.deepcopy(frame)
    listed["columns"]["path"] = [["a", "list"]]
    numbered["columns"]["path"] = [42]
    odd_stamp["columns"]["timestamp"] = [{"a": "dict"}]
    with caplog.at_level(logging.ERROR, logger="karez"):
        out = preprocess(True).convert_batch([listed, numbered, odd_stamp], "s")
    assert "path ['a', 'list']" in caplog.text and "path 42" in caplog.text
    # an unreadable timestamp gets "now", as an item's does: the row is converted, not lost
    (record,) = frames.expand(out)
    assert record["field"] == "FlowRate" and isinstance(record["timestamp"], float)


# ----- the mock's batch answer as columns -----
def test_the_mock_generates_columns_as_it_generates_dp_objects():
    from tiro_models.mock import Mocker

    service = example_service(seed=9)
    paths = [*service.listed, "DataHall.data_hall_0.Nope.n.Telemetry.X"]
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    dps = Mocker(service.mocker.instances, seed=9).values(paths, now=now)
    mocker = Mocker(service.mocker.instances, seed=9)
    got_paths, values, stamps, units, series = mocker.columns(paths, now=now)
    assert got_paths == service.listed and series is None  # the unknown path is left out; no table, no ids
    rows = zip(values, stamps, units, strict=True)
    assert [{"value": v, "timestamp": t, **({"unit": u} if u else {})} for v, t, u in rows] == [d for d in dps if d]
    ids = service.series.ids
    assert mocker.columns(paths, ids=ids)[4] == [ids[p] for p in service.listed]
    known = service.listed[:7]
    for table in (ids, {p: 1000 + i for i, p in enumerate(known)}, ids):  # the remembered batch follows the table
        assert mocker.columns(known, ids=table)[4] == [table[p] for p in known]


def test_the_columns_answer_keeps_odd_and_unknown_points_apart():
    service = example_service(seed=9)
    answer = service.batch_columns([*service.listed[:5], "Not.known"])
    assert answer["columns"]["path"] == service.listed[:5] and answer["other"] == {}
    assert answer["unknown"] == ["Not.known"]
    assert len({len(column) for column in answer["columns"].values()}) == 1


def served_frames(seconds: float, service: Any = None) -> list[dict[str, Any]]:
    """The example hall's column answer at `seconds` as the tiro_mock connector frames it: with series ids."""
    service = service or example_service(seed=5)
    answer = service.batch_columns(service.listed)
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat()
    answer["columns"]["timestamp"] = [stamp] * len(answer["columns"]["path"])
    columns = _checked_columns(answer["columns"], answer["model"])
    assert columns is not None
    return column_frames(columns, list(map(_category_of, columns["path"])), answer["model"])


def test_the_columns_answer_carries_each_points_series_id_in_the_mocks_model_and_preprocess_keeps_them():
    service = example_service(seed=5)
    table = service.series
    framed = served_frames(1.8e9, service)
    assert {frames.model_of(frame) for frame in framed} == {table.fingerprint}
    records = preprocess(True).convert_batch(framed, "s")
    for frame in records:
        columns = frame["columns"]
        assert frames.model_of(frame) == table.fingerprint
        assert columns["series"] == [table.ids[path] for path in columns["path"]]
    lp = {"type": "influx_line_protocol", "measurement": "m", "field_name": "field", "frames": True}
    without = [frames.make_frame(f["_frame"]["schema"], {**f["columns"]}, f["_karez"]) for f in records]
    for frame in without:
        frame["columns"].pop("series")
    assert LineProtocol(lp, None).convert_batch(records, "s") == LineProtocol(lp, None).convert_batch(without, "s")


def test_an_answer_whose_series_ids_are_not_one_integer_per_path_is_refused_saying_so():
    answer = example_service(seed=5).batch_columns(example_service(seed=5).listed[:4])
    assert _checked_columns(answer["columns"], None) is not None  # ids without a model are left out
    assert "series" not in _checked_columns(answer["columns"], None)  # type: ignore[operator]
    for bad in ([1, 2, 3], [1, 2, "3", 4]):
        with pytest.raises(ValueError, match="its 'series' column is not an integer id per path"):
            _checked_columns({**answer["columns"], "series": bad}, answer["model"])


async def test_frames_with_series_ids_are_stored_as_those_without_and_later_rounds_find_series_by_id(tmp_path):
    by_id_url, by_path_url = f"sqlite:///{tmp_path / 'i.db'}", f"sqlite:///{tmp_path / 'p.db'}"
    by_id, by_path = store(by_id_url), store(by_path_url)
    for seconds in (1.8e9, 1.8e9 + 10, 1.8e9 + 20):
        batch = preprocess(True).convert_batch(served_frames(seconds), "s")
        stripped = [frames.make_frame(f["_frame"]["schema"], dict(f["columns"]), f["_karez"]) for f in batch]
        for frame in stripped:
            frame["columns"].pop("series")
        await by_id.handle_items(batch, "s")
        await by_path.handle_items(stripped, "s")
        await by_id.flush_writes()
        await by_path.flush_writes()
    assert stored(by_id_url) == stored(by_path_url)
    telemetry = by_id.stores.telemetry  # type: ignore[union-attr]
    model = frames.model_of(batch[0])
    assert telemetry._sids_of_model((model, batch[0]["columns"]["series"])) is not None
    assert telemetry._sids_of_model(("another model", batch[0]["columns"]["series"])) is None
    await by_id.close()
    await by_path.close()


SHAPES = ["on-time", "across-the-end", "odd-stamps", "late", "in-the-carry", "into-the-carry", "spread", "skewed"]


@pytest.mark.parametrize("by_id", [False, True], ids=["by-path", "by-series-id"])
@pytest.mark.parametrize("shape", SHAPES)
def test_columns_are_collected_into_the_windows_items_would_go_to(shape, by_id):
    from tiro.plugins.karez.windows import WindowedValidator
    from tiro_models.validation.collector import dp_objects

    judged: dict[str, list[dict[str, Any]]] = {"items": [], "columns": []}

    def keeping(name):
        def check(flat, start, end):
            judged[name].append(flat)
            return validate_nothing(start, end)

        return check

    t0 = 1_800_000_000.0
    n = 50
    offsets = {
        "on-time": [1 + i * 0.01 for i in range(n)],
        "across-the-end": [5 + i * 0.2 for i in range(n)],  # runs into the carried end and the next window
        "odd-stamps": [1 + i * 0.01 for i in range(n)],
        "late": [-30 + i * 0.01 for i in range(n)],
        # the last second of a window (its lateness, 1 s at first) counts in the next window too
        "in-the-carry": [9.2 + i * 0.01 for i in range(n)],  # all in that stretch
        "into-the-carry": [8.5 + i * 0.02 for i in range(n)],  # half in it, half before it
        # devices' own moments over 25 s, in no order: a judged window (late), open ones, carries
        "spread": [((i * 7919) % n) / n * 25 - 12 for i in range(n)],
        "skewed": [1 + i * 0.01 if i % 3 else 40 + i for i in range(n)],  # a third stamped far ahead of arrival
    }[shape]
    stamps: list[Any] = [datetime.fromtimestamp(t0 + o, UTC).isoformat() for o in offsets]
    if shape == "odd-stamps":
        stamps[3], stamps[7] = None, "not a time"
    paths = [f"DataHall.data_hall_0.Rack.rack_{i % 40}.Telemetry.X" for i in range(n)]  # some twice
    units = [None if i % 2 else "°C" for i in range(n)]
    series = ("model-1", [i % 40 for i in range(n)]) if by_id else None
    by_items = WindowedValidator(keeping("items"), 10, started_at=t0 - 11)
    by_columns = WindowedValidator(keeping("columns"), 10, started_at=t0 - 11)
    by_items.close()  # the window before t0's is judged: samples for it are late and revise it
    by_columns.close()
    arrival = t0 + 2
    for round_ in range(2):  # the second round finds every series id learned (by_id)
        values = [float(i + 100 * round_) for i in range(n)]
        by_items.collect_many(zip(paths, dp_objects(values, stamps, units), strict=True), arrival)
        by_columns.collect_columns(paths, values, stamps, units, arrival, series)
    for validator in (by_items, by_columns):
        validator.close()  # t0's window, judged; then its revision and the windows still open
    reports = [v.revisions() + [v.close() for _ in range(4)] for v in (by_items, by_columns)]
    assert [r.to_dict() for r in reports[0]] == [r.to_dict() for r in reports[1]]
    assert judged["items"] == judged["columns"]  # every window's samples, the latest of each point
    assert by_items.lateness._ages == by_columns.lateness._ages
    if shape in ("in-the-carry", "into-the-carry"):
        carried = n if shape == "in-the-carry" else n // 2
        assert [r.collected for r in reports[0][:2]] == [40, min(carried, 40)]
    if by_id and shape != "odd-stamps":  # (a timestamp that does not parse: sample by sample, by path)
        assert by_columns._series.knows_all("model-1", list(range(40)))


def validate_nothing(start: datetime, end: datetime) -> Any:
    """A check that passes every snapshot, for tests of what a window collects (its count is in the report)."""
    from tiro_models.validation.result import ValidationResult

    return ValidationResult(start=start, end=end, errors=[], counts={}, strict=False)


def test_the_connector_finds_each_rows_category_by_series_id_once_a_models_ids_came_with_their_paths():
    from tiro.plugins.karez.mock_collector import _Categories

    paths = [f"Hall.hall_0.Rack.rack_{i}.{'Attribute' if i % 3 else 'Telemetry'}.P" for i in range(30)]
    columns, model = {"path": paths, "series": list(range(100, 130))}, "tiro.series/1:test"
    expected = list(map(_category_of, columns["path"]))
    assert {"telemetry", "attribute"} <= set(expected)
    categories = _Categories()
    assert categories.of_rows(columns, model) == expected  # learned from the paths
    assert categories.of_rows({**columns, "path": ["?"] * len(expected)}, model) == expected  # then by id alone
    swapped = {**columns, "series": columns["series"][::-1]}  # the same ids, another order: still by id
    assert categories.of_rows(swapped, model) == expected[::-1]
    other = {**columns, "series": [i + 10**6 for i in columns["series"]]}  # ids not seen: by path again
    assert categories.of_rows(other, model) == expected
    assert categories.of_rows(columns, None) == expected  # no model: by path


def test_preprocess_checks_each_series_once_by_path_and_never_passes_an_id_whose_path_failed():
    converter = preprocess(True)
    frame = served_frames(1.8e9)[0]
    bad_row = 3
    frame["columns"]["path"][bad_row] = "Not.a.path"
    n = len(frame["columns"]["path"])
    for _ in range(2):  # the second time the good ids are known by id; the bad row's id is not: checked again
        out = converter.convert_batch([copy.deepcopy(frame)], "s")
        framed = [f for f in out if frames.is_frame(f)]
        assert sum(len(f["columns"]["path"]) for f in framed) == n - 1
        assert "Not.a.path" not in framed[0]["columns"]["path"]


# ----- influx_writer on frames -----
def influx_writer() -> InfluxWriterAggregator:
    config = {"type": "influx_writer", "category": "store_data", "url": "http://127.0.0.1:9", "frames": True}
    return InfluxWriterAggregator(config, nats_addr=None)


def test_influx_writer_writes_a_records_frame_as_the_lines_its_records_give_by_id_and_by_path():
    batch = [f for f in records_frames(1.8e9 + 0.123456) if frames.is_frame(f)]
    expected = [line for f in batch for line in encode_lines(frames.expand([copy.deepcopy(f)])) if line]
    assert len(expected) > 10
    writer = influx_writer()
    by_path = [writer.accept(copy.deepcopy(f)) for f in batch]
    assert "\n".join(text for text, _ in by_path).split("\n") == expected
    assert sum(n for _, n in by_path) == len(expected)
    # with series ids the heads are found by id; a second round comes from the remembered heads
    with_ids = [
        frames.make_frame(f["_frame"]["schema"], {**f["columns"], "series": list(range(frames.frame_length(f)))},
                          f["_karez"], f"model-{i}")
        for i, f in enumerate(batch)
    ]  # fmt: skip
    for _ in range(2):
        assert [writer.accept(copy.deepcopy(f)) for f in with_ids] == by_path


def test_influx_writer_drops_a_row_it_cannot_write_naming_its_path_and_a_frame_of_another_schema(caplog):
    writer = influx_writer()
    frame = copy.deepcopy(next(f for f in records_frames(1.8e9) if frames.is_frame(f)))
    n = frames.frame_length(frame)
    bad_path = frame["columns"]["path"][1]
    frame["columns"]["value"][1] = {"not": "a value"}
    with caplog.at_level(logging.ERROR):
        text, count = writer.accept(frame)
    assert count == n - 1 == len(text.split("\n"))
    assert writer.stats.dropped == 1
    assert any(f"Dropped row 1 ({bad_path}) of a tiro.records frame" in r.getMessage() for r in caplog.records)
    points = column_frames({"path": [FLOW], "value": [1.0], "timestamp": [TS], "unit": [None]}, ["telemetry"])[0]
    assert writer.accept(points) is None and writer.stats.dropped == 2
    assert any("Dropped a tiro.points frame of 1 rows" in r.getMessage() for r in caplog.records)
