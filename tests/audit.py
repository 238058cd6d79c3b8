"""Reading the AUDIT stream in tests: every record a service stored, as JSON."""

from __future__ import annotations

import json
from typing import Any

import nats
from nats.js.errors import NotFoundError


async def audit_records(
    nats_url: str, service: str = "", allowed: bool | None = None
) -> list[dict[str, Any]]:
    """The AUDIT stream's records, oldest first; only `service`'s (and only denials or only grants)
    when given."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info("AUDIT")
        except NotFoundError:
            return []
        out = []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):  # an empty stream: 0..0
            try:
                msg = await js.get_msg("AUDIT", seq)
            except NotFoundError:
                continue
            record = json.loads(msg.data or b"{}")
            if service and record.get("service") != service:
                continue
            if allowed is not None and record.get("allowed") != allowed:
                continue
            out.append(record)
        return out
    finally:
        await nc.close()


def denied(records: list[dict[str, Any]], tenant: str, action: str) -> list[dict[str, Any]]:
    """The denials of `action` to `tenant` among `records`."""
    return [r for r in records if r["tenant"] == tenant and r["action"] == action and not r["allowed"]]
