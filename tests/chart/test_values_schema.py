"""Bad values stop the install with a message that names the key and what is wrong with it:
values.schema.json for shapes, the chart's own checks for what a schema cannot express."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import pytest

from tests.chart.render import CHART, layered, load_values, render_raw

PEAK = {"name": "tianjian-lake", "tenant": "alibaba-cloud", "district": "gouzhao"}

REFUSED_BY_SCHEMA: list[tuple[str, dict[str, Any], list[str]]] = [
    ("stream replicas out of range", {"streamReplicas": 0}, ["/streamReplicas", "minimum"]),
    ("a peak name that is no DNS label", {"peaks": [PEAK | {"name": "Tianjian_Lake"}]}, ["/peaks/0/name"]),
    ("a peak in no sub-district", {"peaks": [PEAK | {"district": "atlantis"}]}, ["/peaks/0/district"]),
    ("a peak without tenant", {"peaks": [{"name": "x", "district": "wutong"}]}, ["/peaks/0", "tenant"]),
    (
        "replicas as words",
        {"components": {"collection": {"replicas": "two"}}},
        ["/components/collection/replicas"],
    ),
    (
        "a chart-owned setting",
        {"components": {"collection": {"settings": {"CITYMESH_NATS_URL": "nats://x:4222"}}}},
        ["/components/collection/settings/CITYMESH_NATS_URL", "the chart sets CITYMESH_NATS_URL"],
    ),
    ("a setting without the prefix", {"settings": {"LOG_LEVEL": "INFO"}}, ["'/settings'", "LOG_LEVEL"]),
    ("an unknown log level", {"settings": {"CITYMESH_LOG_LEVEL": "LOUD"}}, ["/settings/CITYMESH_LOG_LEVEL"]),
    ("a grace of zero", {"settings": {"CITYMESH_GRACE_S": 0}}, ["/settings/CITYMESH_GRACE_S"]),
    (
        "no limits",
        {"components": {"exchange": {"resources": {"limits": None}}}},
        ["/components/exchange/resources", "limits"],
    ),
    (
        "a bad quantity",
        {"components": {"exchange": {"resources": {"requests": {"memory": "lots"}}}}},
        ["memory"],
    ),
    ("no NATS at all", {"nats": {"enabled": False}}, ["/externalNats/url"]),
    (
        "a NATS URL of another scheme",
        {"nats": {"enabled": False}, "externalNats": {"url": "http://nats:4222"}},
        ["/externalNats/url"],
    ),
    (
        "JetStream off",
        {"nats": {"config": {"jetstream": {"enabled": False}}}},
        ["/nats/config/jetstream/enabled"],
    ),
    ("NATS users without their Secret", {"natsAuth": {"enabled": True}}, ["/natsAuth/existingSecret"]),
    (
        "tokens without their keys' Secret",
        {"auth": {"enabled": True, "existingSecret": ""}},
        ["/auth/existingSecret"],
    ),
    ("an unknown pull policy", {"image": {"pullPolicy": "Sometimes"}}, ["/image/pullPolicy"]),
    ("running as root", {"podSecurity": {"runAsUser": 0}}, ["/podSecurity/runAsUser"]),
    (
        "a component without its service",
        {"components": {"sensors": {"enabled": True}}},
        ["/components/sensors", "service"],
    ),
    (
        "device-facing without an API",
        {"components": {"exchange": {"deviceFacing": True, "api": False}}},
        ["/components/exchange/api"],
    ),
    (
        "an HPA of no replicas",
        {"components": {"collection": {"hpa": {"enabled": True, "maxReplicas": 0}}}},
        ["maxReplicas"],
    ),
    ("a misspelt key", {"component": {}}, ["component"]),
    (
        "an unknown key in a component",
        {"components": {"collection": {"replica": 3}}},
        ["/components/collection", "replica"],
    ),
]


@pytest.mark.parametrize(("why", "values", "says"), REFUSED_BY_SCHEMA, ids=[c[0] for c in REFUSED_BY_SCHEMA])
def test_the_schema_refuses_bad_values_with_a_message(
    why: str, values: dict[str, Any], says: list[str]
) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        render_raw(values)
    message = str(refused.value)
    assert "citymesh" in message
    for part in says:
        assert part in message, f"{why}: the message does not say {part!r}:\n{message}"


REFUSED_BY_THE_CHART: list[tuple[str, dict[str, Any], str]] = [
    (
        "more stream replicas than servers",
        {"streamReplicas": 3},
        "streamReplicas is 3 but the NATS chart runs 1 server(s)",
    ),
    (
        "two peaks of one name",
        {"peaks": [PEAK, PEAK | {"tenant": "other"}]},
        "two workloads are named citymesh-peak-tianjian-lake",
    ),
    (
        "both an HPA and KEDA",
        {
            "components": {
                "compute-worker": {
                    "enabled": True,
                    "hpa": {
                        "enabled": True,
                        "minReplicas": 1,
                        "maxReplicas": 2,
                        "targetCPUUtilizationPercentage": 50,
                    },
                    "keda": {"enabled": True},
                }
            }
        },
        "compute-worker enables both hpa and keda",
    ),
    (
        "the DuckDB file off its volume",
        {"components": {"exchange": {"settings": {"CITYMESH_DB_PATH": "/tmp/exchange.duckdb"}}}},
        "exchange keeps CITYMESH_DB_PATH=/tmp/exchange.duckdb outside its volume",
    ),
    (
        "KEDA on an external NATS without its monitoring address",
        {
            "nats": {"enabled": False},
            "externalNats": {"url": "nats://nats.messaging:4222"},
            "components": {"compute-worker": {"enabled": True, "keda": {"enabled": True}}},
        },
        "set its keda.monitoringEndpoint",
    ),
    (
        "an external NATS beside the chart's",
        {"externalNats": {"url": "nats://nats.messaging:4222"}},
        "externalNats.url must stay empty",
    ),
]


@pytest.mark.parametrize(
    ("why", "values", "says"), REFUSED_BY_THE_CHART, ids=[c[0] for c in REFUSED_BY_THE_CHART]
)
def test_the_chart_refuses_inconsistent_values_with_a_message(
    why: str, values: dict[str, Any], says: str
) -> None:
    with pytest.raises(helm.HelmError) as refused:
        render_raw(values)
    assert says in str(refused.value), f"{why}:\n{refused.value}"


def test_the_shipped_values_pass_the_schema() -> None:
    for extra in (CHART / "values-production.yaml", CHART.parents[1] / "infra" / "values" / "one-node.yaml"):
        helm.Chart.load(CHART).validate_schema(
            layered(load_values(CHART / "values.yaml"), load_values(extra))
        )


def test_the_schema_knows_the_common_settings_of_the_code() -> None:
    from citymesh.runtime.settings import ServiceSettings

    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    properties = schema["definitions"]["settings"]["properties"]
    owned = {name for name, rule in properties.items() if "const" in rule}
    typed = set(properties) - owned
    known = {f"CITYMESH_{name.upper()}" for cls in _settings_classes() for name in cls.model_fields}
    assert typed <= known, f"the schema types settings the code lacks: {sorted(typed - known)}"
    assert {f"CITYMESH_{n.upper()}" for n in ("nats_url", "listen", "stream_replicas")} <= owned
    assert set(ServiceSettings.model_fields) >= {"nats_url", "listen", "stream_replicas", "grace_s"}


def _settings_classes() -> list[type[Any]]:
    from citymesh.cli import settings_classes

    return list(settings_classes())


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    import jsonschema

    jsonschema.Draft7Validator.check_schema(
        json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    )
