"""Fuzz the tiro_validate window: any collected items still close into a report that is printed and logged as JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fuzz_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from tiro.examples import example_dir, example_files
from tiro.plugins.karez import ValidationAggregator
from tiro_models.compile import load_model
from tiro_models.errors import InputError
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker

SCENARIO, USES = example_files(example_dir("datahall"))
FLAT = Mocker(instantiate(load_model(SCENARIO, USES), seed=6), seed=6).flat()
PATHS = list(FLAT)

values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=10),
        st.sampled_from([math.nan, math.inf, "2022-09-26T23:45:50", "not a time", -1e308]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10,
)  # fmt: skip
paths = st.one_of(st.sampled_from(PATHS), st.sampled_from(PATHS).map(lambda p: p + ".x"), st.text(max_size=30), values)
results = st.one_of(
    st.sampled_from(list(FLAT.values())),
    st.fixed_dictionaries({"value": values, "timestamp": values}),
    values,
)
items = st.one_of(st.fixed_dictionaries({"path": paths, "result": results}), values)


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_validation_window(tmp_path: Path, tally, strict: bool) -> None:
    log = tmp_path / "validation.log"
    role = ValidationAggregator(
        {"type": "tiro_validate", "category": "validation_data", "scenario": str(SCENARIO),
         "uses": ",".join(map(str, USES)), "retention": 60, "log_file": str(log), "strict": strict, "max_age": 60},
        nats_addr=None,
    )  # fmt: skip

    @FUZZ
    @given(batch=st.lists(items, max_size=8))
    def case(batch: list) -> None:
        for item in batch:
            try:
                role.process(item)
            except InputError as e:  # a clear refusal, logged as an error by the runtime; the window must survive
                assert str(e)
                refused = f"refused {type(e).__name__}"
                tally.outcomes[refused] = tally.outcomes.get(refused, 0) + 1
        before = log.stat().st_size if log.exists() else 0
        report = role.windows.close()
        role.report(report)
        line = log.read_bytes()[before:].decode("utf-8")  # `before` counts bytes, not characters
        body = json.loads(line)
        assert body["valid"] in (True, False) and line.endswith("\n")
        tally.count("valid window" if body["valid"] else "invalid window")

    case()
    tally.boundary = f"tiro_validate windows ({'strict' if strict else 'lenient'})"
