"""The data-collection layer: the device registry and the ingest of readings into TELEMETRY."""
