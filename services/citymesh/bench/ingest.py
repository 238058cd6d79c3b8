"""`citymesh bench ingest`: readings/s acked by collection and made queryable by exchange, ack
latency, and in the same run the baseline: raw nats-py JetStream publishing of the same payload
bytes to the same nats-server. The ratio collection/baseline is the figure that travels between
machines; absolute numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import nats
import numpy as np
from nats.js import api

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.bench.load import LoadStats, batch_body, run_worker
from citymesh.city import DISTRICTS, random_point_in
from citymesh.launcher.process import ServiceProcess
from citymesh.launcher.services import SERVICES
from citymesh.launcher.up import credentials
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer

INGEST_PATH = ("collection", "exchange")
"""The services a batch passes through from a device until it is queryable: those measured."""


@dataclass(frozen=True)
class Plan:
    seconds: float = 10.0
    workers: int = 2
    streams: int = 8
    window: int = 8
    readings: int = 1000
    devices_per_district: int = 100


async def baseline(url: str, body: bytes, readings: int, seconds: float, window: int) -> dict[str, float]:
    """Raw JetStream async publishing of `body` into a stream shaped like TELEMETRY."""
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=window)
    await js.add_stream(
        api.StreamConfig(
            name="BENCH_BASELINE",
            subjects=["bench.baseline"],
            storage=api.StorageType.FILE,
            duplicate_window=600.0,
        )
    )
    acked = 0
    seq = 0
    futures: list[asyncio.Future[Any]] = []
    start = time.perf_counter()
    until = start + seconds
    while time.perf_counter() < until:
        futures.append(await js.publish_async("bench.baseline", body, headers={"Nats-Msg-Id": f"b-{seq}"}))
        seq += 1
        if len(futures) >= window:
            await futures.pop(0)
            acked += 1
    for f in futures:
        await f
        acked += 1
    elapsed = time.perf_counter() - start
    await js.delete_stream("BENCH_BASELINE")
    await nc.close()
    return {"readings_per_s": acked * readings / elapsed, "batches_per_s": acked / elapsed}


async def register_fleet(target: str, per_district: int, token: str = "") -> list[list[str]]:
    """Register `per_district` air sensors in each sub-district; their ids, by district."""
    rng = np.random.default_rng(1)
    gateways: list[list[str]] = []
    async with auth.channel(target, token) as channel:
        stub = collection_pb2_grpc.CollectionServiceStub(channel)
        for d, district in enumerate(DISTRICTS):
            ids = [f"bench-{district}-{i:04d}" for i in range(per_district)]
            requests = []
            for device_id in ids:
                lon, lat = random_point_in(district, rng)
                device = pb.Device(
                    device_id=device_id,
                    kind=common_pb2.DEVICE_KIND_AIR,
                    position=common_pb2.GeoPoint(longitude=lon, latitude=lat),
                )
                requests.append(stub.RegisterDevice(pb.RegisterDeviceRequest(device=device)))
            await asyncio.gather(*requests)
            gateways.append(ids)
            del d
    return gateways


async def exchange_stats(channel: grpc.aio.Channel) -> exchange_pb2.GetStatsResponse:
    stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
    response: exchange_pb2.GetStatsResponse = await stub.GetStats(exchange_pb2.GetStatsRequest(), timeout=10)
    return response


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(plan: Plan) -> dict[str, Any]:
    """Baseline first (the machine to itself), then collection and exchange under load."""
    with tempfile.TemporaryDirectory(prefix="citymesh-bench-") as tmp:
        data = Path(tmp)
        with NatsServer(data / "nats") as server:
            devices = [f"bench-gouzhao-{i:04d}" for i in range(plan.devices_per_district)]
            body = batch_body(devices, plan.readings, 0, 0)
            window = plan.workers * plan.streams * plan.window
            base = asyncio.run(baseline(server.url, body, plan.readings, plan.seconds, window))
            result = asyncio.run(measure(plan, data, server.url, server.proc.pid if server.proc else None))
    return {
        **result,
        "batch_bytes": len(body),
        "baseline_readings_per_s": round(base["readings_per_s"]),
        "ratio": round(result["collection_readings_per_s"] / base["readings_per_s"], 3),
        "cpus": os.cpu_count(),
    }


async def measure(plan: Plan, data: Path, nats_url: str, nats_pid: int | None) -> dict[str, Any]:
    creds = credentials(data / "keys")  # the load presents the simulator's `service` token
    # Only the ingest path: governance's incident rules and compute also read TELEMETRY in a
    # deployment, but on their own cores; here they would take the measured services' CPU.
    services = {
        spec.name: ServiceProcess(spec, data, nats_url, creds)
        for spec in SERVICES
        if spec.name in INGEST_PATH
    }
    try:
        for proc in services.values():
            proc.start()
        for proc in services.values():
            await proc.wait_serving(60)
        pids = {name: proc.pid for name, proc in services.items()} | {"nats_server": nats_pid}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result = await load(plan, services["collection"].address, services["exchange"].address, creds.token)
        used = {f"cpu_s_{name}": round(cpu_seconds(pid) - before[name], 1) for name, pid in pids.items()}
        return result | used
    finally:
        for proc in services.values():
            await proc.stop(20)


async def load(plan: Plan, collection: str, exchange: str, token: str = "") -> dict[str, Any]:
    gateways = await register_fleet(collection, plan.devices_per_district, token)
    loop = asyncio.get_running_loop()
    async with auth.channel(exchange, token) as channel:
        rows_before = (await exchange_stats(channel)).rows
        start = time.perf_counter()
        with ProcessPoolExecutor(plan.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                loop.run_in_executor(
                    pool,
                    run_worker,
                    collection,
                    gateways,
                    plan.readings,
                    plan.streams,
                    plan.window,
                    plan.seconds,
                    w,
                    token,
                )
                for w in range(plan.workers)
            ]
            max_lag = 0
            while not all(f.done() for f in futures):
                await asyncio.wait(futures, timeout=0.5)
                max_lag = max(max_lag, (await exchange_stats(channel)).lag_batches)
            results = [f.result() for f in futures]
        acked_s = time.perf_counter() - start
        total = LoadStats()
        for r in results:
            total.batches += r.batches
            total.readings += r.readings
            total.errors += r.errors
            total.latencies_ms.extend(r.latencies_ms)
        deadline = time.monotonic() + 300
        while True:
            stats = await exchange_stats(channel)
            if stats.rows - rows_before >= total.readings or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        queryable_s = time.perf_counter() - start
    stored = stats.rows - rows_before
    return {
        "seconds": plan.seconds,
        "workers": plan.workers,
        "streams": plan.workers * plan.streams,
        "window_per_stream": plan.window,
        "readings_per_batch": plan.readings,
        "batches_acked": total.batches,
        "batch_errors": total.errors,
        "readings_acked": total.readings,
        "collection_readings_per_s": round(total.readings / acked_s),
        "exchange_readings_per_s": round(stored / queryable_s),
        "exchange_rows_stored": stored,
        "exchange_max_lag_batches": max_lag,
        "exchange_catch_up_s": round(queryable_s - acked_s, 2),
        "ack_p50_ms": round(percentile(total.latencies_ms, 50), 2),
        "ack_p99_ms": round(percentile(total.latencies_ms, 99), 2),
    }


def report(result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2)
    lines = ["citymesh bench ingest", ""]
    width = max(map(len, result))
    lines += [f"  {key.ljust(width)}  {value}" for key, value in result.items()]
    return "\n".join(lines)
