"""Prefect flows: one module per job (bootstrap, roles, validation, mock, demo pipeline)."""
