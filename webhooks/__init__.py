"""Built-in notifiers and the loadtester (installed as ``flagger.webhooks``).

- :mod:`flagger.webhooks.notifiers`: one module per AlertProvider type (Slack, MS Teams, ...);
- :mod:`flagger.webhooks.loadtester`: Flagger's load testing webhook service
  (``flagger-loadtester``).

The webhook calls a Canary makes are core: :mod:`flagger.hooks`. This package module is a plugin
(entry point ``flagger`` → ``notifiers``) declaring every AlertProvider ``spec.type`` Flagger has.
Types whose notifier has not landed yet are declared with ``implemented=False`` so that manifests
using them validate.
"""

from __future__ import annotations

from flagger import plugins

#: Every AlertProvider type Flagger has (``reference/flagger.md`` §2).
FLAGGER_NOTIFIERS = ("discord", "gchat", "msteams", "rocket", "slack")

#: Notifiers whose implementation is installed in :mod:`flagger.webhooks.notifiers` (each module
#: is its own entry point).
IMPLEMENTED: frozenset[str] = frozenset(FLAGGER_NOTIFIERS)


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """Declare the built-in alert provider types."""
    return [plugins.Provided(plugins.Kind.NOTIFIER, n, n in IMPLEMENTED) for n in FLAGGER_NOTIFIERS]
