"""Render charts/citymesh with real Helm (the helm-python-sdk's Helm library), offline.

Values files are layered as `helm -f a.yaml -f b.yaml` layers them: maps merge, anything else is
replaced, and a null removes the key.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "citymesh"
VALUES = Path(__file__).resolve().parent / "values"
NAMESPACE = "city"

Manifest = dict[str, Any]

# The value sets every structural test runs over: name → (release name, values files).
CASES: dict[str, tuple[str, tuple[Path, ...]]] = {
    "default": ("citymesh", ()),
    "production": (
        "citymesh",
        (CHART / "values-production.yaml", ROOT / "infra" / "nats" / "auth-values.yaml"),
    ),
    "edge": ("city-edge-2026", (VALUES / "edge.yaml",)),
    "one-node": ("citymesh", (ROOT / "infra" / "values" / "one-node.yaml",)),
    "three-node": (
        "citymesh",
        (
            CHART / "values-production.yaml",
            ROOT / "infra" / "nats" / "auth-values.yaml",
            ROOT / "infra" / "values" / "three-node.yaml",
        ),
    ),
}


def layered(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Values of several layers, later ones winning, as Helm coalesces -f files."""
    out: dict[str, Any] = {}
    for layer in layers:
        _merge_into(out, layer)
    return out


def _merge_into(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, Mapping) and isinstance(dst.get(key), dict):
            _merge_into(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a map of values"
    return data


@functools.cache
def chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render_raw(values: Mapping[str, Any], release: str = "citymesh") -> dict[str, str]:
    """Template path → rendered text (Helm's own errors propagate)."""
    rendered: dict[str, str] = chart().render(dict(values), name=release, namespace=NAMESPACE)
    return rendered


def render(values: Mapping[str, Any], release: str = "citymesh") -> list[Manifest]:
    """Every Kubernetes object the chart renders with these values."""
    out: list[Manifest] = []
    for path, text in sorted(render_raw(values, release).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert isinstance(doc, dict), f"{path} renders a document that is not an object"
                out.append(doc)
    return out


@dataclass(frozen=True)
class Rendered:
    name: str
    release: str
    values: dict[str, Any]
    """The user-supplied values (the chart's defaults not included)."""
    manifests: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> Iterator[Manifest]:
        for m in self.manifests:
            if m["kind"] in ("Deployment", "StatefulSet"):
                yield m

    def fullname(self) -> str:
        return self.release if "citymesh" in self.release else f"{self.release}-citymesh"


@functools.cache
def rendered(case: str) -> Rendered:
    release, files = CASES[case]
    values = layered(*(load_values(f) for f in files))
    return Rendered(case, release, values, render(values, release))


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
