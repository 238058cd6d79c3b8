"""citymesh: One Platform, Many Peaks — a smart-city platform of gRPC services over NATS JetStream."""

__version__ = "0.1.0"
