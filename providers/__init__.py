"""Built-in routers: one module per routing provider (installed as ``flagger.providers``).

This package module is itself a plugin (entry point ``flagger`` → ``routers``): it declares every
routing provider name Flagger accepts, so Canaries written for Flagger validate here. A name whose
router has not landed yet is declared with ``implemented=False``; ``flagger plugins`` says so and
the daemon reports it on the Canary instead of silently falling back to another mesh.
"""

from __future__ import annotations

from flagger import plugins

#: Every ``spec.provider`` value Flagger accepts (``reference/flagger.md`` §1).
FLAGGER_ROUTERS = (
    "apisix", "appmesh", "appmesh:v1beta2", "contour", "gatewayapi:v1", "gatewayapi:v1beta1",
    "gloo", "istio", "knative", "kubernetes", "kuma", "linkerd", "nginx", "osm", "skipper",
    "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "traefik",
)

#: Routers whose implementation is installed in this package.
IMPLEMENTED: frozenset[str] = frozenset()


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """Declare the built-in routing providers."""
    return [plugins.Provided(plugins.Kind.ROUTER, n, n in IMPLEMENTED) for n in FLAGGER_ROUTERS]
