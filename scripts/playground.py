"""`make playground`: the tutorial on a local control plane.

Until the canary engine lands this is a preview: it starts the local control plane, installs the
CRDs, applies the tutorial's podinfo Deployment and Canary, shows them the way a user would look
at them, prints the steps the full tutorial will play, and stops everything it started.
"""

from __future__ import annotations

import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flagger.devcluster import cluster as devcluster  # noqa: E402

PODINFO = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test, labels: {app: podinfo}}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports: [{name: http, containerPort: 9898}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service: {port: 9898, targetPort: 9898}
  analysis:
    interval: 15s
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
    - {name: request-duration, thresholdRange: {max: 500}, interval: 30s}
"""

PLAN = """
What the full tutorial will play here once the engine and playground issues land:
  1. flagger (the daemon) bootstraps podinfo-primary and routes all traffic to it.
  2. The loadtester runs `hey` against podinfo-canary through the mesh data plane.
  3. The image is bumped to 6.0.1: "New revision detected! Scaling up podinfo.test",
     then "Advance podinfo.test canary weight 10" ... 50, then "Promotion completed!".
  4. /status/500 and /delay/1 on the canary: "Halt podinfo.test advancement success rate ..."
     and, when failures persist, "Rolling back podinfo.test failed checks threshold reached 5".
"""


def main() -> int:
    print("starting the local control plane (builds it first when not cached) ...", flush=True)
    with devcluster.LocalCluster.start() as cluster:
        print(f"control plane ready in {cluster.ready_seconds:.1f}s at {cluster.server}")
        cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "crds"))
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                        "crd/canaries.flagger.app")
        print(cluster.kubectl("apply", "-f", "-", input=PODINFO).stdout)
        cluster.kubectl("rollout", "status", "deployment/podinfo", "-n", "test", "--timeout=60s")
        time.sleep(0.5)
        for args in (("get", "deployments,pods", "-n", "test", "-o", "wide"),
                     ("get", "canaries", "-A", "-o", "wide")):
            print("$ kubectl " + " ".join(args))
            print(cluster.kubectl(*args).stdout)
        print(PLAN)
    print("stopped every process the playground started")
    return 0


if __name__ == "__main__":
    sys.exit(main())
