"""Series ids (tiro_models.series): a stable integer per data point, and a fingerprint that tells models apart."""

from __future__ import annotations

from tiro.examples import example_dir, example_files
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.series import MODELS_REMEMBERED, SeriesMemory, series_table


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


def test_a_series_memory_knows_an_id_only_of_the_model_it_was_learned_in_and_stays_bounded():
    memory: SeriesMemory[str] = SeriesMemory(limit=3)
    memory.learn("m1", [(7, "a.Telemetry.X"), (8, "b.Telemetry.X")])
    assert memory.lookup("m1", [8, 7]) == ["b.Telemetry.X", "a.Telemetry.X"]
    assert memory.knows_all("m1", [7, 8]) and not memory.knows_all("m1", [7, 9])
    assert memory.lookup("m1", [7, 9]) is None and memory.lookup("m2", [7]) is None
    memory.learn("m1", [(9, "c.Telemetry.X"), (10, "d.Telemetry.X")])
    held = memory.of_model("m1")
    memory.learn("m1", [(11, "e.Telemetry.X")])  # it knew 3 ids or more: the model starts afresh
    assert memory.lookup("m1", [11]) == ["e.Telemetry.X"] and not memory.knows_all("m1", [7])
    assert sorted(held) == [7, 8, 9, 10]  # a holder's table stays whole
    for k in range(MODELS_REMEMBERED):  # one model more than it remembers: it forgets them all and learns again
        memory.learn(f"other{k}", [(1, "x")])
    assert len(memory) == 1 and memory.knows_all(f"other{MODELS_REMEMBERED - 1}", [1])
    memory.forget()
    assert len(memory) == 0 and memory.of_model("m1") == {}
