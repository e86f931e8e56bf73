"""A Canary's alerts: who gets them, their text, and their delivery.

- :mod:`~flagger.alerting.notifications`: routing alerts to AlertProviders (or the global
  notifier) with Flagger's fields;
- :mod:`~flagger.alerting.templates`: the message templates an AlertProvider may carry;
- :mod:`~flagger.alerting.delivery`: the alert handed to notifiers, the HTTP post and the
  delivery queue.

The notifiers themselves (Slack, MS Teams, ...) are plugins: :mod:`flagger.webhooks.notifiers`.
"""
