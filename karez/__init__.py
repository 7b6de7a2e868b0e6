"""A Karez-compatible role runtime: role base classes, config, plugin discovery, built-ins, NATS wiring, CLI."""
