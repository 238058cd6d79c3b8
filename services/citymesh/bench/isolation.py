"""`citymesh bench isolation`: one tenant floods ingest and queries far beyond its rate limits
while another tenant's ingest and query latencies are measured; in the same run, first, the
other tenant alone (the no-flood baseline).

Collection and exchange run as their own processes with authentication on and the per-tenant
limits set (`--ingest-limit` readings/s, `--query-limit` queries/s). The measured tenant
(unisplendour, Wutong) sends its batches and queries open-loop, at fixed rates well inside its
limits, so a slow answer does not hide the ones behind it. The flooding tenant (alibaba-cloud,
Gouzhao) runs in its own process: closed loops that send the next call the moment the last one is
answered, refused or not, as a misbehaving client does.

The bound the platform states, checked at the end: under the flood the measured tenant's p99 is
at most BOUND_FACTOR times its no-flood p99 plus BOUND_SLACK_MS, for ingest and for queries, none
of its calls is refused, and the flooder gets no more than its limits.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf.duration_pb2 import Duration

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as xpb
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.bench.load import batch_body, varint
from citymesh.city import random_point_in
from citymesh.launcher.process import Credentials, ServiceProcess
from citymesh.launcher.services import SERVICES
from citymesh.launcher.up import credentials
from citymesh.runtime import auth
from citymesh.runtime.bus import TENANTS_BUCKET, Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings

BOUND_FACTOR = 3.0
BOUND_SLACK_MS = 50.0
BOUND = (
    f"the measured tenant's p99 under the flood <= {BOUND_FACTOR:g} x its no-flood p99 + "
    f"{BOUND_SLACK_MS:g} ms (ingest and queries), none of its calls refused, and the flooder "
    "held to its limits"
)
INGEST = "/citymesh.collection.v1.CollectionService/Ingest"


@dataclass(frozen=True)
class Tenant:
    name: str
    district: str


MEASURED = Tenant("unisplendour", "wutong")
FLOODER = Tenant("alibaba-cloud", "gouzhao")


@dataclass(frozen=True)
class Plan:
    seconds: float = 12.0
    """Time measured in each phase (no flood, flood), split over `rounds` rounds."""
    rounds: int = 3
    ramp_s: float = 0.5
    """Between a phase's start or end and its measurement: the flood ramps up or drains."""
    ingest_limit: int = 5_000
    """CITYMESH_INGEST_READINGS_PER_S: readings/s per tenant."""
    query_limit: int = 20
    """CITYMESH_TENANT_QUERIES_PER_S: queries/s per tenant."""
    batches_per_s: float = 10.0
    """The measured tenant's ingest: batches per second of `batch_readings` readings."""
    batch_readings: int = 100
    queries_per_s: float = 4.0
    """The measured tenant's queries per second."""
    flood_ingest: int = 8
    """The flooder's concurrent ingest loops (each sends 1,000-reading batches)."""
    flood_queries: int = 4
    """The flooder's concurrent query loops."""
    devices: int = 20
    """Devices of each tenant."""
    preload_readings: int = 50_000
    """Readings of each tenant stored before the run, for the queries to aggregate."""


@dataclass
class Calls:
    latencies_ms: list[float] = field(default_factory=list)
    refused: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        return {
            "calls": len(self.latencies_ms) + self.refused + sum(self.failed.values()),
            "refused": self.refused,
            "failed": dict(self.failed),
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "max_ms": round(float(np.max(lat)), 2),
        }


# --- setup -------------------------------------------------------------------------------------


async def set_tenants(nats_url: str, tenants: list[Tenant]) -> None:
    """Mark the tenants active where every service's token check reads it (governance's projection)."""
    bus = await Bus.connect(ServiceSettings(nats_url=nats_url), name="bench", resources=[TENANTS_BUCKET])
    try:
        kv = await bus.kv(TENANTS_BUCKET)
        for t in tenants:
            record = {"tenant": t.name, "district": t.district, "status": "active"}
            await kv.put(t.name, json.dumps(record).encode())
    finally:
        await bus.close()


def token_of(key_pem: str, tenant: Tenant) -> str:
    identity = auth.Identity(tenant.name, tenant.district, frozenset({"peak-admin"}))
    return auth.sign(auth.load_private_key(key_pem), identity, time.time() + 3600)


async def register(collection: str, token: str, tenant: Tenant, n: int) -> list[str]:
    """The tenant registers `n` air sensors in its own district, with its own token."""
    rng = np.random.default_rng(len(tenant.name))
    ids = [f"{tenant.district}-bench-{i:03d}" for i in range(n)]
    async with auth.channel(collection, token) as channel:
        stub = collection_pb2_grpc.CollectionServiceStub(channel)
        for device_id in ids:
            lon, lat = random_point_in(tenant.district, rng)
            device = cpb.Device(
                device_id=device_id,
                kind=common_pb2.DEVICE_KIND_AIR,
                position=common_pb2.GeoPoint(longitude=lon, latitude=lat),
            )
            await stub.RegisterDevice(cpb.RegisterDeviceRequest(device=device), timeout=10)
    return ids


async def preload(collection: str, exchange: str, service_token: str, ids: list[str], readings: int) -> None:
    """Store `readings` readings of `ids` over the last ten minutes (as the platform: no limit)."""
    now = time.time_ns() // 1_000_000
    async with auth.channel(collection, service_token) as channel:
        ingest = channel.unary_unary(INGEST, request_serializer=None, response_deserializer=None)
        for i in range(0, readings, 1000):
            body = batch_body(ids, min(1000, readings - i), now - 60_000, seed=i)
            await ingest(ingest_request(body, f"preload-{ids[0]}-{i}"), timeout=30)
    async with auth.channel(exchange, service_token) as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stats = await stub.GetStats(xpb.GetStatsRequest(), timeout=10)
            if stats.lag_batches == 0 and stats.rows >= readings:
                return
            await asyncio.sleep(0.1)


def ingest_request(body: bytes, batch_id: str) -> bytes:
    """An IngestRequest holding a pre-encoded ReadingBatch with `batch_id` set."""
    ident = batch_id.encode()
    inner = body + b"\x0a" + varint(len(ident)) + ident
    return b"\x0a" + varint(len(inner)) + inner


def query_request() -> xpb.QueryRequest:
    """The caller's own district, the last ten minutes by device and minute."""
    now = time.time_ns() // 1_000_000
    time_range = common_pb2.TimeRange()
    time_range.start.FromMilliseconds(now - 600_000)
    time_range.end.FromMilliseconds(now + 1)
    return xpb.QueryRequest(
        time_range=time_range, bucket=Duration(seconds=60), group_by=[xpb.GROUP_BY_DEVICE]
    )


def classify(calls: Calls, exc: grpc.aio.AioRpcError) -> None:
    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        calls.refused += 1
    else:
        calls.failed[exc.code().name] = calls.failed.get(exc.code().name, 0) + 1


# --- the measured tenant -----------------------------------------------------------------------


async def measure(
    plan: Plan, collection: str, exchange: str, token: str, ids: list[str], tag: str
) -> dict[str, Calls]:
    """The measured tenant's calls for `plan.seconds`, each sent at its scheduled time."""
    ingest_calls, query_calls = Calls(), Calls()
    now = time.time_ns() // 1_000_000
    bodies = [batch_body(ids, plan.batch_readings, now, seed=s) for s in range(8)]
    async with auth.channel(collection, token) as cch, auth.channel(exchange, token) as xch:
        ingest = cch.unary_unary(INGEST, request_serializer=None, response_deserializer=None)
        query = exchange_pb2_grpc.ExchangeServiceStub(xch).Query

        async def one_ingest(i: int) -> None:
            start = time.perf_counter()
            try:
                await ingest(ingest_request(bodies[i % len(bodies)], f"{tag}-{i}"), timeout=30)
            except grpc.aio.AioRpcError as exc:
                classify(ingest_calls, exc)
                return
            ingest_calls.latencies_ms.append((time.perf_counter() - start) * 1000)

        async def one_query() -> None:
            start = time.perf_counter()
            try:
                await query(query_request(), timeout=30)
            except grpc.aio.AioRpcError as exc:
                classify(query_calls, exc)
                return
            query_calls.latencies_ms.append((time.perf_counter() - start) * 1000)

        async def open_loop(rate: float, call: Any) -> None:
            tasks = []
            start = time.monotonic()
            n = int(plan.seconds * rate)
            for i in range(n):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(call(i)))
            await asyncio.gather(*tasks)

        await asyncio.gather(
            open_loop(plan.batches_per_s, one_ingest), open_loop(plan.queries_per_s, lambda i: one_query())
        )
    return {"ingest": ingest_calls, "query": query_calls}


# --- the flooder (its own process) -------------------------------------------------------------


def flood(
    collection: str,
    exchange: str,
    token: str,
    ids: list[str],
    plan_fields: dict[str, Any],
    flooding: Any,
    done: Any,
    results: Any,
) -> None:
    """The flooding tenant's closed loops, in their own process: they flood while `flooding` is
    set and idle while it is not, until `done`; what they got goes to `results`."""
    plan = Plan(**plan_fields)

    async def main() -> dict[str, Any]:
        ingested, queried = Calls(), Calls()
        accepted = 0
        busy_s = 0.0
        now = time.time_ns() // 1_000_000
        bodies = [batch_body(ids, 1000, now, seed=100 + s) for s in range(8)]
        async with auth.channel(collection, token) as cch, auth.channel(exchange, token) as xch:
            ingest = cch.unary_unary(
                INGEST, request_serializer=None, response_deserializer=cpb.IngestResponse.FromString
            )
            query = exchange_pb2_grpc.ExchangeServiceStub(xch).Query

            async def idle() -> bool:
                """Wait while the flood is off; False once it is over."""
                while not flooding.is_set():
                    if done.is_set():
                        return False
                    await asyncio.sleep(0.01)
                return not done.is_set()

            async def ingest_loop(w: int) -> None:
                nonlocal accepted
                seq = 0
                while await idle():
                    seq += 1
                    start = time.perf_counter()
                    try:
                        reply = await ingest(
                            ingest_request(bodies[seq % len(bodies)], f"flood-{w}-{seq}"), timeout=30
                        )
                    except grpc.aio.AioRpcError as exc:
                        classify(ingested, exc)
                        continue
                    ingested.latencies_ms.append((time.perf_counter() - start) * 1000)
                    accepted += reply.ack.accepted

            async def query_loop() -> None:
                while await idle():
                    start = time.perf_counter()
                    try:
                        await query(query_request(), timeout=30)
                    except grpc.aio.AioRpcError as exc:
                        classify(queried, exc)
                        continue
                    queried.latencies_ms.append((time.perf_counter() - start) * 1000)

            async def clock() -> None:
                nonlocal busy_s
                while not done.is_set():
                    if flooding.is_set():
                        busy_s += 0.05
                    await asyncio.sleep(0.05)

            await asyncio.gather(
                clock(),
                *(ingest_loop(w) for w in range(plan.flood_ingest)),
                *(query_loop() for _ in range(plan.flood_queries)),
            )
        busy_s = max(busy_s, 1e-9)
        calls = len(ingested.latencies_ms) + ingested.refused + len(queried.latencies_ms) + queried.refused
        return {
            "ingest": ingested.summary(),
            "query": queried.summary(),
            "seconds": round(busy_s, 1),
            "readings_accepted_per_s": round(accepted / busy_s),
            "queries_answered_per_s": round(len(queried.latencies_ms) / busy_s, 1),
            "calls_per_s": round(calls / busy_s),
        }

    results.put(asyncio.run(main()))


# --- the run -----------------------------------------------------------------------------------


def run(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="citymesh-bench-isolation-") as tmp:
        data = Path(tmp)
        with NatsServer(data / "nats") as server:
            return asyncio.run(_run(plan, data, server.url))


async def _run(plan: Plan, data: Path, nats_url: str) -> dict[str, Any]:
    creds = credentials(data / "keys")
    limits = {
        "CITYMESH_INGEST_READINGS_PER_S": str(plan.ingest_limit),
        "CITYMESH_TENANT_QUERIES_PER_S": str(plan.query_limit),
    }
    specs = {s.name: s for s in SERVICES if s.name in ("collection", "exchange")}
    services = {
        name: ServiceProcess(replace(spec, env=_with(spec.env, limits)), data, nats_url, creds)
        for name, spec in specs.items()
    }
    try:
        for proc in services.values():
            proc.start()
        for proc in services.values():
            await proc.wait_serving(60)
        return await _phases(
            plan, creds, nats_url, services["collection"].address, services["exchange"].address
        )
    finally:
        for proc in services.values():
            await proc.stop(20)


def _with(env: Any, extra: dict[str, str]) -> Any:
    return lambda data: {**env(data), **extra}


async def _phases(
    plan: Plan, creds: Credentials, nats_url: str, collection: str, exchange: str
) -> dict[str, Any]:
    await set_tenants(nats_url, [MEASURED, FLOODER])
    measured_token = token_of(creds.signing_key, MEASURED)
    flooder_token = token_of(creds.signing_key, FLOODER)
    measured_ids = await register(collection, measured_token, MEASURED, plan.devices)
    flooder_ids = await register(collection, flooder_token, FLOODER, plan.devices)
    await preload(collection, exchange, creds.token, measured_ids, plan.preload_readings)
    await preload(collection, exchange, creds.token, flooder_ids, 2 * plan.preload_readings)

    mp = multiprocessing.get_context("spawn")
    flooding, done, results = mp.Event(), mp.Event(), mp.Queue()
    flooder_process = mp.Process(
        target=flood,
        args=(collection, exchange, flooder_token, flooder_ids, asdict(plan), flooding, done, results),
        daemon=True,
    )
    flooder_process.start()
    # Rounds of (no flood, flood), so what else the machine does falls on both alike.
    window = replace(plan, seconds=plan.seconds / plan.rounds)
    baseline: list[dict[str, Calls]] = []
    under_flood: list[dict[str, Calls]] = []
    try:
        await asyncio.sleep(2.0)  # the spawned process imports and connects
        for r in range(plan.rounds):
            baseline.append(
                await measure(window, collection, exchange, measured_token, measured_ids, f"b{r}")
            )
            flooding.set()
            await asyncio.sleep(plan.ramp_s)
            under_flood.append(
                await measure(window, collection, exchange, measured_token, measured_ids, f"f{r}")
            )
            flooding.clear()
            await asyncio.sleep(plan.ramp_s)  # the flood's last calls drain
        done.set()
        flooder = await asyncio.to_thread(results.get, True, 60)
    finally:
        done.set()
        flooder_process.join(10)
        if flooder_process.is_alive():
            flooder_process.kill()
    return verdict(plan, merged(baseline), merged(under_flood), flooder)


def merged(rounds: list[dict[str, Calls]]) -> dict[str, Any]:
    out = {}
    for what in ("ingest", "query"):
        total = Calls()
        for r in rounds:
            total.latencies_ms += r[what].latencies_ms
            total.refused += r[what].refused
            for k, v in r[what].failed.items():
                total.failed[k] = total.failed.get(k, 0) + v
        out[what] = total.summary()
    return out


def verdict(
    plan: Plan, baseline: dict[str, Any], flood_: dict[str, Any], flooder: dict[str, Any]
) -> dict[str, Any]:
    checks = {}
    for what in ("ingest", "query"):
        allowed = BOUND_FACTOR * baseline[what]["p99_ms"] + BOUND_SLACK_MS
        checks[f"{what}_p99_within_bound"] = bool(flood_[what]["p99_ms"] <= allowed)
        checks[f"{what}_p99_allowed_ms"] = round(allowed, 2)
        checks[f"{what}_none_refused"] = flood_[what]["refused"] == 0 and not flood_[what]["failed"]
    # The sliding window lets a burst of one window through at its start: 10 % headroom.
    checks["flooder_held_to_ingest_limit"] = flooder["readings_accepted_per_s"] <= plan.ingest_limit * 1.1
    checks["flooder_held_to_query_limit"] = flooder["queries_answered_per_s"] <= plan.query_limit * 1.1
    return {
        "plan": asdict(plan),
        "cpus": os.cpu_count(),
        "baseline": baseline,
        "under_flood": flood_,
        "flooder": flooder,
        "p99_ratio": {
            what: round(flood_[what]["p99_ms"] / baseline[what]["p99_ms"], 2)
            if baseline[what]["p99_ms"]
            else None
            for what in ("ingest", "query")
        },
        "bound": BOUND,
        "checks": checks,
        "holds": all(v for k, v in checks.items() if not k.endswith("_ms")),
    }


def report(result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2)
    p = result["plan"]
    lines = [
        "citymesh bench isolation",
        "",
        f"  limits per tenant: {p['ingest_limit']:,} readings/s, {p['query_limit']} queries/s; "
        f"{p['seconds']:g} s measured per phase, in {p['rounds']} rounds of (no flood, flood); "
        f"{result['cpus']} CPUs",
        f"  measured tenant ({MEASURED.name}): {p['batches_per_s']:g} batches/s of {p['batch_readings']} "
        f"readings, {p['queries_per_s']:g} queries/s, open loop",
        f"  flooder ({FLOODER.name}): {p['flood_ingest']} ingest loops (1,000-reading batches) and "
        f"{p['flood_queries']} query loops, closed loop",
        "",
        f"  {'':<24}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'calls':>8}{'refused':>9}",
    ]
    for phase in ("baseline", "under_flood"):
        for what in ("ingest", "query"):
            s = result[phase][what]
            lines.append(
                f"  {phase + ' ' + what:<24}{s['p50_ms']:>10}{s['p99_ms']:>10}{s['max_ms']:>10}"
                f"{s['calls']:>8}{s['refused']:>9}"
            )
    f = result["flooder"]
    lines += [
        "",
        f"  flooder: {f['calls_per_s']:,} calls/s; {f['readings_accepted_per_s']:,} readings/s accepted, "
        f"{f['ingest']['refused']:,} ingest calls refused; {f['queries_answered_per_s']} queries/s "
        f"answered, {f['query']['refused']:,} refused",
        f"  p99 under flood / no flood: ingest {result['p99_ratio']['ingest']}, query {result['p99_ratio']['query']}",
        "",
        f"  bound: {result['bound']}",
        f"  holds: {'yes' if result['holds'] else 'NO'}  "
        + ", ".join(f"{k}={v}" for k, v in result["checks"].items()),
    ]
    return "\n".join(lines)
