"""Tokens governance signs, checked by the runtime's interceptor in front of a real server."""

from __future__ import annotations

import time
from collections.abc import Iterable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.runtime import auth
from citymesh.runtime.errors import Unauthenticated
from citymesh.runtime.natsd import NatsServer
from tests.governance.conftest import governance

PRIVATE, PUBLIC = auth.new_key_pair()


def token(
    tenant: str, roles: Iterable[str], expires_in: float = 60, key: str = PRIVATE, district: str = ""
) -> str:
    identity = auth.Identity(tenant, district, frozenset(roles))
    return auth.sign(auth.load_private_key(key), identity, time.time() + expires_in)


def bearer(t: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {t}"),)


def test_a_token_round_trips_and_a_forged_or_expired_one_does_not() -> None:
    key = auth.load_public_key(PUBLIC.replace("\n", "\\n"))
    assert auth.verify(token("huawei", ["reader"], district="fengyang"), key) == auth.Identity(
        "huawei", "fengyang", frozenset({"reader"})
    )
    other, _ = auth.new_key_pair()
    with pytest.raises(Unauthenticated, match="not one governance signed"):
        auth.verify(token("huawei", [], key=other), key)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.verify(token("huawei", [], expires_in=-5), key)


@pytest.mark.integration
async def test_the_interceptor_refuses_forged_expired_and_suspended_tenants_tokens(
    nats_server: NatsServer,
) -> None:
    settings = {"signing_key": PRIVATE, "auth_public_key": PUBLIC, "auth_status_ttl_s": 0.0}
    async with governance(nats_server, **settings) as g:
        admin = bearer(token("zone", ["zone-admin"]))
        list_peaks = pb.ListPeaksRequest()

        for metadata in [
            (),
            bearer("not-a-jwt"),
            bearer(token("zone", ["zone-admin"], key=auth.new_key_pair()[0])),
            bearer(token("zone", ["zone-admin"], expires_in=-5)),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await g.stub.ListPeaks(list_peaks, metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        issued = await g.stub.IssueToken(
            pb.IssueTokenRequest(tenant="huawei", roles=["peak-admin"]), metadata=admin
        )
        assert issued.district == "fengyang"
        huawei = bearer(issued.token)
        own = (await g.stub.ListPeaks(list_peaks, metadata=huawei)).peaks
        assert [p.peak_id for p in own] == ["fengyang-5g"]  # a tenant sees its own peak only

        # With authentication on, the development headers grant nothing.
        forged_roles = (*huawei, ("x-citymesh-tenant", "zone"), ("x-citymesh-roles", "zone-admin"))
        suspend = pb.TransitionPeakRequest(
            peak_id="fengyang-5g", target=pb.PEAK_STATE_SUSPENDED, reason="audit"
        )
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await g.stub.TransitionPeak(suspend, metadata=forged_roles)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

        await g.stub.TransitionPeak(suspend, metadata=admin)
        with pytest.raises(grpc.aio.AioRpcError) as suspended:
            await g.stub.ListPeaks(list_peaks, metadata=huawei)
        assert suspended.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "suspended" in (suspended.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as no_token:
            await g.stub.IssueToken(pb.IssueTokenRequest(tenant="huawei"), metadata=admin)
        assert no_token.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        async with grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # probes need no token
