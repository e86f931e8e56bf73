"""``flagger get|watch|promote|abort|retry|pause|resume|dashboard`` and ``kubectl flagger``.

Each command runs as the user (their kubeconfig, context and RBAC; see
:mod:`flagger.ops.connection`). Expected failures (no kubeconfig, a missing canary, a 403)
print one line on stderr and exit 1; the parser's own errors exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from flagger.api import actions
from flagger.kube import client as kube_client
from flagger.ops import connection, reading, requests, terminal, views

__all__ = ["add_commands", "build_kubectl_parser", "kubectl_main"]

WATCH_PERIOD_SECONDS = 1.0
WAIT_SECONDS = 30.0


def _target_flags(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "-n", "--namespace", help="namespace (default: the context's namespace, else default)"
    )
    if all_namespaces:
        parser.add_argument(
            "-A", "--all-namespaces", action="store_true", help="canaries of every namespace"
        )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands for operating rollouts by hand to ``flagger``'s subcommands."""
    get = commands.add_parser("get", help="list canaries, or show one canary in detail")
    get.add_argument("what", choices=("canaries", "canary"), help="canaries or canary")
    get.add_argument("name", nargs="?", help="a canary's name: show its details")
    _target_flags(get, all_namespaces=True)
    get.set_defaults(func=_run(_get))

    watch = commands.add_parser(
        "watch", help="follow a canary live until it settles (Initialized, Succeeded, Failed)"
    )
    watch.add_argument("name", help="the canary's name")
    _target_flags(watch)
    watch.set_defaults(func=_run(_watch))

    for action, text in (
        (actions.Action.PROMOTE, "advance one step now; --full: promote now"),
        (actions.Action.ABORT, "roll back now (phase Failed)"),
        (actions.Action.RETRY, "analyse the current revision again after a failure"),
        (actions.Action.PAUSE, "hold the analysis where it is (weights kept)"),
        (actions.Action.RESUME, "go on with a paused analysis"),
    ):
        command = commands.add_parser(action.value, help=text)
        command.add_argument("name", help="the canary's name")
        if action is actions.Action.PROMOTE:
            command.add_argument(
                "--full", action="store_true", help="skip every remaining step and promote now"
            )
        command.add_argument(
            "--wait",
            action="store_true",
            help=f"wait (up to {WAIT_SECONDS:.0f}s) for the daemon's answer and print it",
        )
        _target_flags(command)
        command.set_defaults(func=_run(_act), action=action)

    dashboard = commands.add_parser("dashboard", help="serve the web dashboard (as you)")
    dashboard.add_argument(
        "--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    dashboard.add_argument("--port", type=int, default=8090, help="port (default 8090; 0: any)")
    dashboard.add_argument(
        "--read-only", action="store_true", help="no action buttons, whatever RBAC allows"
    )
    dashboard.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus scraping the daemon: metric values and weights over time",
    )
    _target_flags(dashboard, all_namespaces=True)
    dashboard.set_defaults(func=_run(_dashboard))


Handler = Callable[[argparse.Namespace, kube_client.Kube, str], Awaitable[int]]


def _run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_connected(handler, args))
        except connection.CommandError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

    return run


async def _connected(handler: Handler, args: argparse.Namespace) -> int:
    target = connection.Target(args.kubeconfig, args.context, args.namespace)
    kube, namespace = await connection.connect(target)
    try:
        return await handler(args, kube, namespace)
    finally:
        await kube.close()


async def _get(args: argparse.Namespace, kube: kube_client.Kube, namespace: str) -> int:
    out = sys.stdout
    if args.name:
        raw = await reading.canary(kube, args.name, namespace)
        found = await reading.events(kube, namespace, args.name)
        detail = views.detail(raw, found.get((namespace, args.name), []))
        out.write(terminal.canary_detail(detail, terminal.use_colour(out)))
        return 0
    where = None if args.all_namespaces else namespace
    items = await reading.canaries(kube, where)
    if not items:
        scope = "any namespace" if where is None else f"namespace {where}"
        print(f"No canaries found in {scope}.", file=sys.stderr)
        return 0
    events = await reading.events(kube, where)
    summaries = [
        views.summary(raw, events.get((raw["metadata"]["namespace"], raw["metadata"]["name"]), []))
        for raw in items
    ]
    out.write(terminal.canaries_table(summaries, all_namespaces=args.all_namespaces))
    return 0


async def _watch(args: argparse.Namespace, kube: kube_client.Kube, namespace: str) -> int:
    return await watch(kube, args.name, namespace, sys.stdout)


async def watch(
    kube: kube_client.Kube,
    name: str,
    namespace: str,
    out: TextIO,
    *,
    period: float = WATCH_PERIOD_SECONDS,
) -> int:
    """Follow a canary until it settles: redrawn in place on a terminal, appended otherwise."""
    live = terminal.use_colour(out)
    printed: set[tuple[str, str]] = set()
    last_line = ""
    while True:
        raw = await reading.canary(kube, name, namespace)
        found = await reading.events(kube, namespace, name)
        detail = views.detail(raw, found.get((namespace, name), []))
        if live:
            out.write("\033[H\033[2J" + terminal.frame(detail, colour=True))
        else:
            line = f"{detail.summary.status:<24} {terminal.bar(detail)}"
            if line != last_line:
                out.write(line + "\n")
                last_line = line
            for event in detail.events:
                if (event.time, event.message) not in printed:
                    printed.add((event.time, event.message))
                    out.write(f"  {event.time}  {event.message}\n")
        out.flush()
        if views.settled(raw):
            out.write(f"{name}.{namespace} settled: {detail.summary.status}\n")
            return 0
        await asyncio.sleep(period)


async def _act(args: argparse.Namespace, kube: kube_client.Kube, namespace: str) -> int:
    action: actions.Action = args.action
    sent = await requests.send(
        kube, args.name, namespace, action, full=bool(getattr(args, "full", False))
    )
    request = sent.request
    print(
        f"{request.label} requested for {args.name}.{namespace} "
        f"(request {request.short_id}, by {request.requested_by or 'you'})"
    )
    if not args.wait:
        return 0
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        raw = await reading.canary(kube, args.name, namespace)
        record = (raw.get("status") or {}).get("lastAction") or {}
        if record.get("id") == request.id:
            print(record.get("message") or "")
            return 0 if record.get("accepted") else 1
        await asyncio.sleep(0.2)
    print(
        f"error: the daemon did not answer within {WAIT_SECONDS:.0f}s; is it running?",
        file=sys.stderr,
    )
    return 1


async def _dashboard(args: argparse.Namespace, kube: kube_client.Kube, namespace: str) -> int:
    from flagger.dashboard import server

    settings = server.Settings(
        namespace=None if args.all_namespaces or not args.namespace else namespace,
        read_only=args.read_only,
        prometheus=args.prometheus,
    )
    return await server.serve(kube, settings, address=args.address, port=args.port)


def build_kubectl_parser() -> argparse.ArgumentParser:
    """The parser of ``kubectl-flagger``."""
    parser = argparse.ArgumentParser(
        prog="kubectl flagger", description="Operate flagger rollouts by hand."
    )
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def kubectl_main(argv: Sequence[str] | None = None) -> int:
    """``kubectl-flagger``: the same commands as ``flagger``, run as a kubectl plugin."""
    args = build_kubectl_parser().parse_args(sys.argv[1:] if argv is None else argv)
    code: int = args.func(args)
    return code
