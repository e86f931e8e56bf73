"""A Canary's webhooks: the calls, the documents they send, what each result means, and the
event webhooks.

- :mod:`~flagger.hooks.calls`: one HTTP call the way Flagger makes it;
- :mod:`~flagger.hooks.payloads`: the JSON documents, byte for byte;
- :mod:`~flagger.hooks.outcomes`: what a result means for the analysis, by hook type;
- :mod:`~flagger.hooks.event_hooks`: Flagger's events sent to ``event`` hooks and
  ``-event-webhook``.
"""
