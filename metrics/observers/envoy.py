"""Flagger's queries over Envoy's cluster statistics, shared by the meshes and gateways whose
data plane is Envoy (App Mesh, Contour, Gloo, Kuma): ``envoy_cluster_upstream_rq`` for the
success rate (non-5xx over all) and its ``_time_bucket`` histogram for the 99th percentile
duration, each selecting the canary's cluster with the mesh's own label matchers.

The texts are Flagger's byte for byte (tabs, newlines and trailing spaces included); only the
matchers differ from mesh to mesh, and whether Flagger ends the matcher list with a comma.
"""

from __future__ import annotations

from collections.abc import Sequence

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["envoy_observer"]

_RATE = "\tsum(\n\t\trate(\n\t\t\tenvoy_cluster_upstream_rq{\n"
_WINDOW = "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n"


def envoy_observer(name: str, matchers: Sequence[str], *, trailing_comma: bool) -> QueryObserver:
    """The observer ``name`` whose queries select the canary's cluster with ``matchers``
    (PromQL label matchers with Flagger's ``{{ target }}``/``{{ namespace }}`` placeholders)."""

    def selector(tabs: str) -> str:
        return ",\n".join(tabs + m for m in matchers) + ("," if trailing_comma else "") + "\n"

    success_rate = (
        f"\n{_RATE}"
        + "".join(f"\t\t\t\t{m},\n" for m in matchers)
        + '\t\t\t\tenvoy_response_code!~"5.*"\n'
        + f"{_WINDOW}\t/ \n{_RATE}"
        + selector("\t\t\t\t")
        + f"{_WINDOW}\t* 100"
    )
    duration = (
        "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
        "\t\t\t\tenvoy_cluster_upstream_rq_time_bucket{\n"
        + selector("\t\t\t\t\t")
        + "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
    )
    return QueryObserver(name, {REQUEST_SUCCESS_RATE: success_rate, REQUEST_DURATION: duration})
