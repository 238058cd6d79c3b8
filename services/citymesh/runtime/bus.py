"""The NATS side of a service: one connection per process, and the platform's JetStream layout.

Every stream and bucket is defined here; each service declares, idempotently, those it uses.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from citymesh.runtime import errors
from citymesh.runtime.settings import ServiceSettings
from citymesh.runtime.telemetry import inject

log = logging.getLogger("citymesh.bus")

TELEMETRY_STREAM = "TELEMETRY"
TELEMETRY_SUBJECTS = "telemetry.>"
DEVICES_BUCKET = "devices"
JOBS_STREAM = "JOBS"
JOBS_SUBJECTS = "jobs.>"
JOBS_BUCKET = "compute-jobs"
COMPUTE_USAGE_BUCKET = "compute-usage"
ARTIFACTS_STORE = "compute-artifacts"
EVENTS_STREAM = "EVENTS"
EVENTS_SUBJECTS = "events.>"
AUDIT_STREAM = "AUDIT"
AUDIT_SUBJECTS = "audit.>"
TENANTS_BUCKET = "tenants"
PEAKS_BUCKET = "governance-peaks"
AWARDS_BUCKET = "award-ledger"
INCIDENTS_BUCKET = "incidents"
PEAK_SCENES_BUCKET = "peak-scenes"
PEAK_PROJECTS_BUCKET = "peak-projects"
DATASETS_BUCKET = "exchange-datasets"
GRANTS_BUCKET = "exchange-grants"
LEASES_BUCKET = "governance-leases"
LEASE_TTL_S = 15.0
"""The leases bucket's max_age (a lease not renewed within it is gone) when the declaring process's
settings have no `lease_ttl_s` (governance's have: governance/incidents/settings.py)."""


TENANT_KEYED_BUCKETS = (PEAK_SCENES_BUCKET, PEAK_PROJECTS_BUCKET)
"""Buckets whose keys begin with the tenant (`<tenant>.…`). A tenant's NATS user may touch only its
own keys (runtime/natsauth.py), so their gets are direct gets (`$JS.API.DIRECT.GET.<stream>.<key>`,
whose subject names the key) rather than stream message gets (whose subject does not)."""

COMPUTE_RESOURCES = [JOBS_STREAM, JOBS_BUCKET, COMPUTE_USAGE_BUCKET, ARTIFACTS_STORE]
"""What the compute API and its workers use."""


def telemetry_subject(district: str) -> str:
    """The subject of a batch of readings from one sub-district (its lowercase name)."""
    return f"telemetry.{district}"


DETECTION_SUBJECTS = "events.detection.>"
"""Camera detections on EVENTS: collection publishes them (ReportDetections), governance's incident
rules read them."""


def detection_subject(district: str) -> str:
    """The EVENTS subject of the camera detections of one sub-district (a batch's, JSON)."""
    return f"events.detection.{district}"


def jobs_subject(tenant: str, priority: str) -> str:
    """The subject of a compute job: one per tenant and priority, so workers can share fairly."""
    return f"jobs.{tenant}.{priority}"


def inbox_prefix(user: str | None) -> str:
    """The reply subjects of a connection as NATS user `user`: its own, so that no other user may
    subscribe to them (runtime/natsauth.py allows each user `_INBOX_<user>.>` only)."""
    return f"_INBOX_{user}" if user else "_INBOX"


def nats_user(urls: str) -> str | None:
    """The NATS user named in a (comma-separated) URL setting, if any."""
    return urlsplit(urls.split(",")[0].strip()).username or None


def redacted(urls: str) -> str:
    """The URL setting without its passwords, for messages and logs."""
    return re.sub(r"(://[^:/@,]*):[^@,]*@", r"\1:***@", urls)


class Bus:
    """One NATS connection and its JetStream context."""

    def __init__(self, nc: Client, settings: ServiceSettings) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(publish_async_max_pending=4096)
        self.settings = settings
        self._closing: list[bool] = []

    @classmethod
    async def connect(
        cls, settings: ServiceSettings, name: str, resources: Iterable[str] | None = None
    ) -> Bus:
        """Connect, and declare `resources` (the names of the streams and buckets this process
        uses; all of the platform's when None)."""
        closing: list[bool] = []

        async def on_error(exc: Exception) -> None:
            log.warning("nats error: %s", exc)

        async def on_disconnect() -> None:
            if not closing:
                log.warning("nats disconnected; reconnecting")

        async def on_reconnect() -> None:
            log.info("nats reconnected")

        try:
            nc = await nats.connect(
                servers=[s.strip() for s in settings.nats_url.split(",")],
                name=f"citymesh-{name}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                pending_size=64 * 1024 * 1024,
                inbox_prefix=inbox_prefix(nats_user(settings.nats_url)),
            )
        except Exception as exc:
            raise errors.Unavailable(
                f"cannot connect to NATS at {redacted(settings.nats_url)}: {exc}"
            ) from exc
        bus = cls(nc, settings)
        bus._closing = closing
        await bus.declare(resources)
        return bus

    async def declare(self, resources: Iterable[str] | None = None) -> None:
        """Create or update streams and buckets to their configured shape: the named ones (each
        service declares what it uses, so its NATS user needs rights on nothing else), or all of
        the platform's when None."""
        declarations = self._declarations()
        for name in declarations if resources is None else resources:
            await declarations[name]()

    def _declarations(self) -> dict[str, Callable[[], Awaitable[object]]]:
        """Every stream and bucket of the platform, by name, and how to declare it."""
        s = self.settings
        return {
            TELEMETRY_STREAM: lambda: self.ensure_stream(
                api.StreamConfig(
                    name=TELEMETRY_STREAM,
                    description="Batches of readings accepted by collection, one subject per sub-district",
                    subjects=[TELEMETRY_SUBJECTS],
                    retention=api.RetentionPolicy.LIMITS,
                    storage=api.StorageType.FILE,
                    num_replicas=s.stream_replicas,
                    max_age=float(s.telemetry_max_age_s),
                    duplicate_window=float(s.dedup_window_s),
                    max_msg_size=s.max_message_bytes,
                )
            ),
            DEVICES_BUCKET: lambda: self.ensure_bucket(
                self._bucket(DEVICES_BUCKET, "The device registry: device id → Device (protobuf)")
            ),
            JOBS_STREAM: lambda: self.ensure_stream(
                api.StreamConfig(
                    name=JOBS_STREAM,
                    description="Compute jobs waiting for a worker: jobs.<tenant>.<priority>, the job id",
                    subjects=[JOBS_SUBJECTS],
                    retention=api.RetentionPolicy.WORK_QUEUE,
                    storage=api.StorageType.FILE,
                    num_replicas=s.stream_replicas,
                    duplicate_window=float(s.dedup_window_s),
                )
            ),
            JOBS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    JOBS_BUCKET, "Compute jobs: job id → its state (JSON), changed by compare-and-set"
                )
            ),
            COMPUTE_USAGE_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    COMPUTE_USAGE_BUCKET,
                    "Compute quota use: tenant → active jobs and core-seconds today (JSON)",
                )
            ),
            ARTIFACTS_STORE: lambda: self.ensure_object_store(
                api.ObjectStoreConfig(
                    bucket=ARTIFACTS_STORE,
                    description="Compute job inputs and results (.npz / .npy)",
                    storage=api.StorageType.FILE,
                    replicas=s.stream_replicas,
                )
            ),
            EVENTS_STREAM: lambda: self.ensure_stream(
                api.StreamConfig(
                    name=EVENTS_STREAM,
                    description="What happened in the city: events.<service>.<kind>.<id> (JSON)",
                    subjects=[EVENTS_SUBJECTS],
                    retention=api.RetentionPolicy.LIMITS,
                    storage=api.StorageType.FILE,
                    num_replicas=s.stream_replicas,
                    duplicate_window=float(s.dedup_window_s),
                )
            ),
            AUDIT_STREAM: lambda: self.ensure_stream(
                api.StreamConfig(
                    name=AUDIT_STREAM,
                    description="Audit records: audit.<service>.<kind>.<id> (JSON): who did what, when, why",
                    subjects=[AUDIT_SUBJECTS],
                    retention=api.RetentionPolicy.LIMITS,
                    storage=api.StorageType.FILE,
                    num_replicas=s.stream_replicas,
                    duplicate_window=float(s.dedup_window_s),
                )
            ),
            TENANTS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    TENANTS_BUCKET,
                    "Tenant status for token checks: tenant → {district, status, enabled} (JSON), by governance",
                )
            ),
            PEAKS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    PEAKS_BUCKET, "The peaks: one key `registry` → every peak (JSON), compare-and-set"
                )
            ),
            AWARDS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    AWARDS_BUCKET,
                    "The award ledger: claim.<id> → decision (JSON, create-only); technology.* and "
                    "recognition.* guard the once-per-technology and highest-level-only rules",
                )
            ),
            INCIDENTS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    INCIDENTS_BUCKET,
                    "Incidents of governance's pipeline: incident id → its record (JSON), compare-and-set",
                )
            ),
            PEAK_SCENES_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    PEAK_SCENES_BUCKET,
                    "Each peak's scenes: <tenant>.scene.<id> → scene and bookings (JSON), compare-and-set",
                )
            ),
            PEAK_PROJECTS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    PEAK_PROJECTS_BUCKET,
                    "Each peak's experiment projects: <tenant>.project.<id> → project (JSON), compare-and-set",
                )
            ),
            DATASETS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    DATASETS_BUCKET,
                    "The exchange's catalog: <owner>.<name> → published dataset (JSON), compare-and-set",
                )
            ),
            GRANTS_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    GRANTS_BUCKET,
                    "Data-sharing grants: <dataset id>.<tenant> → request and decision (JSON), compare-and-set",
                )
            ),
            LEASES_BUCKET: lambda: self.ensure_bucket(
                self._bucket(
                    LEASES_BUCKET,
                    "Leader leases: <role> → its holder (JSON), taken by create, renewed by compare-and-set; "
                    "a value not renewed within max_age expires",
                    ttl=float(getattr(s, "lease_ttl_s", LEASE_TTL_S)),
                )
            ),
        }

    def _bucket(self, name: str, description: str, ttl: float | None = None) -> api.KeyValueConfig:
        """A KV bucket of the platform: latest value per key, on file, replicated like the streams;
        with `ttl`, each value expires that many seconds after it was written (max_age)."""
        return api.KeyValueConfig(
            bucket=name,
            description=description,
            history=1,
            ttl=ttl,
            storage=api.StorageType.FILE,
            replicas=self.settings.stream_replicas,
            direct=name in TENANT_KEYED_BUCKETS or None,
        )

    async def ensure_stream(self, config: api.StreamConfig) -> None:
        assert config.name is not None
        try:
            info = await self.js.stream_info(config.name)
        except NotFoundError:
            await self.js.add_stream(config)
            log.info("created stream", extra={"stream": config.name})
            return
        current = info.config
        wanted = {k: v for k, v in config.as_dict().items() if k != "description"}
        have = current.as_dict()
        if any(have.get(k) != v for k, v in wanted.items()):
            await self.js.update_stream(config)
            log.info("updated stream", extra={"stream": config.name})

    async def ensure_bucket(self, config: api.KeyValueConfig) -> KeyValue:
        try:
            kv = await self.js.key_value(config.bucket)
        except BucketNotFoundError:
            return await self.js.create_key_value(config)
        if config.ttl:  # a bucket whose values expire keeps the configured lifetime
            stream = (await kv.status()).stream_info.config
            if stream.max_age != config.ttl:
                window = min(stream.duplicate_window or config.ttl, config.ttl)
                await self.js.update_stream(stream.evolve(max_age=config.ttl, duplicate_window=window))
                log.info("updated bucket max_age", extra={"bucket": config.bucket, "max_age": config.ttl})
        return kv

    async def ensure_object_store(self, config: api.ObjectStoreConfig) -> ObjectStore:
        assert config.bucket is not None
        try:
            return await self.js.object_store(config.bucket)
        except (BucketNotFoundError, NotFoundError):
            return await self.js.create_object_store(config.bucket, config)

    async def kv(self, bucket: str) -> KeyValue:
        return await self.js.key_value(bucket)

    async def object_store(self, bucket: str) -> ObjectStore:
        return await self.js.object_store(bucket)

    async def publish(self, subject: str, payload: bytes, msg_id: str, timeout: float = 10.0) -> api.PubAck:
        """Store a message in JetStream, deduplicated by msg_id; returns once it is durable."""
        future = await self.publish_started(subject, payload, msg_id, timeout)
        try:
            ack: api.PubAck = await future
        except (TimeoutError, nats.errors.Error) as exc:
            raise errors.Unavailable(f"JetStream did not store the message: {exc!r}") from exc
        return ack

    async def publish_started(
        self, subject: str, payload: bytes, msg_id: str, timeout: float = 10.0
    ) -> asyncio.Future[api.PubAck]:
        """Send a message to JetStream and return the future of its ack, without waiting for it
        (for callers that keep many in flight). The future fails with TimeoutError after
        `timeout` seconds; Unavailable is raised when it cannot even be sent."""
        headers = inject({"Nats-Msg-Id": msg_id})
        try:
            future: asyncio.Future[api.PubAck] = await self.js.publish_async(
                subject, payload, headers=headers, wait_stall=timeout
            )
        except nats.errors.Error as exc:
            raise errors.Unavailable(f"JetStream did not take the message: {exc!r}") from exc

        def expire() -> None:
            if not future.done():
                future.set_exception(TimeoutError(f"no JetStream ack within {timeout} s"))

        handle = asyncio.get_running_loop().call_later(timeout, expire)
        future.add_done_callback(lambda _: handle.cancel())
        return future

    async def close(self) -> None:
        """Drain: finish what is in flight, then close."""
        if self.nc.is_closed:
            return
        self._closing.append(True)
        try:
            await self.nc.drain()
        except Exception as exc:  # a connection lost at shutdown has nothing left to drain
            log.warning("nats drain failed: %s", exc)


async def kv_items(kv: KeyValue, timeout: float = 10.0) -> dict[str, bytes]:
    """Every live key of a bucket and its latest value, read once through one ordered consumer.

    It does not trust the watcher's first None ("nothing more pending"): nats.py can put it ahead of
    the values when they reach the client before its consumer-info call returns (seen under load:
    a bucket of 850 devices read as empty). It ends instead on the entry the server delivered with
    nothing pending after it; an empty bucket is known from the stream's state.
    """
    try:
        status = await kv.status()
        if status.stream_info.state.messages == 0:
            return {}
        watcher = await kv.watchall()
    except nats.errors.Error as exc:
        raise errors.Unavailable(f"cannot read a NATS bucket: {exc!r}") from exc
    found: dict[str, bytes] = {}
    try:
        while True:
            try:
                entry = await watcher.updates(timeout=timeout)
            except TimeoutError:
                break  # the last values expired between the state and the watch
            if entry is None:
                continue
            if entry.operation is None and entry.value:
                found[entry.key] = entry.value
            else:
                found.pop(entry.key, None)
            if entry.delta == 0:
                break
    finally:
        await watcher.stop()
    return found
