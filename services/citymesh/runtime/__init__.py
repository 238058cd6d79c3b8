"""The runtime every citymesh service shares: settings, logs, telemetry, gRPC bootstrap, NATS."""
