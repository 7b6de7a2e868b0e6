"""Series ids (tiro_models.series): a stable integer per data point, and a fingerprint that tells models apart."""

from __future__ import annotations

from tiro.examples import example_dir, example_files
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.series import series_table


def table(*uses_index: int, numbering: str = "global"):
    scenario, uses = example_files(example_dir())
    model = load_model(scenario, [uses[i] for i in uses_index])
    return series_table(instantiate(model, seed=1, numbering=numbering))  # type: ignore[arg-type]


def test_the_same_scenario_and_uses_give_the_same_ids_and_fingerprint_in_every_compile():
    first, again = table(0, 1), table(0, 1)
    assert first.fingerprint == again.fingerprint and first.fingerprint.startswith("tiro.series/1:")
    assert first.paths == again.paths == tuple(sorted(first.paths))
    assert [first.ids[p] for p in first.paths] == list(range(len(first.paths)))


def test_other_uses_or_another_numbering_give_another_fingerprint():
    both, one = table(0, 1), table(0)
    assert set(one.paths) < set(both.paths) and one.fingerprint != both.fingerprint
    per_parent = table(0, 1, numbering="per_parent")
    assert (per_parent.fingerprint == both.fingerprint) == (per_parent.paths == both.paths)
