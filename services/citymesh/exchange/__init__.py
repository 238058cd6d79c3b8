"""The big-data center's exchange: telemetry materialised into DuckDB, queried and followed live."""
