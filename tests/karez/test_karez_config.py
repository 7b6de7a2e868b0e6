"""Config entities, the case-insensitive box and the settings loader."""

from __future__ import annotations

import pytest

from karez.box import ConfigBox
from karez.config import ConfigEntity, ConfigurableBase, OptionalConfigEntity, collect_entities
from karez.settings import ConfigError, load_settings, resolve_token


class Sample(ConfigurableBase):
    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        kind = ConfigEntity("type", "the type")
        yield kind
        yield OptionalConfigEntity("name", kind, "name")
        yield OptionalConfigEntity("retry", 3, "retries")
        yield OptionalConfigEntity("Schema", None, "schema")


class InstanceDeclared(ConfigurableBase):
    def config_entities(self):
        yield ConfigEntity("db_name", "db")


def test_box_is_case_insensitive_with_attribute_access():
    box = ConfigBox({"Base_URL": "http://x", "security": {"Type": "basic"}})
    assert box["base_url"] == "http://x"
    assert box.get("BASE_URL") == "http://x"
    assert box.security.type == "basic"
    assert "base_url" not in box  # membership stays case-sensitive, as upstream
    assert box.has("base_url")


def test_required_optional_and_same_as_semantics():
    s = Sample({"type": "t", "retry": None, "schema": {"a": 1}})
    assert s.config.name == "t"  # `name` defaults to `type`
    assert s.config.retry is None  # explicit null is not replaced by the default
    assert s.config.schema == {"a": 1}  # entity lookup is case-insensitive (declared `Schema`)
    assert s.is_configured("retry")
    assert Sample({"type": "t"}).config.retry == 3
    with pytest.raises(RuntimeError, match="Config entity type is required but not found"):
        _ = Sample({}).config.type


def test_unknown_entity_warns_and_returns_none(caplog):
    assert Sample({"type": "t"}).config.nope is None
    assert "Unknown config entity nope" in caplog.text


def test_instance_method_config_entities_work_on_class_and_instance():
    assert set(collect_entities(InstanceDeclared)) == {"db_name"}
    assert InstanceDeclared({"db_name": "x"}).config.db_name == "x"
    assert InstanceDeclared.config_docs() == [" - db_name: db."]


def test_descriptions_end_with_exactly_one_period():
    assert ConfigEntity("a", "text...").description == "text."
    assert ConfigEntity("a", "text").description == "text."


def test_later_files_replace_top_level_keys_case_insensitively(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("DISPATCHERS: [{type: default}]\nconverters: [{type: echo}]\n")
    b.write_text("converters: [{type: fix_timestamp}]\n")
    settings = load_settings([str(a), str(b)], environ={})
    assert settings.dispatchers[0].type == "default"
    assert [c.type for c in settings.converters] == ["fix_timestamp"]


def test_env_overrides_and_tokens(tmp_path):
    f = tmp_path / "k.yaml"
    f.write_text('aggregators: [{type: echo, category: "@format {env[CAT]}", port: "@int 42", x: "@json [1]"}]\n')
    env = {"CAT": "telemetry", "KAREZ_CONNECTORS": '[{"type": "x"}]'}
    settings = load_settings([str(f)], environ=env)
    agg = settings.aggregators[0]
    assert (agg.category, agg.port, agg.x) == ("telemetry", 42, [1])
    assert settings.connectors[0].type == "x"
    assert load_settings([str(f)], environ={**env, "KAREZ_CONNECTORS": "a: 1"}).connectors == {"a": 1}


def test_missing_env_in_token_names_the_file(tmp_path):
    f = tmp_path / "k.yaml"
    f.write_text('aggregators: [{type: echo, category: "@format {env[NOPE]}"}]\n')
    with pytest.raises(ConfigError, match=r"k\.yaml.*NOPE is not set"):
        load_settings([str(f)], environ={})


def test_yaml_error_names_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("dispatchers:\n  - type: default\n    interval: [1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_settings([str(f)], environ={})


def test_role_configs_remember_their_origin(tmp_path):
    f = tmp_path / "k.yaml"
    f.write_text("converters:\n  - type: echo\n  - type: echo\n    name: two\n")
    settings = load_settings([str(f)], environ={})
    assert settings.converters[1].origin == f"{f}:3"


def test_resolve_token_leaves_plain_strings():
    assert resolve_token("plain", {}) == "plain"
    assert resolve_token("@bool yes", {}) is True


def test_a_yes_no_key_reads_booleans_and_their_texts_and_refuses_the_rest_naming_the_key():
    from karez.config import switch

    for on in (True, "true", "True", " yes", "on", "1", 1):
        assert switch(on, "fuse") is True
    for off in (False, "false", "FALSE", "no", "off", "0", 0):
        assert switch(off, "fuse") is False
    for odd in ("maybe", None, 2, [], "tru"):
        with pytest.raises(ValueError, match=r"^c1: fuse must be true or false, not "):
            switch(odd, "c1: fuse")
