"""The playground: Flagger's Istio tutorial played for real on one machine, with no cluster.

A local Kubernetes control plane runs the daemon's world; pods run as local processes on their own
127.0.0.N address (a node agent stands in for the kubelet), an HTTP forward proxy plays the Istio
data plane, and real Prometheus and ``hey`` measure and drive the traffic. The modules here are
those parts: the podinfo-compatible demo app, the mesh proxy, the node agent and the tutorial
runner behind ``flagger playground``.
"""
