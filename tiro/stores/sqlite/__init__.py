"""The embedded stores on one sqlite file (standard library), split by responsibility.

`database` (connections, pragmas, write lock), `checkpoints` (copying the WAL into the file), `transactions`,
`rows` (multi-row statements), `codec` (how values are kept), `schema` (telemetry tables and their migration),
`telemetry` (the telemetry store), `graph` (the graph store, which may read its values from the telemetry of the
same file) and `window_results` (validation window records).
"""
