"""Debian's Prometheus for the playground, with scrape targets that follow the pods.

The server runs on 127.0.0.1 with a temporary data dir and a one-second scrape interval. Each
job's targets live in a file (``file_sd_configs``) that the playground rewrites as pods come and
go; Prometheus re-reads it every second.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from flagger.devcluster import processes

BINARY = "prometheus"
READY_SECONDS = 30.0


class PrometheusMissing(RuntimeError):
    """Debian's prometheus is not installed."""


class Prometheus:
    """One Prometheus process scraping the jobs given to :meth:`set_targets`."""

    def __init__(
        self, workdir: pathlib.Path, jobs: Sequence[str], scrape_interval: str = "1s"
    ) -> None:
        self.workdir, self.jobs, self.scrape_interval = workdir, list(jobs), scrape_interval
        self.port = 0
        self.process: processes.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_targets(
        self, job: str, targets: Sequence[str], labels: Mapping[str, str] | None = None
    ) -> None:
        """Replace the ``host:port`` targets of ``job``."""
        groups = [{"targets": list(targets), "labels": dict(labels or {})}]
        path = self.workdir / f"targets-{job}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(path)

    def start(self) -> Prometheus:
        binary = shutil.which(BINARY)
        if binary is None:
            raise PrometheusMissing("Prometheus is not installed: apt-get install prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        scrape = []
        for job in self.jobs:
            self.set_targets(job, [])
            scrape.append(
                f"  - job_name: {job}\n"
                f"    file_sd_configs:\n"
                f"      - files: ['{self.workdir / f'targets-{job}.json'}']\n"
                f"        refresh_interval: 1s\n"
            )
        config = self.workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {self.scrape_interval}\n"
            f"  evaluation_interval: {self.scrape_interval}\nscrape_configs:\n" + "".join(scrape)
        )
        self.port = processes.free_port()
        self.process = processes.start(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            self.workdir,
        )
        processes.wait_until(self.process, self._ready, READY_SECONDS)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
            return False
