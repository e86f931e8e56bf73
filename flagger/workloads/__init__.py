"""Workload controllers: what Flagger does to the Deployment or DaemonSet a Canary targets.

For a target `<name>` Flagger keeps a `<name>-primary` copy that serves production traffic,
owned by the Canary and selected by `<label>: <value>-primary` (`-selector-labels`). The
target itself becomes the canary: scaled to zero between rollouts, scaled up when a new
revision appears, and copied into the primary on promotion. ConfigMaps and Secrets the pod
template uses get `-primary` copies too, so a config change is a revision of its own.

- `revision`   the stable hash of a pod template (`lastAppliedSpec`, `lastPromotedSpec`)
- `configs`    tracked ConfigMaps/Secrets: discovery, checksums, `-primary` copies, renaming
- `readiness`  rollout readiness with Flagger's messages, retriable or not (progress deadline)
- `metadata`   labels, annotations, owner references and the selector label
- `hpa`        the `<hpa>-primary` HorizontalPodAutoscaler (autoscaling/v2)
- `keda`       the KEDA `<so>-primary` ScaledObject, pausing and resuming the target's
- `deployment`, `daemonset`   the two controllers
- `controller` the protocol both satisfy, the options and the factory

Nothing here writes the Canary status: methods return what the caller needs to write it.
"""
