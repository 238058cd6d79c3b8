"""`citymesh bench rules`: the incident rules evaluated over telemetry, in readings per second.

The workload: batches of readings as collection publishes them (ReadingBatch payloads of
`readings` readings each, one second of the city apiece) from a fleet shaped like the seed's
(cameras, air, water, noise, traffic and temperature devices over the five sub-districts), a few
of them polluted or flooding so that rules trigger. Three figures, in one run:

- `readings_per_s`: the real pipeline end to end on a real nats-server — governance's durable
  consumer reading TELEMETRY, decoding, evaluating the built-in rules, correlating the triggers
  into incidents in the `incidents` bucket (compare-and-set), acking;
- `evaluate_readings_per_s`: decoding and evaluating alone, in process (the ceiling of the above);
- `baseline_readings_per_s`: the rules evaluated reading by reading in plain Python
  (evaluate.Reference) on a prefix of the batches, decoded beforehand (decoding is not counted:
  a baseline favoured, not a straw man); `speedup_vs_baseline` is the vectorised evaluation's rate
  on the same decoded readings over it, and `agree` says both found the same triggers there.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from nats.js.api import DeliverPolicy

from citymesh import convert as city
from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.common.v1 import common_pb2
from citymesh.city import DISTRICTS, random_point_in
from citymesh.governance.incidents.devices import Devices
from citymesh.governance.incidents.evaluate import Evaluator, Firings, Reference
from citymesh.governance.incidents.perceive import Perceiver, RuleReader
from citymesh.governance.incidents.pipeline import RESOURCES, Pipeline
from citymesh.governance.incidents.rules import builtin
from citymesh.governance.incidents.store import IncidentStore
from citymesh.runtime.bus import DEVICES_BUCKET, Bus, telemetry_subject
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings

FLEET = {"camera": 2003, "air": 96, "noise": 96, "water": 48, "traffic": 192, "temperature": 80}
"""The seed's devices by kind (FACTS.md: 2,003 camera channels, 500+ sensing units)."""


@dataclass(frozen=True)
class Plan:
    batches: int = 1200
    readings: int = 1000
    fetch: int = 64
    baseline_batches: int = 64
    seed: int = 7


@dataclass(frozen=True)
class Workload:
    devices: list[tuple[str, bytes]]
    """(device id, its registry entry: a collection Device message)"""
    payloads: list[tuple[str, bytes]]
    """(sub-district, a ReadingBatch) in publishing order"""
    readings: int


def workload(plan: Plan) -> Workload:
    rng = np.random.default_rng(plan.seed)
    ids, kinds, districts, entries = [], [], [], []
    for kind, count in FLEET.items():
        for k in range(count):
            district = DISTRICTS[k % len(DISTRICTS)]
            lon, lat = random_point_in(district, rng)
            device_id = f"{kind}-{k:04d}"
            message = collection_pb2.Device(
                device_id=device_id,
                kind=city.kind_to_proto(kind),
                position=common_pb2.GeoPoint(longitude=lon, latitude=lat),
                district=city.district_to_proto(district),
            )
            ids.append(device_id)
            kinds.append(kind)
            districts.append(district)
            entries.append((device_id, message.SerializeToString()))
    kind_of = np.array(kinds)
    district_of = np.array(districts)
    hot = rng.random(len(ids)) < 0.03  # polluted stations, rising rivers, crowded streets
    t0 = time.time_ns() // 1_000_000 - plan.batches * 1000
    payloads = []
    for b in range(plan.batches):
        device = rng.integers(0, len(ids), plan.readings)
        t = t0 + b * 1000 + rng.integers(0, 1000, plan.readings)
        of = kind_of[device]
        value = np.select(
            [of == "camera", of == "air", of == "water", of == "noise", of == "traffic"],
            [
                rng.poisson(np.where(hot[device], 150, 40)).astype(np.float64),
                rng.normal(np.where(hot[device], 110.0, 45.0), 10.0),
                rng.normal(np.where(hot[device], 6.4, 3.5), 0.2),
                rng.normal(60.0, 5.0, plan.readings),
                rng.poisson(20, plan.readings).astype(np.float64),
            ],
            default=rng.normal(20.0, 3.0, plan.readings),
        ).clip(0, None)
        for district in DISTRICTS:
            mine = district_of[device] == district
            if not mine.any():
                continue
            used, index = np.unique(device[mine], return_inverse=True)
            batch = collection_pb2.ReadingBatch(
                batch_id=f"bench-{b}-{district}",
                device_ids=[ids[i] for i in used],
                device_index=index.tolist(),
                time_unix_ms=t[mine].tolist(),
                values=value[mine].tolist(),
            )
            payloads.append((district, batch.SerializeToString()))
    return Workload(entries, payloads, plan.batches * plan.readings)


def _devices(w: Workload) -> Devices:
    devices = Devices(kv=None)  # type: ignore[arg-type]  # fed directly, never reads a bucket
    for device_id, entry in w.devices:
        devices.describe(device_id, entry)
    return devices


def _chunks(w: Workload, size: int) -> list[list[bytes]]:
    payloads = [p for _, p in w.payloads]
    return [payloads[i : i + size] for i in range(0, len(payloads), size)]


async def evaluate_in_process(w: Workload, plan: Plan) -> dict[str, float]:
    reader = RuleReader(_devices(w), Evaluator(builtin().rules))
    chunks = _chunks(w, plan.fetch)
    triggers = 0
    start = time.perf_counter()
    for chunk in chunks:
        triggers += len(reader.triggers_of(await reader.evaluate(chunk)))
    elapsed = time.perf_counter() - start
    return {"readings_per_s": reader.readings / elapsed, "triggers": triggers, "seconds": elapsed}


async def baseline(w: Workload, plan: Plan) -> dict[str, Any]:
    """Reference evaluation of the first batches, and whether the vectorised one agrees there."""
    rules = builtin().rules
    devices = _devices(w)
    chunks = _chunks(w, plan.fetch)[: max(1, plan.baseline_batches * len(DISTRICTS) // plan.fetch)]
    decoded = []
    for chunk in chunks:
        columns = []
        for payload in chunk:
            batch = collection_pb2.ReadingBatch.FromString(payload)
            slots = await devices.slots(list(batch.device_ids))
            columns.append(
                (
                    slots[np.array(batch.device_index, np.int64)],
                    np.array(batch.time_unix_ms),
                    np.array(batch.values),
                )
            )
        slot = np.concatenate([c[0] for c in columns])
        decoded.append(
            (
                slot,
                devices.kind[slot],
                np.concatenate([c[1] for c in columns]),
                np.concatenate([c[2] for c in columns]),
            )
        )
    reference, fast = Reference(rules), Evaluator(rules)
    readings = sum(len(d[0]) for d in decoded)
    start = time.perf_counter()
    slow: list[Firings] = [reference.evaluate(*d) for d in decoded]
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    quick: list[Firings] = [fast.evaluate(*d) for d in decoded]
    fast_elapsed = time.perf_counter() - start
    agree = all(s.rows() == q.rows() for s, q in zip(slow, quick, strict=True))
    return {
        "readings_per_s": readings / elapsed,
        "vectorised_readings_per_s": readings / fast_elapsed,
        "readings": readings,
        "triggers": sum(len(s) for s in slow),
        "agree": agree,
    }


class _Timed(Perceiver):
    """The pipeline's consumer, telling when it has handled (evaluated, stored, acked) `total` readings."""

    def __init__(self, total: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total = total
        self.done = asyncio.Event()

    async def handle(self, msgs: list[Any]) -> None:
        await super().handle(msgs)
        if self.reader.readings >= self.total:
            self.done.set()


async def through_jetstream(w: Workload, plan: Plan) -> dict[str, float]:
    """Publish every batch to TELEMETRY, then time the pipeline reading them all."""
    with tempfile.TemporaryDirectory(prefix="citymesh-bench-rules-") as folder:
        server = NatsServer(Path(folder)).start()
        try:
            settings = ServiceSettings(nats_url=server.url)
            bus = await Bus.connect(settings, name="bench-rules", resources=RESOURCES)
            try:
                kv = await bus.kv(DEVICES_BUCKET)
                for device_id, entry in w.devices:
                    await kv.put(device_id, entry)
                pending = [
                    await bus.publish_started(telemetry_subject(d), p, f"bench-{i}")
                    for i, (d, p) in enumerate(w.payloads)
                ]
                await asyncio.gather(*pending)
                pipeline = Pipeline(bus, await IncidentStore.open(bus), builtin())
                await pipeline.start()
                devices = await Devices.open(bus)
                await devices.start()
                reader = RuleReader(devices, pipeline.evaluator)
                perceiver = _Timed(
                    w.readings,
                    bus,
                    reader,
                    pipeline.trigger_all,
                    plan.fetch,
                    durable="bench-rules",
                    deliver=DeliverPolicy.ALL,
                )
                start = time.perf_counter()
                await perceiver.start()
                await asyncio.wait_for(perceiver.done.wait(), 600)
                elapsed = time.perf_counter() - start
                await perceiver.stop()
                await devices.stop()
                incidents = len(pipeline.store.incidents())
                await pipeline.stop()
            finally:
                await bus.close()
        finally:
            server.stop()
    return {
        "readings_per_s": w.readings / elapsed,
        "seconds": elapsed,
        "triggers": perceiver.triggers,
        "incidents": incidents,
    }


async def bench(plan: Plan) -> dict[str, Any]:
    w = workload(plan)
    pipeline = await through_jetstream(w, plan)
    in_process = await evaluate_in_process(w, plan)
    slow = await baseline(w, plan)
    return {
        "readings_per_s": round(pipeline["readings_per_s"]),
        "evaluate_readings_per_s": round(in_process["readings_per_s"]),
        "baseline_readings_per_s": round(slow["readings_per_s"]),
        "speedup_vs_baseline": round(slow["vectorised_readings_per_s"] / slow["readings_per_s"], 1),
        "agree": slow["agree"],
        "readings": w.readings,
        "batches": len(w.payloads),
        "devices": len(w.devices),
        "rules": len(builtin().rules),
        "triggers": int(pipeline["triggers"]),
        "incidents": int(pipeline["incidents"]),
        "seconds": round(pipeline["seconds"], 3),
        "baseline_readings": slow["readings"],
    }


def report(result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2)
    return "\n".join(
        [
            f"incident rules over telemetry: {result['readings']:,} readings in {result['batches']:,} batches "
            f"from {result['devices']:,} devices, {result['rules']} rules",
            f"  pipeline (JetStream → decode → rules → incidents): {result['readings_per_s']:>12,} readings/s "
            f"({result['triggers']} triggers → {result['incidents']} incidents)",
            f"  decode + evaluate, in process:                    {result['evaluate_readings_per_s']:>12,} readings/s",
            f"  baseline (reading by reading in Python):          {result['baseline_readings_per_s']:>12,} readings/s "
            f"(on {result['baseline_readings']:,}; same triggers: {'yes' if result['agree'] else 'NO'})",
            f"  evaluation alone, vectorised / baseline on the same readings: {result['speedup_vs_baseline']}×",
        ]
    )


def run(plan: Plan) -> dict[str, Any]:
    return asyncio.run(bench(plan))
