"""Prefect tasks: small retry-able units of I/O used by the flows."""
