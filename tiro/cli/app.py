"""The library's `tiro` commands: schema, validate, draft, mock, query and check (`tiro_prefect.cli.app` adds the
commands that run Prefect flows and is the `tiro` console script)."""

from __future__ import annotations

import typer

from karez.cli_kit import plain_typer, version_option
from tiro.cli import check_cmd, draft_cmd, mock_cmd, query_cmd, schema_cmd, validate_cmd
from tiro.cli.errors import set_debug

app = plain_typer(
    no_args_is_help=True,
    help="Tiro: one data model for data-centre IoT data — schema, mock, validate, collect, persist.",
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug/--no-debug", help="Show full tracebacks for errors."),
    show_version: bool = version_option("tiro"),
) -> None:
    set_debug(debug)


app.add_typer(schema_cmd.app, name="schema")
app.add_typer(validate_cmd.app, name="validate")
app.add_typer(draft_cmd.app, name="draft")
app.add_typer(mock_cmd.app, name="mock")
app.add_typer(query_cmd.app, name="query")
app.command("check")(check_cmd.check_command)
