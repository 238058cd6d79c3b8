"""The peaks `citymesh up` runs: one `citymesh serve peak` process per ACTIVE peak, its tenant and
sub-district as governance's ListPeaks gives them, pointed at the platform services `up` started.

They start once the platform serves (governance must answer ListPeaks) and stop first, before the
services they call. A peak activated later starts at the next `up`.
"""

from __future__ import annotations

import grpc

from citymesh.api.governance.v1 import governance_pb2, governance_pb2_grpc
from citymesh.api.peak.v1 import peak_pb2, peak_pb2_grpc
from citymesh.launcher.services import ServiceSpec
from citymesh.runtime.auth import ROLES_HEADER, SERVICE, TENANT_HEADER, ZONE_TENANT

PEAK_SERVICE = peak_pb2.DESCRIPTOR.services_by_name["PeakService"].full_name
UPSTREAMS = ("collection", "exchange", "compute", "governance")
"""The platform services a peak calls; each address goes to it as CITYMESH_<NAME>_ADDRESS."""
AS_PLATFORM = ((TENANT_HEADER, ZONE_TENANT), (ROLES_HEADER, SERVICE))
"""Who the launcher is to a service in development mode (with tokens, its `service` token counts
and these headers are ignored)."""


async def active_peaks(governance: grpc.aio.Channel, timeout: float = 10.0) -> list[governance_pb2.Peak]:
    """The active peaks, in sub-district order."""
    reply = await governance_pb2_grpc.GovernanceServiceStub(governance).ListPeaks(
        governance_pb2.ListPeaksRequest(), metadata=AS_PLATFORM, timeout=timeout
    )
    return [p for p in reply.peaks if p.state == governance_pb2.PEAK_STATE_ACTIVE and p.tenant]


async def peak_probe(channel: grpc.aio.Channel) -> dict[str, float]:
    d = await peak_pb2_grpc.PeakServiceStub(channel).DescribePeak(
        peak_pb2.DescribePeakRequest(), metadata=AS_PLATFORM, timeout=1.0
    )
    return {"scenes": d.scenes, "kernels": len(d.kernels)}


def peak_spec(peak: governance_pb2.Peak, addresses: dict[str, str]) -> ServiceSpec:
    """How `up` runs one peak: `citymesh serve peak` as `peak-<peak id>` (its log file's name too)."""
    env = {
        "CITYMESH_TENANT": peak.tenant,
        "CITYMESH_DISTRICT": peak.district,
        **{f"CITYMESH_{name.upper()}_ADDRESS": addresses[name] for name in UPSTREAMS if name in addresses},
    }
    return ServiceSpec(
        f"peak-{peak.peak_id}",
        PEAK_SERVICE,
        env=lambda data: env,
        probe=peak_probe,
        describe=lambda c: f"{peak.tenant}: {c['scenes']:,.0f} scenes, {c['kernels']:,.0f} kernels",
        command="peak",
    )
