"""Converters that turn mock-server items into flat records (with epoch timestamps) and map uuids to paths."""

from __future__ import annotations

from collections.abc import Iterator

from dateutil import parser

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase
from karez.converter.extras.fix_timestamp import Converter as FixTimestampConverter
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.plugins.karez.timestamps import EpochConverter
from tiro.reference import read_reference
from tiro_models.paths import asset_type_path
from tiro_models.records import decompose
from tiro_models.spec import CATEGORIES


class _EpochTimestamps(FixTimestampConverter):
    """fix_timestamp whose `tz_infos` is optional, with a cached fast path for aware ISO strings."""

    @classmethod
    def config_entities(cls):
        """`tz_infos` becomes optional (Tiro works without it)."""
        yield from super().config_entities()
        yield OptionalConfigEntity("tz_infos", {}, "Mapping from timezone abbreviations to IANA names")

    @property
    def epoch(self) -> EpochConverter:
        """The converter, built once (naive and odd strings go through dateutil with tz_infos)."""
        converter = self.__dict__.get("_epoch")
        if converter is None:
            tzinfos = self.tz_infos
            converter = EpochConverter(lambda ts: parser.parse(ts, tzinfos=tzinfos).timestamp())
            self.__dict__["_epoch"] = converter
        return converter


class TiroPreprocessConverter(_EpochTimestamps):
    """Splits `{path, result}` items into flat data-point records with epoch-second timestamps."""

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Decompose Tiro data into flat records with epoch timestamps."

    def convert(self, payload: dict) -> Iterator[dict]:
        """One record per data point under `payload["path"]` (spec §3.4 shape)."""
        epoch = self.epoch
        for record in decompose(payload["path"], payload["result"]):
            record["timestamp"] = epoch(record.get("timestamp"))
            yield record


class TiroUpdateInfoForValueConverter(_EpochTimestamps):
    """Turns by-uuid items `{name, value[, timestamp]}` into by-path items using a reference's uuid_map."""

    @classmethod
    def config_entities(cls):
        """Reference, scenario and uses files."""
        yield from super().config_entities()
        yield ConfigEntity("reference", "Reference YAML with a uuid_map")
        yield ConfigEntity("scenario", "Scenario YAML")
        yield ConfigEntity("uses", "Uses YAML file(s): a list or a comma-separated string")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Map uuid values to Tiro data-point paths."

    def _table(self) -> dict[str, tuple[str, str]]:
        """uuid → (data-point path, category token), built once."""
        table = self.__dict__.get("_uuid_table")
        if table is None:
            model = model_for(self.config.scenario, split_uses(self.config.uses))
            uuid_map = read_reference(self.config.reference).get("uuid_map") or {}
            table = {}
            for uuid, target in uuid_map.items():
                asset, _, name = str(target).rpartition(".")
                type_path = f"{asset_type_path(asset)}.{name}"
                spec = model.points.get(type_path)
                category = spec.category if spec is not None else CATEGORIES[0]
                if spec is None:
                    self.log("warning", f"uuid {uuid}: {type_path} is not required by the uses; sent as telemetry")
                table[str(uuid)] = (f"{asset}.{category}.{name}", category.lower())
            self.__dict__["_uuid_table"] = table
        return table

    def convert(self, payload: dict) -> Iterator[dict]:
        """`{path, result: {value, timestamp, ...}, _karez.category}`; unknown uuids are logged and dropped."""
        payload = dict(payload)
        payload.pop("_karez", None)
        uuid = payload.pop("name", None)
        target = self._table().get(str(uuid))
        if target is None:
            self.log("error", f"Cannot find uuid {uuid} in {self.config.reference}; item dropped")
            return
        if "timestamp" in payload or self.is_configured("tz_infos"):
            payload["timestamp"] = self.epoch(payload.get("timestamp"))
        path, category = target
        yield {"path": path, "result": payload, "_karez": {"category": category}}


class TiroFilterByReferenceConverter(ConverterBase):
    """Passes an item on only when its uuid field is in the reference's uuid_map."""

    @classmethod
    def config_entities(cls):
        """Reference file and the item key holding the uuid."""
        yield from super().config_entities()
        yield ConfigEntity("reference", "Reference YAML with a uuid_map")
        yield ConfigEntity("uuid_field", "Item key that holds the uuid")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Keep only items whose uuid is in a Tiro reference."

    def convert(self, payload: dict) -> Iterator[dict]:
        """The payload itself, or nothing."""
        known = self.__dict__.get("_known")
        if known is None:
            known = set(map(str, (read_reference(self.config.reference).get("uuid_map") or {})))
            self.__dict__["_known"] = known
        if str(payload.get(self.config.uuid_field)) in known:
            yield payload
