"""Container probes, run against the pod's own address.

A :class:`Probe` is parsed from a container's ``readinessProbe``, ``livenessProbe`` or
``startupProbe``:

- ``httpGet`` (path, port number or named container port, scheme, headers): passes on a status
  from 200 to 399, as the kubelet's does;
- ``tcpSocket`` and ``grpc``: pass when a connection opens;
- ``exec``: nothing runs inside an image here, so the health checks that charts actually write
  are read for what they check: ``podcli check http localhost:9898/readyz`` (podinfo's chart),
  ``wget``/``curl`` of a URL (the loadtester's chart) and ``podcli check tcp host:port`` become
  HTTP or TCP checks; ``localhost`` means the pod's own address. Any other command passes.

The timings (``initialDelaySeconds``, ``periodSeconds``, ``timeoutSeconds``,
``successThreshold``, ``failureThreshold``) keep the Kubernetes defaults.
"""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import aiohttp

__all__ = ["Probe", "check", "parse"]

Kind = Literal["http", "tcp", "pass"]
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "")


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe: what to check and how often."""

    kind: Kind
    port: int = 0
    path: str = "/"
    scheme: str = "http"
    host: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    def describe(self) -> str:
        """A short text for logs and events (``HTTP GET :9898/readyz``)."""
        if self.kind == "http":
            return f"{self.scheme.upper()} GET :{self.port}{self.path}"
        if self.kind == "tcp":
            return f"TCP :{self.port}"
        return "exec (not run; passes)"


def _port(value: Any, container: Mapping[str, Any]) -> int:
    """A port number, or the number of a named container port (0 when unknown)."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port.get("containerPort", 0))
    return 0


def _from_url(url: str) -> dict[str, Any]:
    if "://" not in url:
        url = "http://" + url
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    default = 443 if parsed.scheme == "https" else 80
    return {
        "kind": "http",
        "scheme": parsed.scheme or "http",
        "host": parsed.hostname or "",
        "port": parsed.port or default,
        "path": path,
    }


def _from_exec(command: Sequence[str]) -> dict[str, Any]:
    """The HTTP or TCP check that a well-known health-check command performs."""
    words = [str(word) for word in command]
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if program == "podcli" and len(words) >= 4 and words[1] == "check":
        if words[2] in ("http", "https"):
            return _from_url(f"{words[2]}://{words[3]}")
        if words[2] == "tcp":
            host, _, port = words[3].rpartition(":")
            return {"kind": "tcp", "host": host, "port": int(port) if port.isdigit() else 0}
    if program in ("wget", "curl"):
        urls = [word for word in words[1:] if "://" in word]
        if urls:
            return _from_url(urls[-1])
    return {"kind": "pass"}


def parse(spec: Mapping[str, Any] | None, container: Mapping[str, Any]) -> Probe | None:
    """The probe described by ``spec`` (a container's ``*Probe`` field); None when absent."""
    if not spec:
        return None
    found: dict[str, Any]
    if "httpGet" in spec:
        get = spec["httpGet"]
        found = {
            "kind": "http",
            "port": _port(get.get("port"), container),
            "path": str(get.get("path") or "/"),
            "scheme": str(get.get("scheme") or "HTTP").lower(),
            "host": str(get.get("host") or ""),
            "headers": tuple(
                (str(h["name"]), str(h["value"])) for h in get.get("httpHeaders") or []
            ),
        }
    elif "tcpSocket" in spec:
        found = {
            "kind": "tcp",
            "port": _port(spec["tcpSocket"].get("port"), container),
            "host": str(spec["tcpSocket"].get("host") or ""),
        }
    elif "grpc" in spec:
        found = {"kind": "tcp", "port": _port(spec["grpc"].get("port"), container)}
    elif "exec" in spec:
        found = _from_exec(spec["exec"].get("command") or [])
    else:
        found = {"kind": "pass"}
    return Probe(
        **found,
        initial_delay=float(spec.get("initialDelaySeconds") or 0),
        period=float(spec.get("periodSeconds") or 10),
        timeout=float(spec.get("timeoutSeconds") or 1),
        success_threshold=int(spec.get("successThreshold") or 1),
        failure_threshold=int(spec.get("failureThreshold") or 3),
    )


async def check(probe: Probe, pod_ip: str, session: aiohttp.ClientSession) -> tuple[bool, str]:
    """Run the probe once against the pod; (passed, what happened)."""
    host = pod_ip if probe.host in _LOCAL_HOSTS else probe.host
    try:
        if probe.kind == "http":
            url = f"{probe.scheme}://{host}:{probe.port}{probe.path}"
            async with session.get(
                url,
                headers=dict(probe.headers),
                ssl=False,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=probe.timeout),
            ) as answer:
                await answer.read()
                passed = 200 <= answer.status < 400
                return (
                    passed,
                    "" if passed else f"HTTP probe failed with statuscode: {answer.status}",
                )
        if probe.kind == "tcp":
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, probe.port), probe.timeout
            )
            writer.close()
            return True, ""
        return True, ""
    except (OSError, TimeoutError, aiohttp.ClientError) as error:
        return False, f"{probe.describe()} failed: {type(error).__name__} {error}".strip()
