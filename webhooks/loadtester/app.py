"""``flagger-loadtester``: Flagger's load testing webhook service (API of Flagger v0.38).

Canaries call it from their ``analysis.webhooks``; it answers with a status code that Flagger reads
as pass (≤ 202) or fail. Every request carries Flagger's webhook payload
``{name, namespace, phase, checksum, metadata}``.

Endpoints (any method, as Go's ``http.ServeMux``)::

    /healthz          200 OK
    /metrics          Prometheus metrics of the process
    /gate/approve     200 OK                  (always)
    /gate/halt        403 Forbidden           (always)
    /gate/check       200 Approved | 403 Forbidden   gate <name>.<namespace> open?
    /gate/open        202                     open it
    /gate/close       202                     close it
    /rollback/check   200 Approved | 403 Forbidden   gate rollback.<name>.<namespace>
    /rollback/open    202
    /rollback/close   202
    / (anything else) a task chosen by metadata.type (see below)

Task types (``metadata.type``; ``metadata.cmd`` is the command):

- ``cmd`` (default): ``sh -c cmd`` in the background, 202 at once; a command already running
  for the canary is skipped (``flagger.webhooks.loadtester.tasks.CommandRunner``). This is how a
  load test runs: ``hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/``. A call whose
  idempotency key (``Idempotency-Key`` header or ``metadata.idempotencyKey``, sent by the daemon
  with every call) already started a command within ``-idempotency-window`` (default 10m) is
  answered 202 ``command skipped: idempotency key <key> already ran`` without running it again:
  a daemon that crashed mid-step and repeats the call does not start a second load test. The
  keys are kept with the gates.
- ``bash``: ``bash -c cmd``, blocking: 200 (with the output when ``returnCmdOutput: "true"``) or
  500 with ``command <cmd> failed: <output>: <error>``.
- ``kubectl``, ``helm``, ``helmv3``: ``<tool> cmd`` (split on whitespace, no shell), blocking
  like ``bash``; 500 naming the binary when it is not installed.

Blocking tasks honour the idempotency key too: a repeat within the window is not run again and
gets the first run's answer (status and body; it waits for the first run when that is still
going). When the first run was before a restart, its answer is gone: the repeat gets 409
``... already ran (before this loadtester restarted, ...)`` — a failed check, never a second
run nor a pass that was not earned. Every answer to a repeat carries the header
``Idempotent-Replayed: true``.

With ``-allow`` rules (strict mode, ``flagger.webhooks.loadtester.commands``) ``cmd`` and the
tool tasks are parsed into argv, checked against the rules and run without a shell, and ``bash``
tasks are refused with 403.
- ``concord``, ``ngrinder``: 501, not implemented here (run their clients from a ``cmd`` task).
- anything else: 400 ``unknown task type <type>``.

Every task has the ``-timeout`` (default 1h) and inherits the loadtester's environment. In the
playground, cluster names resolve only through the mesh proxy, and ``hey`` ignores
``HTTP_PROXY``: load tests there pass the proxy explicitly, with its scheme (Debian's hey 0.1.4
rejects a bare ``host:port``): ``hey -x http://127.0.0.1:PORT -z 1m -q 10 -c 2 URL``.

Beyond Flagger: ``-token`` (or ``LOADTESTER_TOKEN``) and ``-allow`` close the "anyone can run
any command" hole (``flagger.webhooks.loadtester.access``); without a token the loadtester
listens on 127.0.0.1 only unless ``-insecure-allow-anyone`` is given. ``-gates-file`` or
``-gates-configmap`` keep gates (and idempotency keys) across restarts
(``flagger.webhooks.loadtester.gates``).
Flags take one dash or two, with ``=`` or a space: ``-port=8080``, ``--port 8080``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import prometheus_client
from aiohttp import web

import flagger
from flagger.api import durations
from flagger.hooks import idempotency
from flagger.observability import logs
from flagger.webhooks.loadtester import access as access_rules
from flagger.webhooks.loadtester import commands, tasks
from flagger.webhooks.loadtester import gates as gates_store

__all__ = [
    "BadPayload",
    "Payload",
    "Settings",
    "build_app",
    "decode_payload",
    "main",
    "open_store",
    "parse_args",
    "serve",
]

log = logs.get_logger(__name__)

TOKEN_ENV = "LOADTESTER_TOKEN"
NOT_IMPLEMENTED = ("concord", "ngrinder")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- flags --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """The loadtester's flags."""

    port: int = 9090
    host: str = ""
    timeout: float = 3600.0
    namespace_regexp: str = ""
    log_level: str = "debug"
    log_cmd_output: bool = False
    token: str = ""
    allow: tuple[str, ...] = ()
    gates_file: str = ""
    gates_configmap: str = ""
    kubeconfig: str = ""
    insecure_allow_anyone: bool = False
    idempotency_window: float = 600.0

    @property
    def listen_host(self) -> str:
        """The address to listen on: every interface with a token, else 127.0.0.1 by default."""
        if self.host or self.token or self.insecure_allow_anyone:
            return self.host
        return "127.0.0.1"

    def access(self) -> access_rules.Access:
        """The access rules these flags describe."""
        namespace = (
            access_rules.compile_patterns([self.namespace_regexp], "-namespace-regexp")
            if self.namespace_regexp
            else ()
        )
        return access_rules.Access(
            token=self.token,
            namespace_regexp=namespace[0] if namespace else None,
            allow=access_rules.compile_rules(self.allow),
        )


def _go_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def _duration(text: str) -> float:
    try:
        return durations.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    try:
        port = int(text.lstrip(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use 0-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The ``flagger-loadtester`` argument parser (every flag as ``-flag`` and ``--flag``)."""
    parser = argparse.ArgumentParser(
        prog="flagger-loadtester",
        allow_abbrev=False,
        description="Flagger's load testing webhook service: tasks, gates, rollback gates.",
    )

    def flag(name: str, **kwargs: Any) -> None:
        parser.add_argument(f"-{name}", f"--{name}", dest=name.replace("-", "_"), **kwargs)

    flag("port", type=_port, default=9090, help="port to listen on (default 9090; 0: any free)")
    flag(
        "host",
        default="",
        help="address to listen on (default: every interface with -token, else 127.0.0.1)",
    )
    flag(
        "timeout",
        type=_duration,
        default=3600.0,
        metavar="DURATION",
        help="timeout of each task, e.g. 30s, 5m (default 1h)",
    )
    flag(
        "namespace-regexp",
        default="",
        help="only serve payloads whose namespace matches this regular expression (else 403)",
    )
    flag("log-level", default="debug", help="debug, info, warn or error (default debug)")
    flag(
        "log-cmd-output",
        type=_go_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="log the output of cmd tasks",
    )
    flag("zap-encoding", default="json", help="accepted for compatibility; logs are JSON")
    flag(
        "zap-replace-globals",
        type=_go_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="accepted for compatibility; no effect",
    )
    flag(
        "token",
        default=None,
        help=f"require 'Authorization: Bearer TOKEN' on every endpoint but /healthz "
        f"(default: ${TOKEN_ENV})",
    )
    flag(
        "allow",
        action="append",
        default=[],
        metavar="RULE",
        help="strict mode: run only commands whose argv matches this rule, one regular "
        "expression per argument (repeatable); no shell, bash tasks refused",
    )
    flag(
        "insecure-allow-anyone",
        type=_go_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="listen on every interface without -token: anyone who reaches it runs commands",
    )
    flag(
        "idempotency-window",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="a task whose idempotency key ran within this long is not run again (default 10m)",
    )
    flag("gates-file", default="", metavar="PATH", help="keep gates in this JSON file")
    flag(
        "gates-configmap", default="", metavar="NAMESPACE/NAME", help="keep gates in this ConfigMap"
    )
    flag(
        "kubeconfig",
        default="",
        metavar="PATH",
        help="kubeconfig for -gates-configmap (default: in-cluster or ~/.kube/config)",
    )
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Parse flags (exits with status 2 and a message on a bad one)."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.gates_file and args.gates_configmap:
        parser.error("use -gates-file or -gates-configmap, not both")
    if args.gates_configmap:
        namespace, _, name = args.gates_configmap.partition("/")
        if not namespace or not name or "/" in name:
            parser.error(f"-gates-configmap {args.gates_configmap!r}: expected NAMESPACE/NAME")
    settings = Settings(
        port=args.port,
        host=args.host,
        timeout=args.timeout,
        namespace_regexp=args.namespace_regexp,
        log_level=args.log_level,
        log_cmd_output=args.log_cmd_output,
        token=args.token if args.token is not None else environ.get(TOKEN_ENV, ""),
        allow=tuple(args.allow),
        gates_file=args.gates_file,
        gates_configmap=args.gates_configmap,
        kubeconfig=args.kubeconfig,
        insecure_allow_anyone=args.insecure_allow_anyone,
        idempotency_window=args.idempotency_window,
    )
    try:
        settings.access()
        logs.parse_level(settings.log_level)
    except ValueError as exc:
        parser.error(str(exc))
    refusal = access_rules.listen_refusal(
        settings.host, settings.token, settings.insecure_allow_anyone
    )
    if refusal:
        parser.error(refusal)
    return settings


# --- payload ------------------------------------------------------------------------------------


class BadPayload(ValueError):
    """The request body is not Flagger's webhook payload."""


@dataclasses.dataclass(frozen=True)
class Payload:
    """Flagger's ``CanaryWebhookPayload``."""

    name: str = ""
    namespace: str = ""
    phase: str = ""
    checksum: str = ""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def canary(self) -> str:
        """``name.namespace``."""
        return f"{self.name}.{self.namespace}"


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):  # lenient: "returnCmdOutput": true
        return json.dumps(value)
    raise BadPayload(f"{field}: expected a string, got {json.dumps(value)[:60]}")


def decode_payload(body: bytes) -> Payload:
    """Decode a webhook payload; :class:`BadPayload` says what is wrong."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(f"decoding the request body failed: {exc}") from None
    if document is None:
        return Payload()
    if not isinstance(document, dict):
        raise BadPayload("decoding the request body failed: expected a JSON object")
    metadata = document.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise BadPayload("decoding the request body failed: metadata must be an object")
    try:
        return Payload(
            name=_text(document.get("name"), "name"),
            namespace=_text(document.get("namespace"), "namespace"),
            phase=_text(document.get("phase"), "phase"),
            checksum=_text(document.get("checksum"), "checksum"),
            metadata={str(k): _text(v, f"metadata.{k}") for k, v in metadata.items()},
        )
    except BadPayload as exc:
        raise BadPayload(f"decoding the request body failed: {exc}") from None


# --- the HTTP API -------------------------------------------------------------------------------


def _text_response(status: int, text: str = "") -> web.Response:
    return web.Response(status=status, text=text)


#: The header on the answer to a repeated idempotency key: the command was not run again.
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclasses.dataclass(frozen=True)
class _Answer:
    """What a blocking task answered, kept to answer a repeat of its key the same way."""

    status: int
    text: str
    at: float

    def replayed(self) -> web.Response:
        return web.Response(status=self.status, text=self.text, headers={REPLAYED_HEADER: "true"})


class _Api:
    """The request handlers, over the gates, the command runner and the access rules."""

    def __init__(
        self,
        access: access_rules.Access,
        gates: gates_store.Gates,
        runner: tasks.CommandRunner,
        idempotency_window: float,
    ) -> None:
        self.access, self.gates, self.runner = access, gates, runner
        self.idempotency_window = idempotency_window
        #: answers of blocking tasks by idempotency key (a repeat waits for a running one)
        self.answers: dict[str, asyncio.Future[_Answer]] = {}

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/healthz" and not self.access.token_ok(
            request.headers.get("Authorization"), request.query.get("token")
        ):
            return web.Response(
                status=401,
                text="Unauthorized: send 'Authorization: Bearer "
                "<token>' or '?token=<token>' with the loadtester's token",
                headers={"WWW-Authenticate": 'Bearer realm="flagger-loadtester"'},
            )
        return await handler(request)

    async def payload(self, request: web.Request) -> Payload:
        """The request's payload; answers 400 or 403 (namespace) by raising."""
        try:
            payload = decode_payload(await request.read())
        except BadPayload as exc:
            log.error(str(exc))
            raise web.HTTPBadRequest(text=str(exc)) from None
        if not self.access.namespace_ok(payload.namespace):
            log.warning(
                f"namespace {payload.namespace!r} is not a namespace name matching "
                f"-namespace-regexp",
                canary=payload.canary,
            )
            raise web.HTTPForbidden(text="Forbidden")
        return payload

    # gates

    async def healthz(self, request: web.Request) -> web.Response:
        return _text_response(200, "OK")

    async def metrics(self, request: web.Request) -> web.Response:
        body = prometheus_client.generate_latest(prometheus_client.REGISTRY)
        return web.Response(
            body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )

    async def approve(self, request: web.Request) -> web.Response:
        return _text_response(200, "OK")

    async def halt(self, request: web.Request) -> web.Response:
        return _text_response(403, "Forbidden")

    def check(self, prefix: str, what: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            payload = await self.payload(request)
            key = prefix + payload.canary
            approved = self.gates.is_open(key)
            log.info(f"{key} {what} check: approved {str(approved).lower()}")
            return _text_response(200, "Approved") if approved else _text_response(403, "Forbidden")

        return handle

    def change(self, prefix: str, what: str, is_open: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            payload = await self.payload(request)
            key = prefix + payload.canary
            verb = "opened" if is_open else "closed"
            try:
                await self.gates.set(key, is_open)
            except Exception as exc:
                message = (
                    f"{key} {what} {verb} but not saved to {self.gates.store.describe()}: {exc}"
                )
                log.error(message)
                return _text_response(500, message)
            log.info(f"{key} {what} {verb}")
            return _text_response(202)

        return handle

    # tasks

    async def task(self, request: web.Request) -> web.StreamResponse:
        payload = await self.payload(request)
        metadata = payload.metadata
        if not metadata:
            return _text_response(400, "metadata not found in payload")
        task_type = metadata.get("type", "cmd")
        command = metadata.get("cmd", "")
        key = request.headers.get(idempotency.HEADER) or metadata.get(idempotency.METADATA_KEY, "")
        if task_type == "cmd":
            if "cmd" not in metadata:
                return _text_response(400, "cmd not found in metadata")
            argv: list[str] | None = None
            if self.access.strict:
                try:
                    argv = self.access.argv(command)
                except commands.Refused as exc:
                    return self.refuse(payload, str(exc))
            if key and not await self.first_time(payload, key, command):
                return web.Response(
                    status=202,
                    text=f"command skipped: idempotency key {key} already ran",
                    headers={REPLAYED_HEADER: "true"},
                )
            self.runner.submit(
                payload.canary,
                command,
                argv=argv,
                log_output=tasks.parse_go_bool(metadata.get("logCmdOutput")),
            )
            return _text_response(202)
        if task_type == "bash" and self.access.strict:
            return self.refuse(
                payload,
                f'command "{command}" is not allowed by this loadtester: bash tasks are '
                f"refused under -allow rules, which admit no shell; use a cmd task with a "
                f"command the rules allow",
            )
        if task_type == "bash" or task_type in tasks.TOOL_BINARIES:
            return await self.blocking(payload, task_type, command, key)
        if task_type in NOT_IMPLEMENTED:
            message = (
                f"task type {task_type} is not supported by this loadtester (Flagger's "
                f"{task_type} integration is not implemented here); run its client from a "
                f"cmd or bash task instead"
            )
            log.error(message, canary=payload.canary)
            return _text_response(501, message)
        return _text_response(400, f"unknown task type {task_type}")

    async def first_time(self, payload: Payload, key: str, command: str) -> bool:
        """Record ``key``; False (logged) when it already started a command in the window."""
        try:
            fresh = await self.gates.remember(key, self.idempotency_window)
        except Exception as exc:  # at-least-once beats refusing: run it, say why
            log.error(
                f"idempotency key {key} not saved to {self.gates.store.describe()}: {exc}",
                canary=payload.canary,
            )
            return True
        if not fresh:
            log.info(
                f"command skipped {command}: idempotency key {key} already ran",
                canary=payload.canary,
            )
        return fresh

    def refuse(self, payload: Payload, message: str) -> web.Response:
        log.warning(message, canary=payload.canary)
        return _text_response(403, message)

    async def blocking(
        self, payload: Payload, task_type: str, command: str, key: str
    ) -> web.Response:
        """A ``bash`` or tool task, run while the caller waits; with an idempotency key, once
        per key: a repeat gets the first run's answer (waiting for it when still running) with
        the ``Idempotent-Replayed`` header."""
        strict_argv: list[str] | None = None
        if self.access.strict:
            try:
                strict_argv = self.access.argv(command, task_type)
            except commands.Refused as exc:
                return self.refuse(payload, str(exc))
        if not key:
            return await self.run_blocking(payload, task_type, command, strict_argv)
        now = time.time()
        self.answers = {
            k: f
            for k, f in self.answers.items()
            if not f.done() or now - f.result().at < self.idempotency_window
        }
        earlier = self.answers.get(key)
        if earlier is not None:
            log.info(
                f"command skipped {command}: idempotency key {key} already ran",
                canary=payload.canary,
            )
            return (await asyncio.shield(earlier)).replayed()
        answer: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self.answers[key] = answer  # before any await: a concurrent repeat waits for this run
        try:
            if await self.first_time(payload, key, command):
                response = await self.run_blocking(payload, task_type, command, strict_argv)
            else:  # ran before a restart: its answer was not kept
                response = _text_response(
                    409,
                    f"command {command} not run: idempotency key {key} already ran (before "
                    "this loadtester restarted, so its answer is not known)",
                )
                response.headers[REPLAYED_HEADER] = "true"
        except BaseException:
            self.answers.pop(key, None)
            answer.cancel()
            raise
        answer.set_result(_Answer(response.status, response.text or "", time.time()))
        return response

    async def run_blocking(
        self, payload: Payload, task_type: str, command: str, strict_argv: list[str] | None
    ) -> web.Response:
        line = command if task_type == "bash" else f"{task_type} {command}"
        canary = payload.canary
        if task_type == "bash":
            log.info(f"bash command {command}", canary=canary)
            argv = ["bash", "-c", command]
        else:
            try:
                argv = tasks.tool_command(task_type, command, strict_argv)
            except tasks.ToolMissing as exc:
                log.error(str(exc), canary=canary)
                return _text_response(500, str(exc))
            log.info(f"running command {line}", canary=canary)
        outcome = await tasks.run(argv, self.runner.timeout)
        if not outcome.ok:
            log.error(f"command failed {command} {outcome.error} {outcome.output}", canary=canary)
            return _text_response(500, tasks.failure_text(command, outcome))
        if outcome.output:
            log.info(outcome.output, canary=canary)
        log.info(f"command finished {line}", canary=canary)
        return_output = tasks.parse_go_bool(payload.metadata.get("returnCmdOutput"))
        return _text_response(200, outcome.output if return_output else "")


def build_app(
    access: access_rules.Access,
    gates: gates_store.Gates,
    runner: tasks.CommandRunner,
    idempotency_window: float = 600.0,
) -> web.Application:
    """The loadtester's aiohttp application."""
    api = _Api(access, gates, runner, idempotency_window)
    app = web.Application(middlewares=[api.authenticate])
    routes: list[tuple[str, Handler]] = [
        ("/healthz", api.healthz),
        ("/metrics", api.metrics),
        ("/gate/approve", api.approve),
        ("/gate/halt", api.halt),
        ("/gate/check", api.check("", "gate")),
        ("/gate/open", api.change("", "gate", True)),
        ("/gate/close", api.change("", "gate", False)),
        ("/rollback/check", api.check("rollback.", "rollback")),
        ("/rollback/open", api.change("rollback.", "rollback", True)),
        ("/rollback/close", api.change("rollback.", "rollback", False)),
        ("/{tail:.*}", api.task),  # Go's mux sends every other path to the task handler
    ]
    for path, handler in routes:
        app.router.add_route("*", path, handler)
    return app


# --- running ------------------------------------------------------------------------------------


async def open_store(settings: Settings) -> gates_store.GateStore:
    """The gate store the flags ask for."""
    if settings.gates_file:
        return gates_store.FileStore(pathlib.Path(settings.gates_file))
    if settings.gates_configmap:
        from flagger.kube import client as kube_client

        namespace, _, name = settings.gates_configmap.partition("/")
        kube = await kube_client.Kube.connect(settings.kubeconfig or None)
        return gates_store.ConfigMapStore(kube, namespace, name)
    return gates_store.MemoryStore()


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the loadtester until ``stop`` is set; the exit status.

    Without ``stop`` (the command), SIGTERM and SIGINT stop it.
    """
    loop = asyncio.get_running_loop()
    signals: tuple[signal.Signals, ...] = ()
    if stop is None:
        stop, signals = asyncio.Event(), (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    runner = tasks.CommandRunner(settings.timeout, log_output=settings.log_cmd_output)
    store: gates_store.GateStore | None = None
    web_runner: web.AppRunner | None = None
    try:
        try:
            store = await open_store(settings)
        except Exception as exc:
            log.error(f"gates store unavailable: {exc}")
            return 1
        gates = gates_store.Gates(store)
        try:
            count = await gates.load()
        except Exception as exc:
            log.error(f"loading gates from {store.describe()} failed: {exc}")
            return 1
        log.info(f"gates kept in {store.describe()}: {count} loaded")
        app = build_app(settings.access(), gates, runner, settings.idempotency_window)
        web_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await web_runner.setup()
        host = settings.listen_host
        site = web.TCPSite(web_runner, host or None, settings.port)
        try:
            await site.start()
        except OSError as exc:
            log.error(f"cannot listen on {host or '*'}:{settings.port}: {exc}")
            return 1
        port = web_runner.addresses[0][1]
        if not settings.token:
            log.warning(
                "no -token: anyone who reaches this loadtester can run commands"
                + (
                    "; listening on 127.0.0.1 only (set -token, or -insecure-allow-anyone)"
                    if host == "127.0.0.1" and not settings.host
                    else ""
                )
            )
        log.info(
            f"Starting load tester v{flagger.__version__} API on port {port}",
            host=host or "*",
            port=port,
        )
        await stop.wait()
        return 0
    finally:
        if web_runner is not None:
            await web_runner.cleanup()
            log.info("HTTP server stopped")
        await runner.close()
        if store is not None:
            await store.close()
        for signum in signals:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``flagger-loadtester`` command."""
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    logs.setup(settings.log_level)
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
