"""A peak's state on NATS, every key prefixed by its tenant (so NATS permissions can fence a
tenant's keys: `$KV.<bucket>.<tenant>.>`).

- `peak-scenes`: `<tenant>.scene.<scene_id>` → the scene and its bookings (JSON). One key per
  scene, changed by compare-and-set: a booking is checked against every other booking of its
  scene under the same revision, so of two concurrent overlapping bookings exactly one is stored.
- `peak-projects`: `<tenant>.project.<project_id>` → the project (JSON), compare-and-set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from citymesh.peak.domain import Booking, Project, Scene
from citymesh.runtime import errors
from citymesh.runtime.bus import PEAK_PROJECTS_BUCKET, PEAK_SCENES_BUCKET, Bus
from citymesh.runtime.natsauth import keys_under

CAS_TRIES = 50
T = TypeVar("T")


class _Records:
    """JSON records of one tenant under `<tenant>.<kind>.<id>`, changed by compare-and-set."""

    def __init__(self, kv: KeyValue, js: JetStreamContext, bucket: str, tenant: str, kind: str) -> None:
        self.kv = kv
        self.js = js
        self.bucket = bucket
        self.prefix = f"{tenant}.{kind}."

    async def get(self, record_id: str) -> tuple[dict[str, Any], int] | None:
        try:
            entry = await self.kv.get(self.prefix + record_id)
        except (KeyNotFoundError, NotFoundError):
            return None
        if entry.value is None or entry.revision is None:
            return None
        return json.loads(entry.value), entry.revision

    async def create(self, record_id: str, record: dict[str, Any]) -> bool:
        """Store it unless the id is taken; True if this call stored it."""
        try:
            await self.kv.create(self.prefix + record_id, json.dumps(record).encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def ids(self) -> list[str]:
        """The ids of the tenant's records, asking the server for the tenant's keys only: its NATS
        user may read no other (KeyValue.keys would read every tenant's, and filter by substring)."""
        keys = await keys_under(self.js, self.bucket, self.prefix)
        return sorted(k.removeprefix(self.prefix) for k in keys)

    async def change(
        self, record_id: str, fn: Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, T]]
    ) -> T:
        """Apply `fn` to the latest record (None when absent); it returns the record to store (None:
        leave it) and the result. Retried on the latest record when another writer was first, so a
        rule that no longer holds fails then."""
        for _ in range(CAS_TRIES):
            got = await self.get(record_id)
            record, revision = got if got is not None else (None, None)
            new, result = fn(record)
            payload = b"" if new is None else json.dumps(new).encode()
            if new is None or json.loads(payload) == record:
                return result
            try:
                if revision is None:
                    await self.kv.create(self.prefix + record_id, payload)
                else:
                    await self.kv.update(self.prefix + record_id, payload, last=revision)
            except KeyWrongLastSequenceError:
                continue
            return result
        raise errors.Unavailable(
            f"{self.prefix}{record_id} changed {CAS_TRIES} times while being updated; retry"
        )


class SceneStore:
    """The tenant's scene catalog and each scene's bookings."""

    def __init__(self, kv: KeyValue, js: JetStreamContext, tenant: str) -> None:
        self._records = _Records(kv, js, PEAK_SCENES_BUCKET, tenant, "scene")

    @classmethod
    async def open(cls, bus: Bus, tenant: str) -> SceneStore:
        return cls(await bus.kv(PEAK_SCENES_BUCKET), bus.js, tenant)

    async def seed(self, scenes: list[Scene]) -> int:
        """Store the scenes not yet stored (a stored one, and its bookings, is kept); how many."""
        stored = 0
        for scene in scenes:
            stored += await self._records.create(scene.scene_id, {"scene": scene.to_dict(), "bookings": []})
        return stored

    async def get(self, scene_id: str) -> tuple[Scene, list[Booking]] | None:
        got = await self._records.get(scene_id)
        return None if got is None else _scene(got[0])

    async def all(self) -> list[tuple[Scene, list[Booking]]]:
        out = []
        for scene_id in await self._records.ids():
            got = await self.get(scene_id)
            if got is not None:
                out.append(got)
        return out

    async def change_bookings(
        self, scene_id: str, fn: Callable[[Scene, list[Booking]], tuple[list[Booking], T]]
    ) -> T:
        """Apply `fn` to the scene's latest bookings by compare-and-set; NotFound without the scene."""

        def apply(record: dict[str, Any] | None) -> tuple[dict[str, Any] | None, T]:
            if record is None:
                raise errors.NotFound(f"no scene {scene_id!r} in this peak's catalog; ListScenes names them")
            scene, bookings = _scene(record)
            after, result = fn(scene, bookings)
            return {**record, "bookings": [b.to_dict() for b in after]}, result

        return await self._records.change(scene_id, apply)


def _scene(record: dict[str, Any]) -> tuple[Scene, list[Booking]]:
    return Scene.from_dict(record["scene"]), [Booking.from_dict(b) for b in record.get("bookings", [])]


class ProjectStore:
    """The tenant's experiment projects."""

    def __init__(self, kv: KeyValue, js: JetStreamContext, tenant: str) -> None:
        self._records = _Records(kv, js, PEAK_PROJECTS_BUCKET, tenant, "project")

    @classmethod
    async def open(cls, bus: Bus, tenant: str) -> ProjectStore:
        return cls(await bus.kv(PEAK_PROJECTS_BUCKET), bus.js, tenant)

    async def get(self, project_id: str) -> Project | None:
        got = await self._records.get(project_id)
        return None if got is None else Project.from_dict(got[0])

    async def all(self) -> list[Project]:
        out = []
        for project_id in await self._records.ids():
            project = await self.get(project_id)
            if project is not None:
                out.append(project)
        return out

    async def change(self, project_id: str, fn: Callable[[Project | None], tuple[Project, T]]) -> T:
        """Apply `fn` to the latest project (None when not registered) by compare-and-set."""

        def apply(record: dict[str, Any] | None) -> tuple[dict[str, Any] | None, T]:
            project, result = fn(None if record is None else Project.from_dict(record))
            return project.to_dict(), result

        return await self._records.change(project_id, apply)
