"""The dashboard's HTTP server: the page, its assets, and a small JSON API.

- ``GET /``: the page; ``GET /static/...``: its script, style and icon (shipped in the package).
- ``GET /api/canaries``: every canary's summary (phase, weight, step, failed checks, message).
- ``GET /api/canaries/{namespace}/{name}``: one canary's details, its weight over time, its
  metric values over time (with ``--prometheus``), and for each action whether the user may ask
  for it (a SelfSubjectAccessReview for ``patch`` on the Canary) with the reason when not.
- ``POST /api/canaries/{namespace}/{name}/actions`` with ``{"action": "promote", "full": true}``:
  writes the ``flagger.app/action`` request as the user (see :mod:`flagger.ops.requests`).
  Refused in read-only mode. The request must carry ``Content-Type: application/json`` and the
  ``X-Flagger-Dashboard`` header, which a cross-site form cannot send, so another page open in
  the same browser cannot ask for an action.

The dashboard runs with the credentials it is given: ``flagger dashboard`` with the user's
kubeconfig; the daemon (``-dashboard-address``) with its own, and then always read-only, so that
reaching its port grants no action.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.resources
import time
from typing import Any

import aiohttp
from aiohttp import web

from flagger.analysis import manual
from flagger.api import actions
from flagger.api import status as status_api
from flagger.kube import client as kube_client
from flagger.ops import connection, reading, requests, views

__all__ = ["Settings", "build_app", "serve", "start"]

ACCESS_CACHE_SECONDS = 30.0
DASHBOARD_HEADER = "X-Flagger-Dashboard"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the dashboard shows and allows."""

    namespace: str | None = None
    read_only: bool = False
    read_only_reason: str = "the dashboard runs read-only (--read-only)"
    prometheus: str | None = None


class _Dashboard:
    def __init__(self, kube: kube_client.Kube, settings: Settings) -> None:
        from flagger.dashboard import history

        self.kube, self.settings = kube, settings
        self.history = history.History(kube, settings.namespace)
        self.session: aiohttp.ClientSession | None = None
        self.access: dict[tuple[str, str], tuple[float, connection.Access]] = {}
        self.user = ""

    async def startup(self, app: web.Application) -> None:
        self.history.start()
        self.session = aiohttp.ClientSession()
        self.user = await connection.who_am_i(self.kube)

    async def cleanup(self, app: web.Application) -> None:
        await self.history.stop()
        if self.session is not None:
            await self.session.close()

    # --- pages and assets -----------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        return self._asset("index.html", "text/html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        suffix = name[name.rfind(".") :]
        if "/" in name or suffix not in _TYPES:
            raise web.HTTPNotFound()
        return self._asset(name, _TYPES[suffix])

    def _asset(self, name: str, content_type: str) -> web.Response:
        resource = importlib.resources.files("flagger.dashboard") / "static" / name
        if not resource.is_file():
            raise web.HTTPNotFound()
        response = web.Response(body=resource.read_bytes(), content_type=content_type)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- the API --------------------------------------------------------------------------

    async def canaries(self, request: web.Request) -> web.Response:
        try:
            items = await reading.canaries(self.kube, self.settings.namespace)
        except connection.CommandError as exc:
            return web.json_response({"error": str(exc)}, status=403)
        events = await reading.events(self.kube, self.settings.namespace)
        rows = []
        for raw in items:
            key = (raw["metadata"]["namespace"], raw["metadata"]["name"])
            rows.append(views.as_json(views.summary(raw, events.get(key, []))))
        return web.json_response(
            {
                "canaries": rows,
                "user": self.user,
                "readOnly": self.settings.read_only,
                "namespace": self.settings.namespace or "",
            }
        )

    async def canary(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            raw = await reading.canary(self.kube, name, namespace)
        except connection.CommandError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        events = (await reading.events(self.kube, namespace, name)).get((namespace, name), [])
        target = str(((raw.get("spec") or {}).get("targetRef") or {}).get("name") or name)
        metric_series = await self._metric_series(target, namespace)
        latest = {metric: points[-1][1] for metric, points in metric_series.items() if points}
        detail = views.detail(raw, events, latest or None)
        weights = await self._weights(target, namespace, name)
        return web.json_response(
            {
                "detail": views.as_json(detail),
                "weights": weights,
                "metrics": metric_series,
                "actions": await self._actions(namespace, name, detail),
                "readOnly": self.settings.read_only,
                "user": self.user,
                "now": time.time(),
            }
        )

    async def _weights(self, target: str, namespace: str, name: str) -> list[tuple[float, float]]:
        if self.settings.prometheus and self.session is not None:
            from flagger.dashboard import history

            query = f'flagger_canary_weight{{workload="{target}",namespace="{namespace}"}}'
            series = await history.prometheus_series(self.session, self.settings.prometheus, query)
            points = next(iter(series.values()), [])
            if points:
                return points
        return [(t, float(w)) for t, w in self.history.weights(namespace, name)]

    async def _metric_series(
        self, target: str, namespace: str
    ) -> dict[str, list[tuple[float, float]]]:
        if not self.settings.prometheus or self.session is None or self.session.closed:
            return {}
        from flagger.dashboard import history

        query = f'flagger_canary_metric_analysis{{name="{target}",namespace="{namespace}"}}'
        return await history.prometheus_series(self.session, self.settings.prometheus, query)

    async def _actions(
        self, namespace: str, name: str, detail: views.Detail
    ) -> dict[str, dict[str, Any]]:
        """Each action: whether its button is enabled, and why not."""
        if self.settings.read_only:
            access = connection.Access(False, self.settings.read_only_reason)
        else:
            access = await self._may_patch(namespace, name)
        try:
            phase = status_api.CanaryPhase(detail.summary.phase)
        except ValueError:
            phase = status_api.CanaryPhase.NEW
        found = {}
        for action in actions.Action:
            why = manual.why_not(action, phase, detail.summary.paused)
            if not access.allowed:
                found[action.value] = {"enabled": False, "reason": access.reason}
            elif why is not None:
                found[action.value] = {"enabled": False, "reason": why}
            else:
                found[action.value] = {"enabled": True, "reason": ""}
        return found

    async def _may_patch(self, namespace: str, name: str) -> connection.Access:
        now = time.monotonic()
        cached = self.access.get((namespace, name))
        if cached is not None and now - cached[0] < ACCESS_CACHE_SECONDS:
            return cached[1]
        access = await connection.allowed(self.kube, "patch", namespace, name)
        self.access[(namespace, name)] = (now, access)
        return access

    async def act(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        if self.settings.read_only:
            return web.json_response({"error": self.settings.read_only_reason}, status=403)
        if request.headers.get(DASHBOARD_HEADER) != "1" or request.content_type != (
            "application/json"
        ):
            return web.json_response({"error": "not a request from the dashboard"}, status=400)
        try:
            body = await request.json()
            action = actions.Action(body.get("action"))
        except (ValueError, AttributeError):
            choices = ", ".join(a.value for a in actions.Action)
            return web.json_response({"error": f"action must be one of {choices}"}, status=400)
        try:
            sent = await requests.send(
                self.kube,
                name,
                namespace,
                action,
                full=bool(body.get("full")),
                user=self.user,
            )
        except connection.CommandError as exc:
            status = 403 if str(exc).startswith("forbidden") else 400
            return web.json_response({"error": str(exc)}, status=status)
        label = sent.request.label
        return web.json_response(
            {
                "id": sent.request.id,
                "message": f"{label} requested for {name}.{namespace} "
                f"(request {sent.request.short_id})",
            }
        )


def build_app(kube: kube_client.Kube, settings: Settings) -> web.Application:
    """The dashboard's aiohttp application (it starts and stops its Canary watch)."""
    dashboard = _Dashboard(kube, settings)
    app = web.Application()
    app.on_startup.append(dashboard.startup)
    app.on_cleanup.append(dashboard.cleanup)
    app.router.add_get("/", dashboard.index)
    app.router.add_get("/static/{name}", dashboard.static)
    app.router.add_get("/api/canaries", dashboard.canaries)
    app.router.add_get("/api/canaries/{namespace}/{name}", dashboard.canary)
    app.router.add_post("/api/canaries/{namespace}/{name}/actions", dashboard.act)
    return app


@dataclasses.dataclass
class Running:
    """A started dashboard: its URL, and how to stop it."""

    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(
    kube: kube_client.Kube, settings: Settings, *, address: str = "127.0.0.1", port: int = 0
) -> Running:
    """Serve the dashboard on ``address:port`` (0 picks a free port) until stopped."""
    runner = web.AppRunner(build_app(kube, settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, port)
    await site.start()
    server: Any = site._server  # aiohttp keeps the bound sockets there
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    host = f"[{address}]" if ":" in address else address
    return Running(runner, f"http://{host}:{bound}/")


async def serve(kube: kube_client.Kube, settings: Settings, *, address: str, port: int) -> int:
    """``flagger dashboard``: serve until interrupted."""
    running = await start(kube, settings, address=address, port=port)
    print(f"flagger dashboard on {running.url} (Ctrl-C stops it)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()
    return 0
