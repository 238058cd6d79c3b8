"""Load generation for the ingest benchmark: pre-encoded batches over many concurrent streams.

Batches are encoded once; each send only appends its batch id (protobuf merges a field that
follows a message's other fields), so the generator spends its CPU on sending, not encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import grpc
import numpy as np

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.runtime import auth

STREAM_METHOD = "/citymesh.collection.v1.CollectionService/StreamReadings"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def batch_body(device_ids: list[str], readings: int, now_ms: int, seed: int) -> bytes:
    """A serialized ReadingBatch without batch_id: `readings` plausible PM2.5 values."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(device_ids), readings)
    times = now_ms - rng.integers(0, 60_000, readings)
    values = np.round(rng.gamma(4.0, 10.0, readings), 1)
    return pb.ReadingBatch(
        device_ids=device_ids,
        device_index=index.tolist(),
        time_unix_ms=times.tolist(),
        values=values.tolist(),
    ).SerializeToString()


def request_bytes(body: bytes, batch_id: str) -> bytes:
    """A StreamReadingsRequest holding `body` with `batch_id` set."""
    ident = batch_id.encode()
    inner = body + b"\x0a" + varint(len(ident)) + ident
    return b"\x0a" + varint(len(inner)) + inner


@dataclass
class LoadStats:
    batches: int = 0
    readings: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def stream_batches(
    target: str,
    bodies: list[bytes],
    readings_per_batch: int,
    prefix: str,
    until: float,
    window: int,
    token: str = "",
) -> LoadStats:
    """One StreamReadings stream: keep `window` batches in flight until the monotonic time `until`;
    the stream presents `token`."""
    stats = LoadStats()
    sent_at: dict[str, float] = {}
    credit = asyncio.Semaphore(window)
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.stream_stream(
            STREAM_METHOD, request_serializer=None, response_deserializer=pb.StreamReadingsResponse.FromString
        )(wait_for_ready=True, metadata=auth.bearer(token))

        async def write() -> None:
            seq = 0
            while time.monotonic() < until:
                await credit.acquire()
                batch_id = f"{prefix}-{seq}"
                sent_at[batch_id] = time.perf_counter()
                await call.write(request_bytes(bodies[seq % len(bodies)], batch_id))
                seq += 1
            await call.done_writing()

        writer = asyncio.create_task(write())
        try:
            while (response := await call.read()) is not grpc.aio.EOF:
                ack = response.ack
                start = sent_at.pop(ack.batch_id, None)
                credit.release()
                if ack.error_code or start is None:
                    stats.errors += 1
                    continue
                stats.latencies_ms.append((time.perf_counter() - start) * 1000)
                stats.batches += 1
                stats.readings += ack.accepted
            await writer
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await writer
    return stats


def run_worker(
    target: str,
    gateways: list[list[str]],
    readings: int,
    streams: int,
    window: int,
    seconds: float,
    worker: int,
    token: str = "",
) -> LoadStats:
    """One load-generator process: `streams` concurrent streams for `seconds`. Stream s plays a
    gateway of one sub-district (`gateways` lists each one's device ids), as a real gateway does."""
    now = time.time_ns() // 1_000_000
    bodies = [
        [batch_body(devices, readings, now, seed=worker * 1000 + g * 10 + i) for i in range(4)]
        for g, devices in enumerate(gateways)
    ]

    async def main() -> LoadStats:
        until = time.monotonic() + seconds
        results = await asyncio.gather(
            *(
                stream_batches(
                    target,
                    bodies[(worker * streams + s) % len(bodies)],
                    readings,
                    f"w{worker}s{s}-{now}",
                    until,
                    window,
                    token,
                )
                for s in range(streams)
            )
        )
        total = LoadStats()
        for r in results:
            total.batches += r.batches
            total.readings += r.readings
            total.errors += r.errors
            total.latencies_ms.extend(r.latencies_ms)
        return total

    return asyncio.run(main())
