"""``flagger-loadtester``, Flagger's load testing webhook service (installed as
``flagger.webhooks.loadtester``).

- :mod:`~flagger.webhooks.loadtester.app`: the HTTP endpoints, the flags and ``main``;
- :mod:`~flagger.webhooks.loadtester.tasks`: what it runs;
- :mod:`~flagger.webhooks.loadtester.gates`: the gates and where they are kept;
- :mod:`~flagger.webhooks.loadtester.access`: who may ask for what.
"""
