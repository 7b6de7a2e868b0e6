"""The one routing rule and meta merge that every role kind uses."""

from __future__ import annotations

from karez.routing import META_KEY, merged_meta, route, with_source_meta


def test_an_outputs_own_meta_wins_and_no_input_changes():
    source, own = {"category": "telemetry", "a": 1}, {"category": "graph"}
    assert merged_meta(source, own) == {"category": "graph", "a": 1}
    assert source == {"category": "telemetry", "a": 1} and own == {"category": "graph"}
    assert merged_meta(None, None) == {} and merged_meta(source, None) is not source


def test_outputs_get_the_source_meta_except_the_source_itself():
    source = {"x": 1}
    new = {"y": 2, META_KEY: {"k": 1}}
    out = with_source_meta([source, new, "text"], {**source, META_KEY: {"category": "c"}})
    assert out[1] == {"y": 2, META_KEY: {"category": "c", "k": 1}} and new[META_KEY] == {"k": 1}
    assert out[2] == "text"
    in_place = {"x": 1}
    assert with_source_meta([in_place], in_place)[0] is in_place and in_place[META_KEY] == {}


def test_items_go_to_each_target_in_turn_and_null_means_their_category():
    items = [{"i": 0, META_KEY: {"category": "graph"}}, {"i": 1}, "raw"]
    out = route(items, ["conv", None], "p")
    assert [(s, i if isinstance(i, str) else i["i"]) for s, i in out] == [
        ("karez.converter.conv", 0),
        ("karez.graph.p", 0),
        ("karez.converter.conv", 1),
        ("karez.telemetry.p", 1),
        ("karez.converter.conv", "raw"),
        ("karez.telemetry.p", "raw"),
    ]
    assert route(items[:2], [None], "p") == [("karez.graph.p", items[0]), ("karez.telemetry.p", items[1])]
