"""The NetworkPolicies select the right pods and allow what the platform needs and nothing more:
devices reach only collection, peaks reach only the platform APIs (and NATS, under their NATS
user's subject permissions), nobody reaches a peak's neighbours."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.chart.render import CASES, NAMESPACE, Manifest, Rendered, rendered, selector_matches


@dataclass(frozen=True)
class Endpoint:
    """A pod of the release's namespace (labels), or an address outside the cluster (ip)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = ""
    namespace: Mapping[str, str] = field(default_factory=lambda: {"kubernetes.io/metadata.name": NAMESPACE})

    @property
    def is_pod(self) -> bool:
        return not self.ip


INTERNET = Endpoint(ip="203.0.113.9")


def device(chart: Rendered) -> Endpoint:
    """A device gateway: inside the first networkPolicy.deviceSources block, if any."""
    for source in chart.values.get("networkPolicy", {}).get("deviceSources", []):
        if "ipBlock" in source:
            return Endpoint(ip=str(next(ipaddress.ip_network(source["ipBlock"]["cidr"]).hosts())))
    return Endpoint(ip="10.20.30.40")


def selector_selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "the chart's selectors use matchLabels only"
    return selector_matches(selector.get("matchLabels", {}), labels)


def peer_matches(peer: Mapping[str, Any], who: Endpoint) -> bool:
    if "ipBlock" in peer:
        if who.is_pod:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(who.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if not who.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not selector_selects(peer["namespaceSelector"], who.namespace):
            return False
    elif who.namespace != Endpoint().namespace:
        return False
    return selector_selects(peer.get("podSelector", {}), who.labels)


def port_matches(rule: Mapping[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def allowed(policies: list[Manifest], src: Endpoint, dst: Endpoint, port: int) -> bool:
    """Whether NetworkPolicy semantics let src open a TCP connection to dst:port."""
    if src.is_pod:
        egress = [
            p
            for p in policies
            if "Egress" in p["spec"]["policyTypes"] and selector_selects(p["spec"]["podSelector"], src.labels)
        ]
        if egress and not any(
            port_matches(rule, port)
            and (not rule.get("to") or any(peer_matches(peer, dst) for peer in rule["to"]))
            for p in egress
            for rule in p["spec"].get("egress") or []
        ):
            return False
    if dst.is_pod:
        ingress = [
            p
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"]
            and selector_selects(p["spec"]["podSelector"], dst.labels)
        ]
        if ingress and not any(
            port_matches(rule, port)
            and (not rule.get("from") or any(peer_matches(peer, src) for peer in rule["from"]))
            for p in ingress
            for rule in p["spec"].get("ingress") or []
        ):
            return False
    return True


@dataclass(frozen=True)
class Pod:
    name: str
    labels: Mapping[str, str]
    port: int
    role: str
    api: bool

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(labels=self.labels)


def pods(chart: Rendered) -> dict[str, Pod]:
    services = {s["metadata"]["name"] for s in chart.of_kind("Service")}
    out = {}
    for w in chart.workloads():
        labels = w["spec"]["template"]["metadata"]["labels"]
        port = w["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        name = labels["app.kubernetes.io/component"]
        if "citymesh.io/peak" in labels:
            name = f"peak-{labels['citymesh.io/peak']}"
        out[name] = Pod(
            w["metadata"]["name"], labels, port, labels["citymesh.io/role"], w["metadata"]["name"] in services
        )
    return out


def nats_pod(chart: Rendered) -> Endpoint:
    labels = {
        "app.kubernetes.io/name": "nats",
        "app.kubernetes.io/instance": chart.release,
        "app.kubernetes.io/component": "nats",
    }
    return Endpoint(labels=labels)


@pytest.fixture(params=list(CASES))
def chart(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param)


def test_each_pod_is_selected_by_exactly_its_own_policy(chart: Rendered) -> None:
    policies = chart.of_kind("NetworkPolicy")
    for pod in pods(chart).values():
        selecting = [
            p["metadata"]["name"] for p in policies if selector_selects(p["spec"]["podSelector"], pod.labels)
        ]
        assert selecting == [pod.name], f"{pod.name} is selected by {selecting}"
        (policy,) = (p for p in policies if p["metadata"]["name"] == pod.name)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_only_collection_faces_the_devices(chart: Rendered) -> None:
    policies = chart.of_kind("NetworkPolicy")
    device_sources = chart.values.get("networkPolicy", {}).get("deviceSources", [])
    outside = [device(chart)] if device_sources else [device(chart), INTERNET]
    for name, pod in pods(chart).items():
        for who in outside:
            reachable = allowed(policies, who, pod.endpoint, pod.port)
            assert reachable is (name == "collection"), f"{who.ip} reaching {name}: {reachable}"
    if device_sources:
        assert not allowed(
            policies, INTERNET, pods(chart)["collection"].endpoint, pods(chart)["collection"].port
        )


def test_peaks_reach_only_the_platform_apis(chart: Rendered) -> None:
    policies = chart.of_kind("NetworkPolicy")
    everyone = pods(chart)
    peaks = [p for p in everyone.values() if p.role == "peak"]
    for peak in peaks:
        for name, other in everyone.items():
            reachable = allowed(policies, peak.endpoint, other.endpoint, other.port)
            wanted = other.role == "platform" and other.api
            assert reachable is wanted, f"{peak.name} reaching {name}: {reachable}"
        assert not allowed(policies, peak.endpoint, INTERNET, 443)
        assert not allowed(policies, peak.endpoint, everyone["collection"].endpoint, 22)


def test_the_platform_serves_itself_and_the_peaks_but_never_calls_a_peak(chart: Rendered) -> None:
    policies = chart.of_kind("NetworkPolicy")
    everyone = pods(chart)
    for src in (p for p in everyone.values() if p.role == "platform"):
        for name, dst in everyone.items():
            if dst is src:
                continue
            reachable = allowed(policies, src.endpoint, dst.endpoint, dst.port)
            assert reachable is (dst.role == "platform" and dst.api), (
                f"{src.name} reaching {name}: {reachable}"
            )


def test_every_pod_reaches_nats_and_dns(chart: Rendered) -> None:
    policies = chart.of_kind("NetworkPolicy")
    nats_enabled = chart.values.get("nats", {}).get("enabled", True)
    nats = nats_pod(chart) if nats_enabled else Endpoint(ip="10.0.0.7")
    for name, pod in pods(chart).items():
        if nats_enabled:
            assert allowed(policies, pod.endpoint, nats, 4222), f"{name} cannot reach NATS"
        else:
            rules = [r for p in policies if p["metadata"]["name"] == pod.name for r in p["spec"]["egress"]]
            nats_rule = next(
                r for r in rules if port_matches(r, chart.values["networkPolicy"].get("natsPort", 4222))
            )
            assert nats_rule["to"] == chart.values["networkPolicy"]["natsDestinations"]
        dns = Endpoint(
            labels={"k8s-app": "kube-dns"}, namespace={"kubernetes.io/metadata.name": "kube-system"}
        )
        assert allowed(policies, pod.endpoint, dns, 53)


def test_nats_accepts_only_this_releases_pods() -> None:
    for case in ("default", "production"):
        chart = rendered(case)
        policies = chart.of_kind("NetworkPolicy")
        (policy,) = (p for p in policies if p["metadata"]["name"] == "citymesh-nats")
        assert policy["spec"]["podSelector"]["matchLabels"] == nats_pod(chart).labels
        nats = nats_pod(chart)
        for pod in pods(chart).values():
            assert allowed(policies, pod.endpoint, nats, 4222)
        stranger = Endpoint(labels={"app": "somebody-else"})
        assert not allowed(policies, stranger, nats, 4222)
        assert not allowed(policies, INTERNET, nats, 4222)
        assert allowed(policies, nats, nats, 6222), "the NATS servers route to each other"
    assert not [
        p for p in rendered("edge").of_kind("NetworkPolicy") if p["metadata"]["name"].endswith("-nats")
    ]


def test_the_kubernetes_executor_alone_reaches_the_kubernetes_api() -> None:
    chart = rendered("edge")
    policies = chart.of_kind("NetworkPolicy")
    api_server = Endpoint(ip="10.96.0.1")
    for name, pod in pods(chart).items():
        assert allowed(policies, pod.endpoint, api_server, 443) is (name == "compute-worker"), name
