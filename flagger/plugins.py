"""Plugin contracts and the plugin manager.

Routers, metric backends, observers and notifiers are all plugins, found through the entry
point group ``flagger``. The built-ins register themselves there exactly as an outside package
would (see ``pyproject.toml``), so a third-party plugin is an equal citizen.

A plugin module implements one hook, ``flagger_register(registry)``, with
``@flagger.plugins.hookimpl``: through the :class:`Registry` it declares, once each, the names it
serves and their factories (``registry.router``, ``registry.metric_backend``,
``registry.observer``, ``registry.notifier``) and the RBAC rules its objects need
(``registry.access``). Everything else is derived from the registry: ``flagger plugins``, the
names ``flagger validate`` accepts, the lookups of the daemon, and the provider rules of the
generated ClusterRoles (``flagger.deploy_rbac``). A factory gets the name asked for (``gloo:x``
reaches the ``gloo`` factory too) and returns an implementation or ``None`` when it does not serve
that name; the plugin registered last is asked first, and the first answer wins.

Flagger's own names (the CRD enums in ``flagger.api``) that no installed plugin registers are
listed as declared but not implemented, so that manifests written for Flagger still validate.

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
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

import pluggy

from flagger.api import alert_provider, metric_template
from flagger.api import canary as canary_api

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
class Listing:
    """One name a plugin package serves (or, ``implemented`` False, one of Flagger's names that
    no installed plugin implements yet), as ``flagger plugins`` prints it."""

    kind: Kind
    name: str
    package: str
    implemented: bool


#: One permission: a verb on a resource (``name/subresource`` allowed) of an API group.
Grant = tuple[str, str, str]


@dataclasses.dataclass(frozen=True)
class AccessRule:
    """Verbs the daemon's role needs on one resource of one API group (``""`` is the core
    group), and why (the generated RBAC prints it)."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    why: str = ""

    def grants(self) -> set[Grant]:
        """Every (verb, group, resource) of the rule."""
        return {(verb, self.group, self.resource) for verb in self.verbs}


#: What a router does to its objects: owner references let the garbage collector delete them.
ROUTE_VERBS = ("get", "create", "update")


def route_rules(group: str, *resources: str) -> tuple[AccessRule, ...]:
    """A router's rules: :data:`ROUTE_VERBS` on each of its resources of one API group."""
    return tuple(AccessRule(group, r, ROUTE_VERBS, "the router's objects") for r in resources)


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


class ApiClient(Protocol):
    """Raw API calls, for plugins that read a non-resource API (the external metrics API): the
    ``request``, ``with_overrides`` and ``close`` methods of ``flagger.kube.client.Kube``, which
    ``PluginContext.kube`` is in the daemon."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One API call (rate limited, retried); the JSON answer."""
        ...

    def with_overrides(
        self,
        *,
        host: str = "",
        token: str | None = None,
        insecure_skip_verify: bool = False,
        timeout: float | None = None,
    ) -> ApiClient:
        """A new client with another address, bearer token or TLS verification (close it)."""
        ...

    async def close(self) -> None:
        """Close the client's connections."""
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

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create or update the provider's objects for the canary."""

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Apply weights (and mirroring) to the routing objects."""

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """Read back the (primary weight, canary weight, mirrored) currently in effect."""

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Revert the provider's objects to their original configuration."""


class NopRouter:
    """A router that routes nothing: every call succeeds and all traffic stays on the primary."""

    async def reconcile(self, canary: canary_api.Canary) -> None:
        return None

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        return None

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        return 100, 0, False

    async def finalize(self, canary: canary_api.Canary) -> None:
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


class Field(TypedDict):
    """One of Flagger's alert fields (``notifier.Field``)."""

    name: str
    value: str


_ALERT_KEYS = ("name", "namespace", "message", "severity", "fields", "phase", "cluster", "target")


@dataclasses.dataclass(frozen=True, eq=False)
class Alert(Mapping[str, Any]):
    """The value a notifier's ``post`` receives, frozen: a notifier cannot change what the next
    provider gets. Read it as attributes or as a mapping (``alert["message"]``, compared equal
    to the same dict); ``fields`` is a tuple of read-only mappings."""

    name: str
    namespace: str
    message: str
    severity: str
    fields: Sequence[Mapping[str, Any]]
    phase: str
    cluster: str
    target: str

    def __post_init__(self) -> None:
        frozen = tuple(types.MappingProxyType(dict(f)) for f in self.fields)
        object.__setattr__(self, "fields", frozen)

    def __getitem__(self, key: str) -> Any:
        if key not in _ALERT_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_ALERT_KEYS)

    def __len__(self) -> int:
        return len(_ALERT_KEYS)

    def replace(self, **changes: Any) -> Alert:
        """A copy with some values changed (the message rendered from a provider's template)."""
        return dataclasses.replace(self, **changes)


@runtime_checkable
class Notifier(Protocol):
    """Posts an alert to a chat service (Slack, MS Teams, ...)."""

    async def post(self, alert: Alert) -> None:
        """Deliver one alert."""


class NopNotifier:
    """A notifier that drops every alert."""

    async def post(self, alert: Alert) -> None:
        return None


# --- registration ---------------------------------------------------------------------------

#: ``factory(name, context)``: the router for a routing provider name, or ``None``.
RouterFactory = Callable[[str, PluginContext], Router | None]
#: ``factory(provider_type, spec, context)``: a backend for a MetricTemplate ``spec.provider``.
MetricBackendFactory = Callable[[str, Mapping[str, Any], PluginContext], MetricBackend | None]
#: ``factory(provider, context)``: the built-in metric queries for a routing provider name.
ObserverFactory = Callable[[str, PluginContext], Observer | None]
#: ``factory(provider_type, spec, context)``: a notifier for an AlertProvider's ``spec``.
NotifierFactory = Callable[[str, Mapping[str, Any], PluginContext], Notifier | None]


@dataclasses.dataclass(frozen=True)
class Registration:
    """One name of one kind, the factory serving it and the distribution that registered it."""

    kind: Kind
    name: str
    factory: Callable[..., Any]
    package: str


class Registry:
    """What the installed plugins registered, each through its ``flagger_register`` hook.

    ``registrations`` are in registration order; ``access`` maps a provider key (a routing
    provider name without its ``:version``) to the RBAC rules its router needs (in registration
    order; ``access_packages`` says which distribution registered each), and ``access_aliases``
    maps other provider names to the key whose rules they share.
    """

    def __init__(self) -> None:
        self.registrations: list[Registration] = []
        self.access: dict[str, tuple[AccessRule, ...]] = {}
        self.access_aliases: dict[str, str] = {}
        self.access_packages: dict[str, str] = {}
        self.package = ""
        """The distribution whose hook is running (set by :func:`load`)."""

    def _add(self, kind: Kind, names: str | Iterable[str], factory: Callable[..., Any]) -> None:
        for name in (names,) if isinstance(names, str) else names:
            self.registrations.append(Registration(kind, name, factory, self.package))

    def router(self, names: str | Iterable[str], factory: RouterFactory) -> None:
        """Serve the routing provider ``names`` (``spec.provider``) with ``factory``."""
        self._add(Kind.ROUTER, names, factory)

    def metric_backend(self, names: str | Iterable[str], factory: MetricBackendFactory) -> None:
        """Serve the MetricTemplate provider types ``names`` with ``factory``."""
        self._add(Kind.METRIC_BACKEND, names, factory)

    def observer(self, names: str | Iterable[str], factory: ObserverFactory) -> None:
        """Serve the built-in metrics of the routing providers ``names`` with ``factory``."""
        self._add(Kind.OBSERVER, names, factory)

    def notifier(self, names: str | Iterable[str], factory: NotifierFactory) -> None:
        """Serve the AlertProvider types ``names`` with ``factory``."""
        self._add(Kind.NOTIFIER, names, factory)

    def rules(self, key: str, rules: Iterable[AccessRule], *, aliases: Iterable[str] = ()) -> None:
        """The RBAC rules the daemon's role needs when the provider ``key`` is enabled (on top
        of the core rules); ``aliases`` are provider names that need the same rules."""
        self.access[key] = tuple(rules)
        self.access_packages[key] = self.package
        for alias in aliases:
            self.access_aliases[alias] = key

    def factories(self, kind: Kind) -> list[Callable[..., Any]]:
        """The distinct factories of a kind, the last registered first."""
        found: list[Callable[..., Any]] = []
        for item in reversed(self.registrations):
            if item.kind is kind and item.factory not in found:
                found.append(item.factory)
        return found

    def names(self, kind: Kind) -> frozenset[str]:
        """The names of one kind that some plugin registered."""
        return frozenset(x.name for x in self.registrations if x.kind is kind)


#: Flagger's own names per kind (the CRD enums): listed as not implemented until registered.
FLAGGER_NAMES: Mapping[Kind, tuple[str, ...]] = {
    Kind.ROUTER: canary_api.PROVIDERS,
    Kind.OBSERVER: canary_api.PROVIDERS,
    Kind.METRIC_BACKEND: metric_template.PROVIDER_TYPES,
    Kind.NOTIFIER: alert_provider.PROVIDER_TYPES,
}
#: The package ``flagger plugins`` names for Flagger's names that no plugin registers.
FLAGGER_PACKAGE = "flagger"


class Specs:
    """The hook a plugin implements."""

    @hookspec
    def flagger_register(self, registry: Registry) -> None:
        """Register this plugin's routers, metric backends, observers, notifiers and the RBAC
        rules they need (each name once)."""


# --- the manager ----------------------------------------------------------------------------


class Plugins:
    """The installed plugins: what they registered, and factories for their implementations."""

    def __init__(self, manager: pluggy.PluginManager, registry: Registry) -> None:
        self.manager = manager
        self.registry = registry

    def listings(self) -> list[Listing]:
        """Everything the installed plugins provide, plus Flagger's names that none implements
        (``implemented`` False), sorted by kind and name."""
        found = {Listing(x.kind, x.name, x.package, True) for x in self.registry.registrations}
        for kind, names in FLAGGER_NAMES.items():
            served = self.registry.names(kind)
            found |= {Listing(kind, n, FLAGGER_PACKAGE, False) for n in names if n not in served}
        return sorted(found, key=lambda x: (x.kind.value, x.name, x.package))

    def names(self, kind: Kind) -> frozenset[str]:
        """The names of one kind that are registered or declared (Flagger's names)."""
        return self.registry.names(kind) | frozenset(FLAGGER_NAMES.get(kind, ()))

    def _first(self, kind: Kind, *args: Any) -> Any:
        for factory in self.registry.factories(kind):
            found = factory(*args)
            if found is not None:
                return found
        return None

    def router(self, name: str, context: PluginContext) -> Router:
        """The router for a provider name; :class:`UnknownPlugin` when none serves it."""
        found: Router | None = self._first(Kind.ROUTER, name, context)
        if found is None:
            raise UnknownPlugin(Kind.ROUTER, name, self.names(Kind.ROUTER))
        return found

    def metric_backend(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> MetricBackend:
        """The metric backend for a provider type; :class:`UnknownPlugin` when none serves it."""
        found: MetricBackend | None = self._first(Kind.METRIC_BACKEND, provider_type, spec, context)
        if found is None:
            raise UnknownPlugin(Kind.METRIC_BACKEND, provider_type, self.names(Kind.METRIC_BACKEND))
        return found

    def observer(self, provider: str, context: PluginContext) -> Observer:
        """The built-in metric queries for a mesh; a no-op observer when none is installed."""
        found: Observer | None = self._first(Kind.OBSERVER, provider, context)
        return found if found is not None else NopObserver()

    def notifier(
        self, provider_type: str, spec: Mapping[str, Any], context: PluginContext
    ) -> Notifier:
        """The notifier for an alert provider type; :class:`UnknownPlugin` when none serves it."""
        found: Notifier | None = self._first(Kind.NOTIFIER, provider_type, spec, context)
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
    plugin objects (for tests and embedding; one that is installed already is not added twice),
    and run their ``flagger_register`` hooks in registration order."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(Specs)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        if not manager.is_registered(plugin):  # an installed plugin given again is not an error
            manager.register(plugin)
    registry = Registry()
    for impl in manager.hook.flagger_register.get_hookimpls():
        registry.package = _distribution_of(manager, impl.plugin)
        impl.function(registry=registry)
    registry.package = ""
    return Plugins(manager, registry)


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The raw entry points of the ``flagger`` group (for diagnostics)."""
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
