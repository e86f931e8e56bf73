"""Built-in notifiers and the loadtester (installed as ``flagger.webhooks``).

- :mod:`flagger.webhooks.notifiers`: one module per AlertProvider type (Slack, MS Teams, ...),
  each its own plugin (entry point ``flagger`` → ``notify-slack``, ...) registering its type;
- :mod:`flagger.webhooks.loadtester`: Flagger's load testing webhook service
  (``flagger-loadtester``).

The webhook calls a Canary makes are core: :mod:`flagger.hooks`.
"""
