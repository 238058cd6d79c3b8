"""Write the chart's NATS users from runtime/natsauth.py: every service's user, and the user of each
peak the given chart values list (`peaks:` entries with name, tenant and district).

    python tools/natsusers.py                      # infra/nats/auth-values.yaml, for the peaks of
                                                   # infra/values/three-node.yaml (`make nats-users`)
    python tools/natsusers.py --values my-site.yaml --out my-nats-users.yaml

tests/chart/test_nats_accounts.py checks that infra/nats/auth-values.yaml is what this writes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from citymesh.runtime import natsauth

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "infra" / "nats" / "auth-values.yaml"
VALUES = ROOT / "infra" / "values" / "three-node.yaml"
SECRET = "citymesh-nats-users"

HEADER = """\
# NATS users for citymesh, written by `make nats-users` (tools/natsusers.py) from
# services/citymesh/runtime/natsauth.py: edit that, not this file. One user per service, limited to
# what its code does on NATS (its App's `resources`, the subjects it publishes, the streams it
# consumes), and one per peak, limited to its sub-district's telemetry and incidents and its own
# keys. A values overlay for charts/citymesh (it configures both the NATS chart and the services):
#
#   kubectl -n citymesh create secret generic {secret} \\
{literals}
#   helm upgrade --install citymesh charts/citymesh -n citymesh \\
#     -f charts/citymesh/values-production.yaml -f infra/nats/auth-values.yaml
#
# Each workload reads its password from the Secret into $(NATS_PASSWORD) and connects as
# nats://<user>:<password>@..., with reply subjects of its own (_INBOX_<user>.>); the NATS servers
# read the same keys into the environment variables the `<< $VAR >>` entries below name.
# tests/chart/test_nats_accounts.py runs the real services against a nats-server configured from
# this file; tests/test_nats_users.py shows what a peak's user is refused.
#
# The peaks are those of {values}. Adding a peak to your values: write your own
# overlay with `python tools/natsusers.py --values <your values> --out <file>` and add the peak's
# key (peak-<name>) to the Secret.
"""


def peaks_of(*values: Path) -> list[tuple[str, str, str]]:
    """(peak, tenant, district) of each entry of `peaks:` in chart values files (the last file
    that lists peaks wins, as with `helm -f`)."""
    peaks: list[dict[str, str]] = []
    for path in values:
        listed = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("peaks")
        if listed is not None:
            peaks = listed
    return [(p["name"], p["tenant"], p["district"]) for p in peaks]


def _env(user: natsauth.User) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": SECRET, "key": user.name}
    if not user.required:
        ref["optional"] = True
    return {"valueFrom": {"secretKeyRef": ref}}


def _indented(value: Any, spaces: int) -> str:
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=120)
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(True))


def render(peaks: list[tuple[str, str, str]], values: str) -> str:
    users = natsauth.platform_users(peaks)
    literals = " \\\n".join(f'#     --from-literal={u.name}="$(openssl rand -hex 24)"' for u in users)
    out = [HEADER.format(secret=SECRET, literals=literals, values=values), "\n"]
    out.append(_indented({"natsAuth": {"enabled": True, "existingSecret": SECRET}}, 0))
    out.append("\nnats:\n  container:\n    env:\n")
    out.append(_indented({natsauth.env_name(u.name): _env(u) for u in users}, 6))
    out.append(f"  config:\n    merge:\n      accounts:\n        {natsauth.ACCOUNT}:\n")
    out.append("          jetstream: enabled\n          users:\n")
    for user in users:
        out.append(f"            # {user.name}: {user.description}\n")
        out.append(_indented([user.entry(f"<< ${natsauth.env_name(user.name)} >>")], 12))
    return "".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--values", type=Path, action="append", help=f"chart values (default {VALUES.relative_to(ROOT)})"
    )
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT.relative_to(ROOT)})")
    args = p.parse_args()
    values = args.values or [VALUES]
    named = ", ".join(
        str(v.resolve().relative_to(ROOT)) if v.resolve().is_relative_to(ROOT) else str(v) for v in values
    )
    args.out.write_text(render(peaks_of(*values), named), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
