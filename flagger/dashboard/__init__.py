"""The web dashboard: canaries, their weight and metrics over time, events, and actions.

:mod:`~flagger.dashboard.server` (the HTTP app and its JSON API), :mod:`~flagger.dashboard.history`
(weights and metric values over time), ``static/`` (the page, its script, its style: every asset
ships in the package, nothing is loaded from elsewhere, so the page works on an air-gapped
cluster).
"""
