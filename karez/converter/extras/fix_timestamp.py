"""The `fix_timestamp` converter: timestamps to float epoch seconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from dateutil import parser, tz

from karez.config import ConfigEntity
from karez.converter.base import ConverterBase

logger = logging.getLogger("karez")


class Converter(ConverterBase):
    """Parses string timestamps (with tz abbreviations from `tz_infos`) into epoch seconds."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """`tz_infos`: abbreviation → IANA zone name."""
        yield from super().config_entities()
        yield ConfigEntity("tz_infos", "Mapping from timezone abbreviations to IANA names, e.g. {SGT: Asia/Singapore}")

    @cached_property
    def tz_infos(self) -> dict[str, Any]:
        """dateutil tzinfos built once; an unknown zone name is warned about once and means local time."""
        zones = {}
        for abbr, name in dict(self.config.tz_infos or {}).items():
            zone = tz.gettz(name)
            if zone is None:
                self.log("warning", f"Unknown time zone {name!r} for {abbr}; using local time.")
            zones[abbr] = zone
        return zones

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield the payload with `timestamp` as float epoch seconds (now when missing)."""
        ts = payload.get("timestamp")
        if isinstance(ts, str) and ts:
            payload["timestamp"] = parser.parse(ts, tzinfos=self.tz_infos).timestamp()
        elif not ts:
            payload["timestamp"] = time.time()
        yield payload
