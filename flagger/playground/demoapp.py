"""The playground's demo app: podinfo's HTTP API, served by aiohttp.

Flagger's tutorials deploy ``ghcr.io/stefanprodan/podinfo`` as the ``frontend`` and ``backend``
canaries. The playground has no container runtime, so the node agent runs this module instead, as
a process on the pod's own 127.0.0.N address, with the pod's arguments and environment::

    python -m flagger.playground.demoapp --host=127.0.0.7 --port=9898 --level=info \\
        --backend-url=http://backend:9898/echo --config-path=/tmp/pod-x/podinfo/config

What a user, a load test or Flagger's webhooks can observe is podinfo's:

- **Endpoints and JSON shapes** (podinfo's ``pkg/api/http``): ``GET /`` and ``/api/info`` (runtime
  info; an HTML page with a "ping" button for browsers), ``/version``, ``/echo`` (echoes with 202,
  or forwards the body to every ``--backend-url`` and answers their replies as a JSON array),
  ``/env``, ``/headers``, ``/status/{code}``, ``/delay/{seconds}``, ``/healthz``, ``/readyz`` with
  ``/readyz/enable|disable``, ``/configs`` (the files in ``--config-path``), ``/token`` and
  ``/token/validate`` (HS256 JWTs, used by the chart's tests), ``/store``, ``/panic`` (exit 255) and
  ``/metrics``. Not served: ``/cache``, ``/ws/echo``, ``/chunked``, ``/swagger``.
- **Configuration** as podinfo reads it through viper: a flag given on the command line wins, then
  the environment (``PODINFO_`` plus the flag name upper-cased with ``-`` as ``_``, for example
  ``PODINFO_UI_MESSAGE``), then ``<config-path>/config.yaml``, then podinfo's default. Flags podinfo
  has and this app does not implement (``--grpc-port``, ``--cache-server``, ...) and flags nobody
  knows are accepted and named once in the log, never fatal: real pod specs carry them.
- **Metrics**: ``http_request_duration_seconds`` (histogram, labels ``method``, ``path``,
  ``status``, Go's default buckets) and ``http_requests_total`` (labels ``status``), with podinfo's
  ``path`` label: the route's name or template with every run of non-alphanumerics turned into
  ``_`` (``/`` is ``root``, ``/delay/{wait}`` is ``delay``). Requests matching no route are not
  counted, as in podinfo, whose middleware only runs on matched routes.
- **Shutdown**: on SIGTERM, health and readiness turn to 503, the app keeps serving for a drain
  delay (podinfo's fixed 3 s, skipped at ``--level=debug``; ``--shutdown-delay`` here), then stops
  listening and waits up to ``--server-shutdown-timeout`` for requests in flight; exit status 0.

Beyond podinfo: ``--host`` defaults to 127.0.0.1 (the pod's address), the version comes from
``PODINFO_VERSION`` (the node agent sets it from the image tag; podinfo compiles it in), and
calls to backends honour ``HTTP_PROXY``/``NO_PROXY``, since in the playground every call goes
through the mesh proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import hmac
import html
import json
import logging
import os
import pathlib
import platform
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import prometheus_client
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from flagger.observability import logs

__all__ = [
    "GO_DEFAULT_BUCKETS",
    "DemoApp",
    "Settings",
    "main",
    "parse_settings",
    "serve",
    "url_to_label",
]

log = logs.get_logger(__name__)

#: Prometheus' Go client ``DefBuckets``, which podinfo's histogram uses.
GO_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The exposition format every Prometheus release parses.
_METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DEFAULT_VERSION = "6.0.0"
_DEFAULT_REVISION = "unknown"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- configuration -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """The app's configuration, resolved from flags, environment, config file and defaults."""

    host: str = "127.0.0.1"
    port: int = 9898
    port_metrics: int = 0
    level: str = "info"
    backend_urls: tuple[str, ...] = ()
    config_path: str = ""
    data_path: str = "/data"
    ui_message: str = ""
    ui_color: str = "#34577c"
    ui_logo: str = ""
    random_delay: bool = False
    random_delay_unit: str = "s"
    random_delay_min: int = 0
    random_delay_max: int = 5
    random_error: bool = False
    unhealthy: bool = False
    unready: bool = False
    jwt_secret: str = "please change me"
    http_client_timeout: float = 120.0
    server_shutdown_timeout: float = 5.0
    shutdown_delay: float = 3.0
    hostname: str = ""
    version: str = _DEFAULT_VERSION
    revision: str = _DEFAULT_REVISION

    @property
    def message(self) -> str:
        """``ui-message``, or podinfo's greeting naming the version."""
        return self.ui_message or f"greetings from podinfo v{self.version}"


# Flag name -> kind, for the flags this app implements. Kinds: str, int, bool, list, duration.
_IMPLEMENTED: dict[str, str] = {
    "host": "str",
    "port": "int",
    "port-metrics": "int",
    "level": "str",
    "backend-url": "list",
    "config-path": "str",
    "config": "str",
    "data-path": "str",
    "ui-message": "str",
    "ui-color": "str",
    "ui-logo": "str",
    "random-delay": "bool",
    "random-delay-unit": "str",
    "random-delay-min": "int",
    "random-delay-max": "int",
    "random-error": "bool",
    "unhealthy": "bool",
    "unready": "bool",
    "jwt-secret": "str",
    "http-client-timeout": "duration",
    "server-shutdown-timeout": "duration",
    "http-server-shutdown-timeout": "duration",
    "shutdown-delay": "duration",
}
# podinfo flags accepted and ignored (gRPC, TLS, Redis, tracing, stress, h2c ...).
_ACCEPTED: dict[str, str] = {
    "grpc-port": "str",
    "grpc-service-name": "str",
    "cache-server": "str",
    "secure-port": "str",
    "cert-path": "str",
    "h2c": "bool",
    "ui-path": "str",
    "otel-service-name": "str",
    "stress-cpu": "str",
    "stress-memory": "str",
    "http-server-timeout": "str",
}

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1m30s``, ``500ms``); a bare number is taken as seconds."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"invalid duration {text!r}")
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}")


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flagger.playground.demoapp",
        description="A podinfo-compatible demo app (podinfo's flags; unknown flags are ignored).",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    for name, kind in {**_IMPLEMENTED, **_ACCEPTED}.items():
        dest = name.replace("-", "_")
        if kind == "bool":
            parser.add_argument(f"--{name}", dest=dest, nargs="?", const="true", metavar="BOOL")
        elif kind == "list":
            parser.add_argument(f"--{name}", dest=dest, action="append", metavar="URL")
        else:
            parser.add_argument(f"--{name}", dest=dest, metavar=kind.upper())
    return parser


def _read_config_file(path: pathlib.Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        log.warning("reading the config file failed", file=str(path), error=str(error))
        return {}
    return {str(key): value for key, value in loaded.items()} if isinstance(loaded, dict) else {}


def _convert(kind: str, value: Any, source: str) -> Any:
    """``value`` (a string from a flag or the environment, or a YAML value) as ``kind``."""
    if kind == "list":
        if source == "flag":  # repeatable, each value comma-separated (pflag's StringSlice)
            items = [part for text in value for part in str(text).split(",")]
        elif isinstance(value, list):
            items = [str(item) for item in value]
        else:  # viper's cast.ToStringSlice splits a string on white space
            items = str(value).split()
        return tuple(item.strip() for item in items if item.strip())
    if kind == "bool":
        return value if isinstance(value, bool) else _parse_bool(str(value))
    if kind == "int":
        return int(value)
    if kind == "duration":
        return float(value) if isinstance(value, int | float) else parse_duration(str(value))
    return str(value)


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """The settings for ``argv`` and ``environ``, and the flags given but not implemented.

    Raises :class:`SystemExit` (status 2, with a message on stderr) for a malformed value of an
    implemented flag, as podinfo exits on a bad flag value.
    """
    parser = _argument_parser()
    namespace, unknown = parser.parse_known_args(list(argv))
    given: dict[str, Any] = vars(namespace)
    ignored = list(unknown)
    for name in _ACCEPTED:
        dest = name.replace("-", "_")
        if dest in given:
            ignored.append(f"--{name}={given[dest]}")

    def raw(name: str) -> tuple[Any, str] | None:
        dest = name.replace("-", "_")
        if dest in given:
            return given[dest], "flag"
        env_name = "PODINFO_" + dest.upper()
        if env_name in environ:
            return environ[env_name], "env"
        if name in file_values:
            return file_values[name], "file"
        return None

    file_values: dict[str, Any] = {}
    config_path = raw("config-path")
    config_name = raw("config")
    if config_path is not None and str(config_path[0]):
        name = str(config_name[0]) if config_name is not None else "config.yaml"
        candidate = pathlib.Path(str(config_path[0])) / name
        if candidate.is_file():
            file_values = _read_config_file(candidate)

    values: dict[str, Any] = {}
    for name, kind in _IMPLEMENTED.items():
        found = raw(name)
        if found is None:
            continue
        try:
            values[name] = _convert(kind, found[0], found[1])
        except (TypeError, ValueError) as error:
            parser.error(f"invalid value for --{name} ({found[1]}): {error}")

    level = str(values.get("level", "info")).lower()
    if level not in logs.LEVELS:
        level = "info"
    shutdown_timeout = values.get(
        "server-shutdown-timeout", values.get("http-server-shutdown-timeout", 5.0)
    )
    fields: dict[str, Any] = {
        "level": level,
        "server_shutdown_timeout": shutdown_timeout,
        "shutdown_delay": values.get("shutdown-delay", 0.0 if level == "debug" else 3.0),
        "hostname": environ.get("HOSTNAME") or socket.gethostname(),
        "version": environ.get("PODINFO_VERSION") or _DEFAULT_VERSION,
        "revision": environ.get("PODINFO_REVISION") or _DEFAULT_REVISION,
        "backend_urls": values.get("backend-url", ()),
    }
    for field in dataclasses.fields(Settings):
        name = field.name.replace("_", "-")
        if field.name not in fields and name in values:
            fields[field.name] = values[name]
    return Settings(**fields), ignored


# --- metrics -------------------------------------------------------------------------------------

_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9]+")


def url_to_label(path: str) -> str:
    """podinfo's ``path`` label for a route: ``/api/delay/{wait}`` -> ``api_delay_wait``."""
    result = _INVALID_LABEL_CHARS.sub("_", path).strip("_").lower()
    return result or "root"


class Metrics:
    """podinfo's RED metrics in a registry of their own, plus the process collector."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Seconds spent serving HTTP requests.",
            ["method", "path", "status"],
            buckets=GO_DEFAULT_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "http_requests_total",
            "The total number of HTTP requests.",
            ["status"],
            registry=self.registry,
        )
        prometheus_client.ProcessCollector(registry=self.registry)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        """Record one served request."""
        self.duration.labels(method, path, str(status)).observe(seconds)
        self.requests.labels(str(status)).inc()

    def exposition(self) -> web.Response:
        """The registry in Prometheus' text format."""
        body = prometheus_client.generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": _METRICS_CONTENT_TYPE})


# --- responses -----------------------------------------------------------------------------------


def _json_response(data: Any, status: int = 200, sort_keys: bool = False) -> web.Response:
    """JSON as podinfo writes it: indented by two spaces, ``nosniff``."""
    return web.Response(
        status=status,
        text=json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _error_response(message: str, status: int) -> web.Response:
    return _json_response({"code": status, "message": message}, status=status)


def _raw_headers() -> dict[str, str]:
    """podinfo's headers for raw bodies, so browsers never run them as HTML."""
    return {
        "Content-Type": "application/octet-stream",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    }


def _canonical_header(name: str) -> str:
    """Go's canonical MIME header key: ``x-request-id`` -> ``X-Request-Id``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; background: {color}; color: #fff; text-align: center; }}
main {{ margin: 4em auto; max-width: 40em; }}
button {{ font-size: 1.2em; padding: 0.4em 1.6em; cursor: pointer; }}
pre {{ text-align: left; background: rgba(0, 0, 0, 0.3); padding: 1em; white-space: pre-wrap; }}
</style>
</head>
<body>
<main>
{logo}
<h1>{message}</h1>
<p>podinfo v{version} &middot; {hostname}</p>
<button id="ping" type="button">ping</button>
<pre id="reply"></pre>
</main>
<script>
document.getElementById("ping").addEventListener("click", async () => {{
  const reply = document.getElementById("reply");
  try {{
    const answer = await fetch("/echo", {{
      method: "POST",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{ping: new Date().toISOString(), from: {hostname_js}}}),
    }});
    reply.textContent = answer.status + " " + await answer.text();
  }} catch (error) {{
    reply.textContent = "ping failed: " + error;
  }}
}});
</script>
</body>
</html>
"""


def _wants_html(request: web.Request) -> bool:
    """A browser: ``Accept`` names text/html, or (podinfo's test) a ``Mozilla`` user agent."""
    accept = request.headers.get("Accept", "")
    return "text/html" in accept or request.headers.get("User-Agent", "").startswith("Mozilla")


# --- the app -------------------------------------------------------------------------------------

# Route templates whose podinfo label is not the template's own (named gorilla routes, prefixes).
_PATH_LABELS = {
    "/delay/{wait}": "delay",
    "/status/{code}": "status",
    "/store/{hash}": "store",
    "/echo/{tail}": "echo",
    "/api/echo/{tail}": "api_echo",
}
_TRACING_HEADERS = (
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-ot-span-context",
)
_VALID_HASH = re.compile(r"[a-f0-9]{40}")


@dataclasses.dataclass
class Probes:
    """What ``/healthz`` and ``/readyz`` answer; both turn false on shutdown."""

    healthy: bool = True
    ready: bool = True


class DemoApp:
    """podinfo's HTTP API over :class:`Settings`; :meth:`application` builds the aiohttp app."""

    def __init__(self, settings: Settings, data_path: pathlib.Path | None = None) -> None:
        self.settings = settings
        self.probes = Probes(healthy=not settings.unhealthy, ready=not settings.unready)
        self.metrics = Metrics()
        self.data_path = data_path if data_path is not None else pathlib.Path(settings.data_path)
        #: A temporary directory standing in for ``--data-path``, removed even by ``/panic``.
        self.scratch: tempfile.TemporaryDirectory[str] | None = None
        self._client: aiohttp.ClientSession | None = None

    # application assembly

    def application(self) -> web.Application:
        """The main app: every endpoint, with podinfo's middlewares."""
        middlewares: list[Any] = [self._observe, self._log_request]
        if self.settings.random_delay:
            middlewares.append(self._random_delay)
        if self.settings.random_error:
            middlewares.append(self._random_error)
        app = web.Application(middlewares=middlewares)
        app.cleanup_ctx.append(self._client_session)
        router = app.router
        router.add_get("/metrics", self.metrics_handler)
        router.add_get("/", self.index)
        router.add_get("/version", self.version)
        router.add_route("*", "/echo", self.echo)
        router.add_route("*", "/echo/{tail:.*}", self.echo)
        router.add_get("/env", self.env)
        router.add_post("/env", self.env)
        router.add_get("/headers", self.headers)
        router.add_post("/headers", self.headers)
        router.add_get("/delay/{wait:[0-9]+}", self.delay)
        router.add_get("/healthz", self.healthz)
        router.add_get("/readyz", self.readyz)
        router.add_post("/readyz/enable", self.enable_ready)
        router.add_post("/readyz/disable", self.disable_ready)
        router.add_get("/panic", self.panic)
        for method in ("GET", "POST", "PUT"):
            router.add_route(method, "/status/{code:[0-9]+}", self.status)
        router.add_post("/store", self.store_write)
        router.add_put("/store", self.store_write)
        router.add_get("/store/{hash}", self.store_read)
        router.add_get("/configs", self.configs)
        router.add_post("/token", self.token_generate)
        router.add_get("/token/validate", self.token_validate)
        router.add_post("/token/validate", self.token_validate)
        router.add_get("/api/info", self.info)
        router.add_route("*", "/api/echo", self.echo)
        router.add_route("*", "/api/echo/{tail:.*}", self.echo)
        return app

    def metrics_application(self) -> web.Application:
        """The ``--port-metrics`` app: ``/metrics`` and a plain ``/healthz``, unobserved."""
        app = web.Application()
        app.router.add_get("/metrics", self.metrics_handler)
        app.router.add_get("/healthz", self._plain_ok)
        return app

    async def _client_session(self, app: web.Application) -> Any:
        # trust_env: backend calls go through HTTP_PROXY, the playground's mesh proxy.
        async with aiohttp.ClientSession(trust_env=True) as session:
            self._client = session
            yield
        self._client = None

    # middlewares

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is None:  # no route matched: podinfo's middleware does not run
            return await handler(request)
        canonical = resource.canonical
        label = _PATH_LABELS.get(canonical) or url_to_label(canonical)
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as error:
            self.metrics.observe(request.method, label, error.status, _since(started))
            raise
        except Exception:
            self.metrics.observe(request.method, label, 500, _since(started))
            raise
        self.metrics.observe(request.method, label, response.status, _since(started))
        return response

    @web.middleware
    async def _log_request(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request started",
                proto=f"HTTP/{request.version.major}.{request.version.minor}",
                uri=request.path_qs,
                method=request.method,
                remote=request.remote or "",
                **{"user-agent": request.headers.get("User-Agent", "")},
            )
        return await handler(request)

    @web.middleware
    async def _random_delay(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        low, high = self.settings.random_delay_min, self.settings.random_delay_max
        unit = 0.001 if self.settings.random_delay_unit == "ms" else 1.0
        await asyncio.sleep(random.randint(low, max(low, high - 1)) * unit)
        return await handler(request)

    @web.middleware
    async def _random_error(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if random.randrange(3) == 0:
            log.error("random error occurred", uri=request.path_qs)
            return web.Response(status=random.choice((500, 400, 409)))
        return await handler(request)

    # handlers

    async def index(self, request: web.Request) -> web.Response:
        """``GET /``: the HTML page for browsers, the runtime info for everyone else."""
        if not _wants_html(request):
            return await self.info(request)
        settings = self.settings
        logo = (
            f'<img src="{html.escape(settings.ui_logo)}" alt="logo" height="160">'
            if settings.ui_logo
            else ""
        )
        page = _PAGE.format(
            title=html.escape(settings.hostname),
            color=html.escape(settings.ui_color),
            logo=logo,
            message=html.escape(settings.message),
            version=html.escape(settings.version),
            hostname=html.escape(settings.hostname),
            hostname_js=json.dumps(settings.hostname).replace("<", "\\u003c"),
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def info(self, request: web.Request) -> web.Response:
        """``GET /api/info``: podinfo's ``RuntimeResponse``."""
        settings = self.settings
        return _json_response(
            {
                "hostname": settings.hostname,
                "version": settings.version,
                "revision": settings.revision,
                "color": settings.ui_color,
                "logo": settings.ui_logo,
                "message": settings.message,
                "goos": sys.platform,
                "goarch": platform.machine(),
                "runtime": f"python{platform.python_version()}",
                "num_goroutine": str(threading.active_count() + len(asyncio.all_tasks())),
                "num_cpu": str(os.cpu_count() or 1),
            }
        )

    async def version(self, request: web.Request) -> web.Response:
        """``GET /version``."""
        return _json_response(
            {"commit": self.settings.revision, "version": self.settings.version}, sort_keys=True
        )

    async def echo(self, request: web.Request) -> web.Response:
        """``/echo``: the body back with 202, or the backends' answers as a JSON array."""
        body = await request.read()
        if not self.settings.backend_urls:
            headers = {**_raw_headers(), "X-Color": self.settings.ui_color}
            return web.Response(status=202, body=body, headers=headers)
        results = await asyncio.gather(
            *(self._call_backend(url, body, request) for url in self.settings.backend_urls)
        )
        response = _json_response(list(results))
        response.headers["X-Color"] = self.settings.ui_color
        return response

    async def _call_backend(self, url: str, body: bytes, request: web.Request) -> str:
        headers = {
            name: request.headers[name] for name in _TRACING_HEADERS if request.headers.get(name)
        }
        headers["X-API-Version"] = self.settings.version
        headers["X-API-Revision"] = self.settings.revision
        timeout = aiohttp.ClientTimeout(total=self.settings.http_client_timeout)
        assert self._client is not None, "the client session lives as long as the app"
        try:
            async with self._client.post(url, data=body, headers=headers, timeout=timeout) as reply:
                if reply.status >= 400:
                    log.error("backend call failed", status=reply.status, url=url)
                    return f"backend {url} response status code {reply.status}"
                text = await reply.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            log.error("backend call failed", error=reason, url=url)
            return f"backend {url} call failed {reason}"
        log.debug("payload received from backend", response=text, url=url)
        return text

    async def env(self, request: web.Request) -> web.Response:
        """``/env``: the environment as ``K=V`` strings."""
        return _json_response([f"{key}={value}" for key, value in os.environ.items()])

    async def headers(self, request: web.Request) -> web.Response:
        """``/headers``: the request's headers, Go style (canonical name -> values)."""
        found: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            found.setdefault(_canonical_header(name), []).append(value)
        return _json_response(found, sort_keys=True)

    async def delay(self, request: web.Request) -> web.Response:
        """``GET /delay/{seconds}``: answers after that many seconds."""
        seconds = int(request.match_info["wait"])
        await asyncio.sleep(seconds)
        return _json_response({"delay": seconds})

    async def status(self, request: web.Request) -> web.Response:
        """``/status/{code}``: answers that status code."""
        code = int(request.match_info["code"])
        if not 200 <= code <= 599:
            return _error_response(f"invalid status code {code}", 400)
        if code in (204, 304):
            return web.Response(status=code)
        return _json_response({"status": code}, status=code)

    async def healthz(self, request: web.Request) -> web.Response:
        """``GET /healthz``: 200 until shutdown starts."""
        if self.probes.healthy:
            return _json_response({"status": "OK"})
        return web.Response(status=503)

    async def readyz(self, request: web.Request) -> web.Response:
        """``GET /readyz``: 200 while ready."""
        if self.probes.ready:
            return _json_response({"status": "OK"})
        return web.Response(status=503)

    async def enable_ready(self, request: web.Request) -> web.Response:
        """``POST /readyz/enable``."""
        self.probes.ready = True
        return web.Response(status=202)

    async def disable_ready(self, request: web.Request) -> web.Response:
        """``POST /readyz/disable``."""
        self.probes.ready = False
        return web.Response(status=202)

    async def panic(self, request: web.Request) -> web.Response:
        """``GET /panic``: the process exits with status 255, as podinfo's does."""
        log.log(logging.CRITICAL, "Panic command received")
        logging.shutdown()
        if self.scratch is not None:
            self.scratch.cleanup()
        os._exit(255)

    async def configs(self, request: web.Request) -> web.Response:
        """``GET /configs``: the files in ``--config-path``, name -> content."""
        files: dict[str, str] = {}
        if self.settings.config_path:
            directory = pathlib.Path(self.settings.config_path)
            try:
                entries = sorted(directory.iterdir())
            except OSError:
                entries = []
            for entry in entries:
                # ConfigMap volumes keep their data under ``..data`` and link to it.
                if entry.name.startswith("..") or not entry.is_file():
                    continue
                try:
                    files[entry.name] = entry.read_text(errors="replace")
                except OSError:
                    continue
        return _json_response(files, sort_keys=True)

    async def store_write(self, request: web.Request) -> web.Response:
        """``POST /store``: writes the body to ``<data-path>/<sha1>``; 202 with the hash."""
        body = await request.read()
        digest = hashlib.sha1(body).hexdigest()
        target = self.data_path / digest
        try:
            target.write_bytes(body)
        except OSError as error:
            log.warning("writing file failed", error=str(error), file=str(target))
            return _error_response("writing file failed", 500)
        return _json_response({"hash": digest}, status=202)

    async def store_read(self, request: web.Request) -> web.Response:
        """``GET /store/{hash}``: what was stored under that hash, 202 as podinfo answers."""
        digest = request.match_info["hash"]
        if not _VALID_HASH.fullmatch(digest):
            return _error_response("invalid hash", 400)
        try:
            content = (self.data_path / digest).read_bytes()
        except OSError as error:
            log.warning("reading file failed", error=str(error), file=digest)
            return _error_response("reading file failed", 500)
        return web.Response(status=202, body=content, headers=_raw_headers())

    async def token_generate(self, request: web.Request) -> web.Response:
        """``POST /token``: an HS256 JWT for the posted name, valid for one minute."""
        body = await request.read()
        user = body.decode(errors="replace") if body else "anonymous"
        expires = int(time.time()) + 60
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {"name": user, "exp": expires, "iss": "podinfo"}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(self._sign(f"{header}.{payload}"))
        return _json_response(
            {"token": f"{header}.{payload}.{signature}", "expires_at": _utc(expires)}
        )

    async def token_validate(self, request: web.Request) -> web.Response:
        """``/token/validate``: the token's name and expiry, or 401."""
        parts = request.headers.get("Authorization", "").split(" ")
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return _error_response("authorization bearer header required", 401)
        try:
            header, payload, signature = parts[1].split(".")
            algorithm = json.loads(_unb64(header)).get("alg")
            claims = json.loads(_unb64(payload))
            valid = algorithm == "HS256" and hmac.compare_digest(
                _unb64(signature), self._sign(f"{header}.{payload}")
            )
        except (ValueError, AttributeError):
            return _error_response("token is malformed", 401)
        if not valid or not isinstance(claims, dict):
            return _error_response("signature is invalid", 401)
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires < time.time():
            return _error_response("token is expired", 401)
        if claims.get("iss") != "podinfo":
            return _error_response("invalid issuer", 401)
        return _json_response({"token_name": claims.get("name", ""), "expires_at": _utc(expires)})

    def _sign(self, text: str) -> bytes:
        return hmac.new(self.settings.jwt_secret.encode(), text.encode(), hashlib.sha256).digest()

    async def metrics_handler(self, request: web.Request) -> web.Response:
        """``GET /metrics``."""
        return self.metrics.exposition()

    async def _plain_ok(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")


def _since(started: float) -> float:
    return time.perf_counter() - started


# --- process -------------------------------------------------------------------------------------


def _writable_data_path(
    settings: Settings,
) -> tuple[pathlib.Path, tempfile.TemporaryDirectory[str] | None]:
    """``--data-path`` if it is a writable directory, else a temporary one.

    ``/data`` is podinfo's default and rarely exists outside a container.
    """
    path = pathlib.Path(settings.data_path)
    if path.is_dir() and os.access(path, os.W_OK):
        return path, None
    holder = tempfile.TemporaryDirectory(prefix="podinfo-data-")
    log.info(
        "data path not writable, storing in a temporary directory",
        data_path=settings.data_path,
        using=holder.name,
    )
    return pathlib.Path(holder.name), holder


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then shut down gracefully (see the module docstring)."""
    data_path, holder = _writable_data_path(settings)
    demo = DemoApp(settings, data_path=data_path)
    demo.scratch = holder
    runners: list[web.AppRunner] = []
    try:
        runner = web.AppRunner(
            demo.application(),
            access_log=None,
            shutdown_timeout=settings.server_shutdown_timeout,
        )
        runners.append(runner)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info("Starting HTTP Server.", addr=f"{settings.host}:{settings.port}")
        if settings.port_metrics > 0:
            metrics_runner = web.AppRunner(demo.metrics_application(), access_log=None)
            runners.append(metrics_runner)
            await metrics_runner.setup()
            await web.TCPSite(metrics_runner, settings.host, settings.port_metrics).start()
            log.info("Starting metrics server.", addr=f"{settings.host}:{settings.port_metrics}")
        await stop.wait()
        demo.probes.healthy = demo.probes.ready = False
        log.info(
            "Shutting down HTTP/HTTPS server",
            timeout=settings.server_shutdown_timeout,
            delay=settings.shutdown_delay,
        )
        await asyncio.sleep(settings.shutdown_delay)
    finally:
        for each in reversed(runners):
            await each.cleanup()
        if holder is not None:
            holder.cleanup()
    log.info("HTTP server stopped")


async def _run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo app with podinfo's command line; the exit status."""
    settings, ignored = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
    logs.setup(settings.level)
    # No ``*_created`` series: podinfo's Go client exposes none.
    typing.cast(Callable[[], None], prometheus_client.disable_created_metrics)()
    log.info(
        "Starting podinfo",
        version=settings.version,
        revision=settings.revision,
        port=str(settings.port),
    )
    if ignored:
        log.info("ignoring flags this demo app does not implement", flags=ignored)
    try:
        asyncio.run(_run(settings))
    except OSError as error:
        log.log(logging.CRITICAL, "HTTP server crashed", error=str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
