"""The whole local control plane as one object.

    with LocalCluster.start() as cluster:
        cluster.kubectl("get", "nodes")
        kubeconfig = cluster.service_account_kubeconfig("flagger-system", "flagger")

Components run on free ports of 127.0.0.1 with their data, certificates and logs in one temporary
directory, which is removed on stop (set ``keep=True`` to keep it for a post-mortem).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import pathlib
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any, cast

import yaml

from flagger.devcluster import binaries, pki, processes

NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/24"
ADMIN_USER = "flagger-devcluster-admin"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


@dataclasses.dataclass
class LocalCluster:
    """A running etcd, kube-apiserver, kube-controller-manager, kube-scheduler and (unless
    started with ``kwok=False``) kwok."""

    workdir: pathlib.Path
    bin_dir: pathlib.Path
    certs: pki.Pki
    apiserver_port: int
    admin_token: str
    keep: bool = False
    audit_log: pathlib.Path | None = None
    children: list[processes.Process] = dataclasses.field(default_factory=list)
    ready_seconds: float = 0.0

    # --- lifecycle ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        audit: bool = False,
        keep: bool = False,
        timeout: float = 60.0,
        bin_dir: pathlib.Path | None = None,
        kwok: bool = True,
    ) -> LocalCluster:
        """Build (when needed) and start the control plane; return once a node is Ready.

        With ``kwok=False`` there is no node and no kwok: whoever runs pods (the playground's
        node agent) registers a node and keeps it Ready itself; the call returns once the
        controller-manager and the scheduler are healthy.
        """
        bin_dir = bin_dir or binaries.locate()
        began = time.monotonic()
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="flagger-devcluster-", dir=_tmp_root()))
        cluster = cls(
            workdir=workdir,
            bin_dir=bin_dir,
            certs=pki.create(workdir / "pki"),
            apiserver_port=processes.free_port(),
            admin_token=secrets.token_hex(16),
            keep=keep,
            audit_log=workdir / "audit.log" if audit else None,
        )
        atexit.register(cluster.stop)
        try:
            cluster._start_all(timeout, kwok)
        except BaseException:
            cluster.stop()
            raise
        cluster.ready_seconds = time.monotonic() - began
        return cluster

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every component in reverse start order, by PID, and remove the work dir."""
        for process in reversed(self.children):
            process.stop()
        self.children.clear()
        if not self.keep and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- addresses and credentials --------------------------------------------------------

    @property
    def server(self) -> str:
        """The API server's URL."""
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> pathlib.Path:
        """The admin kubeconfig (group ``system:masters``)."""
        return self.workdir / "admin.kubeconfig"

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the cluster's CA."""
        return ssl.create_default_context(cafile=str(self.certs.ca_cert))

    def write_kubeconfig(
        self, path: pathlib.Path, user: str, token: str, namespace: str = "default"
    ) -> pathlib.Path:
        """Write a kubeconfig for ``user`` authenticating with ``token``."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.certs.ca_cert),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [
                {
                    "name": "local",
                    "context": {"cluster": "local", "user": user, "namespace": namespace},
                }
            ],
            "current-context": "local",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def service_account_kubeconfig(
        self, namespace: str, name: str, expiration_seconds: int = 86400
    ) -> pathlib.Path:
        """Mint a TokenRequest token for a ServiceAccount and write a kubeconfig using it, so the
        holder is subject to RBAC as that account."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": expiration_seconds},
        }
        answer = self.api(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body
        )
        token = answer["status"]["token"]
        path = self.workdir / f"sa-{namespace}-{name}.kubeconfig"
        return self.write_kubeconfig(
            path, f"system:serviceaccount:{namespace}:{name}", token, namespace
        )

    # --- talking to it --------------------------------------------------------------------

    def api(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """One admin request to the API server; raises ``urllib.error.HTTPError`` on >= 400."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.admin_token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=30, context=self.ssl_context()) as response:
            return json.loads(response.read() or b"null")

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig: pathlib.Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's own kubectl with the admin (or the given) kubeconfig."""
        argv = [
            str(self.bin_dir / "kubectl"),
            "--kubeconfig",
            str(kubeconfig or self.kubeconfig),
            *args,
        ]
        return subprocess.run(
            argv, input=input, text=True, capture_output=True, check=check, timeout=120
        )

    def audit_events(self) -> list[dict[str, Any]]:
        """The audit log's events so far (``start(audit=True)`` only)."""
        if self.audit_log is None or not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line]

    # --- start-up -------------------------------------------------------------------------

    def _start_all(self, timeout: float, kwok: bool = True) -> None:
        logs = self.workdir / "logs"
        logs.mkdir()
        (self.workdir / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
        )
        self.write_kubeconfig(self.kubeconfig, ADMIN_USER, self.admin_token)

        etcd_port, etcd_peer = processes.free_port(), processes.free_port()
        etcd = self._run(
            "etcd",
            [
                "--name=node0",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=node0=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync",
                "--auto-compaction-retention=1",
                "--log-level=warn",
            ],
            logs,
        )
        processes.wait_until(
            etcd, lambda: processes.http_ok(f"http://127.0.0.1:{etcd_port}/health"), timeout
        )

        apiserver_args = [
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={self.certs.server_cert}",
            f"--tls-private-key-file={self.certs.server_key}",
            f"--client-ca-file={self.certs.ca_cert}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.certs.sa_pub}",
            f"--service-account-signing-key-file={self.certs.sa_key}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--max-requests-inflight=0",
            "--max-mutating-requests-inflight=0",
            "--v=1",
        ]
        if self.audit_log is not None:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump(AUDIT_POLICY))
            apiserver_args += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                # 0 would mean lumberjack's 100 MB: a bench run writes more, and a rotation
                # mid-run used to hide requests from the bench's incremental reader
                "--audit-log-maxsize=100000",
            ]
        apiserver = self._run("kube-apiserver", apiserver_args, logs)
        context = self.ssl_context()
        processes.wait_until(
            apiserver,
            lambda: processes.http_ok(f"{self.server}/readyz", self.admin_token, context),
            timeout,
        )

        kcm_port = processes.free_port()
        kcm = self._run(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                "--leader-elect=false",
                "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                f"--root-ca-file={self.certs.ca_cert}",
                f"--service-account-private-key-file={self.certs.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--node-monitor-period=5s",
                # The fault suite stops kube-apiserver for up to a minute (a 30 s outage plus
                # its restart): kwok's node must not be marked NotReady meanwhile, or its pods
                # lose Ready and the rollout under test stalls (seen with 40s).
                "--node-monitor-grace-period=120s",
                # Generous, so the cluster keeps up with the operator under test: at the bench's
                # 1,000 Deployments changed at once, 200 QPS and 10 syncs left 985 of them
                # behind (observedGeneration < generation) for over a minute.
                "--kube-api-qps=1000",
                "--kube-api-burst=2000",
                "--concurrent-deployment-syncs=25",
                "--concurrent-replicaset-syncs=25",
                "--concurrent-service-endpoint-syncs=10",
            ],
            logs,
        )
        scheduler_port = processes.free_port()
        scheduler = self._run(
            "kube-scheduler",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={scheduler_port}",
                "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
            ],
            logs,
        )

        kwok_process = self._start_kwok(logs) if kwok else None

        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        processes.wait_until(
            kcm,
            lambda: processes.http_ok(f"https://127.0.0.1:{kcm_port}/healthz", context=insecure),
            timeout,
        )
        processes.wait_until(
            scheduler,
            lambda: processes.http_ok(
                f"https://127.0.0.1:{scheduler_port}/healthz", context=insecure
            ),
            timeout,
        )
        if kwok_process is not None:
            processes.wait_until(kwok_process, self._node_ready, timeout)
        # The default ServiceAccount proves the controller-manager acts on the cluster.
        processes.wait_until(
            kcm, lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"), timeout
        )

    def _start_kwok(self, logs: pathlib.Path) -> processes.Process:
        self._create_node()
        kwok_port = processes.free_port()
        stages = self.bin_dir.parent / "kwok-stages.yaml"
        return self._run(
            "kwok",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--config={stages}",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{kwok_port}",
                f"--cidr={POD_CIDR}",
            ],
            logs,
        )

    def restart_apiserver(self, down: float, timeout: float = 60.0) -> float:
        """Stop kube-apiserver, keep it down ``down`` seconds, start it again with the same
        flags; the seconds from the stop until it answered ``/readyz`` again (an outage, for the
        fault suite). It stops listening as soon as it gets SIGTERM, but may take over 10 s to
        exit after that: it gets SIGKILL after 2 s."""
        old = next(p for p in self.children if p.name == "kube-apiserver")
        began = time.monotonic()
        old.stop(grace=2.0)
        time.sleep(down)
        new = processes.start(old.name, cast("list[str]", old.popen.args), old.log.parent)
        self.children[self.children.index(old)] = new
        context = self.ssl_context()
        processes.wait_until(
            new,
            lambda: processes.http_ok(f"{self.server}/readyz", self.admin_token, context),
            timeout,
        )
        return time.monotonic() - began

    def _run(self, name: str, args: list[str], logs: pathlib.Path) -> processes.Process:
        process = processes.start(name, [str(self.bin_dir / name), *args], logs)
        self.children.append(process)
        return process

    def _create_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
            "status": {
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
            },
        }
        self.api("POST", "/api/v1/nodes", node)

    def _node_ready(self) -> bool:
        node = self.api("GET", f"/api/v1/nodes/{NODE_NAME}")
        conditions = node.get("status", {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _exists(self, path: str) -> bool:
        try:
            self.api("GET", path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise
        return True


def _tmp_root() -> str | None:
    """Prefer tmpfs for etcd's data: faster, and nothing is left on disk."""
    shm = pathlib.Path("/dev/shm")
    return str(shm) if shm.is_dir() else None
