"""The governance center's operations: domain rules applied to the stores, events and audit
records published, tokens signed. The servicer calls these; tests may too."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from citymesh.governance import domain
from citymesh.governance.domain import (
    ZONE_ADMIN,
    ZONE_TENANT,
    Actor,
    AwardKind,
    Claim,
    Decision,
    Peak,
    Transition,
)
from citymesh.governance.store import AwardLedger, Conflict, PeakStore, tenant_enabled
from citymesh.runtime import auth, errors
from citymesh.runtime.bus import Bus

log = logging.getLogger("citymesh.governance")

CAS_TRIES = 50


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def require(actor: Actor, role: str, what: str) -> None:
    if role not in actor.roles:
        raise errors.PermissionDenied(
            f"{what} needs the role {role}; caller {actor.tenant or '(none)'} lacks it"
        )


class Governance:
    def __init__(
        self,
        bus: Bus,
        peaks: PeakStore,
        ledger: AwardLedger,
        signing_key: str = "",
        token_ttl_s: int = 3600,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.bus = bus
        self.peaks = peaks
        self.ledger = ledger
        self._key = auth.load_private_key(signing_key) if signing_key else None
        self.token_ttl_s = token_ttl_s
        self.clock = clock

    async def start(self) -> None:
        """Load the seed's peaks at the first start (a later start keeps what is stored)."""
        if await self.peaks.seed(domain.seed_peaks(self.clock())):
            log.info("seeded the peaks")

    # --- peaks -----------------------------------------------------------------------------------

    async def list_peaks(self) -> list[Peak]:
        peaks, _ = await self.peaks.load()
        return domain.ordered(peaks)

    async def get_peak(self, peak_id: str) -> Peak:
        peaks, _ = await self.peaks.load()
        if peak_id not in peaks:
            raise errors.NotFound(f"no peak {peak_id!r}; ListPeaks names them")
        return peaks[peak_id]

    async def transition(self, t: Transition, actor: Actor) -> Peak:
        at = self.clock()

        def apply(peaks: dict[str, Peak]) -> tuple[Peak, tuple[Peak, Peak]]:
            after = domain.transition(peaks, t, actor, at)
            return after, (peaks[t.peak_id], after)

        before, after = await self.peaks.change(apply)
        event = domain.transition_event(before, after, actor)
        msg_id = f"peak-{after.peak_id}-{after.version}"
        await self._record(f"governance.peak.{after.peak_id}", event, msg_id)
        log.info("peak transitioned", extra={"peak": after.peak_id, "to": after.state.value})
        return after

    async def _record(self, subject: str, event: dict[str, Any], msg_id: str) -> None:
        """The event on EVENTS and its audit record on AUDIT (deduplicated by msg_id on retry)."""
        payload = json.dumps(event, sort_keys=True).encode()
        await self.bus.publish(f"events.{subject}", payload, msg_id)
        await self.bus.publish(f"audit.{subject}", payload, msg_id)

    # --- awards ----------------------------------------------------------------------------------

    async def submit_claim(self, claim: Claim, actor: Actor) -> tuple[Decision, bool]:
        """The decision for `claim` and whether it had been decided before (then nothing is paid again)."""
        require(actor, ZONE_ADMIN, "deciding an award claim")
        claim.validate()
        key = domain.claim_key(claim.claim_id)
        stored = await self.ledger.decision(key)
        if stored is not None:
            domain.same_claim(stored.claim, claim)
            return stored, True
        decision = await self._decide(claim)
        decision = replace(decision, decided_at_ms=self.clock(), decided_by=actor.tenant)
        written = await self.ledger.append(key, decision)
        if written is not decision:  # decided concurrently under the same id: the stored one stands
            domain.same_claim(written.claim, claim)
            return written, True
        event = {"type": "award.decided", **json.loads(decision.to_json())}
        await self._record(f"governance.award.{claim.claim_id}", event, f"award-{claim.claim_id}")
        return decision, False

    async def _decide(self, claim: Claim) -> Decision:
        if claim.kind is AwardKind.PROJECT_SUBSIDY:
            return domain.decide_project_subsidy(claim)
        if claim.kind is AwardKind.FIRST_APPLICATION:
            holder = await self.ledger.claim_technology(
                domain.technology_guard_key(claim.technology), claim.claim_id
            )
            return domain.decide_first_application(claim, holder)
        guard = domain.recognition_guard_key(claim.project)
        for _ in range(CAS_TRIES):
            before, revision = await self.ledger.recognised(guard)
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

    async def awards(self, enterprise: str = "") -> list[Decision]:
        decisions = await self.ledger.decisions()
        return [d for d in decisions if not enterprise or d.claim.enterprise == enterprise]

    # --- tokens ----------------------------------------------------------------------------------

    async def issue_token(
        self, tenant: str, roles: list[str], ttl_s: int, actor: Actor
    ) -> tuple[str, int, str]:
        """(token, expiry in Unix ms, district) for `tenant`."""
        require(actor, ZONE_ADMIN, "issuing a token")
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
            "actor": actor.tenant,
        }
        await self.bus.publish(
            f"audit.governance.token.{tenant}", json.dumps(event).encode(), f"token-{tenant}-{now}"
        )
        return token, expires_ms, district
