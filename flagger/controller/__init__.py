"""The daemon's I/O shell around the pure canary state machine (:mod:`flagger.analysis`).

- :mod:`~flagger.controller.answers`: runs the checks a tick asks for (webhooks, metrics).
- :mod:`~flagger.controller.ticking`: one tick of one canary: observe, decide, act, write status.
- :mod:`~flagger.controller.status_writer`: status writes that survive 409 conflicts.
- :mod:`~flagger.controller.scheduling`: one asyncio task per canary, woken by its interval or by
  a change to its target or tracked configs.
- :mod:`~flagger.controller.leader`: leader election on a ``coordination.k8s.io`` Lease.
- :mod:`~flagger.controller.daemon`: wiring it all together for ``flagger run``.
"""
