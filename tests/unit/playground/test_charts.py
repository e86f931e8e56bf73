"""The podinfo and loadtester charts, rendered offline with the Helm SDK.

Matrix: podinfo with its defaults, as the tutorial installs frontend and backend, with the
canary disabled, another provider, faults, the Istio ingress, the load test through a proxy and
the helm test hook; the loadtester with its defaults and with RBAC. Every rendered Canary must pass
`flagger validate`.
"""

from __future__ import annotations

import base64
import io
import pathlib
import shlex
from typing import Any

import pytest
import yaml

from flagger import validate_command
from flagger.playground import charts
from flagger.webhooks.loadtester import app as loadtester_command

PODINFO = charts.chart_path("podinfo")
LOADTESTER = charts.chart_path("loadtester")

FRONTEND = {
    "nameOverride": "frontend",
    "backend": "http://backend.test:9898/echo",
    "canary": {"loadtest": {"enabled": True}, "helmtest": {"enabled": True}},
}


def podinfo(
    values: dict[str, Any] | None = None, *, release: str = "frontend", tests: bool = False
) -> dict[str, dict[str, Any]]:
    """The rendered objects keyed ``Kind/name``."""
    objects = charts.render(PODINFO, values, release=release, namespace="test", tests=tests)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def container(objects: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    spec = objects[f"Deployment/{name}"]["spec"]["template"]["spec"]
    only: dict[str, Any] = spec["containers"][0]
    return only


def webhook(canary: dict[str, Any], name: str) -> dict[str, Any]:
    hooks = {h["name"]: h for h in canary["spec"]["analysis"].get("webhooks", [])}
    assert name in hooks, f"no webhook {name}; have {sorted(hooks)}"
    found: dict[str, Any] = hooks[name]
    return found


def validate(
    objects: list[dict[str, Any]] | dict[str, dict[str, Any]], tmp_path: pathlib.Path
) -> str:
    """`flagger validate` over the objects; asserts exit 0 and returns its output."""
    items = list(objects.values()) if isinstance(objects, dict) else objects
    path = tmp_path / "rendered.yaml"
    path.write_text("---\n".join(yaml.safe_dump(o) for o in items))
    out, err = io.StringIO(), io.StringIO()
    status = validate_command.run([str(path)], out, err)
    assert status == 0, out.getvalue() + err.getvalue()
    assert "WARNING" not in err.getvalue(), err.getvalue()
    return out.getvalue()


# --- podinfo: defaults -----------------------------------------------------------------------


def test_default_release_renders_the_tutorial_objects_in_install_order() -> None:
    objects = charts.render(PODINFO, release="podinfo", namespace="test")
    assert charts.describe_all(objects) == [
        "ConfigMap test/podinfo",
        "ConfigMap test/podinfo-tests",
        "Deployment test/podinfo",
        "HorizontalPodAutoscaler test/podinfo",
        "Canary test/podinfo",
    ]
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app"] == "podinfo"
        assert labels["release"] == "podinfo"
        assert labels["heritage"] == "Helm"
        assert labels["chart"] == "podinfo-3.1.0"


def test_default_canary_is_istio_with_the_tutorial_analysis(tmp_path: pathlib.Path) -> None:
    objects = podinfo(release="podinfo")
    spec = objects["Canary/podinfo"]["spec"]
    assert spec["provider"] == "istio"
    assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert spec["autoscalerRef"] == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "name": "podinfo",
    }
    assert spec["service"]["port"] == 9898
    assert spec["service"]["trafficPolicy"] == {"tls": {"mode": "DISABLE"}}
    assert "gateways" not in spec["service"]
    analysis = spec["analysis"]
    assert (
        analysis["interval"],
        analysis["threshold"],
        analysis["maxWeight"],
        analysis["stepWeight"],
    ) == ("15s", 10, 50, 5)
    assert analysis["metrics"] == [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
    ]
    assert "webhooks" not in analysis  # load test and helm test are opt-in, as in Flagger's chart
    assert "OK Canary test/podinfo" in validate(objects, tmp_path)


def test_default_deployment_runs_the_podinfo_image_with_its_config_mounted() -> None:
    objects = podinfo(release="podinfo")
    deployment = objects["Deployment/podinfo"]
    assert "replicas" not in deployment["spec"]  # the HPA (and Flagger) own the replica count
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "podinfo"}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo"}
    main = container(objects, "podinfo")
    assert main["image"] == "ghcr.io/stefanprodan/podinfo:3.1.0"
    assert main["command"] == [
        "./podinfo",
        "--port=9898",
        "--level=info",
        "--random-delay=false",
        "--random-error=false",
        "--config-path=/podinfo/config",
    ]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"name": "config", "mountPath": "/podinfo/config", "readOnly": True} in main[
        "volumeMounts"
    ]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": "podinfo"}} in volumes
    assert "http-server-timeout: 30s" in objects["ConfigMap/podinfo"]["data"]["config.yaml"]


def test_hpa_is_autoscaling_v2_with_cpu_and_memory_targets() -> None:
    hpa = podinfo(release="podinfo")["HorizontalPodAutoscaler/podinfo"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "podinfo"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert [m["resource"]["target"] for m in hpa["spec"]["metrics"]] == [
        {"type": "Utilization", "averageUtilization": 80},
        {"type": "AverageValue", "averageValue": "512Mi"},
    ]


# --- podinfo: the tutorial's releases ---------------------------------------------------------


def test_frontend_release_is_named_after_the_release_and_calls_the_backend(
    tmp_path: pathlib.Path,
) -> None:
    objects = podinfo(FRONTEND)
    assert set(objects) == {
        "ConfigMap/frontend",
        "ConfigMap/frontend-tests",
        "Deployment/frontend",
        "HorizontalPodAutoscaler/frontend",
        "Canary/frontend",
    }
    env = {e["name"]: e["value"] for e in container(objects, "frontend")["env"]}
    assert env["PODINFO_BACKEND_URL"] == "http://backend.test:9898/echo"
    validate(objects, tmp_path)


def test_load_test_webhook_runs_hey_against_the_apex_service() -> None:
    canary = podinfo(FRONTEND)["Canary/frontend"]
    hook = webhook(canary, "load-test-get")
    assert hook["type"] == "rollout"
    assert hook["url"] == "http://flagger-loadtester.test/"
    assert hook["metadata"]["type"] == "cmd"
    assert shlex.split(hook["metadata"]["cmd"]) == [
        "hey",
        "-z",
        "1m",
        "-q",
        "5",
        "-c",
        "2",
        "http://frontend.test:9898/",
    ]


def test_load_test_through_a_proxy_passes_it_to_hey(tmp_path: pathlib.Path) -> None:
    values = {
        **FRONTEND,
        "canary": {
            "loadtest": {
                "enabled": True,
                "proxy": "http://127.0.0.1:3128",
                "url": "http://tester.play/",
                "duration": "30s",
                "qps": 20,
                "concurrency": 4,
            }
        },
    }
    objects = podinfo(values)
    hook = webhook(objects["Canary/frontend"], "load-test-get")
    assert hook["url"] == "http://tester.play/"
    assert shlex.split(hook["metadata"]["cmd"]) == [
        "hey",
        "-x",
        "http://127.0.0.1:3128",
        "-z",
        "30s",
        "-q",
        "20",
        "-c",
        "4",
        "http://frontend.test:9898/",
    ]
    validate(objects, tmp_path)


def test_a_bare_host_port_proxy_becomes_a_url_because_hey_needs_one() -> None:
    values = {"canary": {"loadtest": {"enabled": True, "proxy": "127.0.0.1:3128"}}}
    hook = webhook(podinfo(values, release="backend")["Canary/backend-podinfo"], "load-test-get")
    assert shlex.split(hook["metadata"]["cmd"])[:3] == ["hey", "-x", "http://127.0.0.1:3128"]


def test_helm_test_is_a_pre_rollout_hook_running_the_release_tests() -> None:
    hook = webhook(podinfo(FRONTEND)["Canary/frontend"], "helm-test")
    assert hook["type"] == "pre-rollout"
    assert hook["url"] == "http://flagger-helmtester.kube-system/"
    assert hook["metadata"] == {"type": "helmv3", "cmd": "test frontend -n test"}


def test_backend_config_change_changes_only_the_tracked_configmap() -> None:
    before = podinfo({"nameOverride": "backend"}, release="backend")
    after = podinfo(
        {"nameOverride": "backend", "httpServer": {"timeout": "25s"}}, release="backend"
    )
    assert "http-server-timeout: 25s" in after["ConfigMap/backend"]["data"]["config.yaml"]
    assert before["Deployment/backend"] == after["Deployment/backend"]
    assert before["Canary/backend"] == after["Canary/backend"]


def test_istio_ingress_adds_the_gateway_the_mesh_and_the_host(tmp_path: pathlib.Path) -> None:
    values = {
        **FRONTEND,
        "canary": {
            "istioIngress": {
                "enabled": True,
                "gateway": "istio-system/public-gateway",
                "host": "app.example.com",
            }
        },
    }
    objects = podinfo(values)
    service = objects["Canary/frontend"]["spec"]["service"]
    assert service["gateways"] == ["istio-system/public-gateway", "mesh"]
    assert service["hosts"] == ["app.example.com"]
    validate(objects, tmp_path)


# --- podinfo: other settings ------------------------------------------------------------------


def test_canary_disabled_renders_a_plain_service_and_no_canary(tmp_path: pathlib.Path) -> None:
    objects = podinfo({"canary": {"enabled": False}}, release="podinfo")
    assert "Canary/podinfo" not in objects
    service = objects["Service/podinfo"]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 9898, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == {"app": "podinfo"}
    assert "SKIP Service test/podinfo" in validate(objects, tmp_path)


def test_another_provider_drops_istio_only_settings(tmp_path: pathlib.Path) -> None:
    objects = podinfo(
        {"canary": {"provider": "linkerd"}, "hpa": {"enabled": False}}, release="podinfo"
    )
    spec = objects["Canary/podinfo"]["spec"]
    assert spec["provider"] == "linkerd"
    assert "trafficPolicy" not in spec["service"]
    assert "autoscalerRef" not in spec
    assert "HorizontalPodAutoscaler/podinfo" not in objects
    assert objects["Deployment/podinfo"]["spec"]["replicas"] == 1
    validate(objects, tmp_path)


def test_faults_message_and_image_reach_the_container() -> None:
    values = {
        "faults": {"delay": True, "error": True},
        "message": "hello: world",
        "image": {"tag": "3.1.1"},
        "backends": ["http://a:9898", "http://b:9898"],
    }
    main = container(podinfo(values, release="podinfo"), "podinfo")
    assert main["image"] == "ghcr.io/stefanprodan/podinfo:3.1.1"
    assert "--random-delay=true" in main["command"]
    assert "--random-error=true" in main["command"]
    assert main["command"][-2:] == ["--backend-url=http://a:9898", "--backend-url=http://b:9898"]
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["PODINFO_UI_MESSAGE"] == "hello: world"


def test_analysis_and_threshold_values_reach_the_canary(tmp_path: pathlib.Path) -> None:
    values = {
        "canary": {
            "analysis": {"interval": "10s", "threshold": 3, "maxWeight": 30, "stepWeight": 10},
            "thresholds": {"successRate": 95, "latency": 250, "interval": "30s"},
        }
    }
    objects = podinfo(values, release="podinfo")
    analysis = objects["Canary/podinfo"]["spec"]["analysis"]
    assert (
        analysis["interval"],
        analysis["threshold"],
        analysis["maxWeight"],
        analysis["stepWeight"],
    ) == ("10s", 3, 30, 10)
    assert [(m["thresholdRange"], m["interval"]) for m in analysis["metrics"]] == [
        ({"min": 95}, "30s"),
        ({"max": 250}, "30s"),
    ]
    validate(objects, tmp_path)


def test_test_hooks_only_when_asked_and_aimed_at_the_canary() -> None:
    assert "Pod/frontend-tests" not in podinfo(FRONTEND)
    objects = podinfo(FRONTEND, tests=True)
    pod = objects["Pod/frontend-tests"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["volumes"] == [{"name": "tests", "configMap": {"name": "frontend-tests"}}]
    script = objects["ConfigMap/frontend-tests"]["data"]["run.sh"]
    assert "url=http://frontend-canary.test:9898" in script
    plain = podinfo({"canary": {"enabled": False}}, release="podinfo", tests=True)
    assert "url=http://podinfo.test:9898" in plain["ConfigMap/podinfo-tests"]["data"]["run.sh"]


def test_name_overrides_follow_helm_conventions() -> None:
    assert "Deployment/demo-podinfo" in podinfo(release="demo")
    assert "Deployment/web" in podinfo({"fullnameOverride": "web"}, release="demo")
    assert "Deployment/demo-backend" in podinfo({"nameOverride": "backend"}, release="demo")


def test_notes_tell_how_to_watch_the_canary() -> None:
    text = charts.notes(PODINFO, FRONTEND, release="frontend", namespace="test")
    assert "kubectl -n test get canary/frontend -w" in text


def test_a_broken_value_is_a_chart_error() -> None:
    with pytest.raises(charts.ChartError):
        charts.render(PODINFO, {"canary": {"analysis": "not a map"}}, release="x", namespace="test")


def test_a_missing_chart_is_a_chart_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv(charts.CHARTS_ENV, str(tmp_path))
    with pytest.raises(charts.ChartError, match="no chart 'podinfo'"):
        charts.chart_path("podinfo")


# --- loadtester -------------------------------------------------------------------------------


def loadtester(
    values: dict[str, Any] | None = None, release: str = "flagger-loadtester"
) -> dict[str, dict[str, Any]]:
    objects = charts.render(LOADTESTER, values, release=release, namespace="test")
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_loadtester_defaults_match_flaggers_chart() -> None:
    objects = loadtester()
    assert list(objects) == [
        "ServiceAccount/flagger-loadtester",
        "Secret/flagger-loadtester-token",
        "Service/flagger-loadtester",
        "Deployment/flagger-loadtester",
    ]
    service = objects["Service/flagger-loadtester"]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == {"app": "loadtester"}
    deployment = objects["Deployment/flagger-loadtester"]
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["app"] == "loadtester"
    assert pod["spec"]["serviceAccountName"] == "flagger-loadtester"
    main = pod["spec"]["containers"][0]
    assert main["image"] == "ghcr.io/fluxcd/flagger-loadtester:0.38.0"
    assert main["command"] == ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080}]
    # a token by default, from a generated Secret (40 random characters)
    assert main["env"] == [
        {
            "name": "LOADTESTER_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "flagger-loadtester-token", "key": "token"}},
        }
    ]
    token = base64.b64decode(objects["Secret/flagger-loadtester-token"]["data"]["token"])
    assert len(token) == 40 and token.isalnum()
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert deployment["metadata"]["labels"]["app.kubernetes.io/instance"] == "flagger-loadtester"


def test_loadtester_flags_and_rbac() -> None:
    objects = loadtester(
        {
            "cmd": {"timeout": "10m", "namespaceRegexp": "^test$"},
            "extraArgs": ["-allow=hey -z \\S+ http://\\S+"],
            "token": {"existingSecret": "mine"},
            "logLevel": "debug",
            "rbac": {
                "create": True,
                "scope": "cluster",
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            },
        },
        release="tester",
    )
    main = objects["Deployment/tester-loadtester"]["spec"]["template"]["spec"]["containers"][0]
    assert main["command"] == [
        "./loadtester",
        "-port=8080",
        "-log-level=debug",
        "-timeout=10m",
        "-namespace-regexp=^test$",
        "-allow=hey -z \\S+ http://\\S+",
    ]
    assert "Secret/tester-loadtester-token" not in objects
    assert main["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "token"}
    # every argument is a real flag of the loadtester
    loadtester_command.parse_args(main["command"][1:], environ={"LOADTESTER_TOKEN": "x"})
    binding = objects["ClusterRoleBinding/tester-loadtester"]
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tester-loadtester", "namespace": "test"}
    ]
    assert "namespace" not in binding["metadata"]  # cluster-scoped
    assert objects["ClusterRole/tester-loadtester"]["rules"][0]["resources"] == ["pods"]


def test_loadtester_with_an_existing_service_account_creates_none() -> None:
    objects = loadtester({"serviceAccountName": "runner"})
    assert "ServiceAccount/flagger-loadtester" not in objects
    pod = objects["Deployment/flagger-loadtester"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "runner"


# --- both -------------------------------------------------------------------------------------


#: Besides the defaults, each chart is linted with the values that switch its optional parts.
LINT_VALUES: dict[str, dict[str, Any]] = {
    "podinfo": {"canary": {"enabled": False}},
    "loadtester": {"rbac": {"create": True}},
}


@pytest.mark.parametrize("name", ["podinfo", "loadtester"])
def test_helm_lint_finds_no_warning_or_error(name: str) -> None:
    import helm_python

    for values in (None, LINT_VALUES[name]):
        report = helm_python.lint(charts.chart_path(name), values, strict=True, namespace="test")
        serious = [m for m in report["messages"] if m["severity"] >= 2]
        assert (serious, report["errors"]) == ([], []), report
