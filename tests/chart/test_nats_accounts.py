"""The NATS users of infra/nats/auth-values.yaml (written from runtime/natsauth.py by
tools/natsusers.py) let each service do what its code does, and a peak only its own sub-district's
subjects: a real nats-server, configured from that file the way the NATS chart renders it, runs the
real services as their own users."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import nats
import numpy as np
import pytest
from nats.aio.client import Client

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.collection import app as collection_app
from citymesh.exchange import app as exchange_app
from citymesh.governance.domain import seed_peaks
from citymesh.runtime import natsauth
from citymesh.runtime.natsauth import env_name
from citymesh.runtime.natsd import binary
from citymesh.runtime.server import running
from tests.chart.render import CHART, ROOT, layered, load_values, rendered
from tests.collection.conftest import GOUZHAO, device
from tests.exchange.harness import caught_up
from tests.natsperms import Violations
from tests.natsperms import connected as connected_as
from tools import natsusers

AUTH = ROOT / "infra" / "nats" / "auth-values.yaml"


def nats_values() -> dict[str, Any]:
    values = layered(load_values(CHART / "values.yaml"), load_values(AUTH))["nats"]
    assert isinstance(values, dict)
    return values


def users() -> dict[str, dict[str, Any]]:
    accounts = nats_values()["config"]["merge"]["accounts"]
    return {u["user"]: u for account in accounts.values() for u in account["users"]}


def server_config(store: Path, ports: Path) -> str:
    """The NATS config the chart's values make, as the NATS chart writes it: JSON, with
    "<< $VAR >>" strings left unquoted (so the server reads $VAR from its environment)."""
    config = nats_values()["config"]
    doc = {
        "listen": "127.0.0.1:-1",
        "server_name": "citymesh-test",
        "ports_file_dir": str(ports),
        "jetstream": {"store_dir": str(store), **config["jetstream"]["merge"]},
        **config["merge"],
    }
    return re.sub(r'"<<\s+(.*?)\s+>>"', r"\1", json.dumps(doc, indent=2))


def test_every_workload_has_its_nats_user_and_password() -> None:
    env = nats_values()["container"]["env"]
    known = users()
    for case in ("production", "three-node"):
        chart = rendered(case)
        for workload in chart.workloads():
            container = workload["spec"]["template"]["spec"]["containers"][0]
            password = next(e for e in container["env"] if e["name"] == "NATS_PASSWORD")
            user = password["valueFrom"]["secretKeyRef"]["key"]
            assert password["valueFrom"]["secretKeyRef"]["name"] == chart.values["natsAuth"]["existingSecret"]
            assert user in known, f"{workload['metadata']['name']} connects as {user}, a user NATS lacks"
            assert known[user]["password"] == f"<< ${env_name(user)} >>"
            ref = env[env_name(user)]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (chart.values["natsAuth"]["existingSecret"], user)
    for component in ("compute-api", "compute-worker", "governance"):
        service = load_values(CHART / "values.yaml")["components"][component]["service"]
        assert service in known, f"{component} would connect as {service}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    ports = tmp_path / "run"
    ports.mkdir()
    conf = tmp_path / "nats.conf"
    conf.write_text(server_config(tmp_path / "js", ports), encoding="utf-8")
    environ = {env_name(user): f"pw-{user}" for user in users()}
    with open(tmp_path / "nats.log", "wb") as log:
        proc = subprocess.Popen([binary(), "-c", str(conf)], stdout=log, stderr=log, env=environ)
    try:
        deadline = time.monotonic() + 20
        while not (found := list(ports.glob("*.ports"))):
            assert proc.poll() is None, (tmp_path / "nats.log").read_text()
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.02)
        port = 0
        while not port:
            with contextlib.suppress(ValueError, KeyError):
                port = int(json.loads(found[0].read_text())["nats"][0].rsplit(":", 1)[1])
            assert time.monotonic() < deadline, "nats-server wrote no port"
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def url(port: int, user: str) -> str:
    return f"nats://{user}:pw-{user}@127.0.0.1:{port}"


def connected(port: int, user: str) -> contextlib.AbstractAsyncContextManager[tuple[Client, Violations]]:
    return connected_as(url(port, user))


async def test_collection_and_exchange_run_as_their_own_users(server: int, tmp_path: Path) -> None:
    cs = collection_app.Settings(
        nats_url=url(server, "collection"), listen="127.0.0.1:0", auth_dev_headers=True
    )
    xs = exchange_app.Settings(
        nats_url=url(server, "exchange"),
        listen="127.0.0.1:0",
        db_path=tmp_path / "x.duckdb",
        auth_dev_headers=True,
    )
    platform = (("x-citymesh-tenant", "zone"), ("x-citymesh-roles", "service"))
    async with (
        running(collection_app.App(cs), cs) as c,
        running(exchange_app.App(xs), xs) as x,
        grpc.aio.insecure_channel(f"127.0.0.1:{c.port}") as cch,
        grpc.aio.insecure_channel(f"127.0.0.1:{x.port}") as xch,
    ):
        collection = collection_pb2_grpc.CollectionServiceStub(cch)
        await collection.RegisterDevice(
            cpb.RegisterDeviceRequest(device=device("air-g1", at=GOUZHAO)), metadata=platform
        )
        now = time.time_ns() // 1_000_000
        batch = cpb.ReadingBatch(
            batch_id="accounts-1",
            device_ids=["air-g1"],
            device_index=[0, 0, 0],
            time_unix_ms=[now] * 3,
            values=[1, 2, 3],
        )
        reply = await collection.Ingest(cpb.IngestRequest(batch=batch), metadata=platform)
        assert reply.ack.accepted == 3
        stats = await caught_up(exchange_pb2_grpc.ExchangeServiceStub(xch), 3)
        assert stats.rows == 3
        got = await collection.GetDevice(cpb.GetDeviceRequest(device_id="air-g1"), metadata=platform)
        assert got.device.device_id == "air-g1"


async def test_a_peak_reads_its_district_and_cannot_touch_the_platforms_data(server: int) -> None:
    async with connected(server, "collection") as (nc, _):
        js = nc.jetstream()
        await js.add_stream(name="TELEMETRY", subjects=["telemetry.>"])
        await js.publish("telemetry.gouzhao", b"gouzhao")
        await js.publish("telemetry.fengyang", b"fengyang")
    async with connected(server, "peak-tianjian-lake") as (nc, violations):
        js = nc.jetstream(timeout=0.5)  # a denied API request gets no answer
        config = natsauth.tenant_consumer("peak-tianjian-lake", "TELEMETRY", "gouzhao")
        await js.add_consumer("TELEMETRY", config)
        own = await js.pull_subscribe_bind(consumer="peak-tianjian-lake", stream="TELEMETRY")
        assert [m.data for m in await own.fetch(5, timeout=1)] == [b"gouzhao"]
        await nc.publish("telemetry.gouzhao", b"forged")
        await nc.publish("$KV.devices.forged", b"forged")
        sub = await nc.subscribe("telemetry.>")
        await nc.flush()
        with pytest.raises(nats.errors.Error):
            await js.stream_info("TELEMETRY")
        with pytest.raises(nats.errors.Error):
            await js.delete_stream("TELEMETRY")
        with pytest.raises(nats.errors.Error):
            await js.add_consumer("TELEMETRY", durable_name="peek")
        await sub.unsubscribe()
        await violations.wait_for(
            'publish to "telemetry.gouzhao"',
            'publish to "$kv.devices.forged"',
            'subscription to "telemetry.>"',
        )
    async with connected(server, "exchange") as (nc, _):
        info = await nc.jetstream().stream_info("TELEMETRY")
        assert info.state.messages == 2, "a peak's publish reached the TELEMETRY stream"


def test_the_users_are_those_natsauth_derives_for_the_seeds_peaks() -> None:
    """The file is what `make nats-users` writes; its peaks are the seed's tenants."""
    peaks = natsusers.peaks_of(natsusers.VALUES)
    seeded = [(p.peak_id, p.tenant, p.district) for p in seed_peaks(0).values() if p.tenant]
    assert peaks == seeded
    wanted = natsusers.render(peaks, "infra/values/three-node.yaml")
    assert AUTH.read_text(encoding="utf-8") == wanted, (
        "infra/nats/auth-values.yaml is stale: run make nats-users"
    )
    assert set(users()) == {u.name for u in natsauth.platform_users(peaks)}


async def test_exchange_cannot_publish_readings(server: int) -> None:
    async with connected(server, "exchange") as (nc, violations):
        await nc.publish("telemetry.gouzhao", b"forged")
        await nc.flush()
        await violations.wait_for('publish to "telemetry.gouzhao"')


async def test_compute_its_workers_and_governance_run_as_their_own_users(server: int) -> None:
    from citymesh.api.compute.v1 import compute_pb2, compute_pb2_grpc
    from citymesh.api.governance.v1 import governance_pb2, governance_pb2_grpc
    from citymesh.compute import app as compute_app
    from citymesh.compute import worker_app
    from citymesh.governance import app as governance_app
    from tests.compute.conftest import Tenant

    ps = compute_app.Settings(
        nats_url=url(server, "compute"), listen="127.0.0.1:0", workers=0, auth_dev_headers=True
    )
    ws = worker_app.Settings(nats_url=url(server, "compute-worker"), listen="127.0.0.1:0")
    gs = governance_app.Settings(
        nats_url=url(server, "governance"), listen="127.0.0.1:0", auth_dev_headers=True
    )
    admin = (("x-citymesh-tenant", "zone"), ("x-citymesh-roles", "zone-admin"))
    governance = governance_app.App(gs)
    async with (
        running(governance, gs) as g,
        running(compute_app.App(ps), ps) as c,
        running(worker_app.App(ws), ws),
        grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as gch,
        grpc.aio.insecure_channel(f"127.0.0.1:{c.port}") as cch,
    ):
        gstub = governance_pb2_grpc.GovernanceServiceStub(gch)
        peaks = await gstub.ListPeaks(governance_pb2.ListPeaksRequest(), metadata=admin)
        assert len(peaks.peaks) == 5
        tenant = Tenant(compute_pb2_grpc.ComputeServiceStub(cch), "alibaba-cloud")
        terrain = np.zeros((8, 8))
        job = await tenant.submit("flood_sim", {"terrain": terrain, "depth": terrain}, {"steps": 3})
        done = await tenant.finished(job.job_id, timeout=60)
        assert done.state == compute_pb2.JOB_STATE_SUCCEEDED, done.error
        # governance reads compute's jobs (the economy index) and relays its outbox as its own user
        index = await gstub.GetEconomyIndex(governance_pb2.GetEconomyIndexRequest(), metadata=admin)
        assert index.zone.figures.compute_jobs_succeeded == 1
        sign = governance_pb2.TransitionPeakRequest(
            peak_id="shifo",
            target=governance_pb2.PEAK_STATE_SIGNED,
            reason="x",
            tenant="baidu",
            enterprise="Baidu",
        )
        await gstub.TransitionPeak(sign, metadata=admin)
        assert governance.governance is not None
        assert (await governance.governance.peaks.load()).outbox == ()
