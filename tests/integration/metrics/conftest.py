"""Fixtures for metric tests: a real Prometheus and exporters (see tests/support).

- ``prometheus_server``: ``start(targets) -> PrometheusServer``;
- ``exporter_server``: ``start(registry) -> Exporter``.

Module scope, so a module can fill one Prometheus once and query it in many tests; everything
started is stopped when the module's tests are done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import prometheus_client
import pytest

from tests.support.prometheus_server import (
    Exporter,
    PrometheusServer,
    start_exporter,
    start_prometheus,
)


@pytest.fixture(scope="module")
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Sequence[str]], PrometheusServer]]:
    """``start(targets) -> PrometheusServer``; every server started is stopped afterwards."""
    started: list[PrometheusServer] = []

    def start(targets: Sequence[str]) -> PrometheusServer:
        server = start_prometheus(targets, tmp_path_factory.mktemp("prometheus"))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def exporter_server() -> Iterator[Callable[[prometheus_client.CollectorRegistry], Exporter]]:
    """``start(registry) -> Exporter``; every exporter started is stopped afterwards."""
    started: list[Exporter] = []

    def start(registry: prometheus_client.CollectorRegistry) -> Exporter:
        exporter = start_exporter(registry)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()
