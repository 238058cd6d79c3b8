"""The NATS users of runtime/natsauth.py against a real nats-server (configured by runtime/natsd.py,
as `citymesh up` configures it): a tenant's credentials reach its own sub-district's subjects, live
and stored, and its own keys, and the server refuses it everything of another district."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import api
from nats.js.errors import Error as JetStreamError

from citymesh.runtime import natsauth
from citymesh.runtime.bus import (
    EVENTS_STREAM,
    PEAK_SCENES_BUCKET,
    TELEMETRY_STREAM,
    Bus,
    redacted,
)
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings
from tests.natsperms import connected
from tests.polling import eventually

GOUZHAO = ("tianjian-lake", "alibaba-cloud", "gouzhao")
FENGYANG = ("fengyang-5g", "huawei", "fengyang")
A = "peak-tianjian-lake"
"""The gouzhao tenant's user."""
B = "peak-fengyang-5g"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    nats_server = NatsServer(tmp_path / "nats", users=natsauth.platform_users([GOUZHAO, FENGYANG])).start()
    try:
        yield nats_server
    finally:
        nats_server.stop()


async def bus_of(server: NatsServer, user: str, resources: list[str]) -> Bus:
    return await Bus.connect(ServiceSettings(nats_url=server.url_for(user)), user, resources)  # type: ignore[call-arg]


@pytest.fixture
async def city(server: NatsServer) -> AsyncIterator[NatsServer]:
    """Both districts' readings on TELEMETRY and incidents on EVENTS, stored by their services."""
    collection = await bus_of(server, "collection", [TELEMETRY_STREAM])
    governance = await bus_of(server, "governance", [EVENTS_STREAM])
    try:
        for district in ("gouzhao", "fengyang"):
            for i in range(3):
                await collection.publish(
                    f"telemetry.{district}", f"{district}-{i}".encode(), f"{district}-{i}"
                )
            await governance.publish(f"events.incident.{district}", district.encode(), f"incident-{district}")
        yield server
    finally:
        await collection.close()
        await governance.close()


async def test_only_the_users_connect_and_their_passwords_stay_private(server: NatsServer) -> None:
    for url in (server.url, server.url_for(A).replace(server.passwords[A], "guessed")):
        with pytest.raises(nats.errors.Error, match=r"(?i)authorization"):
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    for name in ("passwords.json", "nats-server.conf"):
        mode = stat.S_IMODE((server.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert server.passwords[A] not in server.url
    assert server.passwords[A] not in redacted(server.url_for(A))
    with pytest.raises(KeyError, match="no user 'peak-nobody'"):
        server.url_for("peak-nobody")

    kept = dict(server.passwords)
    server.stop()
    again = NatsServer(server.data_dir, users=natsauth.platform_users([GOUZHAO, FENGYANG])).start()
    try:
        assert again.passwords == kept, "a restart on the same folder changed the credentials"
        async with connected(again.url_for(A)) as (nc, _):
            assert nc.is_connected
    finally:
        again.stop()


async def test_a_tenant_subscribes_to_its_districts_telemetry_and_is_refused_anothers(
    city: NatsServer,
) -> None:
    async with (
        connected(city.url_for(A)) as (nc, violations),
        connected(city.url_for("collection")) as (pub, _),
    ):
        own = await nc.subscribe("telemetry.gouzhao")
        own_incidents = await nc.subscribe("events.incident.gouzhao")
        refused = [
            await nc.subscribe(subject)
            for subject in (
                "telemetry.fengyang",
                "telemetry.*",
                "telemetry.>",
                "events.incident.fengyang",
                "events.>",
                "_INBOX.>",
                f"_INBOX_{B}.>",
                "$KV.devices.>",
            )
        ]
        await nc.publish("telemetry.gouzhao", b"forged")
        await nc.flush()
        await violations.wait_for(
            'subscription to "telemetry.fengyang"',
            'subscription to "telemetry.*"',
            'subscription to "telemetry.>"',
            'subscription to "events.incident.fengyang"',
            'subscription to "events.>"',
            'subscription to "_inbox.>"',
            f'subscription to "_inbox_{B}.>"',
            'subscription to "$kv.devices.>"',
            'publish to "telemetry.gouzhao"',
        )
        for district in ("fengyang", "gouzhao"):
            await pub.publish(f"telemetry.{district}", f"live-{district}".encode())
        await pub.flush()
        got = await own.next_msg(5)
        assert (got.subject, got.data) == ("telemetry.gouzhao", b"live-gouzhao")
        assert own_incidents.pending_msgs == 0
        for sub in refused:
            assert sub.pending_msgs == 0, f"{sub.subject} delivered to the gouzhao tenant"


async def test_a_tenant_reads_its_districts_streams_through_its_own_consumer(city: NatsServer) -> None:
    async with connected(city.url_for(A)) as (nc, violations):
        js = nc.jetstream(timeout=2)
        for stream, subject, count in (
            (TELEMETRY_STREAM, "telemetry.gouzhao", 3),
            (EVENTS_STREAM, "events.incident.gouzhao", 1),
        ):
            await js.add_consumer(stream, natsauth.tenant_consumer(A, stream, "gouzhao"))
            sub = await js.pull_subscribe_bind(consumer=A, stream=stream)
            msgs = await sub.fetch(10, timeout=1)
            assert [m.subject for m in msgs] == [subject] * count
            for m in msgs:
                await m.ack_sync()
            info = await js.consumer_info(stream, A)
            assert (info.num_ack_pending, info.num_pending) == (0, 0)
        assert not violations.seen


async def test_a_tenant_cannot_read_another_districts_stream(city: NatsServer) -> None:
    async with connected(city.url_for("exchange")) as (exchange, _):
        # A consumer of the platform's, over every district.
        await exchange.jetstream().add_consumer(TELEMETRY_STREAM, durable_name="exchange-all")
    async with connected(city.url_for(A)) as (nc, violations):
        js = nc.jetstream(timeout=0.5)  # a refused API request gets no answer
        attempts = {
            # its own consumer, filtered on another district
            f"$JS.API.CONSUMER.CREATE.TELEMETRY.{A}.telemetry.fengyang": lambda: js.add_consumer(
                TELEMETRY_STREAM, natsauth.tenant_consumer(A, TELEMETRY_STREAM, "fengyang")
            ),
            f"$JS.API.CONSUMER.CREATE.EVENTS.{A}.events.incident.fengyang": lambda: js.add_consumer(
                EVENTS_STREAM, natsauth.tenant_consumer(A, EVENTS_STREAM, "fengyang")
            ),
            f"$JS.API.CONSUMER.CREATE.TELEMETRY.{A}.telemetry.*": lambda: js.add_consumer(
                TELEMETRY_STREAM, name=A, filter_subject="telemetry.*"
            ),
            # a consumer under another name, or the filter only in the request's body
            "$JS.API.CONSUMER.CREATE.TELEMETRY.mine.telemetry.gouzhao": lambda: js.add_consumer(
                TELEMETRY_STREAM, name="mine", filter_subject="telemetry.gouzhao"
            ),
            "$JS.API.CONSUMER.CREATE.TELEMETRY": lambda: js.add_consumer(
                TELEMETRY_STREAM, filter_subject="telemetry.fengyang"
            ),
            f"$JS.API.CONSUMER.DURABLE.CREATE.TELEMETRY.{A}": lambda: js.add_consumer(
                TELEMETRY_STREAM, durable_name=A, filter_subject="telemetry.fengyang"
            ),
            # the platform's consumer, the stream's messages by sequence, the stream itself
            "$JS.API.CONSUMER.MSG.NEXT.TELEMETRY.exchange-all": lambda: _fetch(js, "exchange-all"),
            "$JS.API.CONSUMER.INFO.TELEMETRY.exchange-all": lambda: js.consumer_info(
                TELEMETRY_STREAM, "exchange-all"
            ),
            "$JS.API.CONSUMER.DELETE.TELEMETRY.exchange-all": lambda: js.delete_consumer(
                TELEMETRY_STREAM, "exchange-all"
            ),
            "$JS.API.STREAM.MSG.GET.TELEMETRY": lambda: js.get_msg(TELEMETRY_STREAM, seq=4),
            "$JS.API.STREAM.INFO.TELEMETRY": lambda: js.stream_info(TELEMETRY_STREAM),
            "$JS.API.STREAM.PURGE.TELEMETRY": lambda: js.purge_stream(TELEMETRY_STREAM),
            "$JS.API.STREAM.DELETE.TELEMETRY": lambda: js.delete_stream(TELEMETRY_STREAM),
        }
        for attempt in attempts.values():
            with pytest.raises((nats.errors.TimeoutError, JetStreamError)):
                await attempt()
        await violations.wait_for(*(f'publish to "{subject}"' for subject in attempts))

        # The one create subject it may use checks the filter in the request against its own.
        create = f"$JS.API.CONSUMER.CREATE.TELEMETRY.{A}.telemetry.gouzhao"
        for config, code in (
            ({"name": A, "filter_subject": "telemetry.fengyang"}, 10131),
            ({"name": A}, 10131),
            ({"name": A, "filter_subjects": ["telemetry.gouzhao", "telemetry.fengyang"]}, 10137),
            # a push consumer delivering into the stream (under another district's subject)
            (
                {"name": A, "filter_subject": "telemetry.gouzhao", "deliver_subject": "telemetry.fengyang"},
                10081,
            ),
        ):
            body = json.dumps({"stream_name": TELEMETRY_STREAM, "config": config}).encode()
            reply = json.loads((await nc.request(create, body, timeout=2)).data)
            assert reply.get("error", {}).get("err_code") == code, (config, reply)

    async with connected(city.url_for("exchange")) as (exchange, _):
        js = exchange.jetstream()
        info = await js.stream_info(TELEMETRY_STREAM, subjects_filter="telemetry.>")
        assert info.state.subjects == {"telemetry.gouzhao": 3, "telemetry.fengyang": 3}
        consumer = await js.consumer_info(TELEMETRY_STREAM, "exchange-all")
        assert consumer.delivered.stream_seq == 0, "the tenant pulled from the platform's consumer"


async def _fetch(js: nats.js.JetStreamContext, consumer: str) -> object:
    sub = await js.pull_subscribe_bind(consumer=consumer, stream=TELEMETRY_STREAM)
    return await sub.fetch(1, timeout=0.5)


async def test_a_tenant_touches_only_its_own_keys(server: NatsServer) -> None:
    a = await bus_of(server, A, list(natsauth.PEAK.resources))  # a peak declares its resources
    b = await bus_of(server, B, list(natsauth.PEAK.resources))
    try:
        scenes_a, scenes_b = await a.kv(PEAK_SCENES_BUCKET), await b.kv(PEAK_SCENES_BUCKET)
        await scenes_a.create("alibaba-cloud.scene.lake", b"lake")
        await scenes_a.create("alibaba-cloud.scene.dock", b"dock")
        await scenes_b.create("huawei.scene.tower", b"tower")
        assert (await scenes_a.get("alibaba-cloud.scene.lake")).value == b"lake"
        await scenes_a.delete("alibaba-cloud.scene.dock")
        assert await natsauth.keys_under(a.js, PEAK_SCENES_BUCKET, "alibaba-cloud.scene.") == [
            "alibaba-cloud.scene.lake"
        ]
        await a.js.publish("audit.peak.denied", b"{}")
    finally:
        await b.close()
        await a.close()

    async with connected(server.url_for(A)) as (nc, violations):
        js = nc.jetstream(timeout=0.5)
        kv = await js.key_value(PEAK_SCENES_BUCKET)
        attempts = {
            '"$kv.peak-scenes.huawei.scene.tower"': lambda: kv.put("huawei.scene.tower", b"mine now"),
            '"$js.api.direct.get.kv_peak-scenes.$kv.peak-scenes.huawei.scene.tower"': lambda: kv.get(
                "huawei.scene.tower"
            ),
            '"$js.api.consumer.create.kv_peak-scenes"': lambda: kv.keys(),
            '"$js.api.stream.update.kv_peak-scenes"': lambda: js.update_stream(
                api.StreamConfig(name="KV_peak-scenes", subjects=["$KV.peak-scenes.>"], max_msgs=1)
            ),
            '"audit.collection.denied"': lambda: js.publish("audit.collection.denied", b"{}"),
        }
        for attempt in attempts.values():
            with pytest.raises((nats.errors.TimeoutError, JetStreamError)):
                await attempt()
        with pytest.raises(nats.errors.TimeoutError):
            await natsauth.keys_under(js, PEAK_SCENES_BUCKET, "huawei.", timeout=0.5)
        await violations.wait_for(
            *(f"publish to {subject}" for subject in attempts),
            'publish to "$js.api.consumer.create.kv_peak-scenes.',  # keys_under, with B's prefix
        )

    async with connected(server.url_for(B)) as (nc, _):
        kv = await nc.jetstream().key_value(PEAK_SCENES_BUCKET)
        assert (await kv.get("huawei.scene.tower")).value == b"tower"


@pytest.mark.parametrize(
    ("tenant", "district"),
    [("acme", ">"), ("acme", "gouzhao.>"), ("*", "gouzhao"), ("a.b", "gouzhao"), ("", "x")],
)
def test_names_that_would_widen_a_tenants_subjects_are_refused(tenant: str, district: str) -> None:
    with pytest.raises(ValueError, match="cannot name NATS subjects"):
        natsauth.tenant_user(tenant, district)


async def test_a_reload_admits_a_new_tenant_and_refuses_a_removed_one(tmp_path: Path) -> None:
    services = natsauth.platform_users()
    server = NatsServer(tmp_path / "nats", users=services).start()
    try:
        server.reload([*services, natsauth.peak_user(*GOUZHAO)])
        url = server.url_for(A)

        async def connects() -> bool:
            try:
                nc = await nats.connect(
                    url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=1
                )
            except (nats.errors.Error, OSError):  # refused: the server closes the connection
                return False
            await nc.close()
            return True

        await eventually(connects, bool, 10, "the new tenant admitted")
        server.reload(services)
        await eventually(connects, lambda ok: not ok, 10, "the removed tenant refused")
    finally:
        server.stop()


def test_up_gives_compute_the_rights_of_its_in_process_worker() -> None:
    (compute,) = natsauth.local_users(["compute"])
    assert compute.name == "compute"
    assert "$JS.API.CONSUMER.MSG.NEXT.JOBS.>" in compute.publish
    assert "jobs.>" in compute.publish
    assert "$JS.API.CONSUMER.MSG.NEXT.JOBS.>" not in natsauth.service_user("compute").publish
    with pytest.raises(ValueError, match="no NATS user for 'billing'"):
        natsauth.local_users(["billing"])


def test_the_users_follow_the_code() -> None:
    """What a service declares at connect (its App's resources) is what its user may declare; the
    kinds of resource cover every declaration of the bus; a tenant's incident subject is the one
    governance publishes on."""
    from citymesh.collection.app import App as CollectionApp
    from citymesh.compute.app import App as ComputeApp
    from citymesh.compute.worker_app import App as WorkerApp
    from citymesh.exchange import app as exchange_app
    from citymesh.governance import app as governance_app
    from citymesh.governance.incidents.pipeline import incident_subject
    from citymesh.peak import app as peak_app

    url = "nats://127.0.0.1:4222"
    declared = {
        "collection": CollectionApp.resources,
        "compute": ComputeApp.resources,
        "compute-worker": WorkerApp.resources,
        "exchange": exchange_app.App(exchange_app.Settings(nats_url=url, db_path=Path("unused"))).resources,
        "governance": governance_app.App(governance_app.Settings(nats_url=url)).resources,
    }
    assert set(declared) == set(natsauth.SERVICES)
    for name, resources in declared.items():
        assert set(resources) == set(natsauth.SERVICES[name].resources), name
    peak = peak_app.App(peak_app.Settings(nats_url=url, tenant="alibaba-cloud", district="gouzhao"))
    assert set(peak.resources) == set(natsauth.PEAK.resources)

    kinds = natsauth.STREAMS | natsauth.BUCKETS | natsauth.OBJECT_STORES
    bus = Bus.__new__(Bus)  # no connection: only the names of its declarations are read
    bus.settings = ServiceSettings(nats_url=url)  # type: ignore[call-arg]
    assert set(bus._declarations()) == kinds
    assert natsauth.tenant_subjects("wutong")[EVENTS_STREAM] == incident_subject(EVENTS_STREAM, "wutong")
