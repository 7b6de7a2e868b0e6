"""The `karez` command line: deploy, test, collect, plugins, plugin-doc."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from karez.cli_kit import plain_typer, unreachable_address, unwrapped_console, version_option
from karez.cluster import ReplicasError, parse_replicas
from karez.deploy_plan import DeployPlan, RuntimeOptions
from karez.event_loop import event_loop_factory
from karez.leader import DEFAULT_LEASE_TTL, LeaseError, LeaseOptions
from karez.nats_options import NatsAuthError, resolve_address
from karez.plugins import KINDS, PluginError, all_plugins, search_plugins
from karez.settings import ConfigError, default_config_files, load_settings, role_configs

app = plain_typer(help="Karez-compatible role runtime on NATS.")
out = unwrapped_console()
err = unwrapped_console(stderr=True)

_debug = {"on": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug/--no-debug", help="Show full tracebacks for errors."),
    show_version: bool = version_option("karez"),
) -> None:
    _debug["on"] = debug


ConfigOpt = typer.Option(
    None, "-c", "--config", metavar="FILE", help="Config file (repeatable; later top-level keys win)."
)
DEFAULT_PLUGIN_DIRECTORY = "plugins"
PluginOpt = typer.Option(
    None,
    "-p",
    "--plugin-directory",
    metavar="DIR",
    help=f"Directory with <kind>/<type>.py plugins (default: ./{DEFAULT_PLUGIN_DIRECTORY} when it exists).",
)
LevelOpt = typer.Option("WARNING", "-l", "--logging-level", help="Logging level.")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as one red line on stderr (brackets in it are text, not markup); raise the Exit returned."""
    err.print(Text(message, style="red"), highlight=False)
    return typer.Exit(code)


def _plugin_directory(given: str | None) -> str | None:
    """The plugin directory to search: an explicit one must exist; the default is used only when it exists."""
    if given is None:
        return DEFAULT_PLUGIN_DIRECTORY if Path(DEFAULT_PLUGIN_DIRECTORY).is_dir() else None
    if not Path(given).is_dir():
        raise _fail(f"{given}: plugin directory not found")
    return given


def _plugins(plugin_dir: str | None) -> dict[str, dict[str, type]]:
    try:
        return all_plugins(_plugin_directory(plugin_dir))
    except PluginError as e:
        raise _fail(str(e)) from None


def _load(
    configs: list[str] | None, plugin_dir: str | None, env_prefix: str | None = "KAREZ_"
) -> tuple[list[str], Any, Any]:
    files = list(configs or default_config_files())
    try:
        settings = load_settings(files, env_prefix=env_prefix)
    except ConfigError as e:
        raise _fail(str(e)) from None
    return files, settings, _plugins(plugin_dir)


def _validate_or_exit(settings: Any, plugins: Any) -> None:
    from karez.config_check import validate_config

    report = validate_config(settings, plugins)
    for warning in report.warnings:
        err.print(f"[yellow]WARNING: {warning}[/yellow]", highlight=False)
    if not report.ok:
        for error in report.errors:
            err.print(f"[red]ERROR: {error}[/red]", highlight=False)
        raise typer.Exit(2)


def _loadbalance_configs(configs: list[str]) -> list[str]:
    host = socket.gethostname()
    index = host.rsplit("-", 1)[-1]
    if "-" not in host or not index.isdigit():
        raise _fail(f"Load balance mode needs a hostname ending in -<N>, got {host!r}")
    return [str(Path(c) / f"{index}.yaml") for c in configs]


@app.command()
def deploy(
    config: list[str] = ConfigOpt,
    plugin_directory: str = PluginOpt,
    nats_addr: str = typer.Option(None, "-a", "--nats-addr", help="NATS URL(s), comma-separated."),
    logging_level: str = LevelOpt,
    dispatcher: bool = typer.Option(False, "-d", "--dispatcher", help="Start dispatchers."),
    connector: bool = typer.Option(False, "-n", "--connector", help="Start connectors."),
    converter: bool = typer.Option(False, "-v", "--converter", help="Start converters."),
    aggregator: bool = typer.Option(False, "-g", "--aggregator", help="Start aggregators."),
    loadbalance: bool = typer.Option(False, "-b", "--loadbalance", help="Use <config dir>/<N>.yaml (StatefulSet)."),
    embedded_nats: bool = typer.Option(False, "--embedded-nats/--no-embedded-nats", help="Start a local nats-server."),
    stats: bool = typer.Option(False, "--stats/--no-stats", help="Print per-role counters periodically and at exit."),
    durable: bool = typer.Option(False, "--durable/--no-durable", help="JetStream durable consumers for all roles."),
    shared_connection: bool = typer.Option(
        True, "--shared-connection/--connection-per-role", help="One NATS connection for all roles."
    ),
    metrics_interval: float = typer.Option(10.0, "--metrics-interval", help="Seconds between metrics publishes."),
    connect_timeout: float = typer.Option(
        None, "--connect-timeout", min=0, help="Exit 2 when NATS is not reached in this many seconds (default: wait)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Processes running these roles (queue groups split the work; one dispatches)."
    ),
    user: str = typer.Option(None, "--user", envvar="KAREZ_NATS_USER"),
    password: str = typer.Option(None, "--password", envvar="KAREZ_NATS_PASSWORD"),
    token: str = typer.Option(None, "--token", envvar="KAREZ_NATS_TOKEN"),
    creds: str = typer.Option(
        None, "--creds", envvar="KAREZ_NATS_CREDS", help="NATS user credentials file (user JWT + nkey seed)."
    ),
    nkey_seed: str = typer.Option(
        None, "--nkey-seed", envvar="KAREZ_NATS_NKEY_SEED", help="File holding a NATS user nkey seed (SU...)."
    ),
    tls_ca: str = typer.Option(None, "--tls-ca", envvar="KAREZ_NATS_TLS_CA"),
    tls_cert: str = typer.Option(None, "--tls-cert", envvar="KAREZ_NATS_TLS_CERT"),
    tls_key: str = typer.Option(None, "--tls-key", envvar="KAREZ_NATS_TLS_KEY"),
    replicas: str = typer.Option(
        None,
        "--replicas",
        metavar="N|auto",
        help="Replicas of the JetStream streams created (default: config key 'replicas', else auto: 3 on a cluster "
        "of three or more nodes, else 1).",
    ),
    lease: bool = typer.Option(
        False,
        "--lease/--no-lease",
        envvar="KAREZ_LEASE",
        help="Run dispatchers and one-worker roles only while holding their JetStream lease (standby elsewhere).",
    ),
    lease_ttl: float = typer.Option(
        DEFAULT_LEASE_TTL, "--lease-ttl", envvar="KAREZ_LEASE_TTL", help="Seconds a lease lives without renewal."
    ),
    fuse: bool = typer.Option(
        True,
        "--fuse/--no-fuse",
        help="Pass items to converters of this process in memory (default); --no-fuse: one NATS hop per converter.",
    ),
) -> None:
    """Run the configured roles until SIGTERM/SIGINT, then drain."""
    _setup_logging(logging_level)
    if loadbalance:
        config = _loadbalance_configs(list(config or ["config"]))
    files, settings, plugins = _load(config, plugin_directory)
    _validate_or_exit(settings, plugins)
    selected = tuple(
        k for k, on in zip(KINDS, (dispatcher, connector, converter, aggregator), strict=True) if on
    ) or tuple(KINDS)
    out.print(f"[KAREZ] Configurations: {files}.", highlight=False)
    credentials = {
        "user": user,
        "password": password,
        "token": token,
        "creds_file": creds,
        "nkey_seed_file": nkey_seed,
        "tls_ca": tls_ca,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
    }
    try:
        replica_count = parse_replicas(replicas if replicas is not None else settings.get("replicas"))
        lease_options = LeaseOptions(ttl=lease_ttl, replicas=replica_count) if lease else None
    except (ReplicasError, LeaseError) as e:
        raise _fail(str(e)) from None
    runtime = RuntimeOptions(
        shared_connection=shared_connection,
        durable=durable,
        metrics_interval=metrics_interval,
        print_stats=stats,
        connect_timeout=connect_timeout,
        replicas=replica_count,
        lease=lease_options,
        fuse=fuse,
    )
    plan = DeployPlan(settings, plugins, selected, nats_addr, embedded_nats, credentials, runtime)
    if workers > 1:
        _deploy_workers(workers, plan)
    else:
        _run_deploy(plan)


def _run_deploy(plan: DeployPlan, **supervision: Any) -> None:
    """Run `_deploy` on a new event loop; a second signal cancels its drain, which ends in one line, not a traceback."""
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_deploy(plan, **supervision))
    except asyncio.CancelledError:
        err.print("[KAREZ] Stopped by a second signal before draining finished.", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _deploy_workers(count: int, plan: DeployPlan) -> None:
    """Fork the extra workers before any event loop exists; stop them with this process, and wait for them."""
    from contextlib import ExitStack

    from karez.embedded_nats import EmbeddedNats
    from karez.workers import fork_workers, signal_workers, wait_workers, worker_kinds

    with ExitStack() as stack:
        # one server for all workers, started before they fork
        address = stack.enter_context(EmbeddedNats()).url if plan.embedded_nats else resolve_address(plan.nats_addr)
        shared = plan.for_worker(plan.kinds, address)

        def run_worker(index: int) -> int:
            try:
                _run_deploy(shared.for_worker(worker_kinds(plan.kinds, index), address), worker=index)
            except typer.Exit as e:
                return e.exit_code
            return 0

        children = fork_workers(count, run_worker)
        out.print(f"[KAREZ] Started {count} worker processes.", highlight=False)
        signalled: list[int] = []
        try:
            _run_deploy(shared, children=children, signalled=signalled)
        finally:
            if not signalled:  # stopped by an error, not a signal: the workers must stop too
                signal_workers(children)
            code = wait_workers(children)
    if code:
        raise typer.Exit(code)


async def _deploy(
    plan: DeployPlan, children: Sequence[int] = (), signalled: list[int] | None = None, worker: int = 0
) -> None:
    from karez.embedded_nats import EmbeddedNats
    from karez.runtime import Runtime, StartupTimeout, build_roles, tune_gc_for_batches

    tune_gc_for_batches()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        if children:  # a supervisor may signal only this process: pass it on (a second one stops draining there too)
            from karez.workers import signal_workers

            signal_workers(list(children))
            if signalled is not None:
                signalled.append(1)
        if stop.is_set() and main_task is not None:
            main_task.cancel()  # a second signal: stop draining
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(EmbeddedNats()) if plan.embedded_nats else None
        options = plan.nats_options(server.url if server is not None else None)
        address = ",".join(options.servers)
        out.print(f"[KAREZ] NATS address: {options.display()}.", highlight=False)
        try:
            options.check_credential_files()  # also in per-role connection mode, where roles only log a failure
            roles = build_roles(plan.settings, plan.plugins, plan.kinds, address, worker=worker)
        except (ConfigError, NatsAuthError) as e:
            raise _fail(str(e)) from None

        def launched(kind: str, n: int) -> None:
            out.print(f"[KAREZ] Launched {n} {kind.capitalize()}s.", highlight=False)

        runtime = Runtime(roles, options, on_launched=launched, **plan.runtime.as_kwargs())

        def running() -> None:
            links = runtime.fused_links()
            if links:
                text = f"[KAREZ] Fused in memory (--no-fuse: over NATS): {'; '.join(links)}."
                out.print(text, markup=False, highlight=False)
            framed = runtime.framed_roles()
            if framed:
                out.print(f"[KAREZ] Frames (karez.frames): {', '.join(framed)}.", markup=False, highlight=False)
            out.print("[KAREZ] Running.", highlight=False)

        try:
            ran = await runtime.run_until(stop, running)
        except (NatsAuthError, StartupTimeout, LeaseError) as e:
            raise _fail(str(e)) from None
        if ran:
            out.print("[KAREZ] Stopped after draining.", highlight=False)
        else:
            out.print(f"[KAREZ] Stopped before start-up finished: never connected to NATS at {options.display()}.")


def _names(value: str | None) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _find_role(settings: Any, plugins: Any, kind: str, name: str) -> Any:
    """The configured role of `kind` called `name`; exit 2 naming the roles that exist when there is none."""
    configs = role_configs(settings, kind)
    for cfg in configs:
        if (cfg.get("name") or cfg.get("type")) == name:
            cls = plugins[kind].get(cfg.get("type"))
            if cls is None:
                known = ", ".join(sorted(plugins[kind])) or "none"
                raise _fail(f"{kind} {name!r}: unknown {kind} type {cfg.get('type')!r} (known: {known})")
            try:
                return cls(cfg, nats_addr=None)
            except Exception as e:
                raise _fail(f"{kind} {name!r}: cannot create it: {type(e).__name__}: {e}") from None
    names = ", ".join(repr(c.get("name") or c.get("type")) for c in configs) or "none configured"
    raise _fail(f"no {kind} named {name!r} in the configuration ({kind}s: {names})")


def _emit_result(result: Any, output: str | None, as_json: bool) -> None:
    text = json.dumps(result, indent=2, default=str)
    if output:
        Path(output).write_text(text + "\n")
    elif as_json:
        print(text)
    else:
        out.print_json(text)


@app.command()
def test(
    config: list[str] = ConfigOpt,
    plugin_directory: str = PluginOpt,
    dispatcher: str = typer.Option(None, "-d", "--dispatcher", help="Dispatcher names (comma-separated)."),
    connector: str = typer.Option(None, "-n", "--connector", help="Connector names (comma-separated)."),
    converter: str = typer.Option(None, "-v", "--converter", help="Converter names (comma-separated)."),
    input_file: str = typer.Option(None, "-i", "--input", help="JSON file with the initial payload."),
    output: str = typer.Option(None, "-o", "--output", help="Write the final items as JSON here."),
    logging_level: str = LevelOpt,
    verbose: bool = typer.Option(False, "--verbose/--no-verbose", help="Show every item at each hop."),
    follow_next: bool = typer.Option(
        False, "--follow/--no-follow", help="Keep following converter/next links until items reach aggregators."
    ),
    with_subjects: bool = typer.Option(False, "--subjects/--no-subjects", help="Output {subject, payload} pairs."),
    as_json: bool = typer.Option(False, "--json/--no-json", help="Machine-readable output."),
) -> None:
    """Run roles offline (no NATS) and print the resulting items."""
    _setup_logging(logging_level)
    _, settings, plugins = _load(config, plugin_directory, env_prefix=None)
    initial = _read_input(input_file) if input_file else None
    try:
        result = asyncio.run(
            _test_chain(settings, plugins, dispatcher, connector, converter, initial, verbose, follow_next)
        )
    except ConfigError as e:
        raise _fail(str(e)) from None
    except typer.Exit:
        raise
    except Exception as e:
        raise _role_failure(e) from None
    from karez.offline import display_payload

    if with_subjects:
        _emit_result([{"subject": s, "payload": p} for s, p in result], output, True)
    elif as_json or output:
        _emit_result([display_payload(p) for _, p in result], output, True)
    else:
        payloads = [display_payload(p) for _, p in result]
        _emit_result(payloads[0] if len(payloads) == 1 else payloads, None, False)


def _read_input(path: str) -> Any:
    """The JSON payload of `karez test -i`; an unreadable file or bad JSON exits 2 naming the file (and line:column)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise _fail(f"{path}: not UTF-8 text: {e.reason}") from None
    except OSError as e:
        raise _fail(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None


def _role_failure(e: Exception) -> typer.Exit:
    """One line for a role that failed offline: exit 2 naming the address of a server that cannot be reached."""
    if _debug["on"]:
        raise e
    address = unreachable_address(e)
    if address is not None:
        return _fail(f"cannot reach {address}: {type(e).__name__}: {e}")
    return _fail(f"a role failed: {type(e).__name__}: {e}", 1)


async def _test_chain(
    settings: Any,
    plugins: Any,
    dispatchers: str | None,
    connectors: str | None,
    converters: str | None,
    initial: Any,
    verbose: bool,
    follow_next: bool,
) -> list[tuple[str, Any]]:
    from karez.offline import dispatch, display_payload, follow, run_role

    def show(role: Any, outputs: list[Any]) -> None:
        if verbose:
            err.print(f"[bold]After {role.TYPE.upper()} {role.name} ({len(outputs)} items):[/bold]")
            for subject, payload in outputs:
                err.print(f"  -> {subject}", highlight=False)
                err.print(display_payload(payload))
            err.print()

    current: list[tuple[str, Any]] = [("input", initial)] if initial is not None else []
    for name in _names(dispatchers):
        role = _find_role(settings, plugins, "dispatcher", name)
        current = [(role.connector_topic(role.target), m) for m in await dispatch(role)]
        show(role, current)
    for name in _names(connectors):
        role = _find_role(settings, plugins, "connector", name)
        messages = [p if isinstance(p, dict) and "tasks" in p else {"tasks": p} for _, p in current]
        current = await run_role(role, messages)
        show(role, current)
    for name in _names(converters):
        role = _find_role(settings, plugins, "converter", name)
        current = await run_role(role, [p for _, p in current])
        show(role, current)
    if follow_next:
        by_name = {}
        for cfg in role_configs(settings, "converter"):
            cls = plugins["converter"].get(cfg.get("type"))
            if cls is not None:
                by_name[cfg.get("name") or cfg.get("type")] = cls(cfg, nats_addr=None)
        current = await follow(current, by_name, show)
    return current


@app.command()
def collect(
    config: list[str] = ConfigOpt,
    plugin_directory: str = PluginOpt,
    input_file: str = typer.Option(None, "-i", "--input", help="Unused; kept for compatibility."),
    output: str = typer.Option(None, "-o", "--output", help="Write the items as JSON here."),
    logging_level: str = LevelOpt,
    verbose: bool = typer.Option(False, "--verbose/--no-verbose"),
    as_json: bool = typer.Option(False, "--json/--no-json", help="Machine-readable output."),
) -> None:
    """Run the single dispatcher and its connector offline and print every fetched item."""
    _setup_logging(logging_level)
    _, settings, plugins = _load(config, plugin_directory, env_prefix=None)
    dispatchers = role_configs(settings, "dispatcher")
    if len(dispatchers) != 1:
        raise _fail("FAIL: Multiple dispatcher found." if dispatchers else "FAIL: No dispatcher found.", 1)
    dcfg = dispatchers[0]
    dcls = plugins["dispatcher"].get(dcfg.get("type"))
    if dcls is None:
        raise _fail(f"Cannot find Dispatcher type {dcfg.get('type')}.", 1)
    disp = dcls(dcfg, nats_addr=None)
    connectors = role_configs(settings, "connector")
    ccfg = next((c for c in connectors if (c.get("name") or c.get("type")) == disp.target), None)
    if ccfg is None:
        raise _fail(f"Cannot find config for Connector {disp.target}", 1)
    ccls = plugins["connector"].get(ccfg.get("type"))
    if ccls is None:
        raise _fail(f"Cannot find Connector type {ccfg.get('type')}.", 1)
    conn = ccls(ccfg, nats_addr=None)

    async def run() -> list[Any]:
        items: list[Any] = []
        batches = await disp.process(None)
        if verbose:
            err.print(f"Dispatcher result received (result: {str(batches)[:32]}...).")
        for batch in batches:
            fetched = await conn.process(batch["tasks"])
            if verbose:
                err.print(f"Connector result received (result: {str(fetched)[:32]}...).")
            items.extend(fetched)
        return items

    try:
        items = asyncio.run(run())
    except Exception as e:
        raise _role_failure(e) from None
    _emit_result(items, output, as_json)


@app.command()
def plugins(plugin_directory: str = PluginOpt) -> None:
    """List the available plugin types of every kind, each with where it comes from."""
    from karez.plugins import discover_all

    try:
        table = discover_all(_plugin_directory(plugin_directory))
    except PluginError as e:
        raise _fail(str(e)) from None
    for kind in KINDS:
        out.print(f"[bold][{kind.capitalize()}][/bold]")
        for name, found in sorted(table[kind].items()):
            source = "; ".join([found.origin, *(f"hides {hidden}" for hidden in found.hides)])
            out.print(f"   [green]{name}[/green]: ", end="", highlight=False)
            out.print(f"{found.cls.role_description()} [{source}]", markup=False, highlight=False)
        out.print()


@app.command()
def nats(
    port: int | None = typer.Option(
        None, "--port", help="Client port (default: the port of $KAREZ_NATS_ADDR or $NATS_URL, else 4222)."
    ),
    store_dir: Path | None = typer.Option(
        None, "--store-dir", help="JetStream store, kept across restarts (default: $XDG_DATA_HOME/karez/nats)."
    ),
) -> None:
    """Run a local NATS server with JetStream on 127.0.0.1 until Ctrl-C or SIGTERM; streams persist in --store-dir."""
    from karez.nats_cmd import NatsCommandError, serve_nats

    try:
        serve_nats(port, store_dir, announce=lambda line: err.print(line, markup=False, highlight=False))
    except NatsCommandError as e:
        raise _fail(str(e), e.code) from None


@app.command("plugin-doc")
def plugin_doc(
    kind: str = typer.Argument(..., help="dispatcher, connector, converter or aggregator"),
    name: str = typer.Argument(..., help="Plugin type name"),
    plugin_directory: str = PluginOpt,
) -> None:
    """Describe a plugin type and its configuration options."""
    kind = kind.lower()
    if kind not in KINDS:
        raise _fail(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    try:
        table = search_plugins(_plugin_directory(plugin_directory), kind)
    except PluginError as e:
        raise _fail(str(e)) from None
    cls = table.get(name)
    if cls is None:
        raise _fail(f"Cannot find {kind.capitalize()} called {name} (known: {', '.join(sorted(table)) or 'none'}).")
    out.print(f"[{kind.capitalize()}] {name}: {cls.role_description()}", markup=False, highlight=False)
    out.print("Configuration Options:")
    for line in cls.config_docs():
        out.print(line, markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
