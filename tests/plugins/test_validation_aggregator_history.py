"""The tiro_validate aggregator keeps each window's result in `results_store`, and survives a store that fails."""

from __future__ import annotations

from tiro.examples import example_dir, example_files
from tiro.plugins.karez.validate_aggregator import ValidationAggregator
from tiro.stores.window_results import open_window_results


def _role(results_store: str) -> ValidationAggregator:
    scenario, uses = example_files(example_dir("datahall"))
    config = {"type": "tiro_validate", "category": "validation_data", "retention": 10, "results_store": results_store,
              "scenario": str(scenario), "uses": ",".join(map(str, uses))}  # fmt: skip
    return ValidationAggregator(config, nats_addr=None)


def test_each_window_is_kept_as_an_aggregator_result(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(url)
    role.report(role.windows.close())
    role.windows.partial = False
    role.report(role.windows.close())
    store = open_window_results(url)
    kept = store.recent(10, source="aggregator")
    store.close()
    assert len(kept) == 2 and kept[-1].valid is False and kept[-1].missing == kept[-1].expected > 0
    assert kept[0].end <= kept[1].start


def test_a_store_that_fails_is_logged_and_validation_goes_on(tmp_path, capsys):
    role = _role(f"sqlite:///{tmp_path / 'no-such-folder' / 'tiro.db'}")
    role.report(role.windows.close())
    assert role.stats.errors == 1 and len(role.reports) == 1
    assert "[tiro_validate]" in capsys.readouterr().out  # the summary line was still printed
