"""What travels with the chart holds together: the image, skaffold.yaml, the OpenTelemetry
collector's configuration, the example values."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from typing import Any

import yaml

from tests.chart.render import CHART, ROOT, layered, load_values, render

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuations joined, comments dropped)."""
    out: list[tuple[str, str]] = []
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_is_multi_stage_on_a_pinned_slim_python_311() -> None:
    steps = instructions()
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    stages = [rest for word, rest in steps if word == "FROM"]
    assert len(stages) >= 2
    assert all(s.startswith("${PYTHON_IMAGE}") for s in stages)
    assert any(word == "COPY" and rest.startswith("--from=build") for word, rest in steps)


def test_the_image_runs_citymesh_as_the_charts_non_root_user() -> None:
    steps = instructions()
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    (user,) = [rest for word, rest in final if word == "USER"]
    uid, _, gid = user.partition(":")
    security = load_values(CHART / "values.yaml")["podSecurity"]
    assert (int(uid), int(gid)) == (security["runAsUser"], security["runAsGroup"])
    assert ("ENTRYPOINT", '["citymesh"]') in final
    assert not any(word == "RUN" and "pip install" in rest for word, rest in final), (
        "tools belong in the build stage"
    )


def test_the_build_context_holds_what_pip_install_needs_and_no_more() -> None:
    rules = [
        r
        for r in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if r and not r.startswith("#")
    ]
    assert rules[0] == "*"
    included = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = {
        p
        for word, rest in instructions()
        if word == "COPY" and not rest.startswith("--")
        for p in rest.split()[:-1]
    }
    for path in copied:
        assert any(path == i or path.startswith(i + "/") for i in included), (
            f"COPY {path} is outside the context"
        )
    assert {"pyproject.toml", "constraints.txt", "README.md", "services"} <= included


def test_the_package_carries_every_data_file_the_services_read() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["citymesh"]
    package = ROOT / "services" / "citymesh"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert "city/districts.geojson" in data
    missing = [d for d in data if not any(fnmatch.fnmatch(d, pat.replace("**/", "*")) for pat in patterns)]
    assert not missing, (
        f"`pip install .` (the image) would lack {missing}: add them to package-data in pyproject.toml"
    )


def skaffold() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "skaffold.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_skaffold_builds_the_image_the_chart_runs_and_forwards_real_services() -> None:
    config = skaffold()
    assert config["apiVersion"].startswith("skaffold/v4")
    (artifact,) = config["build"]["artifacts"]
    assert artifact["docker"]["dockerfile"] == "Dockerfile"
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"] / "Chart.yaml").exists()
    name = artifact["image"]
    assert release["setValueTemplates"] == {
        "image.repository": f"{{{{.IMAGE_REPO_{name}}}}}",
        "image.tag": f"{{{{.IMAGE_TAG_{name}}}}}",
    }
    assert load_values(CHART / "values.yaml")["image"]["repository"] == name
    profiles = {p["name"]: p for p in config["profiles"]}
    assert set(profiles) == {"dev", "prod"}
    values = layered(*(load_values(ROOT / f) for f in release["valuesFiles"]))
    objects = render(values, release["name"])
    services = {m["metadata"]["name"]: m for m in objects if m["kind"] == "Service"}
    services[f"{release['name']}-nats"] = {"spec": {"ports": [{"port": 4222}]}}  # the NATS chart's
    for forward in profiles["dev"]["portForward"]:
        assert forward["namespace"] == release["namespace"]
        service = services[forward["resourceName"]]
        assert forward["port"] in [p["port"] for p in service["spec"]["ports"]]
    local_ports = [f["localPort"] for f in profiles["dev"]["portForward"]]
    assert len(local_ports) == len(set(local_ports))
    (patch,) = profiles["prod"]["patches"]
    assert patch["path"] == "/deploy/helm/releases/0/valuesFiles"
    for path in patch["value"] + release["valuesFiles"]:
        assert (ROOT / path).is_file(), path


def test_the_collector_pipelines_use_only_components_it_defines() -> None:
    values = load_values(ROOT / "infra" / "otel-collector" / "values.yaml")
    config = values["config"]
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"pipeline {name} uses undefined {kind[:-1]} {component}"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert pipelines["traces"]["receivers"] == ["otlp"]
    assert pipelines["metrics"]["receivers"] == ["otlp"]


def test_the_chart_names_the_nats_dependency_it_configures() -> None:
    chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    (nats,) = chart_yaml["dependencies"]
    assert nats["name"] == "nats"
    assert nats["condition"] == "nats.enabled"
    assert nats["repository"] == "https://nats-io.github.io/k8s/helm/charts/"
    assert chart_yaml["kubeVersion"] == ">=1.30.0-0"
    values = load_values(CHART / "values.yaml")["nats"]
    jetstream = values["config"]["jetstream"]
    assert jetstream["enabled"]
    assert jetstream["fileStore"]["enabled"]
    assert jetstream["fileStore"]["pvc"]["enabled"]
    assert jetstream["merge"]["sync_interval"] == "always"
    production = load_values(CHART / "values-production.yaml")
    assert production["nats"]["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert production["streamReplicas"] == 3


def test_the_docs_walk_through_install_upgrade_peaks_scaling_and_observing() -> None:
    text = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    for heading in ("## Install", "## Upgrade", "## Add a peak", "## Scale", "## Observe"):
        assert heading in text
    for path in re.findall(r"`((?:infra|charts)/[^`\s]+\.yaml)`", text):
        assert (ROOT / path).is_file(), f"docs/kubernetes.md names {path}, which does not exist"


def test_every_file_a_values_comment_names_exists() -> None:
    for path in [*CHART.glob("values*.yaml"), *(ROOT / "infra").rglob("*.yaml")]:
        for named in re.findall(r"(?:infra|charts)/[\w./-]+\.ya?ml", path.read_text(encoding="utf-8")):
            assert (ROOT / named).is_file(), f"{path.relative_to(ROOT)} names {named}"
