"""``make bench``: the daemon (and, when available, Flagger (Go)) under N canaries.

N Deployments (pods made Ready by kwok) and N Canaries (kubernetes provider, blue/green, a
webhook to a local receiver) on a local control plane with an audit log; each operator runs alone
on fresh namespaces, as a ServiceAccount of its own, so every API request it makes is counted from
the audit log. ``python -m bench --help`` lists the knobs; the figures are printed as a table.
"""
