"""A peak's operations: who may call (its own tenant, or the platform), its rules applied to its
stores, and the platform services called for it. The servicer calls these; tests may too.

Every operation takes the caller (`who`) first and admits it before anything else: another
tenant is refused with PERMISSION_DENIED and the refusal is audited. Every call made on the
tenant's behalf (collection, exchange, compute, governance) carries the caller's credentials
(`creds`, forwarded), so the platform service checks the tenant as well: the peak adds no power
of its own to its callers'.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.compute.v1 import compute_pb2
from citymesh.api.exchange.v1 import exchange_pb2
from citymesh.api.governance.v1 import governance_pb2, incidents_pb2
from citymesh.convert import district_to_proto
from citymesh.peak import convert, domain, themes
from citymesh.peak.domain import Booking, BookingAsk, Project, Result, Scene, SceneKind
from citymesh.peak.store import ProjectStore, SceneStore
from citymesh.peak.themes import Theme
from citymesh.peak.upstream import Metadata, Upstreams
from citymesh.runtime import errors
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import Bus

log = logging.getLogger("citymesh.peak")

SERVICE = "peak"
"""The name of a peak's audit records: audit.peak.denied / audit.peak.allowed."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return uuid.uuid4().hex[:16]


SHARING = frozenset(
    {
        "PublishDataset",
        "ListDatasets",
        "RequestAccess",
        "GrantAccess",
        "DenyAccess",
        "RevokeGrant",
        "ListGrants",
    }
)
"""The exchange's catalog RPCs a peak passes on (same names, same messages)."""


def sharing_resource(tenant: str, request: Message) -> str:
    """What a catalog request is about, for the audit record of a refusal."""
    if isinstance(request, exchange_pb2.PublishDatasetRequest):
        return f"dataset {tenant}.{request.name}"
    if isinstance(request, exchange_pb2.ListDatasetsRequest):
        return "datasets"
    dataset = str(getattr(request, "dataset_id", ""))
    if isinstance(request, exchange_pb2.ListGrantsRequest):
        return f"grants {dataset or '*'}"
    grantee = str(getattr(request, "tenant", ""))  # GrantAccess, DenyAccess, RevokeGrant
    return f"grant {dataset} to {grantee}" if grantee else f"dataset {dataset}"


@dataclass(frozen=True)
class Description:
    tenant: str
    district: str
    theme: Theme
    kernels: tuple[str, ...]
    scenes: int


class Peak:
    def __init__(
        self,
        bus: Bus | None,
        tenant: str,
        district: str,
        theme: Theme,
        scenes: SceneStore,
        projects: ProjectStore,
        upstreams: Upstreams,
        clock: Callable[[], int] = now_ms,
        ids: Callable[[], str] = new_id,
    ) -> None:
        self.tenant = tenant
        self.district = district
        self.theme = theme
        self.kernels = themes.KERNELS[theme]
        self.scenes = scenes
        self.projects = projects
        self.upstreams = upstreams
        self._peak_id = ""
        self.access = Access(bus, SERVICE)
        self.clock = clock
        self.ids = ids

    async def start(self) -> None:
        """Open the theme's scenes (a scene stored before keeps its bookings)."""
        stored = await self.scenes.seed(themes.scenes(self.theme, self.district))
        if stored:
            log.info("seeded scenes", extra={"tenant": self.tenant, "scenes": stored})

    # --- who may call --------------------------------------------------------------------------

    async def admit(self, who: Identity, action: str, resource: str) -> None:
        """The peak's own tenant (bound to its sub-district, when its identity names one) and the
        platform pass; anyone else is denied and audited."""
        if who.is_platform:
            return
        what = f"peak {self.tenant}: {resource}"
        if not who.tenant:
            reason = "no caller identity"
            await self.access.record(who, action, what, False, reason)
            raise errors.Unauthenticated(
                f"{reason}: send `authorization: Bearer <token>` (in development, the x-citymesh-tenant "
                "header)"
            )
        if who.tenant != self.tenant:
            await self.access.deny(
                who,
                action,
                what,
                f"this peak serves tenant {self.tenant} only; tenant {who.tenant} has its own peak",
            )
        if who.district and who.district != self.district:
            await self.access.deny(
                who,
                action,
                what,
                f"the caller is bound to sub-district {who.district}; this peak is {self.district}'s",
            )

    async def describe(self, who: Identity) -> Description:
        await self.admit(who, "DescribePeak", "description")
        catalog = await self.scenes.all()
        return Description(self.tenant, self.district, self.theme, self.kernels, len(catalog))

    # --- devices -------------------------------------------------------------------------------

    async def register_device(
        self, who: Identity, creds: Metadata, device: collection_pb2.Device
    ) -> collection_pb2.Device:
        resource = f"device {device.device_id}"
        await self.admit(who, "RegisterDevice", resource)
        if not device.HasField("position"):
            raise errors.InvalidArgument("position is required: where the device stands")
        lon, lat = device.position.longitude, device.position.latitude
        district = domain.device_district(lon, lat)
        if district != self.district:
            await self.access.deny(
                who,
                "RegisterDevice",
                f"peak {self.tenant}: {resource}",
                f"position ({lon}, {lat}) lies in sub-district {district}, outside this peak's "
                f"sub-district {self.district}: a peak registers devices inside its own boundary only",
            )
        device.owner_tenant = self.tenant
        response = await self.upstreams.call(
            "collection", "RegisterDevice", collection_pb2.RegisterDeviceRequest(device=device), creds
        )
        device_registered: collection_pb2.Device = response.device
        return device_registered

    async def list_devices(
        self, who: Identity, creds: Metadata, page_size: int, page_token: str, kind: int
    ) -> collection_pb2.ListDevicesResponse:
        await self.admit(who, "ListDevices", "devices")
        request = collection_pb2.ListDevicesRequest(
            page_size=page_size,
            page_token=page_token,
            district=district_to_proto(self.district),
            kind=kind,  # type: ignore[arg-type]
            owner_tenant=self.tenant,
        )
        response: collection_pb2.ListDevicesResponse = await self.upstreams.call(
            "collection", "ListDevices", request, creds
        )
        return response

    # --- scenes --------------------------------------------------------------------------------

    async def list_scenes(self, who: Identity, kind: SceneKind | None) -> list[Scene]:
        await self.admit(who, "ListScenes", "scenes")
        return [s for s, _ in await self.scenes.all() if kind is None or s.kind is kind]

    async def book(self, who: Identity, ask: BookingAsk) -> Booking:
        await self.admit(who, "BookScene", f"scene {ask.scene_id}")
        project = await self._project(ask.project_id)
        if project.state is not domain.ProjectState.ACTIVE:
            raise errors.FailedPrecondition(
                f"project {project.project_id} is {project.state.value}: only an active project books scenes"
            )
        at, booking_id = self.clock(), self.ids()

        def apply(scene: Scene, bookings: list[Booking]) -> tuple[list[Booking], Booking]:
            after, booking, _ = domain.book(scene, bookings, ask, at, booking_id, who.tenant)
            return after, booking

        booking = await self.scenes.change_bookings(ask.scene_id, apply)
        log.info("scene booked", extra={"scene": ask.scene_id, "booking": booking.booking_id})
        return booking

    async def list_bookings(self, who: Identity, scene_id: str) -> list[Booking]:
        await self.admit(who, "ListBookings", f"scene {scene_id or '*'}")
        if scene_id:
            got = await self.scenes.get(scene_id)
            if got is None:
                raise errors.NotFound(f"no scene {scene_id!r} in this peak's catalog; ListScenes names them")
            bookings = got[1]
        else:
            bookings = [b for _, bs in await self.scenes.all() for b in bs]
        return sorted(bookings, key=lambda b: (b.start_ms, b.scene_id, b.booking_id))

    async def cancel_booking(self, who: Identity, scene_id: str, booking_id: str) -> None:
        await self.admit(who, "CancelBooking", f"scene {scene_id}")
        at = self.clock()

        def apply(scene: Scene, bookings: list[Booking]) -> tuple[list[Booking], None]:
            return domain.cancel(bookings, booking_id, at), None

        await self.scenes.change_bookings(scene_id, apply)

    # --- experiment projects -------------------------------------------------------------------

    async def _project(self, project_id: str) -> Project:
        domain.check_project_id(project_id)
        project = await self.projects.get(project_id)
        if project is None:
            raise errors.NotFound(f"no project {project_id!r}; RegisterProject registers it")
        return project

    async def _change(self, project_id: str, fn: Callable[[Project], Project]) -> Project:
        domain.check_project_id(project_id)

        def apply(project: Project | None) -> tuple[Project, Project]:
            if project is None:
                raise errors.NotFound(f"no project {project_id!r}; RegisterProject registers it")
            changed = fn(project)
            return changed, changed

        return await self.projects.change(project_id, apply)

    async def register_project(self, who: Identity, new: Project) -> Project:
        await self.admit(who, "RegisterProject", f"project {new.project_id}")

        def apply(existing: Project | None) -> tuple[Project, Project]:
            stored = domain.register(existing, new)
            return stored, stored

        return await self.projects.change(new.project_id, apply)

    async def get_project(self, who: Identity, project_id: str) -> Project:
        await self.admit(who, "GetProject", f"project {project_id}")
        return await self._project(project_id)

    async def list_projects(self, who: Identity) -> list[Project]:
        await self.admit(who, "ListProjects", "projects")
        return await self.projects.all()

    async def add_milestone(self, who: Identity, project_id: str, name: str, due_ms: int) -> Project:
        await self.admit(who, "AddMilestone", f"project {project_id}")
        return await self._change(project_id, lambda p: domain.add_milestone(p, name, due_ms))

    async def reach_milestone(self, who: Identity, project_id: str, name: str) -> Project:
        await self.admit(who, "CompleteMilestone", f"project {project_id}")
        at = self.clock()
        return await self._change(project_id, lambda p: domain.reach_milestone(p, name, at))

    async def complete_project(
        self, who: Identity, creds: Metadata, project_id: str, result: Result | None
    ) -> tuple[Project, governance_pb2.AwardDecision]:
        """Complete the project, then submit its subsidy claim (a retry submits the same claim id,
        which governance decides once)."""
        await self.admit(who, "CompleteProject", f"project {project_id}")
        at = self.clock()
        project = await self._change(project_id, lambda p: domain.complete(p, result, at, self.tenant))
        decision = await self._claim(creds, convert.subsidy_claim(self.tenant, project))
        return project, decision

    async def record_contract(
        self,
        who: Identity,
        creds: Metadata,
        project_id: str,
        contract_id: str,
        amount_fen: int,
        client: str,
        place: str,
    ) -> tuple[Project, governance_pb2.AwardDecision]:
        await self.admit(who, "RecordContract", f"project {project_id}")
        at = self.clock()
        recorded: list[domain.Contract] = []

        def apply(project: Project) -> Project:
            changed, contract = domain.record_contract(
                project, contract_id, amount_fen, client, place, at, self.tenant
            )
            recorded[:] = [contract]
            return changed

        project = await self._change(project_id, apply)
        decision = await self._claim(
            creds, convert.first_application_claim(self.tenant, project, recorded[0])
        )
        return project, decision

    async def peak_id(self, creds: Metadata) -> str:
        """This peak's id in governance (its tenant's signed, active or suspended peak); empty when
        governance knows none."""
        if not self._peak_id:
            response = await self.upstreams.call(
                "governance", "ListPeaks", governance_pb2.ListPeaksRequest(), creds
            )
            held = (
                governance_pb2.PEAK_STATE_SIGNED,
                governance_pb2.PEAK_STATE_ACTIVE,
                governance_pb2.PEAK_STATE_SUSPENDED,
            )
            mine = [p for p in response.peaks if p.tenant == self.tenant and p.state in held]
            self._peak_id = mine[0].peak_id if mine else ""
        return self._peak_id

    async def _claim(self, creds: Metadata, claim: governance_pb2.AwardClaim) -> governance_pb2.AwardDecision:
        """Submit a claim of this peak's tenant; governance decides it (once per claim id)."""
        claim.peak_id = await self.peak_id(creds)
        response = await self.upstreams.call(
            "governance", "SubmitAwardClaim", governance_pb2.SubmitAwardClaimRequest(claim=claim), creds
        )
        decision: governance_pb2.AwardDecision = response.decision
        log.info(
            "award decided",
            extra={"claim": claim.claim_id, "granted": decision.granted, "amount_fen": decision.amount_fen},
        )
        return decision

    async def list_awards(
        self, who: Identity, creds: Metadata, project_id: str
    ) -> list[governance_pb2.AwardDecision]:
        await self.admit(who, "ListAwards", f"awards {project_id or '*'}")
        if project_id:
            domain.check_project_id(project_id)
        response = await self.upstreams.call(
            "governance", "ListAwards", governance_pb2.ListAwardsRequest(enterprise=self.tenant), creds
        )
        wanted = domain.claim_project(self.tenant, project_id) if project_id else None
        return [d for d in response.decisions if wanted is None or d.claim.project == wanted]

    # --- data ----------------------------------------------------------------------------------

    def _own_district(self, request: exchange_pb2.QueryRequest | exchange_pb2.ExportReadingsRequest) -> None:
        """A read naming no sub-district and no dataset is for the peak's own."""
        if not request.filter.districts and not request.dataset_id:
            request.filter.districts.append(district_to_proto(self.district))

    async def query(
        self, who: Identity, creds: Metadata, query: exchange_pb2.QueryRequest
    ) -> exchange_pb2.QueryResponse:
        await self.admit(who, "QueryData", "data")
        self._own_district(query)
        response: exchange_pb2.QueryResponse = await self.upstreams.call("exchange", "Query", query, creds)
        return response

    async def export(
        self,
        who: Identity,
        creds: Metadata,
        request: exchange_pb2.ExportReadingsRequest,
        timeout_s: float | None,
    ) -> AsyncIterator[exchange_pb2.ExportReadingsResponse]:
        """The exchange's export stream, as the caller; `timeout_s` is what is left of the caller's
        deadline (None: it set none)."""
        await self.admit(who, "ExportReadings", f"data {request.dataset_id or 'telemetry'}")
        self._own_district(request)
        async for chunk in self.upstreams.stream("exchange", "ExportReadings", request, creds, timeout_s):
            yield chunk

    async def share(self, who: Identity, creds: Metadata, rpc: str, request: Message) -> Any:
        """One of the exchange's catalog RPCs (SHARING), as the caller: the exchange decides who
        may publish, read and grant what."""
        if rpc not in SHARING:
            raise ValueError(f"{rpc} is not a catalog RPC")
        await self.admit(who, rpc, sharing_resource(self.tenant, request))
        return await self.upstreams.call("exchange", rpc, request, creds)

    # --- jobs ----------------------------------------------------------------------------------

    async def list_kernels(self, who: Identity, creds: Metadata) -> list[compute_pb2.KernelSpec]:
        await self.admit(who, "ListKernels", "kernels")
        response = await self.upstreams.call(
            "compute", "ListKernels", compute_pb2.ListKernelsRequest(), creds
        )
        return sorted((k for k in response.kernels if k.name in self.kernels), key=lambda k: k.name)

    async def submit_job(
        self, who: Identity, creds: Metadata, job: compute_pb2.SubmitJobRequest
    ) -> compute_pb2.Job:
        await self.admit(who, "SubmitJob", f"kernel {job.kernel}")
        if job.kernel not in self.kernels:
            raise errors.InvalidArgument(
                f"kernel {job.kernel!r} is not offered by this peak (theme {self.theme.value}); "
                f"it offers: {', '.join(self.kernels)}"
            )
        response = await self.upstreams.call("compute", "SubmitJob", job, creds)
        submitted: compute_pb2.Job = response.job
        return submitted

    async def _job(self, creds: Metadata, job_id: str) -> compute_pb2.Job:
        """The job, if it is this peak's tenant's (compute shows the platform anyone's)."""
        response = await self.upstreams.call(
            "compute", "GetJob", compute_pb2.GetJobRequest(job_id=job_id), creds
        )
        job: compute_pb2.Job = response.job
        if job.tenant != self.tenant:
            raise errors.NotFound(f"no job {job_id!r} of tenant {self.tenant}")
        return job

    async def get_job(self, who: Identity, creds: Metadata, job_id: str) -> compute_pb2.Job:
        await self.admit(who, "GetJob", f"job {job_id}")
        return await self._job(creds, job_id)

    async def cancel_job(self, who: Identity, creds: Metadata, job_id: str) -> compute_pb2.Job:
        await self.admit(who, "CancelJob", f"job {job_id}")
        await self._job(creds, job_id)
        response = await self.upstreams.call(
            "compute", "CancelJob", compute_pb2.CancelJobRequest(job_id=job_id), creds
        )
        cancelled: compute_pb2.Job = response.job
        return cancelled

    # --- incidents -----------------------------------------------------------------------------

    async def list_incidents(
        self, who: Identity, creds: Metadata, states: list[int], types: list[str], limit: int
    ) -> incidents_pb2.ListIncidentsResponse:
        await self.admit(who, "ListIncidents", "incidents")
        request = incidents_pb2.ListIncidentsRequest(
            filter=incidents_pb2.IncidentFilter(
                districts=[district_to_proto(self.district)],
                types=types,
                states=states,  # type: ignore[arg-type]
            ),
            limit=limit,
        )
        response: incidents_pb2.ListIncidentsResponse = await self.upstreams.call(
            "incidents", "ListIncidents", request, creds
        )
        return response

    async def _incident_here(self, creds: Metadata, incident_id: str) -> None:
        """NotFound unless the incident is in this peak's sub-district (a platform caller could
        otherwise act on another district's incident through this peak)."""
        if not incident_id:
            raise errors.InvalidArgument("incident_id is required; ListIncidents names them")
        response = await self.upstreams.call(
            "incidents", "GetIncident", incidents_pb2.GetIncidentRequest(incident_id=incident_id), creds
        )
        if response.incident.district != district_to_proto(self.district):
            raise errors.NotFound(f"no incident {incident_id!r} in sub-district {self.district}")

    async def acknowledge_incident(
        self, who: Identity, creds: Metadata, incident_id: str
    ) -> incidents_pb2.Incident:
        await self.admit(who, "AcknowledgeIncident", f"incident {incident_id}")
        await self._incident_here(creds, incident_id)
        response = await self.upstreams.call(
            "incidents",
            "AcknowledgeIncident",
            incidents_pb2.AcknowledgeIncidentRequest(incident_id=incident_id),
            creds,
        )
        incident: incidents_pb2.Incident = response.incident
        return incident

    async def resolve_incident(
        self, who: Identity, creds: Metadata, incident_id: str, resolution: str
    ) -> incidents_pb2.Incident:
        await self.admit(who, "ResolveIncident", f"incident {incident_id}")
        await self._incident_here(creds, incident_id)
        response = await self.upstreams.call(
            "incidents",
            "ResolveIncident",
            incidents_pb2.ResolveIncidentRequest(incident_id=incident_id, resolution=resolution),
            creds,
        )
        incident: incidents_pb2.Incident = response.incident
        return incident
