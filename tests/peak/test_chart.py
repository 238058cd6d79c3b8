"""The chart runs each listed peak as `citymesh serve peak`, pointed at the Services of the
platform APIs it renders."""

from __future__ import annotations

from tests.chart.render import pod_spec, render, rendered
from tests.chart.test_manifests import settings_of

UPSTREAMS = {
    "CITYMESH_COLLECTION_ADDRESS": "collection",
    "CITYMESH_EXCHANGE_ADDRESS": "exchange",
    "CITYMESH_COMPUTE_ADDRESS": "compute-api",
    "CITYMESH_GOVERNANCE_ADDRESS": "governance",
}
"""Each address a peak gets, and the component whose Service it names."""


def test_every_peak_reaches_the_platform_apis_at_their_services() -> None:
    chart = rendered("edge")
    services = {
        m["metadata"]["name"]: m["spec"]["ports"][0]["port"]
        for m in chart.manifests
        if m["kind"] == "Service"
    }
    peaks = [w for w in chart.workloads() if pod_spec(w)["containers"][0]["args"] == ["serve", "peak"]]
    assert len(peaks) == 5
    for workload in peaks:
        env = settings_of(chart, workload)
        for variable, component in UPSTREAMS.items():
            host, port = env[variable].rsplit(":", 1)
            assert host == f"{chart.fullname()}-{component}", variable
            assert services[host] == int(port), f"{variable}: no Service {host} on port {port}"


def test_a_peaks_settings_may_point_elsewhere_and_disabled_apis_are_not_named() -> None:
    values = {
        "components": {"compute-api": {"enabled": False}, "compute-worker": {"enabled": False}},
        "peaks": [
            {
                "name": "tianjian-lake",
                "tenant": "alibaba-cloud",
                "district": "gouzhao",
                "settings": {"CITYMESH_EXCHANGE_ADDRESS": "exchange.elsewhere:443"},
            }
        ],
    }
    (config,) = [
        m
        for m in render(values)
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "citymesh-peak-tianjian-lake"
    ]
    data = config["data"]
    assert data["CITYMESH_EXCHANGE_ADDRESS"] == "exchange.elsewhere:443"
    assert data["CITYMESH_COLLECTION_ADDRESS"] == "citymesh-collection:50051"
    assert data["CITYMESH_GOVERNANCE_ADDRESS"] == "citymesh-governance:50051"
    assert "CITYMESH_COMPUTE_ADDRESS" not in data
    assert (data["CITYMESH_TENANT"], data["CITYMESH_DISTRICT"]) == ("alibaba-cloud", "gouzhao")
