"""Inputs read from the exchange through its public gRPC API (ExchangeService.Query), never its insides.

The rows of a query grouped by device become one series per device in time order: `values` (the
chosen aggregate of each bucket) and `offsets` (where each device's series starts), which is what
anomaly_scan takes.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import numpy.typing as npt

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.runtime import auth, errors

AGGREGATES = ("mean", "min", "max", "p50", "p95", "count")
KERNELS = ("anomaly_scan",)


def series(
    rows: list[tuple[str, int, float]],
) -> dict[str, npt.NDArray[Any]]:
    """(device id, bucket start ns, value) rows → values in (device, time) order and offsets."""
    ordered = sorted(rows)
    values = np.asarray([r[2] for r in ordered], dtype=np.float64)
    devices = [r[0] for r in ordered]
    starts = [i for i in range(len(devices)) if i == 0 or devices[i] != devices[i - 1]]
    offsets = np.asarray([*starts, len(devices)] if devices else [0], dtype=np.int64)
    return {"values": values, "offsets": offsets}


class ExchangeInputs:
    """Runs a job's exchange query as the submitting tenant: with its own credentials (its token,
    or in development its identity headers), so the exchange answers it what it would answer the
    tenant; without any, as compute itself (CITYMESH_TOKEN, a `service` token)."""

    def __init__(self, address: str, token: str = "", timeout_s: float = 30.0) -> None:
        self.address = address
        self.token = token
        self.timeout_s = timeout_s
        self._channel: grpc.aio.Channel | None = None

    async def arrays(
        self, on_behalf: tuple[tuple[str, str], ...], kernel: str, given: pb.ExchangeInput
    ) -> dict[str, npt.NDArray[Any]]:
        """The query's series. `on_behalf`: the submitting caller's credentials (auth.forwarded)."""
        if kernel not in KERNELS:
            raise errors.InvalidArgument(
                f"an exchange input serves {', '.join(KERNELS)}; {kernel} takes inline arrays"
            )
        if not self.address:
            raise errors.FailedPrecondition(
                "exchange inputs need the exchange's address: set CITYMESH_EXCHANGE_ADDRESS on compute"
            )
        aggregate = given.aggregate or "mean"
        if aggregate not in AGGREGATES:
            raise errors.InvalidArgument(f"aggregate {aggregate!r}; one of {', '.join(AGGREGATES)}")
        if exchange_pb2.GROUP_BY_DEVICE not in given.query.group_by or not given.query.HasField("bucket"):
            raise errors.InvalidArgument("an exchange input's query must group by device and set a bucket")
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        stub = exchange_pb2_grpc.ExchangeServiceStub(self._channel)
        metadata = on_behalf or auth.bearer(self.token)
        try:
            response = await stub.Query(given.query, timeout=self.timeout_s, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise errors.InvalidArgument(f"the exchange refused the query: {exc.details()}") from exc
            if code == grpc.StatusCode.PERMISSION_DENIED:
                raise errors.PermissionDenied(f"the exchange refused the query: {exc.details()}") from exc
            if code == grpc.StatusCode.NOT_FOUND:  # a dataset missing, or hidden from the tenant
                raise errors.NotFound(f"the exchange refused the query: {exc.details()}") from exc
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise errors.ResourceExhausted(f"the exchange refused the query: {exc.details()}") from exc
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise errors.Unauthenticated(f"the exchange refused the query: {exc.details()}") from exc
            raise errors.Unavailable(f"the exchange did not answer the query: {exc.details()}") from exc
        if response.truncated:
            raise errors.ResourceExhausted(
                "the exchange query matched more rows than its limit: narrow the time range or widen the bucket"
            )
        rows = [
            (r.device_id, r.bucket_start.ToNanoseconds(), float(getattr(r, aggregate))) for r in response.rows
        ]
        return series(rows)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
