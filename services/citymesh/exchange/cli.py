"""`citymesh export`: raw readings from the exchange (or through a peak) into an Arrow file.

The address is --address, else CITYMESH_EXCHANGE_ADDRESS, else the one `citymesh up` wrote to
.citymesh/run/ports.json; --peak HOST:PORT (or the id of a peak `citymesh up` runs) exports through
a peak instead. The caller is the token of --token, else CITYMESH_TOKEN; against services in
development mode (CITYMESH_AUTH_DEV_HEADERS) it is --tenant, else CITYMESH_TENANT, bound to
--tenant-district, else CITYMESH_TENANT_DISTRICT. The exchange decides what the caller may read
(its own sub-district, public datasets, granted ones) exactly as for a query.

`-o FILE.arrow` writes the Arrow IPC file format (random access; pyarrow `pa.ipc.open_file`,
`pa.memory_map`, DuckDB, polars); `-o FILE.arrows` writes the stream as it came (the IPC streaming
format). The file appears only once the export is complete; a progress line on stderr counts the
readings received.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import grpc
import pyarrow as pa

from citymesh import clients
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.api.peak.v1 import peak_pb2, peak_pb2_grpc
from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.convert import district_to_proto, kind_to_proto
from citymesh.exchange.export import END_OF_STREAM

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
BAR = 30
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export raw readings into an Arrow file (.arrow, or .arrows for the IPC stream)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="file to write: .arrow or .arrows")
    when = p.add_argument_group("time range (one of --last, or --start with an optional --end)")
    when.add_argument("--last", help="the last N s|m|h|d until now, e.g. 15m or 2d")
    when.add_argument("--start", help="start, ISO 8601 (e.g. 2026-05-01T08:00:00Z); naive times are UTC")
    when.add_argument("--end", help="end (exclusive), ISO 8601; default now")
    p.add_argument("--dataset", default="", help="a catalog dataset id (see ListDatasets)")
    p.add_argument("--district", action="append", default=[], choices=DISTRICTS, help="only this one")
    p.add_argument("--kind", action="append", default=[], choices=KIND_NAMES, help="only this kind")
    p.add_argument("--device", action="append", default=[], metavar="ID", help="only this device")
    p.add_argument("--limit", type=int, default=0, help="at most this many readings (default: the most)")
    p.add_argument("--batch-rows", type=int, default=0, help="readings per record batch (default 32768)")
    p.add_argument(
        "--peak",
        metavar="HOST:PORT|PEAK_ID",
        help="export through this peak (an address, or a peak `up` runs)",
    )
    clients.add_arguments(p, "exchange")
    p.set_defaults(func=_export)


def instant(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--{what} {text!r} is not an ISO 8601 time (e.g. 2026-05-01T08:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_range(args: argparse.Namespace, now: datetime) -> common_pb2.TimeRange:
    if bool(args.last) == bool(args.start):
        raise SystemExit("give the time range: --last N[s|m|h|d], or --start (and --end)")
    if args.last:
        match = DURATION.match(args.last)
        if not match:
            raise SystemExit(f"--last {args.last!r}: a number and a unit, s, m, h or d (e.g. 15m)")
        start, end = now - timedelta(seconds=float(match[1]) * UNITS_S[match[2]]), now
    else:
        start = instant(args.start, "start")
        end = instant(args.end, "end") if args.end else now
    out = common_pb2.TimeRange()
    out.start.FromDatetime(start)
    out.end.FromDatetime(end)
    return out


def export_request(args: argparse.Namespace, now: datetime) -> pb.ExportReadingsRequest:
    return pb.ExportReadingsRequest(
        time_range=time_range(args, now),
        dataset_id=args.dataset,
        filter=pb.ReadingFilter(
            districts=[district_to_proto(d) for d in args.district],
            kinds=[kind_to_proto(k) for k in args.kind],
            device_ids=args.device,
        ),
        limit=args.limit,
        batch_rows=args.batch_rows,
    )


def address(args: argparse.Namespace) -> str:
    """--peak HOST:PORT, --peak PEAK_ID (`up`'s peak-PEAK_ID), else the exchange's address."""
    if args.peak and ":" in args.peak:
        return str(args.peak)
    if not args.peak:
        return clients.address(args, "exchange")
    found = clients.up_address(args.data, f"peak-{args.peak}")
    if not found:
        raise SystemExit(f"no peak-{args.peak} address: pass --peak HOST:PORT, or run `citymesh up`")
    return found


metadata = clients.metadata


def progress_line(sent: int, total: int, received_bytes: int) -> str:
    share = sent / total if total else 1.0
    filled = round(share * BAR)
    return (
        f"[{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%} "
        f"{sent:,}/{total:,} readings, {received_bytes / 1e6:.1f} MB"
    )


class Writer:
    """Writes the messages of an export into `path` (through a temporary file beside it, renamed
    once the stream ended well): the IPC file format for .arrow, the stream itself for .arrows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.stream_format = path.suffix == ".arrows"
        self._sink = pa.OSFile(str(self.partial), "wb")
        self._schema: pa.Schema | None = None
        self._file: pa.ipc.RecordBatchFileWriter | None = None

    def write(self, message: bytes) -> None:
        if self.stream_format:
            self._sink.write(message)
        elif self._schema is None:
            self._schema = pa.ipc.read_schema(pa.py_buffer(message))
            self._file = pa.ipc.new_file(self._sink, self._schema)
        elif message != END_OF_STREAM:
            assert self._file is not None
            self._file.write_batch(pa.ipc.read_record_batch(pa.py_buffer(message), self._schema))

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()
        self._sink.close()
        self.partial.replace(self.path)

    def abandon(self) -> None:
        self._sink.close()
        self.partial.unlink(missing_ok=True)


async def responses(args: argparse.Namespace, request: pb.ExportReadingsRequest) -> AsyncIterator[Any]:
    """The exchange's ExportReadingsResponse messages, straight or through the peak."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    async with grpc.aio.insecure_channel(address(args), options=options) as channel:
        md = metadata(args)
        if args.peak:
            peak = peak_pb2_grpc.PeakServiceStub(channel)
            async for wrapped in peak.ExportReadings(
                peak_pb2.ExportReadingsRequest(request=request), metadata=md
            ):
                yield wrapped.chunk
        else:
            async for response in exchange_pb2_grpc.ExchangeServiceStub(channel).ExportReadings(
                request, metadata=md
            ):
                yield response


async def export(args: argparse.Namespace, out: TextIO) -> pb.ExportReadingsResponse:
    """Run the export into args.out, drawing progress on `out`; its last response."""
    request = export_request(args, datetime.now(UTC))
    writer = Writer(args.out)
    last = pb.ExportReadingsResponse()
    received, drawn = 0, 0.0
    tty = out.isatty()
    try:
        async for response in responses(args, request):
            writer.write(response.arrow_ipc)
            received += len(response.arrow_ipc)
            last = response
            if time.monotonic() - drawn > (0.1 if tty else 1.0):  # a redrawn line, or one a second
                line = progress_line(response.rows_sent, response.rows_total, received)
                out.write(f"\r{line}" if tty else f"{line}\n")
                out.flush()
                drawn = time.monotonic()
    except BaseException:
        writer.abandon()
        raise
    writer.finish()
    out.write(("\r" if tty else "") + progress_line(last.rows_sent, last.rows_total, received) + "\n")
    return last


def _export(args: argparse.Namespace) -> int:
    try:
        last = asyncio.run(export(args, sys.stderr))
    except grpc.aio.AioRpcError as exc:
        print(f"citymesh export: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    note = f" (truncated at --limit {last.rows_total:,}: more matched)" if last.truncated else ""
    print(f"wrote {last.rows_sent:,} readings to {args.out}{note}")
    return 0
