"""The daemon's RBAC, as one table: what it does to which resources, per routing provider.

The ClusterRole shipped in ``deploy/kustomize`` and rendered by ``deploy/charts/flagger`` is built
from this table and nothing else, so a permission is added in one place and a test
(``tests/unit/deploy``) fails when the manifests drift from it. The integration test
``tests/integration/deploy/test_least_privilege.py`` runs the daemon as its ServiceAccount and
compares the API server's audit log with :func:`grants`: a rule never exercised, or a request
denied, fails it.

Flagger's own ClusterRole grants every verb on every provider's API group. Here a role holds the
``core`` rules (Canaries, workloads, tracked ConfigMaps/Secrets, HPAs, Services, events, the
leader-election Lease) plus the rules of the enabled providers only, with the verbs the code
uses: routers read, create and update their objects (owner references let Kubernetes' garbage
collector delete them, so no ``delete``); workloads are patched; the Canary's status is replaced.
A provider's rules are registered by its router module (``registry.rules`` in its
``flagger_register`` hook, :mod:`flagger.plugins`); this module only adds the core's.

Secrets: the core rules only ``get`` them (the ``secretRef`` of MetricTemplates and
AlertProviders). Config tracking (:data:`CONFIG_TRACKING`, on by default as in Flagger) adds
``list``/``watch`` on Secrets and ConfigMaps (the targets' configs are watched; only checksums
are kept) and ``create``/``update`` (their ``-primary`` copies). ``-enable-config-tracking=false``
(the chart's ``configTracking.enabled: false``) drops those rules: a namespaced install
(``-namespace``) bound by a RoleBinding limits what remains to one namespace.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from flagger import plugins, watch_caches
from flagger.workloads import kinds

__all__ = [
    "AUTOSCALERS",
    "CONFIG_TRACKING",
    "CORE",
    "OVERLAYS",
    "READ_THROUGH",
    "Grant",
    "Rule",
    "cluster_role",
    "cluster_role_binding",
    "generated_files",
    "grants",
    "provider_key",
    "provider_table",
    "rendered_rules",
    "rules_for",
    "table_document",
]

#: One permission: a verb on a resource (``name/subresource`` allowed) of an API group.
Grant = plugins.Grant


#: Verbs on one resource of one API group (``""`` is the core group), and why.
Rule = plugins.AccessRule


CORE: tuple[Rule, ...] = (
    Rule(
        "flagger.app",
        "canaries",
        ("get", "list", "watch", "patch"),
        "the informer; patch adds and removes the revertOnDeletion finalizer",
    ),
    Rule("flagger.app", "canaries/status", ("update",), "the Canary's state lives in its status"),
    Rule(
        "flagger.app",
        "metrictemplates",
        ("get", "list", "watch"),
        "analysis.metrics[].templateRef (read from a watch cache)",
    ),
    Rule(
        "flagger.app",
        "alertproviders",
        ("get", "list", "watch"),
        "analysis.alerts[].providerRef (read from a watch cache)",
    ),
    # One rule per target kind of the core role (flagger.workloads.kinds).
    *(Rule(k.group, k.plural, k.verbs, k.why) for k in kinds.RBAC_KINDS),
    Rule(
        "autoscaling",
        "horizontalpodautoscalers",
        ("get", "create", "update"),
        "autoscalerRef: the primary's HPA is a copy of the target's",
    ),
    Rule("", "secrets", ("get",), "MetricTemplate and AlertProvider secretRefs"),
    Rule(
        "",
        "services",
        ("get", "list", "watch", "create", "update"),
        "the apex, -primary and -canary ClusterIP Services (read from a watch cache)",
    ),
    Rule("", "events", ("create", "patch"), "events on the Canaries (repeats are patched)"),
    Rule("coordination.k8s.io", "leases", ("get", "create", "update"), "-enable-leader-election"),
)


#: Grants the daemon uses only on a slow path: when a watch cache lags behind the daemon's own
#: write by more than ``flagger.kube.cache.READ_YOUR_WRITES_SECONDS`` (it then reads through
#: once), or for a reference outside the cached namespace. Idle and healthy runs never use them,
#: so the least-privilege audit does not require them to show up.
#: The kinds are the daemon's watch caches (:data:`flagger.watch_caches.CACHED`); a reference
#: outside the cached namespace (``-namespace``) is read through too.
READ_THROUGH: frozenset[Grant] = frozenset(
    ("get", cached.group, cached.plural) for cached in watch_caches.CACHED
)


#: Rules of config tracking (``-enable-config-tracking``, on by default), on top of :data:`CORE`.
CONFIG_TRACKING: tuple[Rule, ...] = (
    Rule(
        "",
        "configmaps",
        ("get", "list", "watch", "create", "update"),
        "config tracking: the targets' ConfigMaps are watched and copied to <name>-primary",
    ),
    Rule(
        "",
        "secrets",
        ("list", "watch", "create", "update"),
        "config tracking: the targets' Secrets are watched (checksums only) and copied",
    ),
)


#: Rules enabled like a provider's that are no router's: ``autoscalerRef`` of kind ScaledObject.
AUTOSCALERS: Mapping[str, tuple[Rule, ...]] = {
    "keda": plugins.route_rules("keda.sh", "scaledobjects"),
}


@functools.cache
def _registry() -> plugins.Registry:
    return plugins.load().registry


def provider_table(
    package: str | None = None, registry: plugins.Registry | None = None
) -> dict[str, tuple[Rule, ...]]:
    """Rules per provider key (see :func:`provider_key`), on top of :data:`CORE`: what each
    installed router registered (``flagger_register``; only ``package``'s when given), by key,
    then :data:`AUTOSCALERS`. ``registry``: the installed plugins' unless given."""
    registry = registry or _registry()
    table = {
        key: registry.access[key]
        for key in sorted(registry.access)
        if package is None or registry.access_packages[key] == package
    }
    return {**table, **AUTOSCALERS}


def _aliases(registry: plugins.Registry | None = None) -> dict[str, str]:
    return dict(sorted((registry or _registry()).access_aliases.items()))


def provider_key(name: str, registry: plugins.Registry | None = None) -> str:
    """The table key of a provider name as Flagger spells it (``gatewayapi:v1``,
    ``appmesh:v1beta2``, ``linkerd``, ``smi:v1alpha3:istio``, ...); ValueError when unknown."""
    base = name.split(":", 1)[0].strip()
    aliases = _aliases(registry)
    key = aliases.get(base, base)
    table = provider_table(registry=registry)
    if key not in table:
        known = ", ".join(sorted({*table, *aliases}))
        raise ValueError(f"no RBAC rules for provider {name!r}; known: {known}")
    return key


def rules_for(
    providers: Iterable[str],
    config_tracking: bool = True,
    registry: plugins.Registry | None = None,
) -> list[Rule]:
    """:data:`CORE`, :data:`CONFIG_TRACKING` when enabled, and the rules of each provider,
    without duplicates, in table order."""
    rules = list(CORE) + (list(CONFIG_TRACKING) if config_tracking else [])
    table = provider_table(registry=registry)
    for name in providers:
        for rule in table[provider_key(name, registry)]:
            if rule not in rules:
                rules.append(rule)
    return rules


def grants(
    providers: Iterable[str],
    config_tracking: bool = True,
    registry: plugins.Registry | None = None,
) -> set[Grant]:
    """Every (verb, group, resource) a role for ``providers`` allows."""
    return {
        grant for rule in rules_for(providers, config_tracking, registry) for grant in rule.grants()
    }


def _k8s_rules(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    return [
        {"apiGroups": [rule.group], "resources": [rule.resource], "verbs": list(rule.verbs)}
        for rule in rules
    ]


def cluster_role(
    providers: Iterable[str],
    name: str = "flagger",
    labels: Mapping[str, str] | None = None,
    config_tracking: bool = True,
) -> dict[str, Any]:
    """The ClusterRole object for ``providers``."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": _k8s_rules(rules_for(providers, config_tracking)),
    }


def cluster_role_binding(
    namespace: str, name: str = "flagger", service_account: str = "flagger"
) -> dict[str, Any]:
    """The binding of the ClusterRole ``name`` to the ServiceAccount in ``namespace``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def table_document() -> dict[str, Any]:
    """The table as the Helm chart reads it (``files/rbac-rules.yaml``): ``core``,
    ``configTracking``, one list of Kubernetes rules per provider key, plus the aliases."""
    builtin = provider_table(plugins.FLAGGER_PACKAGE)
    return {
        "core": _k8s_rules(CORE),
        "configTracking": _k8s_rules(CONFIG_TRACKING),
        "providers": {key: _k8s_rules(rules) for key, rules in builtin.items()},
        "aliases": {k: v for k, v in _aliases().items() if v in builtin},
    }


def rendered_rules(role: Mapping[str, Any]) -> set[Grant]:
    """Every (verb, group, resource) a rendered ClusterRole grants (for drift tests)."""
    found: set[Grant] = set()
    for rule in role.get("rules") or []:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                found |= {(verb, group, resource) for verb in rule.get("verbs") or []}
    return found


# --- the generated manifests ---------------------------------------------------------------

#: kustomize overlay -> (namespace, -mesh-provider, providers whose rules the role holds)
OVERLAYS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "istio": ("istio-system", "istio", ("istio",)),
    "appmesh": ("appmesh-system", "appmesh:v1beta2", ("appmesh",)),
    "nginx": ("ingress-nginx", "nginx", ("nginx",)),
    "gatewayapi": ("flagger-system", "gatewayapi:v1", ("gatewayapi",)),
    "linkerd": ("linkerd", "linkerd", ("linkerd",)),
    "kubernetes": ("flagger-system", "kubernetes", ("kubernetes",)),
    "apisix": ("apisix", "apisix", ("apisix",)),
    "contour": ("projectcontour", "contour", ("contour",)),
    "kuma": ("kuma-system", "kuma", ("kuma",)),
    "knative": ("flagger-system", "knative", ("knative",)),
}

_HEADER = "# Generated from flagger/deploy_rbac.py (python -m flagger.deploy_rbac); do not edit.\n"


def _yaml(*docs: Mapping[str, Any]) -> str:
    import yaml

    return _HEADER + yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=None)


def generated_files(crds: str) -> dict[str, str]:
    """Every generated file under ``deploy/`` (relative path -> text): the chart's rule table,
    the kustomize base's role (core rules) and binding, each overlay's role patch, and the copies
    of ``crds`` (the text of ``deploy/crds/crds.yaml``) that the chart and the base ship."""
    files = {
        "charts/flagger/files/rbac-rules.yaml": _yaml(table_document()),
        "charts/flagger/crds/crds.yaml": crds,
        "kustomize/base/crds.yaml": crds,
        "kustomize/base/rbac.yaml": _yaml(
            cluster_role(["kubernetes"]), cluster_role_binding("flagger-system")
        ),
    }
    for overlay, (namespace, _, providers) in OVERLAYS.items():
        # The binding is restated: kustomize's namespace does not follow into its subjects.
        files[f"kustomize/{overlay}/rbac.yaml"] = _yaml(
            cluster_role(providers), cluster_role_binding(namespace)
        )
    return files


def main(argv: list[str] | None = None) -> int:
    """Write :func:`generated_files` under the ``deploy/`` directory given (default ./deploy)."""
    import pathlib
    import sys

    args = sys.argv[1:] if argv is None else argv
    deploy = pathlib.Path(args[0] if args else "deploy")
    crds = (deploy / "crds" / "crds.yaml").read_text()
    for relative, text in generated_files(crds).items():
        path = deploy / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
