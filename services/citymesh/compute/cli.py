"""`citymesh job submit | watch | result | cancel | kernels`: the compute API from a terminal.

The address is --address, else CITYMESH_COMPUTE_ADDRESS, else the one `citymesh up` wrote to
.citymesh/run/ports.json. The caller is the token of --token, else CITYMESH_TOKEN (`citymesh token
sign` makes one); against services in development mode (CITYMESH_AUTH_DEV_HEADERS) it is --tenant,
else CITYMESH_TENANT. Inputs are .npy files
(`--input x=sensors_x.npy`) or one .npz holding every input by name (`--inputs problem.npz`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import grpc
import numpy as np

from citymesh import clients
from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.api.compute.v1 import compute_pb2_grpc

STATE_NAMES = {v: k.removeprefix("JOB_STATE_").lower() for k, v in pb.JobState.items()}
FINAL = {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
BAR = 30


def add_parser(sub: Any) -> None:
    job = sub.add_parser("job", help="submit and follow compute jobs")
    clients.add_arguments(job, "compute")
    verbs = job.add_subparsers(dest="verb", required=True)

    submit = verbs.add_parser("submit", help="queue a job; prints its id (or follows it with --watch)")
    submit.add_argument("kernel", help="kernel name (see `citymesh job kernels`)")
    submit.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter")
    submit.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy", help="an input")
    submit.add_argument("--inputs", type=Path, metavar="FILE.npz", help="every input, by name")
    submit.add_argument("--priority", choices=["low", "normal", "high"], default="normal")
    submit.add_argument("--watch", action="store_true", help="follow it with a progress bar until it ends")
    submit.set_defaults(func=_submit)

    watch = verbs.add_parser("watch", help="follow a job with a progress bar until it ends")
    watch.add_argument("job_id")
    watch.set_defaults(func=_watch)

    result = verbs.add_parser("result", help="save an output of a succeeded job as .npy")
    result.add_argument("job_id")
    result.add_argument("--output", default="", help="which output (default: the kernel's first)")
    result.add_argument("-o", "--out", type=Path, required=True, help="file to write (.npy)")
    result.set_defaults(func=_result)

    cancel = verbs.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=_cancel)

    run = verbs.add_parser(
        "exec", help="run a job here (inside a Kubernetes Job's pod); needs CITYMESH_NATS_URL"
    )
    run.add_argument("job_id")
    run.add_argument("--shards", type=int, default=1, help="shards of an Indexed Job (default 1)")
    run.add_argument(
        "--shard", type=int, default=None, help="this pod's shard (default: JOB_COMPLETION_INDEX, else 0)"
    )
    run.set_defaults(func=_exec)

    kernels = verbs.add_parser("kernels", help="list the kernels with their parameters")
    kernels.add_argument("--json", action="store_true")
    kernels.set_defaults(func=_kernels)


def address(args: argparse.Namespace) -> str:
    return clients.address(args, "compute")


metadata = clients.metadata


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SystemExit(f"parameter value {text!r} is not a number") from None


def submit_request(args: argparse.Namespace) -> pb.SubmitJobRequest:
    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = number(value)
    arrays: list[pb.Array] = []
    if args.inputs:
        with np.load(args.inputs, allow_pickle=False) as archive:
            arrays += [pb.Array(name=n, npy=_npy(archive[n])) for n in archive.files]
    for item in args.input:
        name, _, path = item.partition("=")
        arrays.append(pb.Array(name=name, npy=Path(path).read_bytes()))
    priority = {"low": pb.PRIORITY_LOW, "normal": pb.PRIORITY_NORMAL, "high": pb.PRIORITY_HIGH}[args.priority]
    return pb.SubmitJobRequest(
        kernel=args.kernel, params=params, inline=pb.InlineInput(arrays=arrays), priority=priority
    )


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def progress_line(job: pb.Job) -> str:
    filled = round(job.progress * BAR)
    steps = f"{job.steps_done}/{job.steps_total} steps" if job.steps_total else ""
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {job.progress:6.1%} {STATE_NAMES[job.state]:<9} {steps}"


async def follow(stub: compute_pb2_grpc.ComputeServiceStub, md: Any, job_id: str, out: TextIO) -> pb.Job:
    """Draw a progress bar (one line, redrawn) until the job is final; the final job."""
    last = pb.Job()
    tty = out.isatty()
    async for response in stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=md):
        last = response.job
        line = progress_line(last)
        out.write(f"\r{line}" if tty else f"{line}\n")
        out.flush()
    if tty:
        out.write("\n")
    return last


def _run(args: argparse.Namespace, body: Any) -> int:
    async def main() -> int:
        async with grpc.aio.insecure_channel(address(args)) as channel:
            stub = compute_pb2_grpc.ComputeServiceStub(channel)
            try:
                rc: int = await body(stub, metadata(args))
                return rc
            except grpc.aio.AioRpcError as exc:
                print(f"citymesh job {args.verb}: {exc.code().name}: {exc.details()}", file=sys.stderr)
                return 1

    return asyncio.run(main())


def _final_rc(job: pb.Job) -> int:
    if job.state == pb.JOB_STATE_SUCCEEDED:
        return 0
    print(f"job {job.job_id} {STATE_NAMES[job.state]}: {job.error}", file=sys.stderr)
    return 1


def _submit(args: argparse.Namespace) -> int:
    request = submit_request(args)

    async def body(stub: compute_pb2_grpc.ComputeServiceStub, md: Any) -> int:
        response = await stub.SubmitJob(request, metadata=md)
        print(response.job.job_id)
        if not args.watch:
            return 0
        return _final_rc(await follow(stub, md, response.job.job_id, sys.stderr))

    return _run(args, body)


def _watch(args: argparse.Namespace) -> int:
    async def body(stub: compute_pb2_grpc.ComputeServiceStub, md: Any) -> int:
        return _final_rc(await follow(stub, md, args.job_id, sys.stderr))

    return _run(args, body)


def _result(args: argparse.Namespace) -> int:
    async def body(stub: compute_pb2_grpc.ComputeServiceStub, md: Any) -> int:
        request = pb.GetResultRequest(job_id=args.job_id, output=args.output)
        tmp = args.out.with_suffix(args.out.suffix + ".part")
        header = None
        with tmp.open("wb") as f:
            async for part in stub.GetResult(request, metadata=md):
                if part.HasField("output"):
                    header = part.output
                f.write(part.chunk)
        tmp.replace(args.out)
        if header is not None:
            shape = "×".join(map(str, header.shape))
            print(f"{args.out}: {header.name} {header.dtype} [{shape}], {header.size_bytes:,} bytes")
        return 0

    return _run(args, body)


def _cancel(args: argparse.Namespace) -> int:
    async def body(stub: compute_pb2_grpc.ComputeServiceStub, md: Any) -> int:
        response = await stub.CancelJob(pb.CancelJobRequest(job_id=args.job_id), metadata=md)
        job = response.job
        asked = " (stopping between steps)" if job.cancel_requested and job.state not in FINAL else ""
        print(f"job {job.job_id}: {STATE_NAMES[job.state]}{asked}")
        return 0

    return _run(args, body)


def _kernels(args: argparse.Namespace) -> int:
    async def body(stub: compute_pb2_grpc.ComputeServiceStub, md: Any) -> int:
        response = await stub.ListKernels(pb.ListKernelsRequest(), metadata=md)
        if args.json:
            from google.protobuf import json_format

            print(json_format.MessageToJson(response))
            return 0
        for k in response.kernels:
            print(f"{k.name}: {k.summary}")
            for i in k.inputs:
                print(
                    f"  input  {i.name:<12} {i.dtype}[{i.ndim}d]{'' if i.required else ' optional'}  {i.description}"
                )
            for p in k.params:
                print(
                    f"  param  {p.name:<12} {p.kind} = {p.default:g} in [{p.minimum:g}, {p.maximum:g}]  {p.description}"
                )
            print(f"  output {', '.join(k.outputs)}  {k.notes}")
        return 0

    return _run(args, body)


def _exec(args: argparse.Namespace) -> int:
    from citymesh.compute.kubernetes import execute_in_pod
    from citymesh.compute.store import JobStore
    from citymesh.runtime.bus import COMPUTE_RESOURCES, Bus
    from citymesh.runtime.settings import ServiceSettings

    shard = args.shard if args.shard is not None else int(os.environ.get("JOB_COMPLETION_INDEX", "0"))

    async def main() -> int:
        bus = await Bus.connect(  # type: ignore[call-arg]
            ServiceSettings(), name="compute-job", resources=COMPUTE_RESOURCES
        )
        try:
            await execute_in_pod(await JobStore.open(bus), args.job_id, shard, args.shards)
        finally:
            await bus.close()
        return 0

    return asyncio.run(main())
