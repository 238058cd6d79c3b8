"""The governance service: the digital governance center, "the brain" of the platform."""
