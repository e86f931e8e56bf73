"""The daemon's command-line flags, named and defaulted as Flagger's.

Flagger is a Go program, so its users write ``-mesh-provider=istio``; ``--mesh-provider istio``
works too. Boolean flags accept ``-flag``, ``-flag=true`` and ``-flag=false``. The notifier flags
also read Flagger's environment variables (``SLACK_URL``, ``MSTEAMS_URL``, ...), which win
over their flags when set, as in Flagger.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence

from flagger.api import durations


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything the daemon is configured with."""

    kubeconfig: str = ""
    master: str = ""
    kubeconfig_qps: float = 100.0
    kubeconfig_burst: int = 250
    kubeconfig_service_mesh: str = ""
    metrics_server: str = "http://prometheus:9090"
    control_loop_interval: float = 10.0
    threadiness: int = 2
    log_level: str = "debug"
    zap_encoding: str = "json"
    zap_replace_globals: bool = False
    port: int = 8080
    slack_url: str = ""
    slack_token: str = ""
    slack_proxy_url: str = ""
    slack_user: str = "flagger"
    slack_channel: str = ""
    msteams_url: str = ""
    msteams_proxy_url: str = ""
    event_webhook: str = ""
    cluster_name: str = ""
    namespace: str = ""
    mesh_provider: str = "istio"
    selector_labels: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")
    include_label_prefix: tuple[str, ...] = ()
    ingress_annotations_prefix: str = "nginx.ingress.kubernetes.io"
    ingress_class: str = ""
    enable_config_tracking: bool = True
    no_cross_namespace_refs: bool = False
    enable_leader_election: bool = False
    leader_election_namespace: str = "kube-system"
    watch_label_selector: str = ""
    dashboard_address: str = ""
    version: bool = False


#: Flag name -> environment variable Flagger reads; a non-empty variable wins over the flag
#: (Go's ``fromEnv(envVar, flagValue)``). Flagger 1.44 reads no SLACK_USER/SLACK_CHANNEL.
ENVIRONMENT = {
    "slack-url": "SLACK_URL",
    "slack-token": "SLACK_TOKEN",
    "slack-proxy-url": "SLACK_PROXY_URL",
    "msteams-url": "MSTEAMS_URL",
    "msteams-proxy-url": "MSTEAMS_PROXY_URL",
    "event-webhook": "EVENT_WEBHOOK_URL",
}

HELP = {
    "kubeconfig": "path to a kubeconfig; empty means in-cluster config",
    "master": "the API server address, overriding the kubeconfig's",
    "kubeconfig-qps": "client-side requests per second to the API server",
    "kubeconfig-burst": "client-side burst of requests to the API server",
    "kubeconfig-service-mesh": (
        "kubeconfig of the cluster running the service mesh; routing objects are written there"
    ),
    "metrics-server": "Prometheus URL for the built-in metrics",
    "control-loop-interval": (
        "ignored, with a warning at start-up: each canary ticks every analysis.interval and "
        "watch events wake it"
    ),
    "threadiness": "ignored, with a warning at start-up: one task runs per canary",
    "log-level": "debug, info, warn or error",
    "zap-encoding": "log encoding (JSON lines whatever the value, kept for compatibility)",
    "zap-replace-globals": "kept for compatibility",
    "port": "port of /metrics, /healthz and /readyz",
    "slack-url": "Slack hook URL used when a Canary has no alerts",
    "slack-token": "Slack bot token",
    "slack-proxy-url": "proxy for Slack",
    "slack-user": "Slack user name",
    "slack-channel": "Slack channel",
    "msteams-url": "MS Teams hook URL used when a Canary has no alerts",
    "msteams-proxy-url": "proxy for MS Teams",
    "event-webhook": "webhook receiving every event (a Canary's event hook replaces it)",
    "cluster-name": "cluster name shown in alerts",
    "namespace": "only watch this namespace (empty: all)",
    "mesh-provider": "default routing provider of Canaries without spec.provider",
    "selector-labels": "comma list of label keys that select a target's pods",
    "include-label-prefix": (
        "comma list of label prefixes copied to the primary ('*' for all; empty copies none)"
    ),
    "ingress-annotations-prefix": "annotation prefix of the NGINX ingress controller",
    "ingress-class": "ingress class of the generated Contour objects",
    "enable-config-tracking": "track ConfigMaps and Secrets of the targets",
    "no-cross-namespace-refs": "refuse references to objects in other namespaces",
    "enable-leader-election": "run with a Lease so that only one replica acts",
    "leader-election-namespace": (
        "namespace of the leader-election Lease (-namespace wins when set)"
    ),
    "watch-label-selector": "only act on Canaries with these labels, e.g. "
    "sharding.fluxcd.io/key=shard1 (one shard per replica; its Lease is per shard)",
    "dashboard-address": "serve the read-only web dashboard on HOST:PORT (empty: off)",
    "version": "print the version and exit",
}


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true", "yes"):
        return True
    if lowered in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _duration(text: str) -> float:
    try:
        return durations.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare every flag on ``parser`` as both ``-flag`` and ``--flag``."""
    defaults = Options()
    for field in dataclasses.fields(Options):
        flag = field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        names = [f"-{flag}", f"--{flag}"]
        shown = ",".join(default) if isinstance(default, tuple) else default
        help_text = f"{HELP[flag]} (default {shown!s})" if shown not in ("", ()) else HELP[flag]
        if isinstance(default, bool):
            parser.add_argument(
                *names,
                dest=field.name,
                type=_bool,
                nargs="?",
                const=True,
                default=None,
                metavar="BOOL",
                help=help_text,
            )
        elif isinstance(default, tuple):
            parser.add_argument(
                *names, dest=field.name, type=_csv, default=None, metavar="LIST", help=help_text
            )
        elif flag == "control-loop-interval":
            parser.add_argument(
                *names,
                dest=field.name,
                type=_duration,
                default=None,
                metavar="DURATION",
                help=help_text,
            )
        else:
            parser.add_argument(
                *names,
                dest=field.name,
                type=type(default),
                default=None,
                metavar=type(default).__name__.upper(),
                help=help_text,
            )


def from_namespace(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Options:
    """Build :class:`Options` from parsed flags; Flagger's environment variables, when set and
    not empty, win over their flags (as Go's ``fromEnv`` does)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in dataclasses.fields(Options):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
        variable = ENVIRONMENT.get(field.name.replace("_", "-"))
        if variable and environ.get(variable):
            values[field.name] = environ[variable]
    return Options(**values)  # type: ignore[arg-type]


def parse(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Options:
    """Parse daemon flags (for tests and embedding)."""
    parser = argparse.ArgumentParser(prog="flagger run", allow_abbrev=False)
    add_arguments(parser)
    return from_namespace(parser.parse_args(list(argv)), environ)
