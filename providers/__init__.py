"""Built-in routers: one module per routing provider (installed as ``flagger.providers``).

Each router module is its own plugin (entry point ``flagger`` → ``istio``, ``kubernetes``, ...).
This package module is a plugin too (entry point ``routers``): it declares the routing provider
names Flagger accepts whose router has not landed yet, with ``implemented=False``, so Canaries
written for Flagger validate here; ``flagger plugins`` says so and
the daemon reports it on the Canary instead of silently falling back to another mesh.
"""

from __future__ import annotations

from flagger import plugins

#: Every ``spec.provider`` value Flagger accepts (``reference/flagger.md`` §1).
FLAGGER_ROUTERS = (
    "apisix",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
    "gloo",
    "istio",
    "knative",
    "kubernetes",
    "kuma",
    "linkerd",
    "nginx",
    "osm",
    "skipper",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "traefik",
)

#: Routers implemented in their own module, which is its own entry point and declares itself.
IMPLEMENTED: frozenset[str] = frozenset(
    {
        "istio",
        "kubernetes",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "linkerd",
        "smi:v1alpha1",
        "smi:v1alpha2",
        "smi:v1alpha3",
        "osm",
        "kuma",
        "appmesh",
        "appmesh:v1beta2",
        "contour",
        "gloo",
        "traefik",
        "apisix",
        "nginx",
        "skipper",
        "knative",
    }
)


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """Declare the built-in routing providers that have no router module yet."""
    return [
        plugins.Provided(plugins.Kind.ROUTER, n, False)
        for n in FLAGGER_ROUTERS
        if n not in IMPLEMENTED
    ]
