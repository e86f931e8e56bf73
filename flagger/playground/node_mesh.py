"""How a pod's processes reach the mesh proxy as themselves.

On a cluster, a pod's sidecar knows whose traffic it carries, and cluster DNS resolves a bare
``svc`` in the pod's own namespace. Here every process shares the machine's loopback and talks
to one proxy, so the node agent tells the proxy who is calling:

- :func:`identified_proxy_env` puts the pod's ``namespace:name`` into the user-info of the
  ``HTTP_PROXY``/``http_proxy`` URLs it hands out; clients send it as ``Proxy-Authorization``,
  and the proxy resolves names in that namespace and matches ``sourceLabels`` on that pod;
- :func:`write_shims` puts commands in front of the pods' ``PATH`` for tools that ignore
  ``HTTP_PROXY``: Debian's ``hey`` only takes a proxy through ``-x``, so its shim adds
  ``-x "$HTTP_PROXY"`` unless the caller gave one (the loadtester runs ``hey`` as Flagger's e2e
  scripts write it: ``hey -z 1m -q 10 -c 2 http://podinfo-canary:9898/``).
"""

from __future__ import annotations

import pathlib
import shlex
import shutil
import urllib.parse
from collections.abc import Mapping

__all__ = ["PROXY_VARIABLES", "identified_proxy_env", "write_shims"]

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy")


def identified_proxy_env(env: Mapping[str, str], namespace: str, pod: str) -> dict[str, str]:
    """``env`` with the pod's identity in each proxy URL that carries none."""
    out = dict(env)
    for name in PROXY_VARIABLES:
        value = env.get(name)
        if not value:
            continue
        parts = urllib.parse.urlsplit(value)
        if parts.username or not parts.hostname:
            continue
        user = f"{urllib.parse.quote(namespace, safe='')}:{urllib.parse.quote(pod, safe='')}"
        out[name] = urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc}"))
    return out


_HEY_SHIM = """#!/bin/sh
# hey ignores HTTP_PROXY: go through the playground's mesh proxy unless -x was given.
for arg in "$@"; do [ "$arg" = "-x" ] && exec {hey} "$@"; done
if [ -n "$HTTP_PROXY" ]; then exec {hey} -x "$HTTP_PROXY" "$@"; fi
exec {hey} "$@"
"""


def write_shims(directory: pathlib.Path) -> list[str]:
    """Write the shims into ``directory`` (for the tools found on this machine); their names."""
    written = []
    hey = shutil.which("hey")
    if hey:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "hey"
        path.write_text(_HEY_SHIM.format(hey=shlex.quote(hey)))
        path.chmod(0o755)
        written.append("hey")
    return written
