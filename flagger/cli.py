"""The ``flagger`` command.

- ``flagger plugins``: what the installed plugins provide (kind, name, package).
- ``flagger validate FILE...``: check Canary, MetricTemplate and AlertProvider manifests.
- ``flagger crds``: print the CustomResourceDefinitions generated from the models.
- ``flagger run [FLAGS]`` (or ``flagger FLAGS``, as Flagger's binary is started): the daemon.
- ``flagger playground [--exit] [--json FILE] [--helm]``: the tutorial, played on this machine
  (through Git commits and Flux, or with ``--helm`` by installing the charts directly).
- ``flagger simulate CANARY.yaml [--metric NAME=V1,V2,...] [--webhook NAME=pass|fail,...]``:
  the analysis with a simulated clock and no cluster.
- ``flagger get canaries|canary NAME``, ``flagger watch NAME``, ``flagger promote|abort|retry|
  pause|resume NAME``, ``flagger dashboard``: operating rollouts by hand, as the user
  (:mod:`flagger.cli_ops`; also installed as the kubectl plugin ``kubectl-flagger``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from flagger import plugins


def _plugins(args: argparse.Namespace) -> int:
    listings = plugins.load().listings()
    rows = [("KIND", "NAME", "PACKAGE", "STATUS")] + [
        (x.kind.value, x.name, x.package, "ready" if x.implemented else "declared, not implemented")
        for x in listings
        if args.kind is None or x.kind.value == args.kind
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return 0


def _validate(args: argparse.Namespace) -> int:
    from flagger import validate_command

    return validate_command.run(args.paths, sys.stdout, sys.stderr)


def _crds(args: argparse.Namespace) -> int:
    from flagger.api import crds

    sys.stdout.write(crds.render_all())
    return 0


def _run(args: argparse.Namespace) -> int:
    import asyncio

    import flagger
    from flagger import options
    from flagger.controller import daemon

    opts = options.from_namespace(args)
    if opts.version:
        print(flagger.__version__)
        return 0
    return asyncio.run(daemon.run(opts))


def _playground(args: argparse.Namespace) -> int:
    import asyncio

    from flagger.playground import main as playground

    return asyncio.run(
        playground.run(exit_after=args.exit, json_path=args.json, gitops=not args.helm)
    )


def _simulate(args: argparse.Namespace) -> int:
    from flagger import simulation

    return simulation.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``flagger`` command."""
    parser = argparse.ArgumentParser(
        prog="flagger", description="Progressive delivery for Kubernetes (flagger.app/v1beta1)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "plugins", help="list the installed routers, metric backends, observers and notifiers"
    )
    listing.add_argument("--kind", choices=[k.value for k in plugins.Kind])
    listing.set_defaults(func=_plugins)

    validate = commands.add_parser(
        "validate", help="validate manifests (files, directories, or - for stdin)"
    )
    from flagger.api import documents

    validate.add_argument(
        "paths",
        nargs="+",
        metavar="FILE",
        help=(
            "a manifest, a directory of them, or - for stdin; exit 0 when all are valid, 1 when "
            "any is invalid or holds no object, 2 when one cannot be read or parsed. Limits: "
            f"{documents.MAX_BYTES // 2**20} MiB per input; {documents.MAX_DEPTH} levels of "
            f"nesting and {documents.MAX_NODES:,} values (aliases expanded) per document. A "
            "Canary's templateRef, providerRef and autoscalerRef are looked up among the "
            "inputs: missing is an error when a directory given holds objects of that kind in "
            "that namespace, a warning otherwise"
        ),
    )
    validate.set_defaults(func=_validate)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions")
    crds.set_defaults(func=_crds)

    from flagger import options

    run = commands.add_parser("run", help="run the daemon (Flagger's flags: -flag or --flag)")
    options.add_arguments(run)
    run.set_defaults(func=_run)

    play = commands.add_parser(
        "playground", help="play Flagger's Istio tutorial on a local control plane"
    )
    play.add_argument(
        "--exit",
        action="store_true",
        help="stop after the tutorial; exit 0 only when every outcome matched",
    )
    play.add_argument(
        "--json",
        type=pathlib.Path,
        metavar="FILE",
        help="write the phases, outcomes and message timeline to FILE",
    )
    play.add_argument(
        "--helm",
        action="store_true",
        help="install and upgrade the charts directly (no Git, no Flux: faster)",
    )
    play.set_defaults(func=_playground)

    simulate = commands.add_parser(
        "simulate",
        add_help=False,
        help="play a Canary's analysis with a simulated clock (see flagger simulate --help)",
    )
    simulate.add_argument("rest", nargs=argparse.REMAINDER)
    simulate.set_defaults(func=_simulate)

    from flagger import cli_ops

    cli_ops.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flagger`` command."""
    # Go's flag package takes -help; so do we.
    argv = ["--help" if a == "-help" else a for a in (sys.argv[1:] if argv is None else argv)]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]  # Flagger's binary takes its flags without a subcommand
    if argv[0] == "simulate":  # it has a parser of its own, --help included
        from flagger import simulation

        return simulation.main(argv[1:])
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
