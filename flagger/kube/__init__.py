"""Talking to the Kubernetes API server.

`client.Kube` is a raw-JSON async client (dicts in, dicts out) with kind discovery, bounded
retries, per-request timeouts and a client-side QPS/burst limit. `errors` holds the exception
tree. `informers` keeps watch-fed caches of reduced objects so the rest of the daemon reads from
memory instead of listing on every tick.
"""
