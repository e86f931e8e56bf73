"""Built-in metrics for the ``osm`` provider (Flagger's ``OsmObserver``).

Open Service Mesh publishes ``osm_request_total`` and the ``osm_request_duration_ms``
histogram labelled with the destination's namespace, kind and name:

- ``request-success-rate``: non-5xx responses of the target Deployment over all, x100;
- ``request-duration``: P99 of ``osm_request_duration_ms_bucket``, in milliseconds.

The texts below are Flagger's (``pkg/metrics/observers/osm.go``) byte for byte, including their
mix of spaces and tabs (Prometheus receives them with whitespace collapsed).
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["OSM", "PROVIDERS"]

#: The routing providers this observer serves.
PROVIDERS = ("osm",)

_SUCCESS_RATE = (
    "\n    sum(\n        rate(\n            osm_request_total{\n"
    '\t\t\t\tdestination_namespace="{{ namespace }}",\n'
    '\t\t\t\tdestination_kind="Deployment",\n'
    '\t\t\t\tdestination_name="{{ target }}",\n'
    '\t\t\t\tresponse_code!~"5.*"\n'
    "            }[{{ interval }}]\n        )\n    )\n    /\n"
    "    sum(\n        rate(\n            osm_request_total{\n"
    '\t\t\t\tdestination_namespace="{{ namespace }}",\n'
    '\t\t\t\tdestination_kind="Deployment",\n'
    '\t\t\t\tdestination_name="{{ target }}"\n'
    "            }[{{ interval }}]\n        )\n    )\n\t* 100"
)
_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t  rate(\n"
    "\t\t\tosm_request_duration_ms_bucket{\n"
    '\t\t\t\tdestination_namespace="{{ namespace }}",\n'
    '\t\t\t\tdestination_kind="Deployment",\n'
    '\t\t\t\tdestination_name="{{ target }}"\n'
    "\t\t\t}[{{ interval }}]\n\t\t  )\n\t\t) by (le)\n\t)"
)

#: The OSM observer; ``request-duration`` answers in milliseconds.
OSM = QueryObserver("osm", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION})
