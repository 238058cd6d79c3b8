"""The platform's NATS users, derived in one place: one per service from what its code uses, one per
tenant from its sub-district. `citymesh up` configures its nats-server with them (runtime/natsd.py),
and the chart's overlay infra/nats/auth-values.yaml is written from them (tools/natsusers.py).

A service's user may declare the streams and buckets its App lists in `resources` (runtime/bus.py),
read those buckets and write the ones it owns, store messages on the subjects it publishes and its
audit records (`audit.<service>.>`, runtime/access.py), and read the streams it consumes through
consumers of its own. Every user may read the tenants bucket: the token check reads a tenant's
status there.

A tenant's user (its peak's process) sees its own sub-district and nothing else:

- live: it may subscribe to `telemetry.<district>` and `events.incident.<district>`, no other
  platform subject;
- stored: it reads those subjects from TELEMETRY and EVENTS through one consumer of its own, named
  like the user (`tenant_consumer`). The only create subject it may publish to is
  `$JS.API.CONSUMER.CREATE.<stream>.<user>.<its subject>`, and nats-server refuses a request whose
  filter differs from the one in that subject (or that has several filters). It may not pull from,
  look at or delete any other consumer;
- its peak's state: the keys `<tenant>.…` of the tenant-keyed buckets (runtime/bus.py), written by
  publishing to `$KV.<bucket>.<tenant>.>`, read by direct get, listed with `keys_under`;
- it declares its peak's resources if they are missing but may not change a stream's configuration,
  and publishes its audit records (`audit.peak.>`).

Every user gets reply subjects of its own, `_INBOX_<user>.>` (the bus connects with that inbox
prefix): JetStream delivers a pull consumer's messages as replies, so a subscription to `_INBOX.>`
would see every other user's.

A push consumer's deliver subject is not checked against its creator's permissions: a tenant can
point its own consumer at a subject that has a subscriber, with its own district's messages. It
cannot make a consumer deliver anything else, nor deliver into the stream it reads (nats-server
refuses the cycle).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext, api

from citymesh.runtime.bus import (
    ARTIFACTS_STORE,
    AUDIT_STREAM,
    AWARDS_BUCKET,
    COMPUTE_RESOURCES,
    COMPUTE_USAGE_BUCKET,
    DATASETS_BUCKET,
    DEVICES_BUCKET,
    EVENTS_STREAM,
    GRANTS_BUCKET,
    INCIDENTS_BUCKET,
    JOBS_BUCKET,
    JOBS_STREAM,
    LEASES_BUCKET,
    PEAK_PROJECTS_BUCKET,
    PEAK_SCENES_BUCKET,
    PEAKS_BUCKET,
    TELEMETRY_STREAM,
    TENANT_KEYED_BUCKETS,
    TENANTS_BUCKET,
    inbox_prefix,
    telemetry_subject,
)

ACCOUNT = "CITYMESH"
"""The NATS account of every user (JetStream is enabled for it)."""

STREAMS = frozenset({TELEMETRY_STREAM, JOBS_STREAM, EVENTS_STREAM, AUDIT_STREAM})
BUCKETS = frozenset(
    {
        DEVICES_BUCKET,
        JOBS_BUCKET,
        COMPUTE_USAGE_BUCKET,
        TENANTS_BUCKET,
        PEAKS_BUCKET,
        AWARDS_BUCKET,
        INCIDENTS_BUCKET,
        PEAK_SCENES_BUCKET,
        PEAK_PROJECTS_BUCKET,
        DATASETS_BUCKET,
        GRANTS_BUCKET,
        LEASES_BUCKET,
    }
)
OBJECT_STORES = frozenset({ARTIFACTS_STORE})

_TOKEN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
"""A name that goes into subjects and consumer names: one token, no wildcard."""


@dataclass(frozen=True)
class User:
    """One NATS user: the subjects it may publish and subscribe to (all else is refused)."""

    name: str
    description: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    required: bool = False
    """Whether every install runs it (the chart's nats-server then needs its password)."""

    def permissions(self) -> dict[str, Any]:
        """The `permissions` map of nats-server's configuration."""
        return {"publish": {"allow": list(self.publish)}, "subscribe": {"allow": list(self.subscribe)}}

    def entry(self, password: str) -> dict[str, Any]:
        """This user in an account's `users` list."""
        return {"user": self.name, "password": password, "permissions": self.permissions()}


@dataclass(frozen=True)
class ServiceNeeds:
    """What a service's code does on NATS."""

    description: str
    resources: tuple[str, ...]
    """The streams and buckets it declares at connect: its App's `resources`."""
    publishes: tuple[str, ...] = ()
    """Subjects it stores messages on (besides its audit records)."""
    writes: tuple[str, ...] = ()
    """Buckets and object stores of `resources` it writes; it only reads the others."""
    consumes: tuple[str, ...] = ()
    """Streams it reads through durable consumers of its own (pull, ack)."""
    inspects: tuple[str, ...] = ()
    """Streams whose consumers it looks at (their lag) without reading them."""
    reads: tuple[str, ...] = ()
    """Buckets and object stores of other services it reads, without declaring them."""
    looks_up: tuple[str, ...] = ()
    """Streams whose last message on a subject it reads (a stream message get)."""
    required: bool = False
    """Whether every install runs it."""


SERVICES: Mapping[str, ServiceNeeds] = {
    "collection": ServiceNeeds(
        "validates batches and publishes them on telemetry.<district>, camera detections on "
        "events.detection.<district>; owns the device registry",
        (TELEMETRY_STREAM, DEVICES_BUCKET, AUDIT_STREAM, EVENTS_STREAM),
        publishes=("telemetry.*", "events.detection.*"),
        writes=(DEVICES_BUCKET,),
        required=True,
    ),
    "exchange": ServiceNeeds(
        "reads TELEMETRY from its committed position (a pull consumer) and follows the device "
        "registry; owns the dataset catalog and its grants",
        (TELEMETRY_STREAM, DEVICES_BUCKET, AUDIT_STREAM, DATASETS_BUCKET, GRANTS_BUCKET, TENANTS_BUCKET),
        writes=(DATASETS_BUCKET, GRANTS_BUCKET),
        consumes=(TELEMETRY_STREAM,),
        required=True,
    ),
    "compute": ServiceNeeds(
        "queues jobs on jobs.<tenant>.<priority>, keeps their state in the compute-jobs and "
        "compute-usage buckets and their files in the compute-artifacts store",
        (*COMPUTE_RESOURCES, AUDIT_STREAM),
        publishes=("jobs.>",),
        writes=(JOBS_BUCKET, COMPUTE_USAGE_BUCKET, ARTIFACTS_STORE),
        inspects=(JOBS_STREAM,),
    ),
    "compute-worker": ServiceNeeds(
        "takes jobs from the JOBS work queue (pull, ack) and writes their states and results",
        tuple(COMPUTE_RESOURCES),
        writes=(JOBS_BUCKET, COMPUTE_USAGE_BUCKET, ARTIFACTS_STORE),
        consumes=(JOBS_STREAM,),
    ),
    "governance": ServiceNeeds(
        "publishes lifecycle and incident events and audit records; owns the tenants, peaks, "
        "award-ledger and incidents buckets and the governance-leases bucket (the incident "
        "pipeline's leader lease); its incident rules read TELEMETRY and the camera detections on "
        "EVENTS (pull consumers) and the device registry; its economy index reads compute's jobs",
        (
            EVENTS_STREAM,
            AUDIT_STREAM,
            TENANTS_BUCKET,
            PEAKS_BUCKET,
            AWARDS_BUCKET,
            TELEMETRY_STREAM,
            DEVICES_BUCKET,
            INCIDENTS_BUCKET,
            LEASES_BUCKET,
        ),
        publishes=("events.>", "audit.>"),
        writes=(TENANTS_BUCKET, PEAKS_BUCKET, AWARDS_BUCKET, INCIDENTS_BUCKET, LEASES_BUCKET),
        consumes=(TELEMETRY_STREAM, EVENTS_STREAM),
        reads=(JOBS_BUCKET,),  # the economy index counts compute's jobs
        looks_up=(EVENTS_STREAM, AUDIT_STREAM),  # the outbox relay: was an event stored already?
    ),
}
"""Every service process of the platform by name: its `citymesh serve` name and its NATS user."""

PEAK = ServiceNeeds(
    "a tenant's front door: its scenes and projects (its own keys), its audit records",
    (AUDIT_STREAM, PEAK_SCENES_BUCKET, PEAK_PROJECTS_BUCKET),
    publishes=("audit.peak.>",),
    writes=(PEAK_SCENES_BUCKET, PEAK_PROJECTS_BUCKET),
)
"""What a peak's process does on NATS (citymesh/peak, App.resources), fenced to its tenant by
`tenant_user`."""

IN_PROCESS: Mapping[str, tuple[str, ...]] = {"compute": ("compute-worker",)}
"""`citymesh up` runs these in one process (compute serves its API and a worker): one user has
the rights of both."""


def stream_of(resource: str) -> str:
    """The JetStream stream behind a resource of runtime/bus.py (a bucket's is KV_<bucket>)."""
    if resource in STREAMS:
        return resource
    if resource in BUCKETS:
        return f"KV_{resource}"
    if resource in OBJECT_STORES:
        return f"OBJ_{resource}"
    raise ValueError(f"{resource!r} is no stream, bucket or object store named in runtime/natsauth.py")


def _declare(resource: str) -> list[str]:
    s = stream_of(resource)
    return [f"$JS.API.STREAM.INFO.{s}", f"$JS.API.STREAM.CREATE.{s}", f"$JS.API.STREAM.UPDATE.{s}"]


def _read(resource: str) -> list[str]:
    """Get, watch and list the keys of a bucket; get the objects of a store."""
    if resource in STREAMS:
        return []
    s = stream_of(resource)
    subjects = [
        f"$JS.API.STREAM.MSG.GET.{s}",
        f"$JS.API.DIRECT.GET.{s}",
        f"$JS.API.DIRECT.GET.{s}.>",
        f"$JS.API.CONSUMER.CREATE.{s}",
        f"$JS.API.CONSUMER.CREATE.{s}.>",
        f"$JS.API.CONSUMER.INFO.{s}.>",
        f"$JS.API.CONSUMER.DELETE.{s}.>",
        f"$JS.FC.{s}.>",
    ]
    if resource in OBJECT_STORES:
        subjects.insert(0, "$JS.API.STREAM.NAMES")  # the object store finds its stream by subject
    return subjects


def _write(resource: str, keys: str = ">") -> list[str]:
    if resource in BUCKETS:
        return [f"$KV.{resource}.{keys}"]
    if resource in OBJECT_STORES:
        return [f"$O.{resource}.>", f"$JS.API.STREAM.PURGE.{stream_of(resource)}"]
    raise ValueError(f"{resource!r} is no bucket or object store: a stream is written by publishing")


def _consume(stream: str) -> list[str]:
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


def _token_check() -> list[str]:
    """Read tenants' status (runtime/auth.py), declaring the bucket if it is not there yet."""
    s = stream_of(TENANTS_BUCKET)
    return [
        f"$JS.API.STREAM.INFO.{s}",
        f"$JS.API.STREAM.CREATE.{s}",
        f"$JS.API.STREAM.MSG.GET.{s}",
        f"$JS.API.DIRECT.GET.{s}.>",
    ]


def _unique(subjects: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(subjects))


def check_name(what: str, value: str) -> str:
    """`value` if it can be one token of a subject and a consumer name, else ValueError."""
    if not _TOKEN.match(value):
        raise ValueError(
            f"{what} {value!r} cannot name NATS subjects: use lowercase letters, digits and '-' "
            "(at most 63, starting with a letter or digit)"
        )
    return value


def service_user(name: str, also: Iterable[str] = ()) -> User:
    """The user of service `name` (a key of SERVICES), with the rights of the services in `also`
    that run in the same process."""
    try:
        needs = [SERVICES[n] for n in (name, *also)]
    except KeyError as exc:
        raise ValueError(f"no NATS user for {exc.args[0]!r}: say what it does in natsauth.SERVICES") from None
    resources = _unique([r for n in needs for r in n.resources])
    writes = {w for n in needs for w in n.writes}
    publish = [s for n in needs for s in n.publishes]
    publish += [f"audit.{name}.>", "$JS.API.INFO", *_token_check()]
    for resource in resources:
        publish += _declare(resource)
    for resource in resources:
        publish += _read(resource)
        if resource in writes:
            publish += _write(resource)
    for stream in _unique(s for n in needs for s in n.consumes):
        publish += _consume(stream)
    for stream in _unique(s for n in needs for s in n.inspects):
        publish.append(f"$JS.API.CONSUMER.INFO.{stream}.>")
    for resource in _unique(r for n in needs for r in n.reads):
        publish += [f"$JS.API.STREAM.INFO.{stream_of(resource)}", *_read(resource)]
    for stream in _unique(s for n in needs for s in n.looks_up):
        publish += [f"$JS.API.STREAM.MSG.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>"]
    return User(
        name=check_name("service", name),
        description="; ".join(n.description for n in needs),
        publish=_unique(publish),
        subscribe=(f"{inbox_prefix(name)}.>",),
        required=needs[0].required,
    )


def tenant_subjects(district: str) -> dict[str, str]:
    """Stream → the subject of it a tenant of `district` may read (its consumer's filter)."""
    check_name("district", district)
    return {TELEMETRY_STREAM: telemetry_subject(district), EVENTS_STREAM: f"events.incident.{district}"}


def tenant_user(tenant: str, district: str, name: str | None = None) -> User:
    """The user of a tenant's processes: its sub-district's telemetry and incident events, its own
    keys of its peak's buckets. Named `tenant-<tenant>` unless `name` says otherwise (the chart
    names a peak's user `peak-<peak>`, `peak_user`)."""
    check_name("tenant", tenant)
    user = check_name("user", name or f"tenant-{tenant}")
    subjects = tenant_subjects(district)
    publish = [*PEAK.publishes, *_token_check()]
    for resource in PEAK.resources:
        s = stream_of(resource)
        publish += [f"$JS.API.STREAM.INFO.{s}", f"$JS.API.STREAM.CREATE.{s}"]
    for bucket in PEAK.writes:
        assert bucket in TENANT_KEYED_BUCKETS, f"{bucket} is shared by tenants but not keyed by tenant"
        s = stream_of(bucket)
        keys = f"$KV.{bucket}.{tenant}.>"
        publish += [
            *_write(bucket, f"{tenant}.>"),
            f"$JS.API.DIRECT.GET.{s}.{keys}",
            f"$JS.API.CONSUMER.CREATE.{s}.*.{keys}",  # keys_under: its filter is in the subject
            f"$JS.API.CONSUMER.INFO.{s}.*",
        ]
    for stream, subject in subjects.items():
        publish += [
            f"$JS.API.CONSUMER.CREATE.{stream}.{user}.{subject}",
            f"$JS.API.CONSUMER.INFO.{stream}.{user}",
            f"$JS.API.CONSUMER.DELETE.{stream}.{user}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{user}",
            f"$JS.ACK.{stream}.{user}.>",
        ]
    return User(
        name=user,
        description=f"tenant {tenant}: sub-district {district}'s telemetry and incidents, its own keys",
        publish=_unique(publish),
        subscribe=(*subjects.values(), f"{inbox_prefix(user)}.>"),
    )


def peak_user(peak: str, tenant: str, district: str) -> User:
    """The user of a peak's process, `peak-<peak>`: its tenant's user under the peak's name."""
    return tenant_user(tenant, district, name=f"peak-{check_name('peak', peak)}")


def tenant_consumer(user: str, stream: str, district: str, durable: bool = True) -> api.ConsumerConfig:
    """The one consumer a tenant's user may have on TELEMETRY or EVENTS: named like the user,
    filtered to its district (nats.py then creates it through the subject that carries the
    filter). Create it with `js.add_consumer(stream, config)`, read it with
    `js.pull_subscribe_bind(consumer=user, stream=stream)`."""
    subject = tenant_subjects(district)[stream]
    return api.ConsumerConfig(
        name=user,
        durable_name=user if durable else None,
        filter_subject=subject,
        ack_policy=api.AckPolicy.EXPLICIT,
    )


async def keys_under(js: JetStreamContext, bucket: str, prefix: str, timeout: float = 5.0) -> list[str]:
    """The keys of `bucket` that begin with `prefix` (whole tokens, ending in '.'), for a user
    fenced to those keys: nats.py's `KeyValue.keys` creates its consumer through a subject without
    the filter, which such a user may not publish to; this one's consumer has a name, so its create
    subject carries the filter."""
    if not prefix.endswith(".") or "*" in prefix or ">" in prefix:
        raise ValueError(f"key prefix {prefix!r} must be whole tokens ending in '.'")
    sub = await js.subscribe(
        f"$KV.{bucket}.{prefix}>",
        stream=stream_of(bucket),
        config=api.ConsumerConfig(
            name=secrets.token_hex(11),
            ack_policy=api.AckPolicy.NONE,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
            headers_only=True,
            inactive_threshold=timeout,
        ),
    )
    try:
        info = await sub.consumer_info()
        keys: list[str] = []
        delivered = info.delivered.consumer_seq if info.delivered else 0
        for _ in range((delivered or 0) + (info.num_pending or 0)):
            msg = await sub.next_msg(timeout)
            if (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
                keys.append(msg.subject.removeprefix(f"$KV.{bucket}."))
        return keys
    finally:
        await sub.unsubscribe()


def platform_users(peaks: Iterable[tuple[str, str, str]] = ()) -> list[User]:
    """Every service's user, then each peak's: (peak, tenant, district)."""
    return [service_user(name) for name in SERVICES] + [peak_user(*p) for p in peaks]


def local_users(services: Iterable[str], peaks: Iterable[tuple[str, str, str]] = ()) -> list[User]:
    """The users of `citymesh up`: one per service process it starts (with the rights of what runs
    inside it, IN_PROCESS), then each peak's: (peak, tenant, district)."""
    return [service_user(name, IN_PROCESS.get(name, ())) for name in services] + [
        peak_user(*p) for p in peaks
    ]


def env_name(user: str) -> str:
    """The environment variable the chart's nats-server reads a user's password from."""
    return re.sub(r"[^A-Z0-9]", "_", user.upper()) + "_PASSWORD"
