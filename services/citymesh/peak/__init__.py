"""The peak service: one tenant's front door to the platform (see docs/peaks.md)."""
