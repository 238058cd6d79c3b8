"""Conversions between citymesh.compute.v1 messages and the compute domain."""

from __future__ import annotations

import io
import math
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from google.protobuf import timestamp_pb2

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.compute.domain import Job, OutputInfo, Priority, State
from citymesh.compute.kernels.spec import Kernel
from citymesh.runtime.errors import InvalidArgument

PRIORITY_FROM = {
    pb.PRIORITY_UNSPECIFIED: Priority.NORMAL,
    pb.PRIORITY_LOW: Priority.LOW,
    pb.PRIORITY_NORMAL: Priority.NORMAL,
    pb.PRIORITY_HIGH: Priority.HIGH,
}
PRIORITY_TO = {
    Priority.LOW: pb.PRIORITY_LOW,
    Priority.NORMAL: pb.PRIORITY_NORMAL,
    Priority.HIGH: pb.PRIORITY_HIGH,
}
STATE_TO = {
    State.QUEUED: pb.JOB_STATE_QUEUED,
    State.RUNNING: pb.JOB_STATE_RUNNING,
    State.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    State.FAILED: pb.JOB_STATE_FAILED,
    State.CANCELLED: pb.JOB_STATE_CANCELLED,
}


def priority(value: int) -> Priority:
    try:
        return PRIORITY_FROM[cast(pb.Priority, value)]
    except KeyError:
        raise InvalidArgument(f"priority {value} is not a Priority") from None


def array(message: pb.Array) -> npt.NDArray[Any]:
    """An input Array as NumPy; InvalidArgument naming it when it is malformed."""
    name = message.name or "(unnamed)"
    kinds = [bool(message.float64_values), bool(message.int64_values), bool(message.npy)]
    if sum(kinds) > 1:
        raise InvalidArgument(f"array {name}: set one of float64_values, int64_values and npy")
    if message.npy:
        try:
            loaded = np.load(io.BytesIO(message.npy), allow_pickle=False)
        except Exception as exc:
            raise InvalidArgument(f"array {name}: npy is not a NumPy .npy file of numbers: {exc}") from exc
        if not isinstance(loaded, np.ndarray) or loaded.dtype.kind not in "biuf":
            raise InvalidArgument(f"array {name}: npy must hold numbers")
        return loaded
    values: npt.NDArray[Any] = (
        np.asarray(message.int64_values, dtype=np.int64)
        if message.int64_values
        else np.asarray(message.float64_values, dtype=np.float64)
    )
    if message.shape:
        shape = tuple(int(d) for d in message.shape)
        if math.prod(shape) != values.size:
            raise InvalidArgument(
                f"array {name}: shape {list(shape)} holds {math.prod(shape)} values, not {values.size}"
            )
        values = values.reshape(shape)
    return values


def inline_arrays(inline: pb.InlineInput) -> dict[str, npt.NDArray[Any]]:
    out: dict[str, npt.NDArray[Any]] = {}
    for message in inline.arrays:
        if not message.name:
            raise InvalidArgument("an input array has no name")
        if message.name in out:
            raise InvalidArgument(f"input {message.name} is given twice")
        out[message.name] = array(message)
    return out


def array_message(name: str, values: npt.NDArray[Any]) -> pb.Array:
    """An Array message of a NumPy array (as .npy: exact and compact)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values), allow_pickle=False)
    return pb.Array(name=name, npy=buffer.getvalue())


def timestamp(seconds: float) -> timestamp_pb2.Timestamp | None:
    if not seconds:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(round(seconds * 1e9))
    return ts


def output_message(o: OutputInfo) -> pb.Output:
    return pb.Output(name=o.name, dtype=o.dtype, shape=list(o.shape), size_bytes=o.size_bytes)


def job_message(job: Job) -> pb.Job:
    return pb.Job(
        job_id=job.job_id,
        tenant=job.tenant,
        kernel=job.kernel,
        params=job.params,
        priority=PRIORITY_TO[job.priority],
        state=STATE_TO[job.state],
        progress=job.progress,
        steps_done=job.steps_done,
        steps_total=job.steps_total,
        submitted=timestamp(job.submitted),
        started=timestamp(job.started),
        finished=timestamp(job.finished),
        error=job.error,
        attempts=job.attempts,
        core_seconds=job.core_seconds,
        outputs=[output_message(o) for o in job.outputs],
        cancel_requested=job.cancel_requested,
        size=job.size,
    )


def kernel_message(k: Kernel) -> pb.KernelSpec:
    return pb.KernelSpec(
        name=k.name,
        summary=k.summary,
        params=[
            pb.ParamSpec(
                name=p.name,
                kind=p.kind,
                default=p.default,
                minimum=p.minimum,
                maximum=p.maximum,
                description=p.description,
            )
            for p in k.params
        ],
        inputs=[
            pb.InputSpec(
                name=a.name, dtype=a.dtype, ndim=a.ndim, required=a.required, description=a.description
            )
            for a in k.inputs
        ],
        outputs=list(k.outputs),
        max_input_elements=k.max_elements,
        notes=k.notes,
        shardable=k.shardable,
    )
