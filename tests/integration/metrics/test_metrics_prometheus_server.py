"""The Prometheus backend and the built-in Istio queries against a real Prometheus.

A test exporter publishes Istio's metric names and labels; Prometheus scrapes it every second.
Traffic (module fixture), per workload in namespace ``test``, reporter ``destination``:

- ``backend``: 30 responses 200 and 10 responses 500, each taking 2000 ms; the *source*
  reporter also counts 100 responses 500 for it, which the built-in query must ignore;
- ``frontend``: 50 responses 200 and 50 responses 500, each taking 20 ms;
- ``absent``: no traffic at all.

Checked: success rate and P99 duration as a canary analysis would read them, "no values found",
Prometheus's own error text, several series, availability, timeouts, a MetricTemplate with
variables, and credentials and headers reaching an authenticating reverse proxy (plain and
TLS) placed in front of Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import socket
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import aiohttp
import prometheus_client
import pytest
from aiohttp import web

from flagger import plugins
from flagger.api import durations
from flagger.api.canary import Canary
from flagger.devcluster import pki
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.playground import mesh_telemetry
from flagger.templating import queries

TOKEN = "s3cr3t-token"


class _Server(Protocol):
    """What the conftest's ``_Server`` offers these tests."""

    url: str

    def log(self) -> str: ...


def _closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _canary(target: str, namespace: str = "test") -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": target, "namespace": namespace},
            "spec": {
                "provider": "istio",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "service": {"port": 9898},
                "analysis": {
                    "interval": "1m",
                    "threshold": 5,
                    "metrics": [
                        {
                            "name": "request-success-rate",
                            "thresholdRange": {"min": 99},
                            "interval": "1m",
                        }
                    ],
                },
            },
        }
    )


def _instant(server: _Server, query: str) -> list[Any]:
    url = f"{server.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[Any] = json.load(response)["data"]["result"]
        return result


def _wait_for(server: _Server, query: str, value: float, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = _instant(server, query)
        if result and float(result[0]["value"][1]) == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never answered {value} to {query}:\n{server.log()}")


@pytest.fixture(scope="module")
def istio_prometheus(
    prometheus_server: Callable[[Sequence[str]], _Server],
    exporter_server: Callable[[prometheus_client.CollectorRegistry], Any],
) -> _Server:
    """Prometheus holding the traffic described in the module docstring, rates ready."""
    registry = prometheus_client.CollectorRegistry()
    labels = ("reporter", "destination_workload_namespace", "destination_workload")
    requests = prometheus_client.Counter(
        "istio_requests_total", "Requests", (*labels, "response_code"), registry=registry
    )
    duration = prometheus_client.Histogram(
        "istio_request_duration_milliseconds",
        "Duration",
        labels,
        buckets=mesh_telemetry.BUCKETS,
        registry=registry,
    )
    traffic = [  # reporter, workload, code, count, milliseconds
        ("destination", "backend", "200", 30, 2000.0),
        ("destination", "backend", "500", 10, 2000.0),
        ("source", "backend", "500", 100, 5.0),
        ("destination", "frontend", "200", 50, 20.0),
        ("destination", "frontend", "500", 50, 20.0),
    ]
    for reporter, workload, code, _, _ in traffic:  # series exist at 0 before any traffic
        requests.labels(reporter, "test", workload, code)
        duration.labels(reporter, "test", workload)
    exporter = exporter_server(registry)
    server = prometheus_server([exporter.target])
    _wait_for(server, "count(istio_requests_total)", 5)
    for reporter, workload, code, count, ms in traffic:
        requests.labels(reporter, "test", workload, code).inc(count)
        for _ in range(count):
            duration.labels(reporter, "test", workload).observe(ms)
    _wait_for(server, 'sum(istio_requests_total{reporter="destination"})', 140)
    return server


@pytest.fixture
def backend(istio_prometheus: _Server) -> prometheus.PrometheusBackend:
    return prometheus.PrometheusBackend(istio_prometheus.url)


async def test_istio_success_rate_is_the_percentage_of_non_5xx(
    backend: prometheus.PrometheusBackend,
) -> None:
    query = observers.render(observers.ISTIO, "request-success-rate", _canary("backend"), "1m")
    assert await backend.run_query(query) == pytest.approx(75.0)
    query = observers.render(observers.ISTIO, "request-success-rate", _canary("frontend"), "1m")
    assert await backend.run_query(query) == pytest.approx(50.0)


async def test_istio_request_duration_is_the_p99_in_milliseconds(
    backend: prometheus.PrometheusBackend,
) -> None:
    query = observers.render(observers.ISTIO, "request-duration", _canary("backend"), "1m")
    value = await backend.run_query(query)
    # 100% of requests in the (1000, 2500] bucket: P99 = 1000 + 0.99 * 1500
    assert value == pytest.approx(2485.0)
    ms = observers.ISTIO.duration_ms(value)
    print(f"\nP99 backend: {value} ms -> {durations.format_duration(ms / 1000)}")
    assert durations.format_duration(ms / 1000) == "2.485s"


async def test_canary_without_traffic_has_no_values(
    backend: prometheus.PrometheusBackend,
) -> None:
    for metric in ("request-success-rate", "request-duration"):
        query = observers.render(observers.ISTIO, metric, _canary("absent"), "1m")
        with pytest.raises(plugins.NoValuesFound, match=r"^no values found$"):
            await backend.run_query(query)


async def test_bad_query_reports_prometheus_error_text(
    backend: prometheus.PrometheusBackend,
) -> None:
    with pytest.raises(prometheus.QueryError) as raised:
        await backend.run_query("sum(rate(istio_requests_total[1m])")
    message = str(raised.value)
    assert message.startswith("error response: bad_data: ")
    assert "parse error" in message
    print(f"\nPrometheus query failed: {message}")


async def test_several_series_are_an_error(backend: prometheus.PrometheusBackend) -> None:
    with pytest.raises(prometheus.QueryError, match=r"^query returned 2 values, expected one"):
        await backend.run_query(
            'istio_requests_total{reporter="destination", destination_workload="backend"}'
        )


async def test_metric_template_with_variables_runs(
    backend: prometheus.PrometheusBackend,
) -> None:
    template = (
        "sum(rate(istio_requests_total{\n"
        '  reporter="{{ variables.reporter }}", destination_workload_namespace="{{ namespace }}",\n'
        '  destination_workload="{{ target }}", response_code=~"5.."}[{{ interval }}]))'
    )
    model = queries.model_for(_canary("backend"), "1m", {"reporter": "source"})
    rate_5xx = await backend.run_query(queries.render(template, model))
    assert rate_5xx > 0  # the source reporter's 500s


async def test_is_online_when_prometheus_answers(backend: prometheus.PrometheusBackend) -> None:
    assert await backend.is_online() is True
    await backend.check_online()


async def test_is_not_online_when_nothing_listens() -> None:
    offline = prometheus.PrometheusBackend(f"http://127.0.0.1:{_closed_port()}")
    assert await offline.is_online() is False
    with pytest.raises(prometheus.QueryError, match=r"^running query failed: request failed: "):
        await offline.check_online()


# --- servers in front of Prometheus ---------------------------------------------------------


@contextlib.asynccontextmanager
async def _serve(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Run ``app`` on a free 127.0.0.1 port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"{'https' if ssl_context else 'http'}://{host}:{port}"
    finally:
        await runner.cleanup()


def _auth_proxy(upstream: str, authorization: str, seen: list[dict[str, str]]) -> web.Application:
    """A reverse proxy that forwards to Prometheus only requests carrying ``authorization``."""

    async def handle(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("Authorization") != authorization:
            return web.Response(status=401, text="Unauthorized")
        async with (
            aiohttp.ClientSession() as session,
            session.get(upstream + request.path_qs) as answer,
        ):
            return web.Response(
                body=await answer.read(), status=answer.status, content_type=answer.content_type
            )

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


def _spec(address: str, **extra: Any) -> dict[str, Any]:
    return {"type": "prometheus", "address": address, **extra}


async def test_bearer_token_from_the_secret_reaches_the_proxy(
    istio_prometheus: _Server,
) -> None:
    seen: list[dict[str, str]] = []
    app = _auth_proxy(istio_prometheus.url, f"Bearer {TOKEN}", seen)
    async with _serve(app) as url:
        installed = plugins.load(extra=[prometheus])
        secret_data = {"token": TOKEN}
        spec = _spec(
            url,
            secretRef={"name": "prom-auth"},
            headers={"X-Scope-OrgID": ["team-a"]},
            credentials=secret_data,
        )
        backend = installed.metric_backend("prometheus", spec, plugins.PluginContext())
        query = observers.render(observers.ISTIO, "request-success-rate", _canary("backend"), "1m")
        assert await backend.run_query(query) == pytest.approx(75.0)
        assert seen[-1]["Authorization"] == f"Bearer {TOKEN}"
        assert seen[-1]["X-Scope-OrgID"] == "team-a"

        unauthorized = prometheus.from_provider_spec(
            _spec(url, secretRef={"name": "x"}, credentials={"token": "wrong"})
        )
        with pytest.raises(prometheus.QueryError, match=r"^error response: HTTP 401: Unauthorized"):
            await unauthorized.run_query("vector(1)")
        assert await unauthorized.is_online() is False
        assert await prometheus.PrometheusBackend(url).is_online() is False


async def test_basic_auth_from_the_secret_reaches_the_proxy(
    istio_prometheus: _Server,
) -> None:
    seen: list[dict[str, str]] = []
    app = _auth_proxy(istio_prometheus.url, "Basic YWRtaW46cGFzcw==", seen)  # admin:pass
    async with _serve(app) as url:
        encoded = {"username": "YWRtaW4=", "password": "cGFzcw=="}  # as the API returns them
        spec = _spec(
            url, secretRef={"name": "prom-auth"}, credentials=prometheus.decode_secret_data(encoded)
        )
        backend = prometheus.from_provider_spec(spec)
        assert await backend.is_online() is True
        assert seen[-1]["Authorization"] == "Basic YWRtaW46cGFzcw=="


async def test_insecure_skip_verify_accepts_a_self_signed_certificate(
    istio_prometheus: _Server, tmp_path: pathlib.Path
) -> None:
    certs = pki.create(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    app = _auth_proxy(istio_prometheus.url, f"Bearer {TOKEN}", [])
    async with _serve(app, context) as url:
        strict = prometheus.from_provider_spec(_spec(url, credentials={"token": TOKEN}))
        with pytest.raises(prometheus.QueryError, match="certificate verify failed"):
            await strict.run_query("vector(1)")
        insecure = prometheus.from_provider_spec(
            _spec(url, insecureSkipVerify=True, credentials={"token": TOKEN})
        )
        assert await insecure.run_query("vector(1)") == 1.0


async def test_slow_server_times_out() -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/api/v1/query", slow)
    async with _serve(app) as url:
        backend = prometheus.PrometheusBackend(url, timeout=0.3)
        began = time.monotonic()
        try:
            with pytest.raises(
                prometheus.QueryError, match=r"^request failed: timeout after 0.3s$"
            ):
                await backend.run_query("vector(1)")
            assert time.monotonic() - began < 1.5
        finally:
            release.set()


async def test_shared_session_is_reused_and_left_open(
    backend: prometheus.PrometheusBackend, istio_prometheus: _Server
) -> None:
    async with aiohttp.ClientSession() as session:
        shared = prometheus.PrometheusBackend(istio_prometheus.url, session=session)
        assert await shared.run_query("vector(1)") == 1.0
        assert await shared.run_query("scalar(vector(2))") == 2.0
        assert not session.closed
