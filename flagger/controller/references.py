"""The objects a Canary's analysis refers to by name: each ``metrics[].templateRef`` must name
an existing MetricTemplate and each ``alerts[].providerRef`` an existing AlertProvider. A
missing one is a user error reported on the Canary (``Configured=False`` and a Warning naming
the field), rather than a check that fails iteration after iteration."""

from __future__ import annotations

from flagger.alerting import notifications
from flagger.api import canary as canary_api
from flagger.controller import answers
from flagger.kube import client as kube_client


async def missing_reference(kube: kube_client.Kube, canary: canary_api.Canary) -> str:
    """The first reference to an object that does not exist, as a message naming the field
    and the fix; "" when every referenced object exists."""
    settings = canary.spec.effective_analysis
    if settings is None:
        return ""
    path = "spec.analysis" if canary.spec.analysis is not None else "spec.canaryAnalysis"
    wanted: list[tuple[str, str, str, str, str]] = []
    for index, metric in enumerate(settings.metrics or []):
        ref = metric.template_ref
        if ref is not None:
            where = f"{path}.metrics[{index}].templateRef"
            wanted.append(
                (
                    where,
                    answers.TEMPLATE_API_VERSION,
                    "MetricTemplate",
                    ref.name,
                    ref.namespace or canary.namespace,
                )
            )
    for index, alert in enumerate(settings.alerts or []):
        provider = alert.provider_ref
        where = f"{path}.alerts[{index}].providerRef"
        wanted.append(
            (
                where,
                notifications.API_VERSION,
                notifications.KIND,
                provider.name,
                provider.namespace or canary.namespace,
            )
        )
    for where, api_version, kind, name, namespace in wanted:
        if await kube.get(api_version, kind, name, namespace) is None:
            return (
                f"{where}: {kind} {name}.{namespace} not found; create it in namespace "
                f"{namespace} or correct the reference"
            )
    return ""
