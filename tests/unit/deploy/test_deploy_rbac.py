"""One RBAC table, used by the chart and the kustomize overlays; the manifests never drift.

Matrix: generated files on disk equal :func:`deploy_rbac.generated_files` (rules table, overlay
roles, CRD copies); the chart's ClusterRole for each provider name Flagger users write equals the
table's grants, extra providers add their groups only, an unknown provider fails the render;
provider names map to table keys as Flagger spells them.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from flagger import deploy_rbac
from flagger.playground import charts

DEPLOY = pathlib.Path(__file__).resolve().parents[3] / "deploy"
CHART = DEPLOY / "charts" / "flagger"


def _role(values: dict[str, object]) -> dict[str, object]:
    objects = charts.render(CHART, values, release="flagger", namespace="flagger-system")
    return next(
        o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "flagger"
    )


def test_generated_files_are_up_to_date() -> None:
    crds = (DEPLOY / "crds" / "crds.yaml").read_text()
    for relative, text in deploy_rbac.generated_files(crds).items():
        path = DEPLOY / relative
        assert path.read_text() == text, (
            f"{path} is stale: run python -m flagger.deploy_rbac deploy"
        )


@pytest.mark.parametrize(
    "provider",
    [
        "istio",
        "kubernetes",
        "linkerd",
        "appmesh",
        "appmesh:v1beta2",
        "nginx",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "contour",
        "gloo",
        "kuma",
        "traefik",
        "apisix",
        "osm",
        "smi:v1alpha3",
        "skipper",
    ],
)
def test_the_chart_grants_what_the_table_says(provider: str) -> None:
    assert deploy_rbac.rendered_rules(_role({"meshProvider": provider})) == (
        deploy_rbac.grants([provider])
    )


def test_without_config_tracking_secrets_are_only_read_by_name() -> None:
    """configTracking.enabled=false: -enable-config-tracking=false, and the role keeps only
    `get` on Secrets (secretRefs), nothing on ConfigMaps."""
    values = {"meshProvider": "kubernetes", "configTracking": {"enabled": False}}
    granted = deploy_rbac.rendered_rules(_role(values))
    assert granted == deploy_rbac.grants(["kubernetes"], config_tracking=False)
    assert {g for g in granted if g[2] in ("secrets", "configmaps")} == {("get", "", "secrets")}
    tracking = deploy_rbac.rendered_rules(_role({"meshProvider": "kubernetes"}))
    assert tracking - granted == {
        *(("list", "", r) for r in ("secrets", "configmaps")),
        *(("watch", "", r) for r in ("secrets", "configmaps")),
        *(("create", "", r) for r in ("secrets", "configmaps")),
        *(("update", "", r) for r in ("secrets", "configmaps")),
        ("get", "", "configmaps"),
    }
    objects = charts.render(CHART, values, release="flagger", namespace="flagger-system")
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0].get("args") or []
    command = deployment["spec"]["template"]["spec"]["containers"][0].get("command") or []
    assert "-enable-config-tracking=false" in [*command, *args]


def test_default_provider_is_istio() -> None:
    assert deploy_rbac.rendered_rules(_role({})) == deploy_rbac.grants(["istio"])


def test_extra_providers_add_their_groups_only() -> None:
    grants = deploy_rbac.rendered_rules(
        _role({"meshProvider": "nginx", "rbac": {"extraProviders": ["keda", "nginx"]}})
    )
    assert grants == deploy_rbac.grants(["nginx", "keda"])
    groups = {group for _, group, _ in grants}
    assert "networking.istio.io" not in groups and "keda.sh" in groups


def test_an_unknown_provider_fails_the_render() -> None:
    with pytest.raises(charts.ChartError, match="no RBAC rules for provider"):
        _role({"meshProvider": "nosuchmesh"})
    with pytest.raises(ValueError, match="no RBAC rules for provider"):
        deploy_rbac.provider_key("nosuchmesh")


def test_provider_names_map_like_flaggers_factory() -> None:
    assert deploy_rbac.provider_key("linkerd") == "smi"
    assert deploy_rbac.provider_key("smi:v1alpha3:istio") == "smi"
    assert deploy_rbac.provider_key("appmesh:v1beta2") == "appmesh"
    assert deploy_rbac.provider_key("gatewayapi:v1beta1") == "gatewayapi"


def test_no_rule_grants_wildcards_or_delete() -> None:
    for rule in deploy_rbac.rules_for(deploy_rbac.provider_table()):
        assert "*" not in rule.verbs and "*" not in rule.resource
        assert not {"delete", "deletecollection", "escalate", "bind"} & set(rule.verbs)


@pytest.mark.parametrize("overlay", sorted(deploy_rbac.OVERLAYS))
def test_overlay_roles_match_the_table(overlay: str) -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kustomize" / overlay / "rbac.yaml").read_text()))
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    namespace, _, providers = deploy_rbac.OVERLAYS[overlay]
    assert deploy_rbac.rendered_rules(role) == deploy_rbac.grants(providers)
    assert binding["subjects"][0]["namespace"] == namespace
