"""Conversions between citymesh.compute.v1 messages and the domain."""

from __future__ import annotations

import io

import numpy as np
import pytest

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.compute import convert, domain
from citymesh.compute.domain import OutputInfo, Priority, State
from citymesh.compute.kernels import KERNELS
from citymesh.runtime.errors import InvalidArgument


def test_arrays_come_as_values_with_a_shape_or_as_npy() -> None:
    a = convert.array(pb.Array(name="t", shape=[2, 3], float64_values=[1, 2, 3, 4, 5, 6]))
    assert a.shape == (2, 3)
    assert a.dtype == np.float64
    ids = convert.array(pb.Array(name="r", int64_values=[3, 1]))
    assert ids.dtype == np.int64
    original = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert (convert.array(convert.array_message("z", original)) == original).all()


def test_malformed_arrays_are_refused_with_their_name() -> None:
    with pytest.raises(InvalidArgument, match="array t: shape"):
        convert.array(pb.Array(name="t", shape=[2, 2], float64_values=[1, 2, 3]))
    with pytest.raises(InvalidArgument, match="set one of"):
        convert.array(pb.Array(name="t", float64_values=[1], int64_values=[1]))
    with pytest.raises(InvalidArgument, match="npy"):
        convert.array(pb.Array(name="t", npy=b"not numpy"))
    buffer = io.BytesIO()
    np.save(buffer, np.array(["a", "b"]))
    with pytest.raises(InvalidArgument, match="numbers"):
        convert.array(pb.Array(name="t", npy=buffer.getvalue()))
    with pytest.raises(InvalidArgument, match="given twice"):
        convert.inline_arrays(pb.InlineInput(arrays=[pb.Array(name="x"), pb.Array(name="x")]))


def test_a_job_becomes_its_message() -> None:
    job = domain.new_job("huawei", "coverage_5g", {"nx": 3.0}, Priority.HIGH, "3×3", 1_795_000_000.5)
    job = domain.finish(
        job, State.SUCCEEDED, 1_795_000_010.0, outputs=(OutputInfo("server", "int32", (3, 3), 164),)
    )
    message = convert.job_message(job)
    assert message.state == pb.JOB_STATE_SUCCEEDED
    assert message.priority == pb.PRIORITY_HIGH
    assert message.progress == 1.0
    assert message.submitted.ToNanoseconds() == 1_795_000_000_500_000_000
    assert message.outputs[0].shape == [3, 3]
    assert not message.HasField("started")
    assert convert.priority(pb.PRIORITY_UNSPECIFIED) == Priority.NORMAL


def test_every_kernel_has_a_complete_spec_message() -> None:
    for k in KERNELS.values():
        spec = convert.kernel_message(k)
        assert spec.summary
        assert spec.outputs
        assert all(p.description for p in spec.params)
        assert all(i.description for i in spec.inputs)
