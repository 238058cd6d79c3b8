"""The device directory against a real `devices` bucket: direct reads for devices the watch has
not delivered, and revisions that keep a late watch update from undoing a newer read."""

from __future__ import annotations

from pathlib import Path

from citymesh.api.common.v1 import common_pb2
from citymesh.exchange.devices import DeviceDirectory
from citymesh.exchange.domain import DeviceInfo
from citymesh.exchange.store import Store
from citymesh.runtime.bus import DEVICES_BUCKET, Bus
from tests.exchange.harness import Dev, deregister, register
from tests.polling import eventually


async def test_a_device_not_yet_watched_is_read_from_the_bucket(bus: Bus, tmp_path: Path) -> None:
    await register(bus, Dev("w1", common_pb2.DEVICE_KIND_WATER, common_pb2.DISTRICT_SHUANGQIAO))
    await register(bus, Dev("gone", common_pb2.DEVICE_KIND_AIR, common_pb2.DISTRICT_GOUZHAO))
    await deregister(bus, "gone")
    store = Store(tmp_path / "exchange.duckdb")
    directory = DeviceDirectory(await bus.kv(DEVICES_BUCKET), store, await store.open())
    try:
        # Not started: nothing watched yet, so both come from direct reads.
        kinds, districts = await directory.resolve(["w1", "gone", "never"])

        assert kinds.tolist() == [common_pb2.DEVICE_KIND_WATER, 0, 0]
        assert districts.tolist() == [common_pb2.DISTRICT_SHUANGQIAO, 0, 0]
        assert len(directory) == 1
    finally:
        await directory.stop()
        await store.close()


async def test_the_watch_keeps_deregistered_devices_and_saves_them(bus: Bus, tmp_path: Path) -> None:
    await register(bus, Dev("t1", common_pb2.DEVICE_KIND_TEMPERATURE, common_pb2.DISTRICT_WUTONG))
    store = Store(tmp_path / "exchange.duckdb")
    directory = DeviceDirectory(await bus.kv(DEVICES_BUCKET), store, await store.open())
    try:
        await directory.start(sync_timeout_s=10)
        assert directory.get("t1") is not None
        await deregister(bus, "t1")
        info = await eventually(
            lambda: _get(directory, "t1"), lambda i: i is not None and i.deregistered, what="deregistered"
        )
        assert info is not None
        assert (info.kind, info.district) == (common_pb2.DEVICE_KIND_TEMPERATURE, common_pb2.DISTRICT_WUTONG)
    finally:
        await directory.stop()
        await store.close()

    reopened = Store(tmp_path / "exchange.duckdb")
    try:
        saved = await reopened.open()
    finally:
        await reopened.close()
    assert saved["t1"].deregistered


async def _get(directory: DeviceDirectory, device_id: str) -> DeviceInfo | None:
    return directory.get(device_id)
