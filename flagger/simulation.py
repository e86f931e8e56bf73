"""``flagger simulate``: play a Canary's rollout on a simulated clock, without a cluster.

The simulation runs the daemon's own decision code (:mod:`flagger.analysis`) against a
:class:`World` that stands in for the cluster: a router that remembers the weights it was
given, workloads that are always ready, webhooks and metric queries answered from the values
given on the command line. It starts from an Initialized canary, changes the target's revision
and ticks every ``analysis.interval`` until the canary is promoted or rolled back, printing
each event as the daemon would log it, prefixed with the simulated elapsed time::

    00:00:00 New revision detected! Scaling up podinfo.test
    00:01:00 Starting canary analysis for podinfo.test
    ...
    00:05:00 Advance podinfo.test canary weight 25

``--metric NAME=V1,V2,...`` gives the values a metric returns, one per query (the last one
repeats; ``none`` means "no values found"). Metrics without values pass with a value inside
their ``thresholdRange``. ``--samples NAME=C1,C2,.../P1,P2,...`` gives a baseline comparison
the canary's and the primary's samples for one check (repeat it for the next checks; the last
repeats); the comparison's settings come from the MetricTemplate of that name in the same file
(its ``flagger.app/baseline-*`` annotations), else the defaults.
``--webhook NAME=pass|fail,...`` does the same for webhooks, which pass by default.
``--then-revert`` changes the target back to the first revision after a promotion, as
``kubectl rollout undo`` would, and plays that run too: with the Canary's
``flagger.app/rollback-window`` annotation it is promoted at once, without it analysed again.
Exit status: 0 when promoted, 1 when rolled back (or stuck), 2 on bad input.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import math
import sys
from collections.abc import Sequence
from typing import TextIO

from flagger.analysis import checks, decision, engine, messages, observation
from flagger.api import actions, documents, durations, replica_weights, status, validation
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.api import comparison as comparison_api

Phase = status.CanaryPhase
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
FIRST_REVISION = "simulated-revision-1"
NEW_REVISION = "simulated-revision-2"
MAX_TICKS = 1000
#: Tokens of ``--metric`` that mean "the query returned no values".
NO_VALUE_TOKENS = frozenset({"none", "nan", "-"})


class InputError(ValueError):
    """Bad command-line input or manifest (exit status 2)."""


# --- the simulated cluster ------------------------------------------------------------------


def passing_value(metric: analysis_api.CanaryMetric) -> float:
    """A value inside the metric's accepted range (used when no values are given)."""
    limits = metric.threshold_range
    if limits is not None and limits.min is not None and limits.max is not None:
        return (limits.min + limits.max) / 2
    if limits is not None and limits.min is not None:
        return (
            max(float(limits.min), 100.0) if metric.name == "request-success-rate" else limits.min
        )
    if limits is not None and limits.max is not None:
        return 0.0 if limits.max >= 0 else limits.max
    threshold = metric.threshold or 0
    return 100.0 if metric.name == "request-success-rate" else min(0.0, threshold)


@dataclasses.dataclass
class World:
    """A cluster reduced to what the decision code observes, driven tick by tick.

    Metric and webhook answers come from per-name sequences (one entry per call, the last
    repeats); missing metrics pass, missing webhooks pass.
    """

    canary: canary_api.Canary
    mesh_provider: str = engine.DEFAULT_MESH_PROVIDER
    metrics: dict[str, list[checks.MetricOutcome]] = dataclasses.field(default_factory=dict)
    webhooks: dict[str, list[bool]] = dataclasses.field(default_factory=dict)
    revision: observation.Revision = dataclasses.field(
        default_factory=lambda: observation.Revision(FIRST_REVISION, {})
    )
    routes: observation.Routes = dataclasses.field(default_factory=observation.Routes)
    primary: observation.Readiness = dataclasses.field(default_factory=observation.Readiness)
    canary_readiness: observation.Readiness = dataclasses.field(
        default_factory=observation.Readiness
    )
    #: The primary's and canary's replicas together, for replica-based weights.
    replicas: int = 4
    elapsed: float = 0.0
    calls: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    requests: list[checks.Request] = dataclasses.field(default_factory=list)
    #: (elapsed seconds, action) for every action carried out, in order.
    history: list[tuple[float, decision.Action]] = dataclasses.field(default_factory=list)
    #: The Canary's annotations (a ``flagger.app/action`` request made by hand).
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def provider(self) -> str:
        return engine.effective_provider(self.canary, self.mesh_provider)

    @property
    def status(self) -> status.CanaryStatus:
        return self.canary.status if self.canary.status is not None else status.CanaryStatus()

    @property
    def phase(self) -> Phase:
        return self.status.effective_phase

    @property
    def interval(self) -> float:
        spec = self.canary.spec.effective_analysis
        return spec.interval_seconds if spec is not None else analysis_api.DEFAULT_INTERVAL_SECONDS

    @property
    def routes_by_service(self) -> bool:
        """The kubernetes provider without replica-based weights routes nothing."""
        return self.provider == engine.KUBERNETES and not replica_weights.enabled(
            self.canary.metadata
        )

    def observe(self) -> observation.Observation:
        routes = self.routes
        if self.routes_by_service:
            # Flagger's kubernetes router routes nothing: it reports the canary once iterating
            routes = (
                observation.Routes(0, 100)
                if (self.status.iterations or 0) > 0
                else observation.Routes()
            )
        return observation.Observation(
            now=EPOCH + datetime.timedelta(seconds=self.elapsed),
            revision=self.revision,
            routes=routes,
            primary=self.primary,
            canary=self.canary_readiness,
            action=actions.pending(
                self.annotations, self.status.last_action.id if self.status.last_action else None
            ),
            replicas=self.replicas,
        )

    def answer(self, request: checks.Request) -> checks.Response:
        self.requests.append(request)
        if isinstance(request, checks.CallWebhook):
            return self.call_webhook(request.webhook)
        return self.query(request.metric)

    def call_webhook(self, hook: analysis_api.CanaryWebhook) -> checks.WebhookResult:
        key = f"webhook/{hook.name}"
        results = self.webhooks.get(hook.name, [True])
        ok = results[min(self.calls[key], len(results) - 1)]
        self.calls[key] += 1
        if ok:
            return checks.WebhookResult.passed()
        return checks.WebhookResult.failed(f"{hook.url} returned 403 Forbidden (simulated)")

    def query(self, metric: analysis_api.CanaryMetric) -> checks.MetricOutcome:
        key = f"metric/{metric.name}"
        values = self.metrics.get(metric.name)
        if not values:
            return checks.MetricValue(passing_value(metric))
        outcome = values[min(self.calls[key], len(values) - 1)]
        self.calls[key] += 1
        return outcome

    def tick(self) -> decision.Decision:
        """Decide one tick and carry it out; the clock does not move."""
        result = engine.decide(
            self.canary, self.observe(), self.answer, mesh_provider=self.mesh_provider
        )
        for action in result.actions:
            self.history.append((self.elapsed, action))
            if isinstance(action, decision.SetRoutes) and not self.routes_by_service:
                self.routes = observation.Routes(action.primary, action.canary, action.mirrored)
            elif isinstance(action, decision.RunPostRolloutHooks):
                self.post_rollout(action.phase)
        if result.status is not None:
            self.canary = self.canary.model_copy(update={"status": result.status})
        return result

    def post_rollout(self, phase: Phase) -> None:
        spec = self.canary.spec.effective_analysis
        for hook in spec.effective_webhooks if spec is not None else []:
            if hook.effective_type != "post-rollout":
                continue
            result = self.call_webhook(hook)
            text = (
                messages.post_rollout_passed(hook.name)
                if result.ok
                else messages.post_rollout_failed(hook.name, result.error)
            )
            severity: decision.Severity = "info" if result.ok else "warning"
            self.history.append((self.elapsed, decision.Event(text, severity, phase)))
            if not result.ok:
                return  # Flagger stops at the first failing post-rollout hook

    def advance_clock(self) -> None:
        self.elapsed += self.interval


# --- command line ---------------------------------------------------------------------------


def elapsed_text(seconds: float) -> str:
    """``HH:MM:SS`` (hours keep counting past a day)."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclasses.dataclass(frozen=True)
class Manifests:
    """What ``flagger simulate`` reads from its file: the Canary, and the baseline comparison
    settings of the MetricTemplates beside it (by template name)."""

    canary: canary_api.Canary
    comparisons: dict[str, comparison_api.Comparison]


def load_canary(path: str) -> canary_api.Canary:
    """Read and validate the Canary in ``path`` (``-`` for stdin); :class:`InputError` if bad."""
    return load_manifests(path).canary


def load_manifests(path: str) -> Manifests:
    """The Canary in ``path`` (``-`` for stdin) and the MetricTemplates' comparisons."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        docs = documents.load_documents(text, path)
    except documents.DocumentError as exc:
        raise InputError(str(exc)) from exc
    return Manifests(_canary_of(docs, path), _comparisons_of(docs, path))


def _comparisons_of(
    docs: list[tuple[object, int]], path: str
) -> dict[str, comparison_api.Comparison]:
    found: dict[str, comparison_api.Comparison] = {}
    for doc, line in docs:
        if not (isinstance(doc, dict) and doc.get("kind") == "MetricTemplate"):
            continue
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        assert isinstance(metadata, dict)
        try:
            settings = comparison_api.from_annotations(metadata.get("annotations"))
        except comparison_api.ComparisonError as exc:
            raise InputError(f"{path}:{line}: {documents.describe(doc)}: {exc}") from None
        if settings is not None:
            found[str(metadata.get("name"))] = settings
    return found


def _canary_of(docs: list[tuple[object, int]], path: str) -> canary_api.Canary:
    found = [
        (doc, line)
        for doc, line in docs
        if isinstance(doc, dict)
        and doc.get("kind") == canary_api.KIND
        and documents.is_flagger_document(doc)
    ]
    if not found:
        raise InputError(f"{path}: no flagger.app Canary found; simulate needs a Canary manifest")
    doc, line = found[0]
    problems = [p for p in validation.validate(doc) if p.is_error]
    if problems:
        where = f"{path}:{line}: {documents.describe(doc)}"
        raise InputError("\n".join(f"{where}: {p.message}" for p in problems))
    parsed = documents.parse_object(doc)
    assert isinstance(parsed, canary_api.Canary)
    if parsed.spec.effective_analysis is None:
        raise InputError(f"{path}: {parsed.describe()} has no analysis to simulate")
    return parsed


def parse_metric_values(
    options: Sequence[str], canary: canary_api.Canary
) -> dict[str, list[checks.MetricOutcome]]:
    spec = canary.spec.effective_analysis
    known = [m.name for m in (spec.effective_metrics if spec is not None else [])]
    found: dict[str, list[checks.MetricOutcome]] = {}
    for option in options:
        name, values = _split_option("--metric", option, known)
        outcomes: list[checks.MetricOutcome] = []
        for token in values:
            if token.lower() in NO_VALUE_TOKENS:
                outcomes.append(checks.NoValues())
                continue
            try:
                number = float(token)
            except ValueError:
                raise InputError(
                    f"--metric {option}: {token!r} is not a number; give numbers such as "
                    "99,62.5 (or none for no values)"
                ) from None
            if math.isnan(number):
                outcomes.append(checks.NoValues())
            else:
                outcomes.append(checks.MetricValue(number))
        found[name] = outcomes
    return found


def parse_samples(
    options: Sequence[str], manifests: Manifests
) -> dict[str, list[checks.MetricOutcome]]:
    """``--samples NAME=C1,C2,.../P1,P2,...``: one baseline comparison check per option."""
    canary = manifests.canary
    spec = canary.spec.effective_analysis
    metrics = {m.name: m for m in (spec.effective_metrics if spec is not None else [])}
    found: dict[str, list[checks.MetricOutcome]] = {}
    for option in options:
        name, sep, rest = option.partition("=")
        canary_text, slash, primary_text = rest.partition("/")
        if not sep or not slash or not name:
            raise InputError(
                f"--samples {option}: write NAME=C1,C2,.../P1,P2,... (canary samples, a slash, "
                "primary samples), e.g. --samples latency=105,110,98,120,101/100,99,104,97,102"
            )
        metric = metrics.get(name)
        if metric is None:
            listed = ", ".join(metrics) or "none"
            raise InputError(
                f"--samples {option}: the Canary has no metric named {name!r}; it has: {listed}"
            )
        if metric.template_ref is None:
            raise InputError(
                f"--samples {option}: metric {name!r} has no templateRef; a baseline "
                "comparison is a MetricTemplate annotated flagger.app/baseline-comparison"
            )
        settings = manifests.comparisons.get(metric.template_ref.name, comparison_api.Comparison())
        target = canary.spec.target_ref.name
        found.setdefault(name, []).append(
            checks.Samples(
                _numbers(option, canary_text),
                _numbers(option, primary_text),
                settings,
                f"{target}-primary",
            )
        )
    return found


def _numbers(option: str, text: str) -> tuple[float, ...]:
    values: list[float] = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        try:
            number = float(token)
        except ValueError:
            raise InputError(f"--samples {option}: {token!r} is not a number") from None
        if not math.isfinite(number):
            raise InputError(f"--samples {option}: {token!r} is not a finite number")
        values.append(number)
    return tuple(values)


def parse_webhook_results(
    options: Sequence[str], canary: canary_api.Canary
) -> dict[str, list[bool]]:
    spec = canary.spec.effective_analysis
    known = [w.name for w in (spec.effective_webhooks if spec is not None else [])]
    found: dict[str, list[bool]] = {}
    for option in options:
        name, values = _split_option("--webhook", option, known)
        results: list[bool] = []
        for token in values:
            if token.lower() not in ("pass", "fail"):
                raise InputError(f"--webhook {option}: {token!r} must be pass or fail")
            results.append(token.lower() == "pass")
        found[name] = results
    return found


def _split_option(flag: str, option: str, known: list[str]) -> tuple[str, list[str]]:
    name, sep, rest = option.partition("=")
    values = [v.strip() for v in rest.split(",") if v.strip()]
    if not sep or not name or not values:
        raise InputError(f"{flag} {option}: write NAME=V1,V2,... e.g. {flag} load-test=pass,fail")
    if name not in known:
        listed = ", ".join(known) if known else "none"
        raise InputError(
            f"{flag} {option}: the Canary has no {flag[2:]} named {name!r}; it has: {listed}"
        )
    return name, values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flagger simulate",
        description="Play a Canary's rollout on a simulated clock, with no cluster.",
    )
    parser.add_argument("canary", metavar="CANARY.yaml", help="the Canary manifest (- for stdin)")
    parser.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="values a metric returns, one per check; the last repeats; none = no values",
    )
    parser.add_argument(
        "--samples",
        action="append",
        default=[],
        metavar="NAME=C1,C2,.../P1,P2,...",
        help="a baseline comparison's canary/primary samples for one check; repeat for the "
        "next checks, the last repeats",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="NAME=pass|fail,...",
        help="results of a webhook, one per call; the last repeats (default pass)",
    )
    parser.add_argument(
        "--then-revert",
        action="store_true",
        help="after a promotion, change the target back to the first revision and play on "
        "(shows the flagger.app/rollback-window annotation at work)",
    )
    parser.add_argument(
        "--mesh-provider",
        default=engine.DEFAULT_MESH_PROVIDER,
        help="the daemon's -mesh-provider, used when the Canary sets no provider (default istio)",
    )
    return parser


def simulate(world: World, out: TextIO, *, then_revert: bool = False) -> Phase:
    """Initialize, inject a new revision, tick until the run ends; print the timeline.

    ``then_revert``: after a promotion, change the target back to the first revision and play
    that run as well.
    """
    world.tick()  # initialization, not part of the timeline
    world.history.clear()
    world.revision = observation.Revision(NEW_REVISION, {})
    phase = _play(world, out)
    if not then_revert:
        return phase
    if phase is not Phase.SUCCEEDED:
        out.write("Not reverting: the new revision was not promoted; the primary runs the first\n")
        return phase
    world.advance_clock()
    out.write(f"{elapsed_text(world.elapsed)} (target reverted to {FIRST_REVISION})\n")
    world.revision = observation.Revision(FIRST_REVISION, {})
    return _play(world, out)


def _play(world: World, out: TextIO) -> Phase:
    """Tick until the run ends, printing the timeline."""
    for _ in range(MAX_TICKS):
        start = len(world.history)
        world.tick()
        for elapsed, action in world.history[start:]:
            line = _printable(action)
            if line is not None:
                out.write(f"{elapsed_text(elapsed)} {line}\n")
        if world.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
        world.advance_clock()
    return world.phase


def _printable(action: decision.Action) -> str | None:
    if isinstance(action, decision.Event):
        return action.message
    if isinstance(action, decision.Log) and action.level != "debug":
        return action.message
    return None


def main(argv: Sequence[str]) -> int:
    """Entry point of ``flagger simulate``; returns the exit status."""
    args = build_parser().parse_args(list(argv))
    try:
        manifests = load_manifests(args.canary)
        canary = manifests.canary
        metrics = parse_metric_values(args.metric, canary)
        for name, samples in parse_samples(args.samples, manifests).items():
            if name in metrics:
                raise InputError(f"metric {name!r} is given both --metric and --samples")
            metrics[name] = samples
        world = World(
            canary=canary,
            mesh_provider=args.mesh_provider,
            metrics=metrics,
            webhooks=parse_webhook_results(args.webhook, canary),
        )
    except InputError as exc:
        sys.stderr.write(f"flagger simulate: {exc}\n")
        return 2
    out = sys.stdout
    phase = simulate(world, out, then_revert=args.then_revert)
    interval = durations.format_duration(world.interval)
    out.write(f"Final phase: {phase.value or 'unknown'}\n")
    out.write(f"Total time: {elapsed_text(world.elapsed)} (analysis interval {interval})\n")
    if phase is Phase.SUCCEEDED:
        return 0
    if phase is not Phase.FAILED:
        out.write(
            f"The rollout did not finish within {MAX_TICKS} ticks: the canary is still "
            f"{phase.value} (a gate keeps failing?)\n"
        )
    return 1
