"""Test connector: the `numbers` items as one frame of schema `test.numbers` (columns n, value, timestamp)."""

from karez.connector.base import PullConnectorBase
from karez.frames import COLUMNS_KEY, FrameSchema, make_frame, register_schema


def _rows(frame, indices):
    columns = frame[COLUMNS_KEY]
    rows = range(len(columns["n"])) if indices is None else indices
    return [{"n": columns["n"][i], "value": columns["value"][i], "timestamp": columns["timestamp"][i]} for i in rows]


NUMBERS = register_schema(FrameSchema("test.numbers", ("n", "value", "timestamp"), _rows))


class Connector(PullConnectorBase):
    """Turns integer entities into one frame (per-item objects without `frames`)."""

    FRAMES = True

    async def fetch_data(self, client, entities):
        columns = {
            "n": list(entities),
            "value": [e * 1.5 for e in entities],
            "timestamp": [1700000000 + e for e in entities],
        }
        frame = make_frame(NUMBERS.name, columns)
        return [frame] if self.frames_encoding is not None else _rows(frame, None)
