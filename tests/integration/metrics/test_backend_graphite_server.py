"""The Graphite backend against a real Graphite: Debian's carbon-cache and graphite-web.

carbon-cache (``graphite-carbon``) receives datapoints on its plaintext port and graphite-web
(``graphite-web``, Django, served by ``wsgiref`` on 127.0.0.1 with Debian's Python) answers
the render API, reading recent points from carbon's cache. Both run from a temporary directory
and are stopped after the module. An aiohttp reverse proxy in front of graphite-web asks for
basic auth, as the web server in front of a real Graphite would.

Data (one point a second, the last few seconds): ``test.backend.requests`` 10, 20, 30, 40;
``test.frontend.requests`` 5, 5, 5, 5; ``test.sparse.requests`` 7, then nothing.

Checked: the last value, a sum across series, several series, an unknown metric, Graphite's
error text, a MetricTemplate query with variables, Go's ``1m`` (Graphite wants ``1min``),
availability, credentials
through the proxy, and the plugin hook.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiohttp import ClientSession, web

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics.backends import graphite, prometheus
from flagger.templating import queries

SYSTEM_PYTHON = "/usr/bin/python3"
CARBON = shutil.which("carbon-cache")
pytestmark = pytest.mark.skipif(
    CARBON is None or not pathlib.Path("/usr/lib/python3/dist-packages/graphite").is_dir(),
    reason="needs Debian's graphite-carbon and graphite-web (apt-get install graphite-carbon "
    "graphite-web)",
)

WEB = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
from django.core.wsgi import get_wsgi_application
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
make_server("127.0.0.1", int(sys.argv[1]), get_wsgi_application(),
            handler_class=Quiet).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass
class Graphite:
    url: str
    line_port: int
    logs: list[pathlib.Path]

    def send(self, lines: list[str]) -> None:
        with socket.create_connection(("127.0.0.1", self.line_port), timeout=5) as sock:
            sock.sendall("".join(f"{line}\n" for line in lines).encode())

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in self.logs if p.exists())


def _wait(what: str, check: Callable[[], bool], server: Graphite, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout}s:\n{server.log()}")


@pytest.fixture(scope="module")
def graphite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graphite]:
    root = tmp_path_factory.mktemp("graphite")
    for sub in ("whisper", "log", "conf", "settings"):
        (root / sub).mkdir()
    line, pickle, query, web_port = (_free_port() for _ in range(4))
    (root / "conf" / "carbon.conf").write_text(f"""[cache]
STORAGE_DIR = {root}/
LOCAL_DATA_DIR = {root}/whisper/
CONF_DIR = {root}/conf/
LOG_DIR = {root}/log/
PID_DIR = {root}/
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 1000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
ENABLE_UDP_LISTENER = False
""")
    (root / "conf" / "storage-schemas.conf").write_text("[all]\npattern = .*\nretentions = 1s:1h\n")
    (root / "settings" / "flagger_graphite_settings.py").write_text(f"""
SECRET_KEY = "flagger-tests"
STORAGE_DIR = "{root}"
WHISPER_DIR = "{root}/whisper/"
LOG_DIR = "{root}/log"
INDEX_FILE = "{root}/index"
CARBONLINK_HOSTS = ["127.0.0.1:{query}"]
DATABASES = {{"default": {{"NAME": "{root}/graphite.db",
                           "ENGINE": "django.db.backends.sqlite3"}}}}
""")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "graphite.settings",
        "GRAPHITE_SETTINGS_MODULE": "flagger_graphite_settings",
        "PYTHONPATH": str(root / "settings"),
    }
    env.pop("VIRTUAL_ENV", None)
    logs = [root / "carbon.out", root / "web.out"]
    server = Graphite(f"http://127.0.0.1:{web_port}", line, logs)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with logs[0].open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        SYSTEM_PYTHON,
                        str(CARBON),
                        f"--config={root}/conf/carbon.conf",
                        f"--pidfile={root}/carbon.pid",
                        "--debug",
                        "start",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        with logs[1].open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [SYSTEM_PYTHON, "-c", WEB, str(web_port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        _wait(
            "carbon listening",
            lambda: bool(socket.create_connection(("127.0.0.1", line), timeout=1).close() or True),
            server,
        )
        _wait(
            "graphite-web answering",
            lambda: (
                urllib.request.urlopen(
                    f"{server.url}/render?target=none&format=json", timeout=5
                ).status
                == 200
            ),
            server,
        )
        now = int(time.time())
        server.send(
            [f"test.backend.requests {v} {now - 5 + i}" for i, v in enumerate((10, 20, 30, 40))]
            + [f"test.frontend.requests 5 {now - 5 + i}" for i in range(4)]
            + [f"test.sparse.requests 7 {now - 5}"]
        )
        _wait(
            "the points reaching graphite-web",
            lambda: (
                b"40.0"
                in urllib.request.urlopen(
                    f"{server.url}/render?target=test.backend.requests&from=-1min&format=json",
                    timeout=5,
                ).read()
            ),
            server,
        )
        yield server
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def backend(graphite_server: Graphite) -> graphite.GraphiteBackend:
    return graphite.GraphiteBackend(graphite_server.url)


async def test_value_is_the_latest_point(backend: graphite.GraphiteBackend) -> None:
    assert await backend.run_query("target=test.backend.requests&from=-1min") == 40.0


async def test_sparse_series_gives_its_last_non_null_point(
    backend: graphite.GraphiteBackend,
) -> None:
    assert await backend.run_query("target=test.sparse.requests&from=-1min") == 7.0


async def test_multi_line_template_summing_series(backend: graphite.GraphiteBackend) -> None:
    query = """
        target=sumSeries(
          test.{backend,frontend}.requests
        )
        &from=-1min
    """
    assert await backend.run_query(query) == 45.0


async def test_metric_template_with_variables_runs(backend: graphite.GraphiteBackend) -> None:
    canary = Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "backend", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"},
                "service": {"port": 9898},
            },
        }
    )
    template = "target=maxSeries(test.{{ target }}.requests)\n&from=-{{ variables.window }}\n"
    query = queries.render(template, queries.model_for(canary, "1m", {"window": "2min"}))
    assert await backend.run_query(query) == 40.0


async def test_go_duration_minutes_are_not_a_graphite_offset(
    backend: graphite.GraphiteBackend,
) -> None:
    # Graphite spells minutes "min": "from=-{{ interval }}" with interval 1m fails (as in Flagger)
    with pytest.raises(graphite.QueryError, match="Invalid offset unit 'm'"):
        await backend.run_query("target=test.backend.requests&from=-1m")


async def test_several_series_are_an_error(backend: graphite.GraphiteBackend) -> None:
    with pytest.raises(graphite.QueryError, match="series, expected one"):
        await backend.run_query("target=test.*.requests&from=-1min")


async def test_unknown_metric_has_no_values(backend: graphite.GraphiteBackend) -> None:
    with pytest.raises(plugins.NoValuesFound):
        await backend.run_query("target=test.absent.requests&from=-1min")


async def test_bad_function_reports_graphite_text(backend: graphite.GraphiteBackend) -> None:
    with pytest.raises(graphite.QueryError, match="unknown function: nosuchfunction"):
        await backend.run_query("target=nosuchfunction(test.backend.requests)")


async def test_is_online_when_graphite_answers(backend: graphite.GraphiteBackend) -> None:
    assert await backend.is_online() is True


async def test_is_not_online_when_nothing_listens() -> None:
    backend = graphite.GraphiteBackend(f"http://127.0.0.1:{_free_port()}")
    assert await backend.is_online() is False
    with pytest.raises(graphite.QueryError, match="running query failed: request failed"):
        await backend.check_online()


@contextlib.asynccontextmanager
async def _basic_auth_proxy(upstream: str, user: str, password: str) -> AsyncIterator[str]:
    """A reverse proxy that answers 401 unless the request carries the expected basic auth."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="401 Authorization Required")
        async with (
            ClientSession() as session,
            session.get(upstream + request.path_qs.removeprefix("/graphite")) as answer,
        ):
            return web.Response(
                status=answer.status, body=await answer.read(), content_type="application/json"
            )

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/graphite"
    finally:
        await runner.cleanup()


def _plugins() -> plugins.Plugins:
    loaded = plugins.load()
    if not loaded.manager.is_registered(graphite):
        loaded.manager.register(graphite)
    return loaded


async def test_secret_credentials_reach_the_proxy(graphite_server: Graphite) -> None:
    async with _basic_auth_proxy(graphite_server.url, "flagger", "s3cr3t") as address:
        spec = {
            "type": "graphite",
            "address": address,
            "secretRef": {"name": "graphite"},
            prometheus.CREDENTIALS_KEY: {"username": "flagger", "password": "s3cr3t"},
        }
        backend = _plugins().metric_backend("graphite", spec, plugins.PluginContext())
        assert await backend.run_query("target=test.backend.requests&from=-1min") == 40.0
        assert await backend.is_online() is True

        wrong = {**spec, prometheus.CREDENTIALS_KEY: {"username": "flagger", "password": "no"}}
        backend = graphite.from_provider_spec(wrong)
        with pytest.raises(graphite.QueryError, match="401 Authorization Required"):
            await backend.run_query("target=test.backend.requests")
        assert await backend.is_online() is False
