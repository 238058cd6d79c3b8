"""What every `citymesh` client command (job, peaks, awards, index, incidents, export) does alike:
find the service it talks to, and present who calls.

The address: `--address`, else CITYMESH_<SERVICE>_ADDRESS, else where `citymesh up` (data folder
`--data`) runs it. The caller: `--token` or CITYMESH_TOKEN (a token governance signed); against a
development platform (no tokens), the x-citymesh-* headers from `--tenant`, `--tenant-district`
and `--roles` (or CITYMESH_TENANT, CITYMESH_TENANT_DISTRICT, CITYMESH_ROLES), trusted as they are.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from citymesh.runtime.auth import DISTRICT_HEADER, ROLES_HEADER, TENANT_HEADER, bearer

Metadata = tuple[tuple[str, str], ...]


def add_arguments(parser: Any, service: str) -> None:
    """The address, token and development-identity options of a command that calls `service`."""
    parser.add_argument(
        "--address", help=f"{service} host:port (default: CITYMESH_{service.upper()}_ADDRESS or `up`'s)"
    )
    parser.add_argument("--token", help="your token from governance (default: CITYMESH_TOKEN)")
    parser.add_argument("--data", type=Path, default=Path(".citymesh"), help="`citymesh up`'s data folder")
    dev = parser.add_argument_group("a development platform (no tokens): who to act as, unchecked")
    dev.add_argument("--tenant", help="the tenant (default: CITYMESH_TENANT)")
    dev.add_argument("--tenant-district", help="its sub-district (default: CITYMESH_TENANT_DISTRICT)")
    dev.add_argument("--roles", help="comma-separated roles (default: CITYMESH_ROLES)")


def up_address(data: Path, name: str) -> str | None:
    """Where `citymesh up` (data folder `data`) runs `name`, if it does."""
    try:
        ports = json.loads((data / "run" / "ports.json").read_text())
        return str(ports["services"][name]["address"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def address(args: argparse.Namespace, service: str) -> str:
    """The address of `service`: --address, CITYMESH_<SERVICE>_ADDRESS, or `up`'s."""
    found = (
        args.address
        or os.environ.get(f"CITYMESH_{service.upper()}_ADDRESS")
        or up_address(args.data, service)
    )
    if not found:
        raise SystemExit(
            f"no {service} address: pass --address, set CITYMESH_{service.upper()}_ADDRESS or run `citymesh up`"
        )
    return str(found)


def metadata(args: argparse.Namespace) -> Metadata:
    """How the caller presents itself: its token, or in development the identity headers."""
    token = args.token or os.environ.get("CITYMESH_TOKEN", "")
    if token:
        return bearer(token)
    tenant = args.tenant or os.environ.get("CITYMESH_TENANT", "")
    district = args.tenant_district or os.environ.get("CITYMESH_TENANT_DISTRICT", "")
    roles = args.roles or os.environ.get("CITYMESH_ROLES", "")
    if not tenant and not roles:
        raise SystemExit(
            "no token: pass --token or set CITYMESH_TOKEN (`citymesh token sign` makes one); against a "
            "development platform, --tenant (with --tenant-district, --roles), e.g. --tenant zone --roles zone-admin"
        )
    headers = ((TENANT_HEADER, tenant), (DISTRICT_HEADER, district), (ROLES_HEADER, roles))
    return tuple((k, v) for k, v in headers if v)
