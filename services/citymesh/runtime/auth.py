"""Tokens governance signs (Ed25519 JWTs), verified locally in every service.

On by default: `running()` puts an AuthInterceptor in front of every service, and refuses to start
one without CITYMESH_AUTH_PUBLIC_KEY unless CITYMESH_AUTH_DEV_HEADERS is set. A token carries the
tenant (`sub`), its sub-district, its roles and an expiry; on top of the signature, the tenant's current status is read from the `tenants` bucket (cached a few seconds), so
the tokens of a suspended or retired tenant stop working without waiting for them to expire.

With CITYMESH_AUTH_DEV_HEADERS (and no public key) a service takes the caller from the
`x-citymesh-tenant`, `-district` and `-roles` metadata headers, trusted as they are (development
only): the HeadersInterceptor.

A client presents its token on every call of a channel made by `channel(address, token)`.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from citymesh.runtime import errors

ISSUER = "citymesh-governance"
ALGORITHM = "EdDSA"
TENANT_HEADER = "x-citymesh-tenant"
ROLES_HEADER = "x-citymesh-roles"
DISTRICT_HEADER = "x-citymesh-district"
AUTHORIZATION = "authorization"
ZONE_TENANT = "zone"
"""The zone's own staff (the zone administrator): not a peak, never suspended."""
ZONE_ADMIN = "zone-admin"
"""The role of the zone administrator: signs and suspends peaks, sees every district."""
SERVICE = "service"
"""The role of the platform's own processes (the simulator's gateways, compute's workers, a peak
acting for the platform): they act across districts, as the zone does."""


@dataclass(frozen=True)
class Identity:
    """Who calls: a tenant, the sub-district its peak is bound to, and its roles."""

    tenant: str
    district: str = ""
    roles: frozenset[str] = frozenset()

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_platform(self) -> bool:
        """The zone administrator or one of the platform's own services: not bound to a district."""
        return ZONE_ADMIN in self.roles or SERVICE in self.roles


_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("citymesh_identity", default=None)


def current_identity() -> Identity | None:
    """The verified caller of the RPC running now; None when authentication is off."""
    return _current.get()


def identity_from_headers(metadata: Sequence[tuple[str, Any]] | None) -> Identity:
    """The caller as the development headers name it (authentication off)."""
    md = {k: v for k, v in (metadata or ()) if isinstance(v, str)}
    roles = frozenset(r.strip() for r in md.get(ROLES_HEADER, "").split(",") if r.strip())
    return Identity(tenant=md.get(TENANT_HEADER, ""), district=md.get(DISTRICT_HEADER, ""), roles=roles)


def caller(metadata: Sequence[tuple[str, Any]] | None) -> Identity:
    """The caller of the RPC running now: the verified token's identity when authentication is on,
    else the development headers."""
    return current_identity() or identity_from_headers(metadata)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that presents `token` to another service (none when it is empty)."""
    return ((AUTHORIZATION, f"Bearer {token}"),) if token else ()


def forwarded(metadata: Sequence[tuple[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    """The caller's own credentials (its token, or in development its identity headers), to call
    another service on its behalf: a peak queries exchange as its tenant, not as itself."""
    names = (AUTHORIZATION, TENANT_HEADER, DISTRICT_HEADER, ROLES_HEADER)
    return tuple((k, v) for k, v in (metadata or ()) if k in names and isinstance(v, str))


def load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem.replace("\\n", "\n").encode())
    except ValueError as exc:
        raise errors.InvalidArgument(f"the auth public key is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise errors.InvalidArgument("the auth public key is not an Ed25519 key")
    return key


def load_private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    except ValueError as exc:
        raise errors.InvalidArgument(f"the signing key is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise errors.InvalidArgument("the signing key is not an Ed25519 key")
    return key


def new_key_pair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def sign(key: Ed25519PrivateKey, identity: Identity, expires_at: float, now: float | None = None) -> str:
    """A token for `identity`, valid until `expires_at` (Unix seconds)."""
    issued = time.time() if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": identity.tenant,
        "district": identity.district,
        "roles": sorted(identity.roles),
        "iat": int(issued),
        "exp": int(expires_at),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(token: str, key: Ed25519PublicKey, leeway_s: float = 0.0) -> Identity:
    """The identity of a token governance signed; Unauthenticated if it is forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=leeway_s,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise errors.Unauthenticated("the token has expired; ask governance for a new one") from exc
    except jwt.InvalidTokenError as exc:
        raise errors.Unauthenticated(f"the token is not one governance signed: {exc}") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise errors.Unauthenticated("the token's roles are not a list of names")
    return Identity(
        tenant=str(claims["sub"]), district=str(claims.get("district", "")), roles=frozenset(roles)
    )


TenantCheck = Callable[[str], Awaitable[None]]
"""Raises PermissionDenied when the tenant may no longer act (suspended, retired, unknown)."""


class TenantStatus:
    """Reads a tenant's status from the `tenants` bucket (written by governance), cached `ttl_s`."""

    def __init__(self, bucket: KeyValue, ttl_s: float) -> None:
        self._bucket = bucket
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    async def check(self, tenant: str) -> None:
        if tenant == ZONE_TENANT:
            return
        now = time.monotonic()
        cached = self._cache.get(tenant)
        if cached is not None and now - cached[0] < self._ttl_s:
            status = cached[1]
        else:
            try:
                entry = await self._bucket.get(tenant)
                status = str(json.loads(entry.value or b"{}").get("status", "unknown"))
            except KeyNotFoundError:
                status = "unknown"
            self._cache[tenant] = (now, status)
        if status not in ("signed", "active"):
            raise errors.PermissionDenied(f"tenant {tenant} is {status}; its tokens do not work")


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every RPC but health and reflection needs `authorization: Bearer <token>`: a token governance
    signed, not expired, of a tenant that is signed or active. The verified identity is available
    to the servicer through `current_identity()`."""

    def __init__(self, key: Ed25519PublicKey, tenant_check: TenantCheck | None = None) -> None:
        self._key = key
        self._check = tenant_check

    async def identify(self, metadata: Sequence[tuple[str, Any]] | None) -> Identity:
        values = [v for k, v in (metadata or ()) if k == AUTHORIZATION and isinstance(v, str)]
        if not values:
            raise errors.Unauthenticated("no token: send `authorization: Bearer <token>` from governance")
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise errors.Unauthenticated("the authorization header is not `Bearer <token>`")
        identity = verify(token.strip(), self._key)
        if self._check is not None:
            await self._check(identity.tenant)
        return identity

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        metadata = details.invocation_metadata
        identify = self.identify

        def unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def run(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
                token = _current.set(await identify(metadata))
                try:
                    return await behavior(request, ctx)
                finally:
                    _current.reset(token)

            return run

        def streaming(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
            async def run(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                _current.set(await identify(metadata))
                async for item in behavior(request, ctx):
                    yield item

            return run

        des, ser = handler.request_deserializer, handler.response_serializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), des, ser)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), des, ser)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), des, ser)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), des, ser)


class HeadersInterceptor(AuthInterceptor):
    """Development only (CITYMESH_AUTH_DEV_HEADERS): the caller is whoever the x-citymesh-* headers
    name, unchecked; no header makes an anonymous caller that owns nothing."""

    def __init__(self) -> None:
        pass

    async def identify(self, metadata: Sequence[tuple[str, Any]] | None) -> Identity:
        return identity_from_headers(metadata)


class _Presenting:
    """Adds `authorization: Bearer <token>` to every call that does not name its own credentials."""

    def __init__(self, token: str) -> None:
        self._metadata = bearer(token)

    def _details(self, details: Any) -> Any:
        given = tuple(details.metadata or ())
        if any(k == AUTHORIZATION for k, _ in given):
            return details
        return details._replace(metadata=grpc.aio.Metadata(*given, *self._metadata))


# grpc.aio sorts a channel's interceptors by kind, each into one list: one object per kind.
class _PresentingUnaryUnary(_Presenting, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _PresentingUnaryStream(_Presenting, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _PresentingStreamUnary(_Presenting, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _PresentingStreamStream(_Presenting, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def channel(
    address: str, token: str = "", options: Sequence[tuple[str, Any]] | None = None
) -> grpc.aio.Channel:
    """An insecure channel to `address` whose calls present `token` (none when it is empty); a call
    that passes its own `authorization` metadata (a forwarded caller's) keeps it."""
    kinds = (_PresentingUnaryUnary, _PresentingUnaryStream, _PresentingStreamUnary, _PresentingStreamStream)
    interceptors = [kind(token) for kind in kinds] if token else None
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
