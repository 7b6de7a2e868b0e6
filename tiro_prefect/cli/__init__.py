"""The commands of `tiro` that run Prefect flows (`demo`, `validate window`), and the whole `tiro` command."""
