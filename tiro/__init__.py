"""Tiro's application library: CLI, mock server, Karez plugins, stores, embedded NATS launcher, settings."""
