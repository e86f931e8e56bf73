"""Built-in routers: one module per routing provider (installed as ``flagger.providers``).

Each router module is its own plugin (entry point ``flagger`` → ``istio``, ``kubernetes``, ...)
and registers, in its ``flagger_register`` hook, the provider names it serves and the RBAC rules
its objects need. Flagger's routing provider names that no module registers are listed by
``flagger plugins`` as declared but not implemented (``flagger.plugins.FLAGGER_NAMES``), so
Canaries written for Flagger validate here, and the daemon reports the missing router on the
Canary instead of silently falling back to another mesh.
"""
