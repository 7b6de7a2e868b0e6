"""The `tiro` command line (Typer)."""
