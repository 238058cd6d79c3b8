"""The chart runs the commands and sets the CITYMESH_* variables the code really has: each one a
field of the service's settings class, every required field set, every value one the class
accepts."""

from __future__ import annotations

import importlib
import os

import pytest
from pydantic import ValidationError

from citymesh import cli
from citymesh.runtime.settings import ServiceSettings
from tests.chart.render import CASES, Manifest, Rendered, pod_spec, rendered
from tests.chart.test_manifests import settings_of

PENDING = {"peak"}
"""Services the default install does not run: peak (one per entry of `peaks:`, none by default).
Checked like the others wherever values list peaks."""

SERVEABLE = {**cli.SERVICES, **cli.PROCESSES}
"""Every `citymesh serve` command: the services and the worker processes."""


@pytest.fixture(params=list(CASES))
def chart(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param)


def settings_class(service: str) -> type[ServiceSettings] | None:
    if service not in SERVEABLE:
        return None
    cls: type[ServiceSettings] = importlib.import_module(SERVEABLE[service]).Settings
    return cls


def service_of(workload: Manifest) -> str:
    args = pod_spec(workload)["containers"][0]["args"]
    assert args[:1] == ["serve"], f"{workload['metadata']['name']} runs {args}"
    assert len(args) == 2, f"{workload['metadata']['name']} runs {args}"
    service: str = args[1]
    return service


def citymesh_env(chart: Rendered, workload: Manifest) -> dict[str, str]:
    return {k: v for k, v in settings_of(chart, workload).items() if k.startswith("CITYMESH_")}


def test_every_service_the_chart_runs_is_a_citymesh_serve_command(chart: Rendered) -> None:
    for workload in chart.workloads():
        service = service_of(workload)
        args = cli.parser().parse_args(["serve", service])
        assert args.service == service


def test_the_default_install_runs_every_service_that_exists() -> None:
    services = {service_of(w) for w in rendered("default").workloads()}
    assert services == set(SERVEABLE) - PENDING


def test_every_citymesh_variable_is_a_setting_of_its_service(chart: Rendered) -> None:
    checked = 0
    for workload in chart.workloads():
        cls = settings_class(service_of(workload))
        if cls is None:
            assert service_of(workload) in PENDING, f"{workload['metadata']['name']}: unknown service"
            continue
        fields = {f"CITYMESH_{name.upper()}" for name in cls.model_fields}
        unknown = set(citymesh_env(chart, workload)) - fields
        assert not unknown, (
            f"{workload['metadata']['name']} sets {sorted(unknown)}, which {cls.__module__} does not read"
        )
        checked += 1
    assert checked >= 2


def test_every_required_setting_is_set(chart: Rendered) -> None:
    for workload in chart.workloads():
        cls = settings_class(service_of(workload))
        if cls is None:
            continue
        env = citymesh_env(chart, workload)
        for name, info in cls.model_fields.items():
            if info.is_required():
                assert f"CITYMESH_{name.upper()}" in env, (
                    f"{workload['metadata']['name']} lacks CITYMESH_{name.upper()}"
                )


def test_the_settings_class_accepts_every_value(chart: Rendered, monkeypatch: pytest.MonkeyPatch) -> None:
    for workload in chart.workloads():
        cls = settings_class(service_of(workload))
        if cls is None:
            continue
        with monkeypatch.context() as env:
            for key in [k for k in os.environ if k.startswith("CITYMESH_")]:
                env.delenv(key)
            for key, value in citymesh_env(chart, workload).items():
                env.setenv(key, value.replace("$(NATS_PASSWORD)", "secret"))
            try:
                settings = cls()
            except ValidationError as exc:
                pytest.fail(f"{workload['metadata']['name']}: {exc}")
        assert settings.listen.startswith("[::]:")


def test_peaks_get_their_tenant_and_district() -> None:
    for workload in rendered("edge").workloads():
        env = citymesh_env(rendered("edge"), workload)
        if service_of(workload) == "peak":
            assert env["CITYMESH_TENANT"]
            assert env["CITYMESH_DISTRICT"]
        else:
            assert "CITYMESH_TENANT" not in env
            assert "CITYMESH_DISTRICT" not in env
