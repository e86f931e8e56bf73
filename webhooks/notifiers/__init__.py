"""Built-in notifiers: one module per AlertProvider type (installed as
``flagger.webhooks.notifiers``); each module is its own entry point."""
