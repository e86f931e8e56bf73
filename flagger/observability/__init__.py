"""What the daemon tells its operators: logs, Kubernetes events and Prometheus metrics.

- :mod:`~flagger.observability.logs`: JSON-lines logging with Flagger's fields (``ts``,
  ``level``, ``msg``, ``canary``), configured from ``-log-level``.
- :mod:`~flagger.observability.events`: Kubernetes Events on a Canary (reason ``Synced``), mirrored
  to the log and to the event webhooks, without ever failing the caller.
- :mod:`~flagger.observability.metrics`: Flagger's ``flagger_*`` metrics in a registry of their own.
- :mod:`~flagger.observability.server`: the HTTP server on ``-port`` with ``/metrics``,
  ``/healthz`` and ``/readyz``.
"""
