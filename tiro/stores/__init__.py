"""Telemetry and graph stores chosen by URL: sqlite (embedded default), InfluxDB, ArangoDB."""
