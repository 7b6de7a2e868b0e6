"""Start-up validation lists every problem with one clear message each."""

from __future__ import annotations

from karez.config_check import validate_config
from karez.plugins import all_plugins


def errors_of(config: dict, plugin_dir=None):
    report = validate_config(config, all_plugins(plugin_dir))
    return report.errors, report.warnings


def test_valid_config_has_no_errors():
    config = {
        "dispatchers": [{"type": "default", "interval": 1, "connector": "src", "entities": [1]}],
        "connectors": [{"type": "numbers", "name": "src", "converter": "c1"}],
        "converters": [{"type": "echo", "name": "c1", "next": ["c2", None]}, {"type": "echo", "name": "c2"}],
        "aggregators": [{"type": "echo", "category": "telemetry"}],
    }
    from pathlib import Path

    assert errors_of(config, Path(__file__).parent / "plugins") == ([], [])


def test_every_problem_is_reported_at_once():
    config = {
        "dispatchers": [
            {"type": "default", "connector": "ghost", "mode": "sometimes"},  # no interval, dangling, bad mode
            {"type": "nope"},
        ],
        "connectors": [{"name": "x"}],  # missing type
        "converters": [
            {"type": "echo", "name": "a", "next": "b"},
            {"type": "echo", "name": "b", "next": ["a"]},  # cycle a -> b -> a
            {"type": "echo", "name": "bad.name", "next": "missing"},
            {"type": "filter_and_update_meta", "name": "f", "rename": {"telemetry": "dlq"}},
        ],
        "aggregators": [
            {"type": "echo", "name": "e1", "category": "telemetry"},
            {"type": "echo", "name": "e2", "category": "telemetry"},
            {"type": "echo", "name": "e3", "category": "converter"},
            {"type": "echo", "name": "e4", "category": "has space"},
            {"type": "echo", "name": "e5"},
        ],
    }
    errors, warnings = errors_of(config)
    text = "\n".join(errors)
    assert "dispatchers[0] (dispatcher 'default'): missing required key 'interval'" in text
    assert "connector 'ghost' is not defined" in text
    assert "unknown dispatcher type 'nope'" in text
    assert "connectors[0] (connector 'x'): missing required key 'type'" in text
    assert "converter cycle: a -> b -> a" in text
    assert "name 'bad.name' is not a valid NATS subject token" in text
    assert "next converter 'missing' is not defined" in text
    assert "renamed category 'dlq' is reserved" in text
    assert "category 'converter' is reserved" in text
    assert "category 'has space' is not a valid NATS subject token" in text
    assert "(aggregator 'e5'): missing required key 'category'" in text
    assert "mode 'sometimes' is not one of burst, rand, even, rand_mixed, even_mixed" in text
    assert len(errors) == 12
    assert any("e1, e2 share category 'telemetry'" in w for w in warnings)


def test_string_converter_and_converters_alias_are_checked():
    base = {"converters": [{"type": "echo", "name": "ok"}]}
    errors, _ = errors_of({**base, "connectors": [{"type": "echo", "converter": "nothere"}]})
    assert any("unknown connector type 'echo'" in e for e in errors)
    assert any("converter 'nothere' is not defined" in e for e in errors)
    errors, _ = errors_of({**base, "connectors": [{"type": "x", "converters": ["ok", "gone"]}]})
    assert any("converter 'gone' is not defined" in e for e in errors)
    assert not any("'ok' is not defined" in e for e in errors)
