"""Manual gates of the loadtester, optionally kept across restarts.

A gate is a named boolean, closed until opened. Flagger's loadtester keys them by canary:
``<name>.<namespace>`` for ``/gate/*`` (confirm-rollout, confirm-promotion, ...) and
``rollback.<name>.<namespace>`` for ``/rollback/*``. Flagger keeps them in memory only, so a
restarted loadtester forgets that someone approved a release. Here :class:`Gates` writes every
change through a :class:`GateStore` before answering, and loads the store at start:

- :class:`MemoryStore`: Flagger's behaviour, nothing kept.
- :class:`FileStore`: a JSON file (``{"gates": {"podinfo.test": true}}``), replaced atomically.
- :class:`ConfigMapStore`: a ConfigMap whose ``data`` maps each gate to ``"true"``/``"false"``
  (created on the first change), for a loadtester whose pod may move between nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import tempfile
from collections.abc import Mapping
from typing import Any, Protocol

from flagger.kube import client as kube_client
from flagger.kube import errors

__all__ = ["ConfigMapStore", "FileStore", "GateStore", "Gates", "MemoryStore"]


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

    async def close(self) -> None:
        return None


class FileStore:
    """A JSON file, rewritten whole (temporary file then rename) on every change."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"file {self.path}"

    async def load(self) -> dict[str, bool]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> dict[str, bool]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        try:
            document = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"gates file {self.path} is not JSON: {exc}") from None
        gates = document.get("gates", {}) if isinstance(document, dict) else None
        if not isinstance(gates, dict):
            raise ValueError(f'gates file {self.path}: expected {{"gates": {{NAME: BOOL}}}}')
        return {str(k): bool(v) for k, v in gates.items()}

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        await asyncio.to_thread(self._write, dict(gates))

    def _write(self, gates: dict[str, bool]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"gates": gates}, out, indent=2, sort_keys=True)
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

    async def load(self) -> dict[str, bool]:
        found = await self.kube.get("v1", "ConfigMap", self.name, self.namespace)
        data: dict[str, Any] = (found or {}).get("data") or {}
        return {key: value == "true" for key, value in data.items()}

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        value = "true" if is_open else "false"
        found = await self.kube.get("v1", "ConfigMap", self.name, self.namespace)
        if found is None:
            with contextlib.suppress(errors.Conflict):  # else someone created it meanwhile
                await self._create(gates)
                return
        await self.kube.patch("v1", "ConfigMap", self.name, self.namespace, {"data": {key: value}})

    async def _create(self, gates: Mapping[str, bool]) -> None:
        await self.kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "flagger-loadtester"},
                },
                "data": {k: "true" if v else "false" for k, v in gates.items()},
            }
        )

    async def close(self) -> None:
        await self.kube.close()


class Gates:
    """Gates in memory, every change written through ``store`` before it is acknowledged."""

    def __init__(self, store: GateStore | None = None) -> None:
        self.store: GateStore = store if store is not None else MemoryStore()
        self._gates: dict[str, bool] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> int:
        """Load the kept gates; returns how many there were."""
        self._gates = await self.store.load()
        return len(self._gates)

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
