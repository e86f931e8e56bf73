"""The playground's mesh data plane: an HTTP forward proxy that plays Istio's sidecars.

Every process in the playground sends its HTTP through this proxy (``HTTP_PROXY``; ``hey -x``).
A request arrives in absolute form (``GET http://frontend.test:9898/ HTTP/1.1``, as clients
talk to a proxy) or in origin form with a ``Host`` header, and the proxy does what the caller's
and the callee's sidecars would do together:

1. **Who is calling.** The caller is the pod named by the proxy credentials
   (``HTTP_PROXY=http://<pod IP>@127.0.0.1:<port>`` or ``http://<namespace>:<pod>@...``: clients
   send them as ``Proxy-Authorization``), else the pod whose IP the connection comes from (or
   arrives at). It gives the namespace a bare ``svc`` resolves in (``default`` when unknown), the
   ``sourceLabels`` routes may match, and the ``source_*`` labels.
2. **Resolve** the host as cluster DNS would (``svc``, ``svc.ns``, ``svc.ns.svc``,
   ``svc.ns.svc.cluster.local``, a cluster IP) from watch-fed caches (`mesh_registry`). Hosts
   that are not cluster names (``127.0.0.1:9090``) are forwarded as they are, when they are on
   this machine (loopback); others only with ``allow_external`` (``--allow-external``).
3. **Route** with the mesh VirtualService for that host (`mesh_routing`): matches, weights,
   mirror, header operations, rewrite, retries and timeout; without one, the Service itself.
4. **Forward** to a ready endpoint of the chosen Service (pod IP and target port, round-robin),
   retrying as the policy says, and stream the answer back.
5. **Report** Istio's telemetry (`mesh_telemetry`) on its own ``/metrics`` port.

Answers the proxy makes itself mirror Envoy's: 404 when no route matches (``NR``), 503 when
there is no ready endpoint (``UH``) or the connection fails (``UF``), 504 when the route's
``timeout`` passes (``UT``). ``CONNECT`` (HTTPS tunnelling) is not supported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import dataclasses
import random
import signal
import sys
import time
import uuid
from collections.abc import Sequence

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from flagger.kube import client as kube_client
from flagger.observability import logs
from flagger.playground import mesh_registry, mesh_routing, mesh_telemetry

__all__ = ["MeshProxy", "main"]

log = logs.get_logger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
LOOP_HEADER = "x-mesh-proxy-hops"
MAX_HOPS = 8
RETRY_BACKOFF_SECONDS = 0.025
RETRY_BACKOFF_MAX_SECONDS = 0.25
CONNECT_TIMEOUT_SECONDS = 10.0
MIRROR_TIMEOUT_SECONDS = 30.0
SYNC_TIMEOUT_SECONDS = 60.0
CHUNK_SIZE = 64 * 1024


@dataclasses.dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    authority: str


@dataclasses.dataclass
class _Outcome:
    """The final answer of a forwarded request, for the source report."""

    status: int
    flags: str = "-"


class MeshProxy:
    """The forward proxy and its metrics endpoint, fed by a `Kube` client."""

    def __init__(
        self,
        kube: kube_client.Kube,
        *,
        rng: random.Random | None = None,
        sync_timeout: float = SYNC_TIMEOUT_SECONDS,
        allow_external: bool = False,
    ) -> None:
        """``rng`` makes weighted choices reproducible; ``allow_external`` lets requests for
        hosts outside the cluster and off this machine through."""
        self._allow_external = allow_external
        self.registry = mesh_registry.MeshRegistry(kube)
        self.telemetry = mesh_telemetry.Telemetry()
        self.host = "127.0.0.1"
        self.port = 0
        self.metrics_port = 0
        self._rng = rng or random.Random()
        # Exact splits by default; a seeded ``rng`` asks for Envoy's random picks instead.
        self._balancer = None if rng is not None else mesh_routing.Balancer()
        self._sync_timeout = sync_timeout
        self._session: aiohttp.ClientSession | None = None
        self._runners: list[web.BaseRunner] = []
        self._background: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The proxy's URL, for ``HTTP_PROXY``."""
        return f"http://{self.host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, metrics_port: int = 0) -> None:
        """Fill the caches, then listen (port 0 picks a free port; see `port`)."""
        self.registry.start()
        await self.registry.wait_synced(self._sync_timeout)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS),
        )
        proxy_runner = web.ServerRunner(web.Server(self._handle), access_log=None)
        await proxy_runner.setup()
        self._runners.append(proxy_runner)
        proxy_site = web.TCPSite(proxy_runner, host, port)
        await proxy_site.start()
        self.host, self.port = host, _bound_port(proxy_runner)

        metrics_app = web.Application()
        metrics_app.router.add_get("/metrics", self._metrics)
        metrics_app.router.add_get("/healthz", self._healthz)
        metrics_runner = web.AppRunner(metrics_app, access_log=None)
        await metrics_runner.setup()
        self._runners.append(metrics_runner)
        await web.TCPSite(metrics_runner, host, metrics_port).start()
        self.metrics_port = _bound_port(metrics_runner)
        log.info("Mesh proxy listening", proxy=self.url, metrics=self.metrics_url)

    async def stop(self) -> None:
        """Stop listening, cancel mirrored copies in flight and stop watching."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.registry.stop()

    async def __aenter__(self) -> MeshProxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- metrics port ---------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.telemetry.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "synced": self.registry.informers.synced})

    # --- the proxy ------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.monotonic()
        if request.method == "CONNECT":
            return _text(405, "the mesh proxy does not tunnel CONNECT (https); use http:// URLs")
        target = _target(request)
        if target is None:
            return _text(400, "no host: send an absolute URL or a Host header")
        if (mesh_registry.is_loopback(target.host) and target.port == self.port) or int(
            request.headers.get(LOOP_HEADER, "0") or 0
        ) >= MAX_HOPS:
            return _text(
                508,
                "the mesh proxy would send this request to itself: use it as an "
                "HTTP proxy (HTTP_PROXY) for cluster names",
            )
        caller = self._caller(request)
        namespace = caller.namespace if caller else "default"
        service = self.registry.resolve(target.host, namespace)
        virtual_service = self.registry.virtual_service_for(service, target.host)
        body = await request.content.read()
        if service is None and virtual_service is None:
            if self.registry.is_cluster_name(target.host):
                return _text(503, f"no such service: {target.host}")
            return await self._forward_direct(request, target, body)

        view = self._view(request, target, caller)
        if virtual_service is not None:
            decision = mesh_routing.decide(virtual_service.http, view, self._rng, self._balancer)
            route_namespace = virtual_service.namespace
        else:
            assert service is not None
            decision = _default_decision(service, view)
            route_namespace = service.namespace
        source = self._source_report(caller, service)
        if decision is None:
            source.response_code, source.response_flags = 404, "NR"
            self._record("source", source, started)
            return _text(404, f"no route for {target.authority}{view.path}")
        destination = self.registry.destination_service(decision.host, route_namespace)
        if destination is not None:
            source.destination_service = destination.fqdn
            source.destination_service_name = destination.name
            source.destination_service_namespace = destination.namespace
        port = _destination_port(
            destination, decision.port, target.port, routed=virtual_service is not None
        )
        if decision.mirror_host:
            self._mirror(request, target, body, decision, route_namespace, caller)
        if destination is None or port is None:
            source.response_code, source.response_flags = 503, "NC"
            self._record("source", source, started)
            what = decision.host if destination is None else f"{decision.host}:{target.port}"
            return _text(503, f"no such service port: {what}")
        response, outcome = await self._forward(
            request, target, body, decision, destination, port, caller, started
        )
        source.response_code, source.response_flags = outcome.status, outcome.flags
        self._record("source", source, started)
        return response

    async def _forward(
        self,
        request: web.BaseRequest,
        target: _Target,
        body: bytes,
        decision: mesh_routing.Decision,
        service: mesh_registry.ServiceInfo,
        port: mesh_registry.ServicePort,
        caller: mesh_registry.PodInfo | None,
        started: float,
    ) -> tuple[web.StreamResponse, _Outcome]:
        """Try the endpoints as the retry policy allows, then stream the final answer."""
        assert self._session is not None
        headers = _upstream_headers(request, decision.authority or target.authority)
        for ops in decision.request_headers:
            mesh_routing.apply_header_ops(headers, ops)
        policy = decision.retries
        deadline = started + decision.timeout if decision.timeout else None
        tries = 0
        flags = "-"
        while True:
            tries += 1
            picked = self.registry.pick_endpoint(service, port)
            if picked is None:
                return _text(503, "no healthy upstream"), _Outcome(503, "UH")
            endpoint, target_port = picked
            report = self._destination_report(caller, service, endpoint)
            headers["x-envoy-attempt-count"] = str(tries)
            url = yarl.URL(f"http://{endpoint.address}:{target_port}{decision.path}", encoded=True)
            try_started = time.monotonic()
            limit = _try_timeout(policy.per_try_timeout, deadline, try_started)
            retries_left = tries <= policy.attempts
            try:
                async with asyncio.timeout(limit):
                    upstream = await self._session.request(
                        request.method,
                        url,
                        headers=headers,
                        data=_payload(request, body),
                        allow_redirects=False,
                    )
            except TimeoutError:
                report.response_code, report.response_flags = 0, "DC"
                self._record("destination", report, try_started)
                overall = deadline is not None and time.monotonic() >= deadline
                if not overall and retries_left and policy.retries_timeout():
                    await self._backoff(tries, deadline)
                    continue
                return _text(504, "upstream request timeout"), _Outcome(504, "UT")
            except (aiohttp.ClientConnectionError, OSError) as exc:
                flags = "URX" if tries > 1 else "UF"
                if retries_left and policy.retries_connect_failure() and not _past(deadline):
                    await self._backoff(tries, deadline)
                    continue
                log.debug("Upstream connection failed", upstream=str(url), error=repr(exc))
                return (
                    _text(503, "upstream connect error or disconnect/reset before headers"),
                    _Outcome(503, flags),
                )
            if retries_left and policy.retries_status(upstream.status) and not _past(deadline):
                upstream.release()
                report.response_code = upstream.status
                self._record("destination", report, try_started)
                await self._backoff(tries, deadline)
                continue
            try:
                response, cut = await self._stream_back(request, upstream, decision, try_started)
            finally:
                upstream.release()
                report.response_code = upstream.status
                self._record("destination", report, try_started)
            flags = cut or ("URX" if tries > 1 and upstream.status >= 500 else "-")
            return response, _Outcome(upstream.status, flags)

    async def _stream_back(
        self,
        request: web.BaseRequest,
        upstream: aiohttp.ClientResponse,
        decision: mesh_routing.Decision | None,
        try_started: float,
    ) -> tuple[web.StreamResponse, str]:
        """Stream the upstream answer to the client; return it with Envoy's response flag for
        an answer cut short (``DC``: the client hung up, ``UC``: the upstream did), else ``""``.

        A client that hangs up mid-response is ordinary traffic (``hey`` stopping, a timeout on
        the caller's side): it is counted and logged at debug, never raised."""
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP:
                response.headers.add(name, value)
        if decision is not None:
            for ops in decision.response_headers:
                mesh_routing.apply_header_ops(response.headers, ops)
            response.headers["x-envoy-upstream-service-time"] = str(
                int((time.monotonic() - try_started) * 1000)
            )
        if upstream.headers.get("Content-Length") is not None:
            response.content_length = int(upstream.headers["Content-Length"])
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK_SIZE):
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError as exc:  # aiohttp's ClientConnectionResetError is one
            log.debug("Downstream closed the connection mid-response", error=str(exc))
            return response, "DC"
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            log.debug("Upstream closed the connection mid-response", error=str(exc))
            return response, "UC"
        return response, ""

    async def _forward_direct(
        self, request: web.BaseRequest, target: _Target, body: bytes
    ) -> web.StreamResponse:
        """A host outside the cluster: forward as is (no routing, no telemetry)."""
        assert self._session is not None
        if not (self._allow_external or mesh_registry.is_loopback(target.host)):
            return _text(
                502,
                f"{target.host} is neither a cluster name nor on this machine "
                "(the proxy runs without --allow-external)",
            )
        headers = _upstream_headers(request, target.authority)
        url = yarl.URL(f"http://{target.authority}{target.path}", encoded=True)
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=_payload(request, body),
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            return _text(502, f"cannot reach {target.authority}: {exc}")
        try:
            response, _cut = await self._stream_back(request, upstream, None, time.monotonic())
            return response
        finally:
            upstream.release()

    def _mirror(
        self,
        request: web.BaseRequest,
        target: _Target,
        body: bytes,
        decision: mesh_routing.Decision,
        namespace: str,
        caller: mesh_registry.PodInfo | None,
    ) -> None:
        """Send a copy to the mirror host in the background; its answer is dropped."""
        assert decision.mirror_host is not None
        service = self.registry.destination_service(decision.mirror_host, namespace)
        if service is None:
            return
        port = _destination_port(service, decision.mirror_port, target.port, routed=True)
        picked = self.registry.pick_endpoint(service, port) if port else None
        if picked is None:
            return
        endpoint, target_port = picked
        headers = _upstream_headers(request, _shadow(decision.authority or target.authority))
        for ops in decision.request_headers:
            mesh_routing.apply_header_ops(headers, ops)
        url = yarl.URL(f"http://{endpoint.address}:{target_port}{decision.path}", encoded=True)
        report = self._destination_report(caller, service, endpoint)
        task = asyncio.create_task(self._send_copy(request.method, url, headers, body, report))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_copy(
        self,
        method: str,
        url: yarl.URL,
        headers: CIMultiDict[str],
        body: bytes,
        report: mesh_telemetry.Report,
    ) -> None:
        assert self._session is not None
        started = time.monotonic()
        try:
            async with (
                asyncio.timeout(MIRROR_TIMEOUT_SECONDS),
                self._session.request(
                    method, url, headers=headers, data=body or None, allow_redirects=False
                ) as answer,
            ):
                await answer.read()
                report.response_code = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.debug("Mirrored request failed", upstream=str(url), error=str(exc))
            report.response_code, report.response_flags = 0, "UF"
        self._record("destination", report, started)

    async def _backoff(self, tries: int, deadline: float | None) -> None:
        delay = min(RETRY_BACKOFF_SECONDS * (2 ** (tries - 1)), RETRY_BACKOFF_MAX_SECONDS)
        delay *= self._rng.uniform(0.5, 1.0)
        if deadline is not None:
            delay = max(min(delay, deadline - time.monotonic()), 0.0)
        await asyncio.sleep(delay)

    # --- callers, views and reports -------------------------------------------------------

    def _caller(self, request: web.BaseRequest) -> mesh_registry.PodInfo | None:
        """The calling pod: by proxy credentials, else by the connection's addresses."""
        credentials = _basic_credentials(request.headers.get("Proxy-Authorization", ""))
        if credentials is not None:
            user, password = credentials
            pod = self.registry.pod(user, password) if password else self.registry.pod_by_ip(user)
            if pod is not None:
                return pod
        candidates = [request.remote or ""]
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname:
            candidates.append(str(sockname[0]))
        for ip in candidates:
            pod = self.registry.pod_by_ip(ip)
            if pod is not None:
                return pod
        return None

    def _view(
        self, request: web.BaseRequest, target: _Target, caller: mesh_registry.PodInfo | None
    ) -> mesh_routing.RequestView:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            if key in headers:
                headers[key] += ("; " if key == "cookie" else ",") + value
            else:
                headers[key] = value
        return mesh_routing.RequestView(
            method=request.method,
            path=target.path,
            headers=headers,
            authority=target.authority,
            port=target.port,
            source_labels=caller.label_map if caller else {},
            source_namespace=caller.namespace if caller else "",
        )

    def _source_report(
        self, caller: mesh_registry.PodInfo | None, service: mesh_registry.ServiceInfo | None
    ) -> mesh_telemetry.Report:
        report = mesh_telemetry.Report()
        if caller is not None:
            labels = caller.label_map
            report.source_workload = self.registry.workload(caller)
            report.source_workload_namespace = caller.namespace
            report.source_app = labels.get("app", mesh_telemetry.UNKNOWN)
            report.source_version = labels.get("version", mesh_telemetry.UNKNOWN)
        if service is not None:
            report.destination_service = service.fqdn
            report.destination_service_name = service.name
            report.destination_service_namespace = service.namespace
        return report

    def _destination_report(
        self,
        caller: mesh_registry.PodInfo | None,
        service: mesh_registry.ServiceInfo,
        endpoint: mesh_registry.Endpoint,
    ) -> mesh_telemetry.Report:
        report = self._source_report(caller, service)
        pod = self.registry.endpoint_pod(service.namespace, endpoint)
        if pod is not None:
            labels = pod.label_map
            report.destination_workload = self.registry.workload(pod)
            report.destination_workload_namespace = pod.namespace
            report.destination_app = labels.get("app", mesh_telemetry.UNKNOWN)
            report.destination_version = labels.get("version", mesh_telemetry.UNKNOWN)
        return report

    def _record(self, reporter: str, report: mesh_telemetry.Report, since: float) -> None:
        self.telemetry.record(reporter, report, (time.monotonic() - since) * 1000.0)


# --- helpers --------------------------------------------------------------------------------


def _bound_port(runner: web.BaseRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the server is not listening")


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n")


def _target(request: web.BaseRequest) -> _Target | None:
    """Host, port, path and authority from an absolute-form target or the Host header."""
    raw = request.raw_path
    if raw.lower().startswith("http://"):
        url = yarl.URL(raw, encoded=True)
        if not url.host:
            return None
        port = url.explicit_port or 80
        authority = url.raw_authority or f"{url.raw_host}:{port}"
        path = url.raw_path_qs or "/"
        return _Target(url.raw_host or url.host, port, path, authority)
    authority = request.headers.get("Host", "")
    if not authority:
        return None
    url = yarl.URL(f"http://{authority}", encoded=True)
    if not url.host:
        return None
    return _Target(url.raw_host or url.host, url.explicit_port or 80, raw or "/", authority)


def _shadow(authority: str) -> str:
    """Envoy's mirror authority: ``-shadow`` after the host, before the port."""
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return f"{host}-shadow:{port}"
    return f"{authority}-shadow"


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def _upstream_headers(request: web.BaseRequest, authority: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        if name.lower() not in HOP_BY_HOP and name.lower() not in ("host", "content-length"):
            headers.add(name, value)
    headers["Host"] = authority
    headers[LOOP_HEADER] = str(int(request.headers.get(LOOP_HEADER, "0") or 0) + 1)
    if "x-request-id" not in headers:
        headers["x-request-id"] = str(uuid.uuid4())
    return headers


def _payload(request: web.BaseRequest, body: bytes) -> bytes | None:
    if body or request.method in ("POST", "PUT", "PATCH"):
        return body
    return None


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _try_timeout(per_try: float | None, deadline: float | None, now: float) -> float | None:
    limits = [t for t in (per_try, None if deadline is None else deadline - now) if t is not None]
    return max(min(limits), 0.0) if limits else None


def _destination_port(
    service: mesh_registry.ServiceInfo | None,
    number: int | None,
    request_port: int,
    *,
    routed: bool,
) -> mesh_registry.ServicePort | None:
    """The Service port a request goes to: the route's ``port.number``, else the request's
    port, else (for a routed destination) the Service's only port."""
    if service is None:
        return None
    if number is not None:
        return service.port(number)
    found = service.port(request_port)
    if found is None and routed:
        found = service.port(None)
    return found


def _default_decision(
    service: mesh_registry.ServiceInfo, view: mesh_routing.RequestView
) -> mesh_routing.Decision:
    """The route a sidecar takes without a VirtualService: the Service itself."""
    destination = {"destination": {"host": service.fqdn}}
    return mesh_routing.Decision(
        route={"route": [destination]},
        destination=destination,
        path=view.path,
        authority=None,
        request_headers=[],
        response_headers=[],
        retries=mesh_routing.RetryPolicy(),
        timeout=None,
        mirror_host=None,
        mirror_port=None,
    )


# --- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flagger-meshproxy",
        description="HTTP forward proxy playing Istio's data plane for the playground.",
    )
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig of the cluster")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=15001, help="proxy port (0: any free port)")
    parser.add_argument(
        "--metrics-port", type=int, default=15020, help="port of /metrics (0: any free port)"
    )
    parser.add_argument(
        "--allow-external",
        action="store_true",
        help="forward requests for hosts off this machine too",
    )
    parser.add_argument("--log-level", default="info", help="debug, info, warn or error")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    kube = await kube_client.Kube.connect(args.kubeconfig)
    proxy = MeshProxy(kube, allow_external=args.allow_external)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    try:
        await proxy.start(args.host, args.port, args.metrics_port)
        print(f"mesh proxy on {proxy.url}, metrics on {proxy.metrics_url}", flush=True)
        await stopping.wait()
    finally:
        await proxy.stop()
        await kube.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mesh proxy until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    logs.setup(args.log_level)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
