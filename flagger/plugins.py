"""Plugin contracts and the plugin manager.

Routers, metric backends, observers and notifiers are all plugins, found through the entry
point group ``flagger``. The built-ins register themselves there exactly as an outside package
would (see ``pyproject.toml``), so a third-party plugin is an equal citizen.

A plugin module implements some of the hooks below with ``@flagger.plugins.hookimpl``:

- ``flagger_provides()`` declares what the plugin offers, as :class:`Provided` entries (kind and
  name). ``flagger plugins`` lists them and validation accepts exactly these names.
- ``flagger_router(name, context)``, ``flagger_metric_backend(provider_type, context)``,
  ``flagger_observer(provider, context)`` and ``flagger_notifier(provider_type, context)`` return
  an implementation for a name, or ``None`` when the plugin does not serve that name. The first
  non-``None`` answer wins.

Each implementation satisfies a ``typing.Protocol`` defined here; a no-op implementation sits
beside each protocol (Flagger's habit of null objects instead of ``None`` checks).

Errors a plugin raises (the daemon reports them on the Canary: a Warning event and, for a router,
the ``Configured=False`` condition; any other exception a router raises, except the API server's
own errors, is reported as a :class:`RouterError` too)::

    PluginError
     ├── RouterError              a router could not read or write its objects
     │    └── UnsupportedFeature  the provider cannot route what the Canary asks for
     ├── QueryError               a metric query (or availability check) failed
     ├── NoValuesFound            a query returned no value: the check fails
     └── ConfigError (also a ValueError)
                                  a provider spec or its credentials cannot make a backend

    UnknownPlugin (LookupError)   no installed plugin serves a name
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import pluggy

JSON = dict[str, Any]

PROJECT = "flagger"
ENTRY_POINT_GROUP = "flagger"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Kind(enum.StrEnum):
    """The kinds of plugin, as printed by ``flagger plugins``."""

    ROUTER = "router"
    METRIC_BACKEND = "metric-backend"
    OBSERVER = "observer"
    NOTIFIER = "notifier"


@dataclasses.dataclass(frozen=True)
class Provided:
    """One name a plugin serves: a routing provider, a metric provider type, an observer's mesh
    or an alert provider type. ``implemented`` is False for names that are recognised (so manifests
    using them validate) but whose implementation has not landed yet."""

    kind: Kind
    name: str
    implemented: bool = True


@dataclasses.dataclass(frozen=True)
class Listing:
    """A :class:`Provided` entry together with the distribution that ships it."""

    kind: Kind
    name: str
    package: str
    implemented: bool


class Reader(Protocol):
    """Reads of Kubernetes objects, as raw JSON dicts: exactly the read methods (and signatures)
    of ``flagger.kube.client.Kube``, so that a watch-cache-backed reader can stand in for it.

    Workload controllers and routers read through a ``Reader``; writes go to a
    :class:`KubeClient`.
    """

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        """The object, or None when it does not exist."""
        ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> builtins.list[JSON]:
        """All objects of a kind (in a namespace, or everywhere when None)."""
        ...

    async def list_snapshot(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[builtins.list[JSON], str]:
        """All objects and the list's resourceVersion (a watch can resume from it)."""
        ...


class KubeClient(Reader, Protocol):
    """The Kubernetes client plugins get (``PluginContext.kube``): the :class:`Reader` methods
    plus the writes of ``flagger.kube.client.Kube``. Errors are ``flagger.kube.errors``'
    (``NotFound``, ``Conflict``...)."""

    async def create(self, obj: JSON) -> JSON:
        """POST the object (``Conflict`` when it already exists)."""
        ...

    async def replace(self, obj: JSON) -> JSON:
        """PUT the object (``Conflict`` on a stale ``metadata.resourceVersion``)."""
        ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: JSON | builtins.list[Any],
        *,
        patch_type: Literal["merge", "strategic", "json"] = "merge",
        subresource: str | None = None,
    ) -> JSON:
        """PATCH an object (merge, strategic merge or JSON patch), optionally a subresource."""
        ...

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None:
        """DELETE the object; one already gone is fine."""
        ...


@dataclasses.dataclass
class PluginContext:
    """What the daemon hands to a plugin factory: the API client and the daemon's options.

    ``kube`` is the daemon's Kubernetes client (typed loosely here so that this module stays
    at the bottom of the import graph); ``options`` are the command-line flags by name.
    ``mesh_kube`` is the client of the service-mesh cluster (``-kubeconfig-service-mesh``,
    Flagger's ``meshClient``): routers write their mesh objects through it. It is ``kube``
    unless a separate mesh cluster is configured. ``session`` is an HTTP session (an
    ``aiohttp.ClientSession``) a backend may reuse, its owner closes it; ``None``: the backend
    opens its own (the daemon sets it for the ``-metrics-server`` Prometheus backend).
    ``reader`` is a :class:`Reader` serving reads from the daemon's watch caches (Canaries,
    targets, Services); it is ``kube`` unless a cached reader is given.
    """

    kube: Any = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    mesh_client: Any = None
    session: Any = None
    cached_reader: Any = None

    @property
    def reader(self) -> Any:
        """The client for reads (a :class:`Reader`): the daemon's watch caches, else ``kube``."""
        return self.cached_reader if self.cached_reader is not None else self.kube

    @property
    def mesh_kube(self) -> Any:
        """The client for mesh routing objects: the mesh cluster's, else ``kube``."""
        return self.mesh_client if self.mesh_client is not None else self.kube


# --- errors --------------------------------------------------------------------------------


class PluginError(Exception):
    """The root of the errors plugins raise; the message names the object and what to change."""


class RouterError(PluginError):
    """A router could not read or write its objects; the message names the object and why."""


class _Named(Protocol):
    """Anything with a name and a namespace (a Canary)."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> str: ...


def unsupported_message(
    canary: str, provider: str, feature: str, fix: str = "", providers: Sequence[str] = ()
) -> str:
    """``canary <name.namespace>: provider <p> does not support <feature>``, then
    ``; providers that do: <…>`` and ``; <fix>`` when given."""
    message = f"canary {canary}: provider {provider} does not support {feature}"
    if providers:
        message += f"; providers that do: {', '.join(providers)}"
    if fix:
        message += f"; {fix}"
    return message


class UnsupportedFeature(RouterError):
    """A Canary asks its routing provider for something the provider cannot do (rather than
    the provider silently routing something else). ``canary`` is ``name.namespace``."""

    def __init__(
        self,
        canary: _Named,
        provider: str,
        feature: str,
        fix: str = "",
        *,
        providers: Sequence[str] = (),
    ) -> None:
        self.canary = f"{canary.name}.{canary.namespace}"
        self.provider, self.feature = provider, feature
        self.providers = tuple(providers)
        super().__init__(unsupported_message(self.canary, provider, feature, fix, providers))


class QueryError(PluginError):
    """A metric query or availability check failed; the message carries the provider's text
    (Flagger shows it after ``<provider> query failed:``)."""


class ConfigError(PluginError, ValueError):
    """A metric provider spec, its credentials or the metric interval cannot make a backend
    (also a ``ValueError``, as the backends' spec errors always were)."""


# --- contracts -----------------------------------------------------------------------------


@runtime_checkable
class Router(Protocol):
    """Routes traffic between ``<svc>-primary`` and ``<svc>-canary`` for one provider."""

    async def reconcile(self, canary: Any) -> None:
        """Create or update the provider's objects for the canary."""

    async def set_routes(
        self, canary: Any, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Apply weights (and mirroring) to the routing objects."""

    async def get_routes(self, canary: Any) -> tuple[int, int, bool]:
        """Read back the (primary weight, canary weight, mirrored) currently in effect."""

    async def finalize(self, canary: Any) -> None:
        """Revert the provider's objects to their original configuration."""


class NopRouter:
    """A router that routes nothing: every call succeeds and all traffic stays on the primary."""

    async def reconcile(self, canary: Any) -> None:
        return None

    async def set_routes(
        self, canary: Any, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        return None

    async def get_routes(self, canary: Any) -> tuple[int, int, bool]:
        return 100, 0, False

    async def finalize(self, canary: Any) -> None:
        return None


@runtime_checkable
class MetricBackend(Protocol):
    """Runs queries against one metric provider (Prometheus, Datadog, ...)."""

    async def run_query(self, query: str) -> float:
        """Return the single value of a query; raise ``NoValuesFound`` when there is none."""

    async def is_online(self) -> bool:
        """Tell whether the provider answers."""


class OnlineCheck:
    """A metric backend's ``is_online`` from its ``check_online``: True unless the check raises
    :class:`QueryError` (whose message says why the provider is unusable)."""

    async def check_online(self) -> None:
        """Raise :class:`QueryError` with the reason unless the provider answers."""
        raise NotImplementedError

    async def is_online(self) -> bool:
        """Tell whether the provider answers (see :meth:`check_online` for why not)."""
        try:
            await self.check_online()
        except QueryError:
            return False
        return True


@runtime_checkable
class RangeQueryBackend(Protocol):
    """A metric backend that can also return every sample of a window (Prometheus can); the
    baseline comparison needs one."""

    async def run_range_query(
        self, query: str, start: float, end: float, step: float
    ) -> list[float]:
        """The samples of ``query`` from ``start`` to ``end`` (Unix seconds) every ``step`` s."""


class NoValuesFound(PluginError):
    """A query returned no value (empty or NaN): the check fails as Flagger's does."""


#: Keys the daemon adds to a MetricTemplate's ``spec.provider`` before handing it to
#: ``flagger_metric_backend``: the decoded data of the ``secretRef`` Secret, and the canary
#: metric's ``interval`` (a Go duration; some backends window their queries by it).
CREDENTIALS_KEY = "credentials"
INTERVAL_KEY = "metricInterval"


class NopMetricBackend:
    """A backend without data: every query has no values."""

    async def run_query(self, query: str) -> float:
        raise NoValuesFound(query)

    async def is_online(self) -> bool:
        return True


@runtime_checkable
class Observer(Protocol):
    """The built-in metrics (``request-success-rate``, ``request-duration``) for one mesh."""

    def query(self, metric: str) -> str | None:
        """The query template for a built-in metric, or ``None`` if this mesh has none."""


class NopObserver:
    """An observer with no built-in queries."""

    def query(self, metric: str) -> str | None:
        return None


@runtime_checkable
class Notifier(Protocol):
    """Posts an alert to a chat service (Slack, MS Teams, ...)."""

    async def post(self, alert: Mapping[str, Any]) -> None:
        """Deliver one alert."""


class NopNotifier:
    """A notifier that drops every alert."""

    async def post(self, alert: Mapping[str, Any]) -> None:
        return None


# --- hook specifications --------------------------------------------------------------------


class Specs:
    """The hooks a plugin may implement."""

    @hookspec
    def flagger_provides(self) -> Iterable[Provided]:  # type: ignore[empty-body]
        """Declare the names this plugin serves."""

    @hookspec(firstresult=True)
    def flagger_router(self, name: str, context: PluginContext) -> Router | None:
        """Return a router for the routing provider ``name``."""

    @hookspec(firstresult=True)
    def flagger_metric_backend(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> MetricBackend | None:
        """Return a metric backend for a MetricTemplate ``spec.provider`` of this type."""

    @hookspec(firstresult=True)
    def flagger_observer(self, provider: str, context: PluginContext) -> Observer | None:
        """Return the built-in metric queries for the routing provider ``provider``."""

    @hookspec(firstresult=True)
    def flagger_notifier(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> Notifier | None:
        """Return a notifier for an AlertProvider of this type."""


# --- the manager ----------------------------------------------------------------------------


class Plugins:
    """The installed plugins: what they provide, and factories for their implementations."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager

    def listings(self) -> list[Listing]:
        """Everything the installed plugins provide, sorted by kind and name."""
        found: list[Listing] = []
        for plugin in self.manager.get_plugins():
            impl = getattr(plugin, "flagger_provides", None)
            if impl is None:
                continue
            package = _distribution_of(self.manager, plugin)
            for item in impl():
                found.append(Listing(item.kind, item.name, package, item.implemented))
        return sorted(found, key=lambda x: (x.kind.value, x.name, x.package))

    def names(self, kind: Kind) -> frozenset[str]:
        """The names of one kind that some installed plugin provides."""
        return frozenset(x.name for x in self.listings() if x.kind is kind)

    def router(self, name: str, context: PluginContext) -> Router:
        """The router for a provider name; :class:`UnknownPlugin` when none serves it."""
        found: Router | None = self.manager.hook.flagger_router(name=name, context=context)
        if found is None:
            raise UnknownPlugin(Kind.ROUTER, name, self.names(Kind.ROUTER))
        return found

    def metric_backend(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> MetricBackend:
        """The metric backend for a provider type; :class:`UnknownPlugin` when none serves it."""
        found: MetricBackend | None = self.manager.hook.flagger_metric_backend(
            provider_type=provider_type, spec=spec, context=context
        )
        if found is None:
            raise UnknownPlugin(Kind.METRIC_BACKEND, provider_type, self.names(Kind.METRIC_BACKEND))
        return found

    def observer(self, provider: str, context: PluginContext) -> Observer:
        """The built-in metric queries for a mesh; a no-op observer when none is installed."""
        found: Observer | None = self.manager.hook.flagger_observer(
            provider=provider, context=context
        )
        return found if found is not None else NopObserver()

    def notifier(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> Notifier:
        """The notifier for an alert provider type; :class:`UnknownPlugin` when none serves it."""
        found: Notifier | None = self.manager.hook.flagger_notifier(
            provider_type=provider_type, spec=spec, context=context
        )
        if found is None:
            raise UnknownPlugin(Kind.NOTIFIER, provider_type, self.names(Kind.NOTIFIER))
        return found


class UnknownPlugin(LookupError):
    """No installed plugin serves a name; the message lists the installed ones."""

    def __init__(self, kind: Kind, name: str, installed: Iterable[str]) -> None:
        self.kind, self.name = kind, name
        self.installed = sorted(installed)
        super().__init__(
            f"no installed {kind.value} plugin provides {name!r}; installed: "
            f"{', '.join(self.installed) or 'none'} (install a plugin package that provides it)"
        )


def _distribution_of(manager: pluggy.PluginManager, plugin: object) -> str:
    for registered, dist in manager.list_plugin_distinfo():
        if registered is plugin:
            return str(dist.metadata["name"])
    return getattr(plugin, "__name__", type(plugin).__name__)


def load(extra: Iterable[object] = ()) -> Plugins:
    """Build a plugin manager with every ``flagger`` entry point installed, plus ``extra``
    plugin objects (for tests and embedding; one that is installed already is not added twice)."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(Specs)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        if not manager.is_registered(plugin):  # an installed plugin given again is not an error
            manager.register(plugin)
    return Plugins(manager)


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The raw entry points of the ``flagger`` group (for diagnostics)."""
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
