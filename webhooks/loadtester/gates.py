"""Manual gates of the loadtester, optionally kept across restarts.

A gate is a named boolean, closed until opened. The same store keeps the idempotency keys of
the ``cmd`` tasks started recently (key -> Unix time), so that a call repeated after a daemon
*or* loadtester restart does not start its command twice. Flagger's loadtester keys them by canary:
``<name>.<namespace>`` for ``/gate/*`` (confirm-rollout, confirm-promotion, ...) and
``rollback.<name>.<namespace>`` for ``/rollback/*``. Flagger keeps them in memory only, so a
restarted loadtester forgets that someone approved a release. Here :class:`Gates` writes every
change through a :class:`GateStore` before answering, and loads the store at start:

- :class:`MemoryStore`: Flagger's behaviour, nothing kept.
- :class:`FileStore`: a JSON file (``{"gates": {"podinfo.test": true}, "keys": {...}}``),
  replaced atomically.
- :class:`ConfigMapStore`: a ConfigMap whose ``data`` maps each gate to ``"true"``/``"false"``
  and each key ``idempotency-key.<key>`` to its Unix time (created on the first change), for a
  loadtester whose pod may move between nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import tempfile
import time
from collections.abc import Mapping
from typing import Any, Protocol

from flagger.kube import client as kube_client
from flagger.kube import errors

__all__ = ["KEY_PREFIX", "ConfigMapStore", "FileStore", "GateStore", "Gates", "MemoryStore"]

#: The prefix of idempotency keys among a ConfigMap's gates.
KEY_PREFIX = "idempotency-key."


class GateStore(Protocol):
    """Where gates are kept between runs."""

    def describe(self) -> str:
        """Where the gates live, for logs (``file /var/lib/gates.json``)."""
        ...

    async def load(self) -> dict[str, bool]:
        """Every gate kept so far."""
        ...

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        """Record that gate ``key`` changed; ``gates`` is the whole current state."""
        ...

    async def load_keys(self) -> dict[str, float]:
        """Every idempotency key kept so far, with the Unix time it was first seen."""
        ...

    async def save_keys(self, added: Mapping[str, float], keys: Mapping[str, float]) -> None:
        """Record ``added`` keys; ``keys`` is the whole current set (expired ones dropped)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    """Keeps nothing: gates are lost on restart, as in Flagger."""

    def describe(self) -> str:
        return "memory (lost on restart)"

    async def load(self) -> dict[str, bool]:
        return {}

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        return None

    async def load_keys(self) -> dict[str, float]:
        return {}

    async def save_keys(self, added: Mapping[str, float], keys: Mapping[str, float]) -> None:
        return None

    async def close(self) -> None:
        return None


class FileStore:
    """A JSON file, rewritten whole (temporary file then rename) on every change."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._gates: dict[str, bool] = {}
        self._keys: dict[str, float] = {}

    def describe(self) -> str:
        return f"file {self.path}"

    async def load(self) -> dict[str, bool]:
        self._gates, self._keys = await asyncio.to_thread(self._read)
        return dict(self._gates)

    async def load_keys(self) -> dict[str, float]:
        return dict(self._keys)

    def _read(self) -> tuple[dict[str, bool], dict[str, float]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}, {}
        try:
            document = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"gates file {self.path} is not JSON: {exc}") from None
        gates = document.get("gates", {}) if isinstance(document, dict) else None
        keys = document.get("keys", {}) if isinstance(document, dict) else None
        if not isinstance(gates, dict) or not isinstance(keys, dict):
            raise ValueError(f'gates file {self.path}: expected {{"gates": {{NAME: BOOL}}}}')
        try:
            seen = {str(k): float(v) for k, v in keys.items()}
        except (TypeError, ValueError):
            raise ValueError(
                f'gates file {self.path}: expected {{"keys": {{KEY: TIME}}}}'
            ) from None
        return {str(k): bool(v) for k, v in gates.items()}, seen

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        self._gates = dict(gates)
        await asyncio.to_thread(self._write, dict(self._gates), dict(self._keys))

    async def save_keys(self, added: Mapping[str, float], keys: Mapping[str, float]) -> None:
        self._keys = dict(keys)
        await asyncio.to_thread(self._write, dict(self._gates), dict(self._keys))

    def _write(self, gates: dict[str, bool], keys: dict[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"gates": gates, "keys": keys}, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise

    async def close(self) -> None:
        return None


class ConfigMapStore:
    """A ConfigMap ``namespace/name``: one ``data`` key per gate, ``"true"`` or ``"false"``."""

    def __init__(self, kube: kube_client.Kube, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name

    def describe(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    async def _data(self) -> dict[str, Any]:
        found = await self.kube.get("v1", "ConfigMap", self.name, self.namespace)
        return dict((found or {}).get("data") or {})

    async def load(self) -> dict[str, bool]:
        data = await self._data()
        return {k: v == "true" for k, v in data.items() if not k.startswith(KEY_PREFIX)}

    async def load_keys(self) -> dict[str, float]:
        seen: dict[str, float] = {}
        for key, value in (await self._data()).items():
            if key.startswith(KEY_PREFIX):
                with contextlib.suppress(ValueError):
                    seen[key[len(KEY_PREFIX) :]] = float(value)
        return seen

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        value = "true" if is_open else "false"
        await self._patch({key: value}, {k: "true" if v else "false" for k, v in gates.items()})

    async def save_keys(self, added: Mapping[str, float], keys: Mapping[str, float]) -> None:
        kept = await self.load_keys()
        change: dict[str, str | None] = {KEY_PREFIX + k: repr(t) for k, t in added.items()}
        change.update({KEY_PREFIX + k: None for k in kept if k not in keys})  # expired
        await self._patch(change, {KEY_PREFIX + k: repr(t) for k, t in added.items()})

    async def _patch(self, change: Mapping[str, str | None], initial: Mapping[str, str]) -> None:
        found = await self.kube.get("v1", "ConfigMap", self.name, self.namespace)
        if found is None:
            with contextlib.suppress(errors.Conflict):  # else someone created it meanwhile
                await self._create(initial)
                return
        await self.kube.patch("v1", "ConfigMap", self.name, self.namespace, {"data": dict(change)})

    async def _create(self, data: Mapping[str, str]) -> None:
        await self.kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "flagger-loadtester"},
                },
                "data": dict(data),
            }
        )

    async def close(self) -> None:
        await self.kube.close()


class Gates:
    """Gates in memory, every change written through ``store`` before it is acknowledged."""

    def __init__(self, store: GateStore | None = None) -> None:
        self.store: GateStore = store if store is not None else MemoryStore()
        self._gates: dict[str, bool] = {}
        self._keys: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> int:
        """Load the kept gates and idempotency keys; returns how many gates there were."""
        self._gates = await self.store.load()
        self._keys = await self.store.load_keys()
        return len(self._gates)

    async def remember(self, key: str, window: float, now: float | None = None) -> bool:
        """Record idempotency ``key``: True the first time within ``window`` seconds (the
        caller runs its command), False for a repeat. Saved before it returns True."""
        stamp = time.time() if now is None else now
        async with self._lock:
            self._keys = {k: t for k, t in self._keys.items() if stamp - t < window}
            if key in self._keys:
                return False
            self._keys[key] = stamp
            await self.store.save_keys({key: stamp}, dict(self._keys))
            return True

    def is_open(self, key: str) -> bool:
        """Whether gate ``key`` is open (gates start closed)."""
        return self._gates.get(key, False)

    def snapshot(self) -> dict[str, bool]:
        """A copy of every gate known."""
        return dict(self._gates)

    async def set(self, key: str, is_open: bool) -> None:
        """Open or close gate ``key`` and persist it (changes are written one at a time)."""
        async with self._lock:
            self._gates[key] = is_open
            await self.store.save(key, is_open, dict(self._gates))
