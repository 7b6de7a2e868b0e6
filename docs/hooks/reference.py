"""MkDocs hook: reference pages generated from the code, so they cannot drift from it.

A page asks for generated text with a marker line: `<!-- tiro:cli tiro -->` / `<!-- tiro:cli karez -->` (every
command of that CLI, from its click command tree), `<!-- tiro:plugins -->` (every Karez plugin with a sample config
block listing each key and its default) and `<!-- tiro:environment -->` (the environment variables).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import typer
import yaml

MARKER = re.compile(r"^<!-- tiro:(cli (?P<cli>\w+)|plugins|environment) -->$", re.M)

# Every environment variable the code reads (tests/docs checks this list against the code): name -> what it sets.
ENVIRONMENT: dict[str, str] = {
    "TIRO_STORE": "One store URL for telemetry and graph (default `sqlite:///tiro.db`, relative to the working dir).",
    "TIRO_TELEMETRY_URL": "The telemetry store (sqlite, `influx+http://…`); `none` turns it off; wins over TIRO_STORE.",
    "TIRO_GRAPH_URL": "The graph store (sqlite, `arango+http://…`); `none` turns it off. Wins over `TIRO_STORE`.",
    "TIRO_MOCK_URL": "Where the mock-server service listens and the roles collect from (default `http://localhost:8000`).",
    "TIRO_PROJECT_DIR": "The folder Prefect deployment runs change into (paths in parameters are relative to it).",
    "TIRO_INFLUX_URL": "InfluxDB URL for the `influx_writer` aggregator when its config has no `url`.",
    "TIRO_INFLUX_TOKEN": "InfluxDB token (or the Prefect Secret block `tiro-influx-token`).",
    "TIRO_INFLUX_ORG": "InfluxDB organisation for `influx_writer` when its config has none.",
    "TIRO_INFLUX_BUCKET": "InfluxDB bucket for `influx_writer` when its config has none.",
    "TIRO_ARANGO_USERNAME": "ArangoDB user (default `root`).",
    "TIRO_ARANGO_PASSWORD": "ArangoDB password (or the Prefect Secret block `tiro-arango-password`).",
    "PREFECT_API_URL": "Prefect's own setting: with it `tiro demo` ends with the link to the run in the Prefect UI.",
    "KAREZ_NATS_ADDR": "NATS URL(s), comma-separated, when `-a` is not given (then `NATS_URL`, then `localhost:4222`).",
    "NATS_URL": "NATS URL when neither `-a` nor `KAREZ_NATS_ADDR` is given.",
    "KAREZ_NATS_USER": "NATS user (`--user`).",
    "KAREZ_NATS_PASSWORD": "NATS password (`--password`).",
    "KAREZ_NATS_TOKEN": "NATS token (`--token`).",
    "KAREZ_NATS_CREDS": "NATS user credentials file, user JWT plus nkey seed (`--creds`).",
    "KAREZ_NATS_NKEY_SEED": "File holding a NATS user nkey seed (`--nkey-seed`).",
    "KAREZ_NATS_TLS_CA": "CA file for TLS to NATS (`--tls-ca`).",
    "KAREZ_NATS_TLS_CERT": "Client certificate for TLS to NATS (`--tls-cert`).",
    "KAREZ_NATS_TLS_KEY": "Client key for TLS to NATS (`--tls-key`).",
    "KAREZ_NATS_NO_RANDOMIZE": "`1`: try the listed NATS servers in order (the host's own node first), not shuffled.",
    "KAREZ_LEASE": "`1`: dispatchers and one-worker roles run only while holding their JetStream lease (`--lease`).",
    "KAREZ_LEASE_TTL": "Seconds a lease lives without renewal (`--lease-ttl`, default 5; the same on every host).",
    "KAREZ_EVENT_LOOP": "`asyncio`: `karez deploy` runs its roles on asyncio's own event loop instead of uvloop.",
}


_ITEM = {"host": "rack-a1", "sensor": "inlet_temp", "value": 23.5, "timestamp": "2025-12-01 10:30:00 SGT"}

# Converters that run offline on one sample item: type -> (config keys, input item). Only the input is written here;
# the output on the page is what the converter really yields for it when the site is built.
EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "echo": ({}, {**_ITEM, "_karez": {"category": "telemetry"}}),
    "filter_and_update_meta": (
        {"key": "category", "filter": ["telemetry"], "rename": {"telemetry": "influx"}},
        {**_ITEM, "_karez": {"category": "telemetry"}},
    ),
    "fix_timestamp": ({"tz_infos": {"SGT": "Asia/Singapore"}}, dict(_ITEM)),
    "influx_json_format": (
        {"measurement": "dc", "field_name": "sensor"},
        {**_ITEM, "timestamp": 1764556200},
    ),
    "influx_line_protocol": (
        {"measurement": "dc", "field_name": "sensor"},
        {**_ITEM, "timestamp": 1764556200},
    ),
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker line with the text it names."""

    def generate(match: re.Match[str]) -> str:
        if match.group("cli"):
            return cli_reference(match.group("cli"))
        return plugins_reference() if match.group(1) == "plugins" else environment_reference()

    return MARKER.sub(generate, markdown)


def _app(name: str) -> Any:
    if name == "tiro":
        from tiro_prefect.cli.app import app
    elif name == "karez":
        from karez.cli import app
    else:
        raise ValueError(f"no CLI called {name!r}")
    return typer.main.get_command(app)


def cli_reference(name: str) -> str:
    """Every command of a CLI: its usage line, help text and options, one section each."""
    root = _app(name)
    sections: list[str] = []

    def walk(command: Any, path: list[str], parent: Any) -> None:
        # Typer ships its own copy of click: its classes, not click's, so ask the command for its context class
        ctx = command.context_class(command, info_name=path[-1], parent=parent)
        if parent is None or not hasattr(command, "list_commands"):  # the root's options, then every command
            sections.append(_command_section(command, path, ctx))
        if hasattr(command, "list_commands"):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    walk(child, [*path, sub], ctx)

    walk(root, [name], None)
    return "\n".join(sections)


def _command_section(command: Any, path: list[str], ctx: Any) -> str:
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"### `{' '.join(path)}`", "", (command.help or "").strip(), "", "```text", f"{' '.join(path)} {usage}"]
    lines.append("```")
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        cell = text.replace("|", r"\|")
        rows.append(f"| `{names}` | {cell} |")
    if rows:
        lines += ["", "| option | meaning |", "|---|---|", *rows]
    return "\n".join(lines) + "\n"


def plugins_reference() -> str:
    """Every Karez plugin (built-in or Tiro's), its description and a sample config block with every key."""
    from karez.plugins import KINDS, all_plugins

    table = all_plugins(None)
    out: list[str] = []
    for kind in KINDS:
        out += [f"## {kind.capitalize()}s", ""]
        for name, cls in sorted(table[kind].items()):
            out += [f"### `{name}`", "", cls.role_description(), "", "```yaml", f"{kind}s:", f"  - type: {name}"]
            for entity in _entities(cls):
                if entity.name != "type":  # already on the `- type:` line
                    out.append(_config_line(entity))
            out += ["```", ""]
            if kind == "converter" and name in EXAMPLES:
                out += example_section(name, cls, *EXAMPLES[name])
    return "\n".join(out)


def example_section(name: str, cls: type, config: dict[str, Any], item: dict[str, Any]) -> list[str]:
    """Markdown lines showing a converter's output for a sample item, produced by running it offline."""
    from karez.offline import display_payload, run_role

    role = cls({"name": name, "type": name, **config}, nats_addr=None)
    outputs = asyncio.run(run_role(role, [item]))
    shown = [display_payload(payload) for _, payload in outputs]
    settings = "\n".join(f"    {key}: {json.dumps(value)}" for key, value in config.items())
    lines = ["Example: with", "", "```yaml", f"  - type: {name}", *([settings] if settings else []), "```", ""]
    lines += ["this input item", "", "```json", json.dumps(item, indent=2), "```", ""]
    lines += ["becomes", "", "```text" if all(isinstance(p, str) for p in shown) else "```json"]
    lines += [p if isinstance(p, str) else json.dumps(p, indent=2) for p in shown] + ["```", ""]
    return lines


def _entities(cls: type) -> list[Any]:
    from karez.config import collect_entities

    entities = list(collect_entities(cls).values())
    return [e for e in entities if e.required] + [e for e in entities if not e.required]


def _config_line(entity: Any) -> str:
    if entity.required:
        return f"    {entity.name}:    # required: {entity.description}"
    return f"    # {entity.name}: {_yaml_default(entity)}    # {entity.description}"


def _yaml_default(entity: Any) -> str:
    """The default as the YAML a user would write (`false`, `null`, `30`), or which key it follows."""
    from karez.config import ConfigEntity

    if isinstance(entity.default, ConfigEntity):
        return f"<same as {entity.default.name}>"
    return yaml.safe_dump(entity.default, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()


def environment_reference() -> str:
    """The environment variables, one table row each."""
    rows = [f"| `{name}` | {text} |" for name, text in sorted(ENVIRONMENT.items())]
    return "\n".join(["| variable | what it sets |", "|---|---|", *rows])
