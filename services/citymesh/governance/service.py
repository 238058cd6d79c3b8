"""The governance center's operations: domain rules applied to the stores, events and audit
records published, tokens signed, the digital-economy index computed. The servicer calls these
with the caller's identity; tests may too.

Access, on every operation (citymesh.runtime.access, each denial audited on AUDIT as
`audit.governance.denied`): the platform (`zone-admin`, or `service`) sees everything; a tenant
sees its own peak, the awards of its peak or enterprise and its peak's index, and submits claims
for its own peak only; transitions and tokens need `zone-admin` (a `peak-admin` may activate its
own signed peak). A caller with no identity at all is UNAUTHENTICATED.

Events of peak transitions go through an outbox (outbox.py): the event is written with the
transition in one compare-and-set of the registry, then `relay()` publishes it on EVENTS and AUDIT
(Nats-Msg-Id dedup, and skipped when the subject already holds it) and clears it; `start()` relays
what a crash left. So a stored transition's event is published exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from citymesh.governance import domain, index
from citymesh.governance.domain import (
    PEAK_ADMIN,
    ZONE_ADMIN,
    ZONE_TENANT,
    Actor,
    AwardKind,
    Claim,
    Decision,
    Peak,
    PeakState,
    Pending,
    Recognised,
    Transition,
)
from citymesh.governance.outbox import RELAY_EVERY_S, RELAY_FAILURES, Outbox, Relay
from citymesh.governance.store import AwardLedger, Conflict, PeakStore, PlatformFigures, tenant_enabled
from citymesh.runtime import auth, errors
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import Bus

log = logging.getLogger("citymesh.governance")

CAS_TRIES = 50
SERVICE = "governance"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def actor(who: Identity) -> Actor:
    return Actor(who.tenant, who.roles)


class Governance:
    def __init__(
        self,
        bus: Bus,
        peaks: PeakStore,
        ledger: AwardLedger,
        signing_key: str = "",
        token_ttl_s: int = 3600,
        clock: Callable[[], int] = now_ms,
        figures: PlatformFigures | None = None,
        relay_every_s: float = RELAY_EVERY_S,
    ) -> None:
        self.bus = bus
        self.peaks = peaks
        self.ledger = ledger
        self._key = auth.load_private_key(signing_key) if signing_key else None
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self.figures = figures or PlatformFigures(bus)
        self.access = Access(bus, SERVICE)
        self.outbox = Outbox(bus, SERVICE)
        self._relaying = asyncio.Lock()
        self._relay = Relay(SERVICE, self.relay, self._pending, relay_every_s)

    async def start(self) -> None:
        """Load the seed's peaks at the first start (a later start keeps what is stored), project
        every tenant's status, and publish the events a crash left in the outbox."""
        if await self.peaks.seed(domain.seed_peaks(self.clock())):
            log.info("seeded the peaks")
        await self._relay.start(lambda: self.relay(project_all=True))  # every tenant projected

    async def stop(self) -> None:
        await self._relay.stop()

    async def _pending(self) -> bool:
        """Whether the outbox holds events (one KV read): what a failed relay left, NATS away for a
        moment, is published on the relay's next round."""
        return bool((await self.peaks.load()).outbox)

    # --- access ----------------------------------------------------------------------------------

    async def _identified(self, who: Identity, action: str, resource: str) -> None:
        """Every operation needs a caller: a platform role or a tenant."""
        if who.is_platform or who.tenant:
            return
        reason = "no caller identity"
        await self.access.record(who, action, resource, False, reason)
        raise errors.Unauthenticated(
            f"{reason}: send `authorization: Bearer <token>` (in development, the x-citymesh-tenant "
            "and x-citymesh-roles headers)"
        )

    async def _zone_admin(self, who: Identity, action: str, resource: str) -> None:
        if ZONE_ADMIN not in who.roles:
            await self.access.deny(
                who, action, resource, f"{action} needs the role {ZONE_ADMIN} (the zone administrator)"
            )

    async def _own_peak(self, who: Identity, peaks: dict[str, Peak], action: str, resource: str) -> Peak:
        """The caller's own peak; PERMISSION_DENIED (audited) when it holds none."""
        own = domain.peak_of_tenant(peaks, who.tenant)
        if own is None:
            await self.access.deny(who, action, resource, f"tenant {who.tenant} holds no peak")
        return own

    async def _same_peak(self, who: Identity, own: Peak, peak_id: str, action: str) -> None:
        if peak_id and peak_id != own.peak_id:
            await self.access.deny(
                who, action, f"peak/{peak_id}", f"peak {peak_id} is not tenant {who.tenant}'s peak"
            )

    # --- peaks -----------------------------------------------------------------------------------

    async def list_peaks(self, who: Identity) -> list[Peak]:
        await self._identified(who, "ListPeaks", "peaks")
        registry = await self.peaks.load()
        return domain.visible_peaks(registry.peaks, who.tenant, who.is_platform)

    async def get_peak(self, peak_id: str, who: Identity) -> Peak:
        await self._identified(who, "GetPeak", f"peak/{peak_id}")
        registry = await self.peaks.load()
        peak = registry.peaks.get(peak_id)
        if peak is None:
            raise errors.NotFound(f"no peak {peak_id!r}; ListPeaks names them")
        if not who.is_platform and (not peak.tenant or peak.tenant != who.tenant):
            await self.access.deny(
                who, "GetPeak", f"peak/{peak_id}", f"peak {peak_id} is not tenant {who.tenant}'s peak"
            )
        return peak

    async def transition(self, t: Transition, who: Identity) -> Peak:
        resource = f"peak/{t.peak_id}"
        await self._identified(who, "TransitionPeak", resource)
        if ZONE_ADMIN not in who.roles and not (PEAK_ADMIN in who.roles and t.target is PeakState.ACTIVE):
            await self._zone_admin(who, "TransitionPeak", resource)
        at = self.clock()

        def apply(peaks: dict[str, Peak]) -> tuple[Peak, Pending, Peak]:
            after = domain.transition(peaks, t, actor(who), at)
            return after, domain.transition_pending(peaks[t.peak_id], after, actor(who)), after

        try:
            after = await self.peaks.change(apply)
        except errors.PermissionDenied as exc:  # a peak-admin activating another tenant's peak
            await self.access.record(who, "TransitionPeak", resource, False, str(exc))
            raise
        log.info("peak transitioned", extra={"peak": after.peak_id, "to": after.state.value})
        try:
            await self.relay()
        except RELAY_FAILURES as exc:
            # The transition is stored with its event in the outbox: the relay publishes it later.
            log.warning("event of a stored transition left in the outbox: %r", exc)
        return after

    # --- the outbox ------------------------------------------------------------------------------

    async def relay(self, project_all: bool = False) -> int:
        """Project the tenants of the events in the outbox (every tenant with `project_all`),
        publish those events, and clear them; returns how many were published. Safe to run again
        at any point: an event already on its subject is not published twice."""
        async with self._relaying:
            registry = await self.peaks.load()
            if registry.revision is None:
                return 0
            tenants = None if project_all else {p.tenant for p in registry.outbox if p.tenant}
            await self.peaks.project(registry, tenants)
            for pending in registry.outbox:
                await self.publish_once(pending)
            await self.peaks.clear(p.msg_id for p in registry.outbox)
            return len(registry.outbox)

    async def publish_once(self, pending: Pending) -> None:
        """The event on EVENTS and AUDIT (`governance.<subject>`), unless its subject already holds
        it (outbox.Outbox)."""
        await self.outbox.publish_once(pending)

    # --- awards ----------------------------------------------------------------------------------

    async def submit_claim(self, claim: Claim, who: Identity) -> tuple[Decision, bool]:
        """The decision for `claim` and whether it had been decided before (then nothing is paid again)."""
        resource = f"claim/{claim.claim_id}"
        await self._identified(who, "SubmitAwardClaim", resource)
        registry = await self.peaks.load()
        if not who.is_platform:
            own = await self._own_peak(who, registry.peaks, "SubmitAwardClaim", resource)
            await self._same_peak(who, own, claim.peak_id, "SubmitAwardClaim")
            claim = replace(claim, peak_id=own.peak_id)
        claim.validate()
        peak_id = domain.claim_peak(claim, registry.peaks)
        stored, key = await self._decided(claim, peak_id, registry.peaks)
        if stored is not None:
            domain.same_claim(stored.claim, claim)
            await self.publish_once(award_pending(stored))  # a retry after a crash: the event too
            return stored, True
        decision = await self._decide(claim, key, peak_id, registry.peaks)
        decision = replace(decision, decided_at_ms=self.clock(), decided_by=who.tenant)
        written = await self.ledger.append(key, decision)
        if written is not decision:  # decided concurrently under the same id: the stored one stands
            domain.same_claim(written.claim, claim)
            return written, True
        await self.publish_once(award_pending(decision))
        return decision, False

    async def _decided(
        self, claim: Claim, peak_id: str, peaks: dict[str, Peak]
    ) -> tuple[Decision | None, str]:
        """The decision already stored for `claim`'s id, if any, and its ledger key. Claim ids are
        each peak's own (`claim.<peak>.<id>`; the zone's own claims `claim.<id>`), so a tenant can
        neither learn whether another peak used an id nor take it first. A decision stored before
        ids were per peak (`claim.<id>`) still counts when it is the same peak's."""
        key = domain.claim_key(claim.claim_id, peak_id)
        stored = await self.ledger.decision(key)
        if stored is None and peak_id:
            legacy_key = domain.claim_key(claim.claim_id)
            legacy = await self.ledger.decision(legacy_key)
            if legacy is not None and domain.claim_peak(legacy.claim, peaks) == peak_id:
                return legacy, legacy_key
        return stored, key

    async def _decide(self, claim: Claim, key: str, peak_id: str, peaks: dict[str, Peak]) -> Decision:
        """Decide a new claim (ledger key `key`). The once-per-technology guard spans the zone and
        holds the ledger key of the claim that took it; the no-stacking guard of recognitions is
        per peak, as projects are each peak's own."""
        if claim.kind is AwardKind.PROJECT_SUBSIDY:
            return domain.decide_project_subsidy(claim)
        if claim.kind is AwardKind.FIRST_APPLICATION:
            holder = await self.ledger.claim_technology(domain.technology_guard_key(claim.technology), key)
            return domain.decide_first_application(
                claim, None if holder == key else domain.holder_shown(holder, key)
            )
        guard = domain.recognition_guard_key(claim.project, peak_id)
        for _ in range(CAS_TRIES):
            before, revision = await self.ledger.recognised(guard)
            if before is None and peak_id:
                before = await self._recognised_before(claim.project, peak_id, peaks)
            decision, after = domain.decide_recognition(claim, before)
            if after is None:
                return decision
            try:
                await self.ledger.set_recognised(guard, after, revision)
            except Conflict:
                continue
            return decision
        raise errors.Unavailable(
            f"project {claim.project!r} changed {CAS_TRIES} times while being decided; retry"
        )

    async def _recognised_before(
        self, project: str, peak_id: str, peaks: dict[str, Peak]
    ) -> Recognised | None:
        """A project's recognitions stored before they were per peak (`recognition.<digest>`), when
        one of their claims is the peak's: it carries on from there."""
        legacy, _ = await self.ledger.recognised(domain.recognition_guard_key(project))
        if legacy is None:
            return None
        for claim_id in legacy.claims:
            earlier = await self.ledger.decision(domain.claim_key(claim_id))
            if earlier is not None and domain.claim_peak(earlier.claim, peaks) == peak_id:
                return legacy
        return None

    async def awards(self, who: Identity, enterprise: str = "", peak_id: str = "") -> list[Decision]:
        """The ledger as the caller may see it, filtered by enterprise and by peak."""
        await self._identified(who, "ListAwards", f"awards/{peak_id or '*'}")
        registry = await self.peaks.load()
        peaks = registry.peaks
        decisions = await self.ledger.decisions()
        if not who.is_platform:
            own = domain.peak_of_tenant(peaks, who.tenant)
            if peak_id and (own is None or peak_id != own.peak_id):
                await self.access.deny(
                    who,
                    "ListAwards",
                    f"awards/{peak_id}",
                    f"peak {peak_id} is not tenant {who.tenant}'s peak",
                )
            if own is None:
                decisions = [d for d in decisions if d.claim.enterprise.strip().casefold() == who.tenant]
            else:
                decisions = [d for d in decisions if domain.owns_claim(d.claim, own, peaks)]
        return [
            d
            for d in decisions
            if (not enterprise or d.claim.enterprise == enterprise)
            and (not peak_id or domain.claim_peak(d.claim, peaks) == peak_id)
        ]

    # --- the digital-economy index ---------------------------------------------------------------

    async def economy_index(
        self, who: Identity, peak_id: str = ""
    ) -> tuple[list[index.UnitIndex], index.UnitIndex | None]:
        """The index of the peaks the caller may see (or just `peak_id`), and the zone's for the
        platform when no peak was named. Relative indicators compare every peak, whoever asks."""
        await self._identified(who, "GetEconomyIndex", f"index/{peak_id or '*'}")
        registry = await self.peaks.load()
        peaks = registry.peaks
        if peak_id and peak_id not in peaks:
            raise errors.NotFound(f"no peak {peak_id!r}; ListPeaks names them")
        if peak_id and not who.is_platform and peaks[peak_id].tenant != who.tenant:
            await self.access.deny(
                who,
                "GetEconomyIndex",
                f"index/{peak_id}",
                f"peak {peak_id} is not tenant {who.tenant}'s peak",
            )
        devices, batches, jobs, incidents, decisions = await asyncio.gather(
            self.figures.devices(),
            self.figures.telemetry_batches(),
            self.figures.jobs(),
            self.figures.incidents(),
            self.ledger.decisions(),
        )
        per_peak, zone_figures = index.figures(peaks, devices, batches, jobs, incidents, decisions)
        units, zone = index.economy_index(peaks, per_peak, zone_figures)
        visible = {p.peak_id for p in domain.visible_peaks(peaks, who.tenant, who.is_platform)}
        shown = [u for u in units if u.peak_id in visible and (not peak_id or u.peak_id == peak_id)]
        return shown, (zone if who.is_platform and not peak_id else None)

    # --- tokens ----------------------------------------------------------------------------------

    async def issue_token(
        self, tenant: str, roles: list[str], ttl_s: int, who: Identity
    ) -> tuple[str, int, str]:
        """(token, expiry in Unix ms, district) for `tenant`."""
        await self._identified(who, "IssueToken", f"token/{tenant}")
        await self._zone_admin(who, "IssueToken", f"token/{tenant}")
        if self._key is None:
            raise errors.FailedPrecondition("governance has no signing key: set CITYMESH_SIGNING_KEY")
        if ttl_s < 0 or ttl_s > 30 * 24 * 3600:
            raise errors.InvalidArgument("ttl_s must be between 0 (the default) and 30 days")
        status, district = await self.peaks.tenant_status(tenant)
        if not tenant_enabled(status) and tenant != ZONE_TENANT:
            raise errors.FailedPrecondition(
                f"tenant {tenant!r} is {status}: tokens are issued to tenants of signed or active peaks"
            )
        bad = [r for r in roles if not domain.SLUG.match(r)]
        if bad:
            raise errors.InvalidArgument(f"roles {bad}: lowercase letters, digits and dashes")
        now = self.clock()
        expires_ms = now + 1000 * (ttl_s or self.token_ttl_s)
        identity = auth.Identity(tenant, district, frozenset(roles))
        token = auth.sign(self._key, identity, expires_ms / 1000, now=now / 1000)
        event = {
            "type": "token.issued",
            "tenant": tenant,
            "roles": sorted(roles),
            "expires_ms": expires_ms,
            "actor": who.tenant,
        }
        await self.bus.publish(
            f"audit.governance.token.{tenant}", json.dumps(event).encode(), f"token-{tenant}-{now}"
        )
        return token, expires_ms, district


def award_pending(decision: Decision) -> Pending:
    """The event of a decided claim (one per claim id, ever)."""
    event: dict[str, Any] = {"type": "award.decided", **json.loads(decision.to_json())}
    claim_id = decision.claim.claim_id
    return Pending(f"award-{claim_id}", f"award.{claim_id}", 0, event)
