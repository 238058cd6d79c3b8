"""The chart renders, with real Helm, objects Kubernetes accepts and that hold what the platform
needs: for the default, production, edge and both example installs."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.render import (
    CASES,
    CHART,
    Manifest,
    Rendered,
    pod_spec,
    render,
    render_raw,
    rendered,
    selector_matches,
)

KUBERNETES = ["1.30.0", "1.37.0"]
"""The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas."""

SCALED_OBJECT = json.loads(
    (Path(__file__).parent / "schemas" / "scaledobject-keda-v1alpha1.json").read_text(encoding="utf-8")
)
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.fixture(params=list(CASES))
def chart(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param)


def validate(manifest: Manifest, version: str) -> None:
    if manifest["apiVersion"] == "keda.sh/v1alpha1":
        jsonschema.validate(manifest, SCALED_OBJECT)
    else:
        kubernetes_validate.validate(manifest, version, strict=True)


def describe(m: Manifest) -> str:
    return f"{m['kind']} {m['metadata']['name']}"


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(chart: Rendered, version: str) -> None:
    for manifest in chart.manifests:
        try:
            validate(manifest, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            path = "/".join(map(str, exc.absolute_path))
            pytest.fail(f"{chart.name}: {describe(manifest)} is invalid at {path}: {exc.message}")


def test_the_strict_validation_refuses_an_unknown_field() -> None:
    deployment = copy.deepcopy(next(rendered("default").workloads()))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES[0], strict=True)


def test_names_and_labels_fit_kubernetes_limits(chart: Rendered) -> None:
    names: set[tuple[str, str]] = set()
    for m in chart.manifests:
        name = m["metadata"]["name"]
        assert (m["kind"], name) not in names, f"{describe(m)} is rendered twice"
        names.add((m["kind"], name))
        assert DNS_LABEL.match(name), f"{describe(m)}: not a DNS label"
        assert len(name) <= 63, f"{describe(m)}: name longer than a DNS label"
        if m["kind"] == "StatefulSet":
            # Its pods carry controller-revision-hash=<name>-<10 characters>, a label value.
            assert len(name) <= 52, f"{describe(m)}: name too long for a StatefulSet"
        labels = dict(m["metadata"].get("labels", {}))
        if m["kind"] in ("Deployment", "StatefulSet"):
            labels |= m["spec"]["template"]["metadata"]["labels"]
        for key, value in labels.items():
            assert LABEL_VALUE.match(value), f"{describe(m)}: label {key}={value!r}"
            assert len(value) <= 63, f"{describe(m)}: label {key} too long"
        assert labels.get("app.kubernetes.io/instance") == chart.release, describe(m)
        assert labels.get("app.kubernetes.io/part-of") == "citymesh", describe(m)


def test_each_peak_gets_its_deployment_and_service(chart: Rendered) -> None:
    peaks = chart.values.get("peaks", [])
    if chart.name in ("edge", "one-node", "three-node"):
        assert peaks, f"the {chart.name} values list peaks"
    for peak in peaks:
        name = f"{chart.fullname()}-peak-{peak['name']}"
        deployment = chart.get("Deployment", name)
        container = pod_spec(deployment)["containers"][0]
        assert container["args"] == ["serve", "peak"]
        settings = chart.get("ConfigMap", name)["data"]
        assert settings["CITYMESH_TENANT"] == peak["tenant"]
        assert settings["CITYMESH_DISTRICT"] == peak["district"]
        service = chart.get("Service", name)
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(service["spec"]["selector"], pods)
        selected = [
            w["metadata"]["name"]
            for w in chart.workloads()
            if selector_matches(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert selected == [name], f"the Service of peak {peak['name']} selects {selected}"
        assert service["spec"]["ports"][0]["port"] == container["ports"][0]["containerPort"]
    peak_deployments = [w for w in chart.workloads() if w["metadata"]["labels"]["citymesh.io/role"] == "peak"]
    assert len(peak_deployments) == len(peaks)


def test_every_pod_has_grpc_probes_on_its_grpc_port(chart: Rendered) -> None:
    for workload in chart.workloads():
        for container in pod_spec(workload)["containers"]:
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"] == {"port": port}, f"{describe(workload)} {probe}"
            listen = next(e["value"] for e in container["env"] if e["name"] == "CITYMESH_LISTEN")
            assert listen == f"[::]:{port}"


def test_every_pod_meets_pod_security_restricted(chart: Rendered) -> None:
    allowed_volumes = {"configMap", "downwardAPI", "emptyDir", "persistentVolumeClaim", "projected", "secret"}
    for workload in chart.workloads():
        spec = pod_spec(workload)
        what = describe(workload)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, what
        assert pod["runAsUser"] > 0, what
        assert pod["runAsGroup"] > 0, what
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", what
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host), what
        for volume in spec["volumes"]:
            kinds = set(volume) - {"name"}
            assert kinds <= allowed_volumes, f"{what}: volume {volume['name']} is {kinds}"
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, what
            assert sc["readOnlyRootFilesystem"] is True, what
            assert sc.get("privileged", False) is False, what
            assert sc["capabilities"]["drop"] == ["ALL"], what
            assert not sc["capabilities"].get("add"), what
            assert sc.get("runAsUser", 1) != 0, what
            assert sc["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost"), what
            assert all("hostPort" not in p for p in container["ports"]), what
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            tmp = next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
            assert "emptyDir" in tmp, f"{what}: /tmp is not an emptyDir"


def settings_of(chart: Rendered, workload: Manifest) -> dict[str, str]:
    """The environment the chart gives the workload's container: its ConfigMap, then env."""
    container = pod_spec(workload)["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= chart.get("ConfigMap", source["configMapRef"]["name"])["data"]
    for var in container["env"]:
        env[var["name"]] = var.get("value", "<from " + ",".join(var.get("valueFrom", {})) + ">")
    return env


def test_pods_outlive_the_services_grace_period(chart: Rendered) -> None:
    for workload in chart.workloads():
        grace = float(settings_of(chart, workload).get("CITYMESH_GRACE_S", "10"))
        termination = pod_spec(workload)["terminationGracePeriodSeconds"]
        assert termination > math.ceil(grace) + 5, (
            f"{describe(workload)}: {termination} s for a {grace} s grace"
        )


def test_every_container_has_requests_and_limits(chart: Rendered) -> None:
    for workload in chart.workloads():
        for container in pod_spec(workload)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), describe(workload)
            assert "memory" in resources["limits"], describe(workload)


def test_exchange_keeps_its_duckdb_on_its_volume(chart: Rendered) -> None:
    exchange = chart.get("StatefulSet", f"{chart.fullname()}-exchange")
    db_path = settings_of(chart, exchange)["CITYMESH_DB_PATH"]
    container = pod_spec(exchange)["containers"][0]
    data = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert db_path.startswith(data["mountPath"].rstrip("/") + "/")
    claims = [t["metadata"]["name"] for t in exchange["spec"].get("volumeClaimTemplates", [])]
    persistent = (
        chart.values.get("components", {}).get("exchange", {}).get("persistence", {}).get("enabled", True)
    )
    if persistent:
        assert claims == ["data"]
    else:
        assert claims == []
        assert any(v["name"] == "data" and "emptyDir" in v for v in pod_spec(exchange)["volumes"])
    headless = chart.get("Service", exchange["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"


def test_selectors_match_their_pods(chart: Rendered) -> None:
    workloads = {(w["kind"], w["metadata"]["name"]): w for w in chart.workloads()}
    for (_, name), w in workloads.items():
        assert selector_matches(
            w["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]
        )
        assert pod_spec(w)["serviceAccountName"] == name
        chart.get("ServiceAccount", name)
    for service in chart.of_kind("Service"):
        selected = [
            n
            for (_, n), w in workloads.items()
            if selector_matches(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, f"Service {service['metadata']['name']} selects {selected}"
    for pdb in chart.of_kind("PodDisruptionBudget"):
        selected = [
            n
            for (_, n), w in workloads.items()
            if selector_matches(
                pdb["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]
            )
        ]
        assert selected == [pdb["metadata"]["name"]]
    for scaler in chart.of_kind("HorizontalPodAutoscaler") + chart.of_kind("ScaledObject"):
        target = scaler["spec"]["scaleTargetRef"]
        workload = workloads[(target["kind"], target["name"])]
        assert "replicas" not in workload["spec"], f"{describe(workload)} is autoscaled but sets replicas"
    targets = [
        (s["spec"]["scaleTargetRef"]["kind"], s["spec"]["scaleTargetRef"]["name"])
        for s in chart.of_kind("HorizontalPodAutoscaler") + chart.of_kind("ScaledObject")
    ]
    assert len(targets) == len(set(targets)), "two autoscalers drive one workload"


def test_only_the_compute_executor_may_touch_the_kubernetes_api(chart: Rendered) -> None:
    assert not chart.of_kind("ClusterRole")
    assert not chart.of_kind("ClusterRoleBinding")
    for role in chart.of_kind("Role"):
        assert role["rules"] == [
            {
                "apiGroups": ["batch"],
                "resources": ["jobs"],
                "verbs": ["create", "get", "list", "watch", "delete"],
            }
        ]
    bound = {b["subjects"][0]["name"] for b in chart.of_kind("RoleBinding")}
    for workload in chart.workloads():
        name = workload["metadata"]["name"]
        token = pod_spec(workload)["automountServiceAccountToken"]
        assert token is (name in bound), f"{describe(workload)} mounts a token: {token}"
        assert chart.get("ServiceAccount", name)["automountServiceAccountToken"] is False


def test_compute_runs_its_api_and_its_workers_apart_scaled_by_keda() -> None:
    chart = rendered("edge")
    api = chart.get("Deployment", "city-edge-2026-citymesh-compute-api")
    workers = chart.get("Deployment", "city-edge-2026-citymesh-compute-worker")
    assert pod_spec(api)["containers"][0]["args"] == ["serve", "compute"]
    assert pod_spec(workers)["containers"][0]["args"] == ["serve", "compute-worker"]
    chart.get("Service", "city-edge-2026-citymesh-compute-api")
    assert not [s for s in chart.of_kind("Service") if s["metadata"]["name"].endswith("compute-worker")]
    (scaled,) = chart.of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": workers["metadata"]["name"],
    }
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"nats-jetstream"}
    assert {t["metadata"]["stream"] for t in triggers} == {"JOBS"}
    assert sorted(t["metadata"]["consumer"] for t in triggers) == sorted(
        f"jobs-{tenant}-{priority}"
        for tenant in ["alibaba-cloud", "huawei"]
        for priority in ["high", "normal", "low"]
    )
    (binding,) = chart.of_kind("RoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": workers["metadata"]["name"], "namespace": "city"}
    ]


def test_nats_comes_with_the_release_or_from_outside(chart: Rendered) -> None:
    nats_enabled = chart.values.get("nats", {}).get("enabled", True)
    for workload in chart.workloads():
        url = settings_of(chart, workload)["CITYMESH_NATS_URL"]
        users = set(re.findall(r"://([^:@/]+):\$\(NATS_PASSWORD\)@", url))
        auth = chart.values.get("natsAuth", {}).get("enabled", False)
        if auth:
            assert len(users) == 1, url
        else:
            assert "@" not in url
        if nats_enabled:
            assert url.endswith(f"{chart.release}-nats.city.svc:4222"), url
        else:
            hosts = [re.sub(r"^\w+://([^@]*@)?", "", u.strip()) for u in url.split(",")]
            wanted = [
                re.sub(r"^\w+://", "", u.strip()) for u in chart.values["externalNats"]["url"].split(",")
            ]
            assert hosts == wanted
        replicas = settings_of(chart, workload)["CITYMESH_STREAM_REPLICAS"]
        assert replicas == str(chart.values.get("streamReplicas", 1))


@pytest.mark.parametrize("case", list(CASES))
def test_helm_lint_finds_nothing_but_the_unfetched_nats_chart(case: str) -> None:
    report = helm.lint(CHART, rendered(case).values, strict=True, kube_version="v1.30.0")
    problems = [
        m["error"]
        for m in report["messages"]
        if m["severity"] >= 2 and "missing these dependencies: nats" not in m["error"]
    ]
    assert not problems


@pytest.mark.parametrize("case", ["default", "edge", "production"])
def test_with_tokens_every_pod_verifies_them_and_only_governance_signs(case: str) -> None:
    chart = rendered(case)
    for workload in chart.workloads():
        env = {e["name"]: e for e in pod_spec(workload)["containers"][0]["env"]}
        public = env["CITYMESH_AUTH_PUBLIC_KEY"]["valueFrom"]["secretKeyRef"]
        assert (public["name"], public["key"]) == ("citymesh-auth", "public-key")
        governs = pod_spec(workload)["containers"][0]["args"] == ["serve", "governance"]
        assert ("CITYMESH_SIGNING_KEY" in env) is governs, workload["metadata"]["name"]
        own = env["CITYMESH_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert (own["name"], own["key"], own["optional"]) == ("citymesh-auth", "service-token", True)
        assert "CITYMESH_AUTH_DEV_HEADERS" not in env
        assert "CITYMESH_AUTH_DEV_HEADERS" not in settings_of(chart, workload)


def test_without_tokens_every_pod_runs_in_development_mode_and_the_notes_warn() -> None:
    values = {"auth": {"enabled": False}}
    chart = Rendered("no-auth", "citymesh", values, render(values))
    for workload in chart.workloads():
        env = {e["name"]: e for e in pod_spec(workload)["containers"][0]["env"]}
        assert env["CITYMESH_AUTH_DEV_HEADERS"]["value"] == "true"
        assert not {"CITYMESH_AUTH_PUBLIC_KEY", "CITYMESH_SIGNING_KEY", "CITYMESH_TOKEN"} & set(env)
    notes = next(text for path, text in render_raw(values).items() if path.endswith("NOTES.txt"))
    assert "WARNING: auth.enabled=false" in notes
    assert "citymesh token sign" in next(
        text for path, text in render_raw({}).items() if path.endswith("NOTES.txt")
    )


def test_governance_is_given_computes_address_only_when_compute_is_installed() -> None:
    chart = rendered("default")
    (governance,) = [w for w in chart.workloads() if w["metadata"]["name"] == "citymesh-governance"]
    assert settings_of(chart, governance)["CITYMESH_COMPUTE_ADDRESS"] == "citymesh-compute-api:50051"
    off = render({"components": {"compute-api": {"enabled": False}, "compute-worker": {"enabled": False}}})
    (config,) = [
        m for m in off if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "citymesh-governance"
    ]
    assert "CITYMESH_COMPUTE_ADDRESS" not in config["data"]
