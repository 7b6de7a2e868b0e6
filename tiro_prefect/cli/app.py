"""The `tiro` command: the library's commands (`tiro.cli`) plus those that run Prefect flows, added here because the
library layer may not import the Prefect layer."""

from __future__ import annotations

from tiro.cli import validate_cmd
from tiro.cli.app import app
from tiro.cli.errors import excepthook_main
from tiro_prefect.cli.demo_cmd import demo_command
from tiro_prefect.cli.validate_window import window_command

validate_cmd.app.command("window")(window_command)
app.command("demo")(demo_command)

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point of `tiro`."""
    excepthook_main(app)
