"""The governance center's rules: the peaks' lifecycle and its guards, and the award policy.

Pure functions over plain values (no grpc, nats or protobuf): the store applies them under
compare-and-set, the servicer converts to and from messages.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any

from citymesh.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

ZONE_ADMIN = "zone-admin"
"""The zone administrator's role: signs, suspends, resumes and retires peaks; decides awards."""
PEAK_ADMIN = "peak-admin"
"""A peak's own administrator: may activate its signed peak."""
ZONE_TENANT = "zone"
"""The tenant of the zone's own staff."""

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
CLAIM_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class PeakState(StrEnum):
    NEGOTIATING = "negotiating"
    SIGNED = "signed"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


ALLOWED: dict[PeakState, frozenset[PeakState]] = {
    PeakState.NEGOTIATING: frozenset({PeakState.SIGNED}),
    PeakState.SIGNED: frozenset({PeakState.ACTIVE}),
    PeakState.ACTIVE: frozenset({PeakState.SUSPENDED}),
    PeakState.SUSPENDED: frozenset({PeakState.ACTIVE, PeakState.RETIRED}),
    PeakState.RETIRED: frozenset(),
}
"""The lifecycle: negotiating → signed → active → suspended → retired, and suspended → active."""

TENANT_ENABLED = frozenset({PeakState.SIGNED, PeakState.ACTIVE})
"""The states in which a peak's tenant gets and uses tokens."""


@dataclass(frozen=True)
class Peak:
    peak_id: str
    district: str
    state: PeakState
    name: str = ""
    enterprise: str = ""
    tenant: str = ""
    candidates: tuple[str, ...] = ()
    version: int = 1
    updated_at_ms: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.value
        d["candidates"] = list(self.candidates)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Peak:
        return cls(**{**d, "state": PeakState(d["state"]), "candidates": tuple(d.get("candidates", ()))})


DISTRICTS = ("gouzhao", "fengyang", "wutong", "shifo", "shuangqiao")
"""The five sub-district offices, in the seed's order."""

CANDIDATES = ("Baidu", "Tencent", "China Electronics")


def seed_peaks(now_ms: int) -> dict[str, Peak]:
    """The peaks of the seed: three active, two under negotiation (enterprise not yet chosen)."""
    why = "seed: the zone's peaks at the start of the platform"
    peaks = [
        Peak(
            "tianjian-lake",
            "gouzhao",
            PeakState.ACTIVE,
            "Tianjian Lake Sensor-IoT Town",
            "Alibaba Cloud",
            "alibaba-cloud",
        ),
        Peak("fengyang-5g", "fengyang", PeakState.ACTIVE, "Fengyang 5G+ Town", "Huawei", "huawei"),
        Peak(
            "digital-governance",
            "wutong",
            PeakState.ACTIVE,
            "Digital Governance Town",
            "Unisplendour",
            "unisplendour",
        ),
        Peak("shifo", "shifo", PeakState.NEGOTIATING, candidates=CANDIDATES),
        Peak("shuangqiao", "shuangqiao", PeakState.NEGOTIATING, candidates=CANDIDATES),
    ]
    return {p.peak_id: replace(p, updated_at_ms=now_ms, reason=why) for p in peaks}


def ordered(peaks: dict[str, Peak]) -> list[Peak]:
    """Peaks in sub-district order (the seed's), then by id."""

    def key(p: Peak) -> tuple[int, str]:
        return (DISTRICTS.index(p.district) if p.district in DISTRICTS else len(DISTRICTS), p.peak_id)

    return sorted(peaks.values(), key=key)


@dataclass(frozen=True)
class Transition:
    peak_id: str
    target: PeakState
    reason: str
    tenant: str = ""
    enterprise: str = ""
    name: str = ""


@dataclass(frozen=True)
class Actor:
    """Who asks: a tenant and its roles (from a verified token, or development headers)."""

    tenant: str
    roles: frozenset[str] = frozenset()


def _require_role(actor: Actor, what: str, peak: Peak) -> None:
    if ZONE_ADMIN in actor.roles:
        return
    if what == "activate" and PEAK_ADMIN in actor.roles and actor.tenant and actor.tenant == peak.tenant:
        return
    who = (
        f"role {ZONE_ADMIN}" if what != "activate" else f"role {ZONE_ADMIN}, or {PEAK_ADMIN} of {peak.tenant}"
    )
    raise PermissionDenied(f"only the zone administrator may {what} a peak: needs {who}")


VERB = {
    PeakState.SIGNED: "sign",
    PeakState.ACTIVE: "activate",
    PeakState.SUSPENDED: "suspend",
    PeakState.RETIRED: "retire",
    PeakState.NEGOTIATING: "reopen negotiation for",
}


def transition(peaks: dict[str, Peak], t: Transition, actor: Actor, now_ms: int) -> Peak:
    """The peak after `t`, checked against every guard; raises the guard that fails."""
    if not t.reason.strip():
        raise InvalidArgument("reason is required: it goes into the event and the audit record")
    peak = peaks.get(t.peak_id)
    if peak is None:
        raise NotFound(f"no peak {t.peak_id!r}; ListPeaks names them")
    what = VERB[t.target]
    _require_role(actor, what, peak)
    if t.target not in ALLOWED[peak.state]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[peak.state])) or "none (final)"
        raise FailedPrecondition(
            f"cannot {what} peak {peak.peak_id}: it is {peak.state.value} (version {peak.version}); "
            f"from {peak.state.value} it may go to: {allowed}"
        )
    new = replace(
        peak, state=t.target, version=peak.version + 1, updated_at_ms=now_ms, reason=t.reason.strip()
    )
    if t.target is PeakState.SIGNED:
        if not SLUG.match(t.tenant) or t.tenant == ZONE_TENANT:
            raise InvalidArgument(
                f"tenant {t.tenant!r}: signing needs the enterprise's tenant id "
                f"(lowercase letters, digits and dashes, at most 63; not {ZONE_TENANT!r})"
            )
        if not t.enterprise.strip():
            raise InvalidArgument("enterprise is required to sign a peak")
        holder = next(
            (p for p in peaks.values() if p.tenant == t.tenant and p.state is not PeakState.RETIRED), None
        )
        if holder is not None:
            raise FailedPrecondition(
                f"tenant {t.tenant} already holds peak {holder.peak_id} ({holder.state.value}); "
                "a tenant holds one peak at a time"
            )
        new = replace(
            new,
            tenant=t.tenant,
            enterprise=t.enterprise.strip(),
            name=t.name.strip() or peak.name or f"{peak.district.title()} peak",
            candidates=(),
        )
    if t.target is PeakState.ACTIVE:
        active = next(
            (
                p
                for p in peaks.values()
                if p.district == peak.district and p.state is PeakState.ACTIVE and p.peak_id != peak.peak_id
            ),
            None,
        )
        if active is not None:
            raise FailedPrecondition(
                f"sub-district {peak.district} already has an active peak ({active.peak_id}); "
                "suspend or retire it first"
            )
    return new


def peak_of_tenant(peaks: dict[str, Peak], tenant: str) -> Peak | None:
    """The peak a tenant holds (not retired; a tenant holds one at a time), if any."""
    if not tenant:
        return None
    return next((p for p in ordered(peaks) if p.tenant == tenant and p.state is not PeakState.RETIRED), None)


def visible_peaks(peaks: dict[str, Peak], tenant: str, platform: bool) -> list[Peak]:
    """The peaks a caller sees: all for the platform, a tenant's own (any state) otherwise."""
    return [p for p in ordered(peaks) if platform or (tenant and p.tenant == tenant)]


@dataclass(frozen=True)
class Pending:
    """An event stored with the change it records (the outbox), until it is published on EVENTS
    and AUDIT under `governance.<subject>` with Nats-Msg-Id `msg_id`. `version` orders the events
    of one subject: one whose subject already holds this version or a later one was published."""

    msg_id: str
    subject: str
    version: int
    event: dict[str, Any]
    tenant: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pending:
        return cls(d["msg_id"], d["subject"], int(d["version"]), dict(d["event"]), str(d.get("tenant", "")))


def transition_pending(before: Peak, after: Peak, actor: Actor) -> Pending:
    """The outbox entry of a transition."""
    return Pending(
        msg_id=f"peak-{after.peak_id}-{after.version}",
        subject=f"peak.{after.peak_id}",
        version=after.version,
        event=transition_event(before, after, actor),
        tenant=after.tenant,
    )


def transition_event(before: Peak, after: Peak, actor: Actor) -> dict[str, Any]:
    """What EVENTS and AUDIT record of a transition."""
    return {
        "type": "peak.transitioned",
        "peak_id": after.peak_id,
        "district": after.district,
        "tenant": after.tenant,
        "from": before.state.value,
        "to": after.state.value,
        "version": after.version,
        "actor": actor.tenant,
        "roles": sorted(actor.roles),
        "reason": after.reason,
        "at_ms": after.updated_at_ms,
    }


# --- the award policy --------------------------------------------------------------------------

FEN_PER_CNY = 100
FIRST_APPLICATION_PCT = 10
FIRST_APPLICATION_CAP_FEN = 1_000_000 * FEN_PER_CNY
SUBSIDY_BASE_PCT = 40
SUBSIDY_DEPLOYED_BONUS_PCT = 10
SUBSIDY_INDUSTRY_BONUS_PCT = 10
MAX_FEN = 10**15
"""Ten trillion CNY: anything above is a typo, not a project."""


class AwardKind(StrEnum):
    PROJECT_SUBSIDY = "project-subsidy"
    FIRST_APPLICATION = "first-application"
    RECOGNITION = "recognition"


class ProjectResult(StrEnum):
    COMPLETED = "completed"
    DEPLOYED_IN_ZONE = "deployed-in-zone"


class RecognitionLevel(IntEnum):
    MUNICIPAL = 1
    PROVINCIAL = 2
    NATIONAL = 3


RECOGNITION_FEN = {
    RecognitionLevel.MUNICIPAL: 500_000 * FEN_PER_CNY,
    RecognitionLevel.PROVINCIAL: 800_000 * FEN_PER_CNY,
    RecognitionLevel.NATIONAL: 1_000_000 * FEN_PER_CNY,
}


@dataclass(frozen=True)
class Claim:
    claim_id: str
    enterprise: str
    project: str
    kind: AwardKind
    local_enterprise: bool = False
    total_investment_fen: int = 0
    result: ProjectResult | None = None
    leading_industry: bool = False
    technology: str = ""
    contract_fen: int = 0
    level: RecognitionLevel | None = None
    peak_id: str = ""
    """The peak whose ecosystem the project belongs to; empty: the zone's own."""

    def validate(self) -> Claim:
        if not CLAIM_ID.match(self.claim_id):
            raise InvalidArgument("claim_id: 1 to 128 letters, digits, '-' or '_'")
        if self.peak_id and not SLUG.match(self.peak_id):
            raise InvalidArgument(f"peak_id {self.peak_id!r}: a peak id (ListPeaks names them)")
        if not self.enterprise.strip():
            raise InvalidArgument("enterprise is required")
        if self.kind is AwardKind.PROJECT_SUBSIDY:
            if not 0 < self.total_investment_fen <= MAX_FEN:
                raise InvalidArgument("total_investment_fen must be positive (and below 10^15)")
            if self.result is None:
                raise InvalidArgument(
                    "result is required for a project subsidy (completed or deployed-in-zone)"
                )
        elif self.kind is AwardKind.FIRST_APPLICATION:
            if not technology_key(self.technology):
                raise InvalidArgument("technology is required for a first-application claim")
            if not 0 < self.contract_fen <= MAX_FEN:
                raise InvalidArgument("contract_fen must be positive (and below 10^15)")
        elif self.kind is AwardKind.RECOGNITION:
            if not self.project.strip():
                raise InvalidArgument(
                    "project is required for a recognition claim (levels count per project)"
                )
            if self.level is None:
                raise InvalidArgument("level is required for a recognition claim")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["result"] = self.result.value if self.result else None
        d["level"] = int(self.level) if self.level else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Claim:
        return cls(
            **{
                **d,
                "kind": AwardKind(d["kind"]),
                "result": ProjectResult(d["result"]) if d.get("result") else None,
                "level": RecognitionLevel(d["level"]) if d.get("level") else None,
            }
        )


@dataclass(frozen=True)
class Decision:
    claim: Claim
    granted: bool
    amount_fen: int
    rule: str
    explanation: str
    decided_at_ms: int = 0
    decided_by: str = ""

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "claim": self.claim.to_dict()}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Decision:
        d = json.loads(raw)
        return cls(**{**d, "claim": Claim.from_dict(d["claim"])})


@dataclass(frozen=True)
class Recognised:
    """What a project has been paid for recognition so far (the guard of the no-stacking rule), and
    each claim that raised it: claim id → (amount, explanation), so that the same claim decided
    again (a duplicate racing the first, or a retry) gets the same decision, not a refusal."""

    level: RecognitionLevel
    paid_fen: int
    claims: dict[str, tuple[int, str]] = field(default_factory=dict)


def cny(fen: int) -> str:
    """An amount for people: 1,234,567.89 CNY."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_CNY)
    return f"{sign}{whole:,}.{cents:02d} CNY"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def technology_key(technology: str) -> str:
    """One technology however it is written: case, spaces, dashes and underscores alike."""
    return re.sub(r"[\s_-]+", "-", technology.strip().casefold()).strip("-")


def technology_guard_key(technology: str) -> str:
    return f"technology.{_digest(technology_key(technology))}"


def recognition_guard_key(project: str, peak_id: str = "") -> str:
    """The no-stacking guard of a project: each peak's projects are its own (the zone's: no peak)."""
    digest = _digest(technology_key(project))
    return f"recognition.{peak_id}.{digest}" if peak_id else f"recognition.{digest}"


def holder_shown(holder: str, key: str) -> str:
    """How a decision names the claim that took its technology first (`holder`, a ledger key, or a
    bare claim id from before ids were per peak): by id among the same peak's claims (`key`'s),
    and without a word of another peak's ids."""
    namespace, _, claim_id = holder.rpartition(".")
    return claim_id if namespace and namespace == key.rpartition(".")[0] else "of another claimant"


def claim_key(claim_id: str, peak_id: str = "") -> str:
    """The ledger key of a claim id: within its peak's own ids (the zone's own: no peak)."""
    return f"claim.{peak_id}.{claim_id}" if peak_id else f"claim.{claim_id}"


def subsidy_rate_pct(claim: Claim) -> tuple[int, str]:
    """The project subsidy's rate (40–60%) and the criteria that set it."""
    pct = SUBSIDY_BASE_PCT
    why = [f"base {SUBSIDY_BASE_PCT}% for a completed result"]
    if claim.result is ProjectResult.DEPLOYED_IN_ZONE:
        pct += SUBSIDY_DEPLOYED_BONUS_PCT
        why.append(f"+{SUBSIDY_DEPLOYED_BONUS_PCT}% deployed in the zone's real scenes")
    if claim.leading_industry:
        pct += SUBSIDY_INDUSTRY_BONUS_PCT
        why.append(f"+{SUBSIDY_INDUSTRY_BONUS_PCT}% in one of the zone's four leading industries")
    return pct, ", ".join(why)


def decide_project_subsidy(claim: Claim) -> Decision:
    rule = AwardKind.PROJECT_SUBSIDY.value
    if not claim.local_enterprise:
        return Decision(
            claim,
            False,
            0,
            rule,
            f"{claim.enterprise} is not a local enterprise: the project subsidy is for local ones",
        )
    pct, why = subsidy_rate_pct(claim)
    amount = claim.total_investment_fen * pct // 100
    return Decision(
        claim, True, amount, rule, f"{pct}% of the total investment {cny(claim.total_investment_fen)} ({why})"
    )


def decide_first_application(claim: Claim, earlier_claim: str | None) -> Decision:
    """`earlier_claim`: the claim that already had this technology's first application, if any."""
    rule = AwardKind.FIRST_APPLICATION.value
    if earlier_claim is not None and earlier_claim != claim.claim_id:
        return Decision(
            claim,
            False,
            0,
            rule,
            f"the first application of {claim.technology!r} was already awarded (claim {earlier_claim}); "
            "it is awarded once per technology",
        )
    tenth = claim.contract_fen * FIRST_APPLICATION_PCT // 100
    amount = min(tenth, FIRST_APPLICATION_CAP_FEN)
    capped = f", capped at {cny(FIRST_APPLICATION_CAP_FEN)}" if tenth > FIRST_APPLICATION_CAP_FEN else ""
    return Decision(
        claim,
        True,
        amount,
        rule,
        f"{FIRST_APPLICATION_PCT}% of the contract amount {cny(claim.contract_fen)}{capped}",
    )


def decide_recognition(claim: Claim, before: Recognised | None) -> tuple[Decision, Recognised | None]:
    """The decision, and the project's recognition record after it (None: unchanged). Levels do not
    stack: a project is paid its highest level's amount in all; a higher level pays the difference."""
    rule = AwardKind.RECOGNITION.value
    assert claim.level is not None
    full = RECOGNITION_FEN[claim.level]
    level = claim.level.name.lower()
    if before is not None and claim.claim_id in before.claims:
        amount, why = before.claims[claim.claim_id]
        return Decision(claim, True, amount, rule, why), None
    if before is not None and before.level >= claim.level:
        return (
            Decision(
                claim,
                False,
                0,
                rule,
                f"project {claim.project!r} was already paid {cny(before.paid_fen)} as "
                f"{before.level.name.lower()}; levels do not stack, only the highest counts",
            ),
            None,
        )
    paid = before.paid_fen if before else 0
    amount = full - paid
    why = f"{level} major project: {cny(full)}"
    if before is not None:
        why += f", less {cny(paid)} already paid as {before.level.name.lower()} (levels do not stack)"
    after = Recognised(
        claim.level, full, {**(before.claims if before else {}), claim.claim_id: (amount, why)}
    )
    return Decision(claim, True, amount, rule, why), after


def claim_peak(claim: Claim, peaks: dict[str, Peak]) -> str:
    """The peak a claim counts for: the one it names, else the peak of the enterprise it names
    (by tenant id or enterprise name, case-insensitive), else none (the zone's own)."""
    if claim.peak_id:
        return claim.peak_id
    who = claim.enterprise.strip().casefold()
    for p in ordered(peaks):
        if p.tenant and p.state is not PeakState.RETIRED and who in {p.tenant, p.enterprise.casefold()}:
            return p.peak_id
    return ""


def owns_claim(claim: Claim, peak: Peak, peaks: dict[str, Peak]) -> bool:
    """Whether a claim is the peak's: filed for it, or for its own enterprise."""
    names = {n for n in (peak.tenant, peak.enterprise.casefold()) if n}
    return claim_peak(claim, peaks) == peak.peak_id or claim.enterprise.strip().casefold() in names


def same_claim(a: Claim, b: Claim) -> None:
    """A resubmitted claim id must carry the same claim."""
    if a != b:
        raise AlreadyExists(
            f"claim {a.claim_id} was already decided with different contents; use a new claim id"
        )
