"""Typed domain errors. The gRPC layer maps each to its status code (see runtime.server)."""

from __future__ import annotations


class CitymeshError(Exception):
    """A failure the caller can act on; the message says what to do."""


class InvalidArgument(CitymeshError):
    """The request is malformed or a value is out of its allowed range."""


class NotFound(CitymeshError):
    """The named resource does not exist (or the caller may not know it exists)."""


class AlreadyExists(CitymeshError):
    """A resource with that name exists and differs from the one asked for."""


class FailedPrecondition(CitymeshError):
    """The system is not in a state in which the request can be carried out."""


class ResourceExhausted(CitymeshError):
    """A quota or limit was reached; the message names it."""


class Unavailable(CitymeshError):
    """A dependency (NATS, the store) is not reachable now; retrying may succeed."""


class PermissionDenied(CitymeshError):
    """The caller may not do this."""


class Unauthenticated(CitymeshError):
    """The caller's credentials are missing, forged or expired."""
