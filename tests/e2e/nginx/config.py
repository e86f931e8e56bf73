"""Render Ingresses into an nginx configuration the way ingress-nginx routes them (pure).

Only what the NGINX router's objects need is covered: for each rule host and path of a main
Ingress, a ``location`` proxying to the Service's address. A canary Ingress (annotation
``<prefix>/canary: "true"``) for the same host and path adds, as ingress-nginx does:

- ``canary-by-header``: the request header ``always`` → canary, ``never`` → main; with
  ``canary-by-header-value`` the header equal to that value → canary, with
  ``canary-by-header-pattern`` the header matching that regex → canary;
- ``canary-by-cookie``: the cookie ``always`` → canary, ``never`` → main;
- otherwise ``canary-weight`` percent of requests → canary, by upstream weights (smooth weighted
  round robin, so 1,000 requests split exactly in one worker process).

Header beats cookie beats weight. Every request is logged as one JSON line with the labels of
``nginx_ingress_controller_requests``: the main Ingress's namespace, name and Service, and
``canary`` set to the canary upstream's name (``<namespace>-<service>-<port>``) when the canary
served it, empty otherwise. Responses carry ``X-Config-Generation`` so a caller can tell when a
reload is in effect.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DEFAULT_PREFIX = "nginx.ingress.kubernetes.io"
GENERATION_HEADER = "X-Config-Generation"


@dataclasses.dataclass(frozen=True)
class Canary:
    """The canary settings of one location."""

    service: str
    port: int
    weight: int = 0
    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""


@dataclasses.dataclass(frozen=True)
class Location:
    """One host and path of a main Ingress, and its canary if any."""

    namespace: str
    ingress: str
    host: str
    path: str
    path_type: str
    service: str
    port: int
    canary: Canary | None = None


def _backend(path: Mapping[str, Any]) -> tuple[str, int] | None:
    service = (path.get("backend") or {}).get("service")
    if not service:
        return None
    port = service.get("port") or {}
    return str(service["name"]), int(port.get("number") or 80)


def _paths(ingress: Mapping[str, Any]) -> Iterable[tuple[str, str, str, str, int]]:
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            found = _backend(path)
            if found is not None:
                yield (
                    str(rule.get("host") or ""),
                    str(path.get("path") or "/"),
                    str(path.get("pathType") or "Prefix"),
                    *found,
                )


def is_canary(ingress: Mapping[str, Any], prefix: str = DEFAULT_PREFIX) -> bool:
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    return annotations.get(f"{prefix}/canary") == "true"


def locations(
    ingresses: Sequence[Mapping[str, Any]], prefix: str = DEFAULT_PREFIX
) -> list[Location]:
    """The locations of the main Ingresses, each with the canary routing for it."""
    canaries: dict[tuple[str, str, str], Canary] = {}
    for ingress in ingresses:
        if not is_canary(ingress, prefix):
            continue
        meta = ingress.get("metadata") or {}
        notes = meta.get("annotations") or {}
        for host, path, _, service, port in _paths(ingress):
            try:
                weight = int(notes.get(f"{prefix}/canary-weight") or 0)
            except ValueError:
                weight = 0
            canaries[(str(meta.get("namespace")), host, path)] = Canary(
                service,
                port,
                max(0, min(100, weight)),
                notes.get(f"{prefix}/canary-by-header", ""),
                notes.get(f"{prefix}/canary-by-header-value", ""),
                notes.get(f"{prefix}/canary-by-header-pattern", ""),
                notes.get(f"{prefix}/canary-by-cookie", ""),
            )
    found: list[Location] = []
    for ingress in ingresses:
        if is_canary(ingress, prefix):
            continue
        meta = ingress.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        for host, path, path_type, service, port in _paths(ingress):
            found.append(
                Location(
                    namespace,
                    str(meta.get("name")),
                    host,
                    path,
                    path_type,
                    service,
                    port,
                    canaries.get((namespace, host, path)),
                )
            )
    return sorted(found, key=lambda x: (x.host, x.path, x.namespace, x.ingress))


def _variable(header: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", header.lower())


def _quote(value: str) -> str:
    return json.dumps(value)


def render(
    found: Sequence[Location],
    addresses: Mapping[str, str],
    *,
    port: int,
    workdir: str,
    generation: int,
) -> str:
    """The whole ``nginx.conf``; ``addresses`` maps ``namespace/service`` to ``host:port``."""
    http: list[str] = []
    servers: dict[str, list[str]] = {}
    for index, location in enumerate(found):
        where = f"{location.namespace}/{location.service}"
        main = addresses.get(where)
        if main is None:
            continue
        name = f"l{index}"
        http.append(f"upstream {name}_main {{ server {main}; }}")
        body = [
            f"set $fl_namespace {_quote(location.namespace)};",
            f"set $fl_ingress {_quote(location.ingress)};",
            f"set $fl_service {_quote(location.service)};",
            f"set $fl_path {_quote(location.path)};",
            f"set $fl_main {_quote(main)};",
        ]
        canary = location.canary
        target = f"{name}_main"
        canary_address = (
            addresses.get(f"{location.namespace}/{canary.service}") if canary is not None else None
        )
        if canary is not None and canary_address is not None:
            label = f"{location.namespace}-{canary.service}-{canary.port}"
            http.append(f"upstream {name}_canary {{ server {canary_address}; }}")
            if canary.weight >= 100:
                split = [f"server {canary_address};"]
            elif canary.weight <= 0:
                split = [f"server {main};"]
            else:
                split = [
                    f"server {main} weight={100 - canary.weight};",
                    f"server {canary_address} weight={canary.weight};",
                ]
            http.append(f"upstream {name}_split {{ {' '.join(split)} }}")
            header_rules: list[str] = []
            if canary.header:
                if canary.header_value:
                    header_rules.append(f"{_quote(canary.header_value)} canary;")
                elif canary.header_pattern:
                    header_rules.append(f"{_quote('~' + canary.header_pattern)} canary;")
                else:
                    header_rules += ['"always" canary;', '"never" main;']
            header_var = f"$http_{_variable(canary.header)}" if canary.header else "$host"
            http.append(f'map {header_var} $fl_h_{name} {{ default ""; {" ".join(header_rules)} }}')
            cookie_var = f"$cookie_{_variable(canary.cookie)}" if canary.cookie else "$host"
            cookie_rules = '"always" canary; "never" main;' if canary.cookie else ""
            http.append(f'map {cookie_var} $fl_c_{name} {{ default ""; {cookie_rules} }}')
            http.append(
                f'map "$fl_h_{name}|$fl_c_{name}" $fl_u_{name} {{ default {name}_split; '
                f'"~^canary\\|" {name}_canary; "~^main\\|" {name}_main; '
                f'"~^\\|canary$" {name}_canary; "~^\\|main$" {name}_main; }}'
            )
            body.append(f"set $fl_canary_address {_quote(canary_address)};")
            body.append(f"set $fl_canary_label {_quote(label)};")
            target = f"$fl_u_{name}"
        else:
            body.append('set $fl_canary_address "";')
            body.append('set $fl_canary_label "";')
        body.append(f"proxy_pass http://{target};")
        match = f"= {location.path}" if location.path_type == "Exact" else location.path
        servers.setdefault(location.host, []).append(f"location {match} {{ {' '.join(body)} }}")
    lines = [
        "worker_processes 1;",
        "daemon on;",
        f"pid {workdir}/nginx.pid;",
        f"error_log {workdir}/error.log warn;",
        "events { worker_connections 1024; }",
        "http {",
        f"  client_body_temp_path {workdir}/client_body;",
        f"  proxy_temp_path {workdir}/proxy;",
        f"  fastcgi_temp_path {workdir}/fastcgi;",
        f"  uwsgi_temp_path {workdir}/uwsgi;",
        f"  scgi_temp_path {workdir}/scgi;",
        "  map_hash_bucket_size 128;",
        "  server_names_hash_bucket_size 128;",
        # The canary label: set only when the canary's address served the request.
        '  map "$upstream_addr|$fl_canary_address" $fl_canary {',
        '    default "";',
        '    "~^([^|]+)\\|\\1$" $fl_canary_label;',
        "  }",
        '  log_format flagger escape=json \'{"namespace":"$fl_namespace",'
        '"ingress":"$fl_ingress","service":"$fl_service","canary":"$fl_canary",'
        '"status":"$status","method":"$request_method","path":"$fl_path",'
        '"host":"$host","upstream_addr":"$upstream_addr",'
        '"upstream_response_time":"$upstream_response_time",'
        '"request_time":"$request_time"}\';',
        f"  access_log {workdir}/access.log flagger;",
        "  proxy_http_version 1.1;",
        '  proxy_set_header Connection "";',
        *(f"  {line}" for line in http),
        "  server {",
        f"    listen 127.0.0.1:{port} default_server;",
        "    server_name _;",
        f"    add_header {GENERATION_HEADER} {generation} always;",
        # Declares the variables the log format and the maps use, for any configuration.
        '    location / { set $fl_namespace ""; set $fl_ingress ""; set $fl_service ""; '
        'set $fl_path ""; set $fl_main ""; set $fl_canary_address ""; '
        'set $fl_canary_label ""; return 404; }',
        "  }",
    ]
    for host, body_lines in sorted(servers.items()):
        lines += [
            "  server {",
            f"    listen 127.0.0.1:{port};",
            f"    server_name {host or '_'};",
            f"    add_header {GENERATION_HEADER} {generation} always;",
            *(f"    {line}" for line in body_lines),
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"
